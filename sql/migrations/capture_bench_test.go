package migrations_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// The spec's example investment, as the app would write it.
const benchInsert = `INSERT INTO %s (workspace_id, created_by, ticker_symbol, name, description, address, country,
	cik, lei, figi, founding_date, ipo_date, headquarters, ceo, employees, exchange, industry, sector, issuance, website,
	tags, edited_name, financing_type, market_type, type, visibility, clearbit)
SELECT $1, $2, 'KO', 'Coca-Cola Co', 'The Coca-Cola Company is an American multinational corporation founded in 1892, best known as the producer of Coca-Cola.',
	'1 Coca Cola Plz NW', 'US', '0000021344', 'UWJKFUJFZ02DKWI3RY53', 'BBG000BMX4N8', '1892', '1919', 'Atlanta, GA', 'James Quincey',
	82500, 'NYSE', 'Beverages', 'Manufacturing', 'cs', 'https://www.coca-colacompany.com',
	'{"Consumer Non-Durables","Beverages: Non-Alcoholic",Manufacturing,"Soft Drink Manufacturing"}',
	'Coca-Cola Co', 'Equity', 'Public', 'Personal', 'Private', '{"domain": "coca-colacompany.com", "logo": "https://logo.clearbit.com/coca-colacompany.com"}'
FROM generate_series(1, $3::int)`

// BenchmarkCapture measures what capture costs the app's writes: the same
// statements on identical tables, one tracked, one not, and one with the
// naive capture for comparison (a per-row trigger inserting to_jsonb(NEW)),
// interleaved on one connection so that drift of the machine hits all alike.
// It reports the throughput of each and the ratios to the plain table.
func BenchmarkCapture(b *testing.B) {
	ctx := context.Background()
	pool := dbtest.NewPool(b)
	workspaceID := dbtest.Workspace(b, pool, "bench")
	userID := dbtest.User(b, pool)
	// Two copies of investments with its defaults, indexes and foreign keys:
	// both do exactly the app's work, and one of them capture too.
	_, err := pool.Exec(ctx, `
		CREATE TABLE bench_captured (LIKE investments INCLUDING ALL,
			FOREIGN KEY (workspace_id) REFERENCES workspaces, FOREIGN KEY (created_by) REFERENCES users, FOREIGN KEY (team_id) REFERENCES teams);
		CREATE TABLE bench_plain (LIKE investments INCLUDING ALL,
			FOREIGN KEY (workspace_id) REFERENCES workspaces, FOREIGN KEY (created_by) REFERENCES users, FOREIGN KEY (team_id) REFERENCES teams);
		CREATE TABLE bench_naive (LIKE investments INCLUDING ALL,
			FOREIGN KEY (workspace_id) REFERENCES workspaces, FOREIGN KEY (created_by) REFERENCES users, FOREIGN KEY (team_id) REFERENCES teams);
		CREATE TABLE bench_naive_outbox (id bigserial PRIMARY KEY, payload jsonb NOT NULL);
		CREATE FUNCTION bench_naive_capture() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO bench_naive_outbox (payload) VALUES (to_jsonb(NEW));
			RETURN NULL;
		END $$;
		CREATE TRIGGER capture AFTER INSERT ON bench_naive FOR EACH ROW EXECUTE FUNCTION bench_naive_capture();
		SELECT webhooks.track('bench_captured', 'bench');`)
	require.NoError(b, err)

	for _, bc := range []struct {
		name string
		rows int
	}{
		{"SingleRowTx", 1},
		{"Insert100Rows", 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := pool.Acquire(ctx)
			require.NoError(b, err)
			defer conn.Release()
			exec := func(table string) time.Duration {
				start := time.Now()
				_, err := conn.Exec(ctx, fmt.Sprintf(benchInsert, table), workspaceID, userID, bc.rows)
				require.NoError(b, err)
				return time.Since(start)
			}
			tables := []string{"bench_captured", "bench_plain", "bench_naive"}
			for _, table := range tables {
				exec(table) // plans cached, triggers compiled
			}

			spent := map[string]time.Duration{}
			i := 0
			for b.Loop() {
				// Rotate which goes first, so none always follows another.
				for j := range tables {
					table := tables[(i+j)%len(tables)]
					spent[table] += exec(table)
				}
				i++
			}
			tps := func(table string) float64 { return float64(i) / spent[table].Seconds() }
			b.ReportMetric(tps("bench_captured"), "captured-stmt/s")
			b.ReportMetric(tps("bench_plain"), "plain-stmt/s")
			b.ReportMetric(tps("bench_captured")/tps("bench_plain"), "ratio")
			b.ReportMetric(tps("bench_naive")/tps("bench_plain"), "naive-ratio")
		})
	}
	requireOutbox(b, pool)
}

// requireOutbox makes sure the benchmark measured capture, not nothing.
func requireOutbox(b *testing.B, pool *pgxpool.Pool) {
	var n int
	require.NoError(b, pool.QueryRow(context.Background(), `SELECT count(*) FROM webhooks.capture_queue WHERE resource_type = 'bench'`).Scan(&n))
	require.Positive(b, n)
}
