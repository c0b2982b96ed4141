package jobs

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// Listen runs the outbox listener until ctx ends.
func Listen(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], listening chan struct{}) {
	listen(ctx, pool, client, slog.New(slog.DiscardHandler), listening)
}

// ReindexSchedule is River's reindexer's schedule for Config.ReindexAt.
var ReindexSchedule = reindexSchedule
