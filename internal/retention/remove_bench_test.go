package retention

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// BenchmarkRemoveDay times the removal of one day-long slice past the
// retention (its three partitions detached concurrently and dropped) by the
// number of deliveries it holds, each an event, a message and an attempt:
// the time should not grow with them. Each iteration fills a slice anew,
// untimed. WEBHOOKS_REMOVE_DAY_ROWS (a comma list) sets the sizes, for a
// run with larger slices than `make bench` should spend minutes filling.
//
// Beside the removal, a writer commits one row at a time into a table of
// its own, as the app does on the same server and disk, and the slowest of
// those commits is reported (write-max-ms): the removal's file system work
// (freeing, and with a `discard` mount trimming, the files' blocks) should
// not hold up the app's writes.
func BenchmarkRemoveDay(b *testing.B) {
	sizes := []int{10_000, 1_000_000}
	if v := os.Getenv("WEBHOOKS_REMOVE_DAY_ROWS"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				b.Fatalf("WEBHOOKS_REMOVE_DAY_ROWS: %q is not a positive count of rows", s)
			}
			sizes = append(sizes, n)
		}
	}
	for _, rows := range sizes {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, dbtest.NewDB(b))
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			w := &Keeper{Pool: pool, Retention: time.Hour, Step: DefaultPartitionStep, Ahead: DefaultPartitionsAhead, Logger: slog.New(slog.DiscardHandler)}
			var first time.Time
			if err := pool.QueryRow(ctx, `SELECT min(from_at) FROM webhooks.partitions`).Scan(&first); err != nil {
				b.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `CREATE TABLE app_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`); err != nil {
				b.Fatal(err)
			}
			var slowest time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				from := first.Add(-time.Duration(i+1) * 24 * time.Hour)
				if _, err := pool.Exec(ctx, `SELECT webhooks.add_partition($1::timestamptz, $1::timestamptz + interval '1 day')`, from); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, `WITH o AS (
						INSERT INTO webhooks.outbox (event_id, event_type, resource_type, resource_id, workspace_id, payload, rendered, captured_at, expanded_at)
						SELECT webhooks.gen_id(), 'investment.created', 'investment', 'r' || n, 'ws', json_build_object('id', 'r' || n, 'name', 'Investment ' || n), true,
							$1::timestamptz + n * interval '1 ms', now()
						FROM generate_series(1, $2::int) n
						RETURNING id, event_id, captured_at
					), m AS (
						INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, state, attempts, captured_at)
						SELECT 'msg_' || lpad(o.id::text, 27, '0'), o.id, 'wh', 'ws', 'investment.created', 'succeeded', 1, o.captured_at FROM o
						RETURNING id, captured_at
					)
					INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url, started_at, duration_ms, succeeded, captured_at)
					SELECT m.id, '', 'wh', 'ws', 'investment.created', 1, 'https://example.com/h', m.captured_at, 1, true, m.captured_at FROM m`, from, rows); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
					b.Fatal(err)
				}
				stop := make(chan struct{})
				type result struct {
					slowest time.Duration
					err     error
				}
				wrote := make(chan result)
				go func() {
					slowest, err := writeUntil(stop, pool)
					wrote <- result{slowest, err}
				}()
				b.StartTimer()
				err := w.remove(ctx, from)
				b.StopTimer()
				// The file system may trim after the files are gone.
				time.Sleep(3 * time.Second)
				close(stop)
				r := <-wrote
				if err != nil {
					b.Fatal(err)
				}
				if r.err != nil {
					b.Fatal(r.err)
				}
				slowest = max(slowest, r.slowest)
				b.StartTimer()
			}
			b.ReportMetric(float64(slowest.Microseconds())/1000, "write-max-ms")
		})
	}
}

// writeUntil commits a row at a time into app_writes until stop is closed,
// and returns the slowest commit. A commit under way when stop closes is
// waited for: it may be the one held up.
func writeUntil(stop <-chan struct{}, pool *pgxpool.Pool) (time.Duration, error) {
	var slowest time.Duration
	for {
		select {
		case <-stop:
			return slowest, nil
		default:
		}
		start := time.Now()
		if _, err := pool.Exec(context.Background(), `INSERT INTO app_writes DEFAULT VALUES`); err != nil {
			return slowest, fmt.Errorf("error writing beside the removal: %w", err)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMain(m *testing.M) { dbtest.Main(m) }
