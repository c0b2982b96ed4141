package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// BenchmarkRecordAttempts measures the recorder's statement
// (webhooks.record_attempts) on one connection: batches of first attempts,
// all succeeded, of pending messages spread over two webhooks, as the
// saturation phase of webhooks bench makes them. The batch sizes are a
// lone delivery's, the saturation's usual one and a backlog's.
func BenchmarkRecordAttempts(b *testing.B) {
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			url := dbtest.NewDB(b)
			cfg, err := pgxpool.ParseConfig(url)
			require.NoError(b, err)
			cfg.MaxConns = 1
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(b, err)
			b.Cleanup(pool.Close)
			ws := dbtest.Workspace(b, pool, "Acme")
			owner := dbtest.Member(b, pool, ws, "owner")
			hooks := []string{
				dbtest.Webhook(b, pool, ws, owner, "https://example.com/a"),
				dbtest.Webhook(b, pool, ws, owner, "https://example.com/b"),
			}
			r := newRecorder(pool, time.Hour, slog.New(slog.DiscardHandler), nil)

			// Messages are made ahead, a chunk at a time outside the timer:
			// each is attempted once, as a saturated pipeline's are.
			var pending []Attempt
			analyzed := false
			refill := func() {
				b.StopTimer()
				defer b.StartTimer()
				captured := time.Now().Truncate(time.Microsecond)
				ms := make([]dbtest.Message, 10000)
				for i := range ms {
					ms[i] = dbtest.Message{OutboxID: int64(i), WebhookID: hooks[i%2], WorkspaceID: ws, EventType: "investment.created", CapturedAt: captured}
				}
				for i, id := range dbtest.Messages(b, pool, ms...) {
					code := int32(200)
					pending = append(pending, Attempt{MessageID: id, EventID: fmt.Sprintf("evt_%d", i), WebhookID: ms[i].WebhookID,
						WorkspaceID: ws, EventType: "investment.created", URL: "https://example.com/h", DurationMs: 1.5,
						Succeeded: true, StatusCode: &code, RiverJobID: int64(i), State: "succeeded", TriggeredBy: TriggerSchedule,
						CapturedAt: captured})
				}
				if !analyzed {
					_, err := pool.Exec(ctx, "ANALYZE webhooks.messages")
					require.NoError(b, err)
					analyzed = true
				}
			}

			for b.Loop() {
				if len(pending) < size {
					refill()
				}
				batch := pending[:size:size]
				pending = pending[size:]
				for i := range batch {
					batch[i].N, batch[i].StartedAt = i, time.Now().Truncate(time.Microsecond)
				}
				data, err := json.Marshal(batch)
				require.NoError(b, err)
				if _, err := r.try(batch, data, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "attempts/s")

			var logged, counted int
			require.NoError(b, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.delivery_attempts),
				(SELECT coalesce(sum(attempts), 0) FROM webhooks.webhook_stats)`).Scan(&logged, &counted))
			require.Equal(b, b.N*size, logged, "every attempt is in the log")
			require.Equal(b, b.N*size, counted, "and in the roll-ups")
		})
	}
}
