// Package dbtest gives tests a real PostgreSQL: a fully migrated database of
// their own, cloned in milliseconds from a template built once per schema, or
// a transaction rolled back when the test ends.
//
// The server is TEST_DATABASE_URL, else DATABASE_URL, else the local default
// postgres://postgres@127.0.0.1:5432/postgres; `make db` makes sure one answers.
//
// It imports db, pgurl and sql/migrations; only tests import it.
package dbtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/countercyclical/webhooks/internal/pgurl"
	"github.com/countercyclical/webhooks/sql/migrations"
)

// DefaultURL is the server tests use when no variable names one.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres"

// ServerURL returns the URL of the server tests run against.
func ServerURL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), os.Getenv("DATABASE_URL"), DefaultURL)
}

// Main runs the tests of a package, closes the shared pool and fails the run
// when goroutines leak. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shared.close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// NewDB creates a migrated database for this test alone and returns its URL.
// The database is dropped when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	template, err := ensureTemplate(ctx)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	name := testPrefix(template) + "_" + randomHex(6)
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("dbtest: error connecting to %s: %v", ServerURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		t.Fatalf("dbtest: error creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Errorf("dbtest: error connecting to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: error dropping database %s: %v", name, err)
		}
	})
	url := urlWithDatabase(t, name)
	if err := makePartitions(ctx, url); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return url
}

// makePartitions brings a database made from the template up to today: the
// template's partitions of the logs were made ahead of the day it was built,
// which may be days ago.
func makePartitions(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("error connecting to %s: %w", url, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT webhooks.make_partitions(now() + interval '5 days', interval '1 day')"); err != nil {
		return fmt.Errorf("error making partitions: %w", err)
	}
	return nil
}

// NewPool creates a migrated database for this test alone (see NewDB) and a
// pool on it, closed when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewDB(t))
	if err != nil {
		t.Fatalf("dbtest: error opening pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the database is dropped
	return pool
}

// NewTx begins a transaction on a migrated database shared by the tests of
// this package and rolls it back when the test ends. It suits tests that do
// not commit, LISTEN, or need a River client of their own.
func NewTx(t testing.TB) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	pool, err := shared.get(t)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("dbtest: error beginning transaction: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// shared is the per-process database behind NewTx.
var shared sharedDB

type sharedDB struct {
	mu   sync.Mutex
	pool *pgxpool.Pool
	name string
}

func (s *sharedDB) get(t testing.TB) (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		return s.pool, nil
	}
	ctx := context.Background()
	template, err := ensureTemplate(ctx)
	if err != nil {
		return nil, err
	}
	name := testPrefix(template) + "_shared_" + randomHex(6)
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return nil, fmt.Errorf("error connecting to %s: %w", ServerURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return nil, fmt.Errorf("error creating database %s: %w", name, err)
	}
	if err := makePartitions(ctx, urlWithDatabase(t, name)); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, urlWithDatabase(t, name))
	if err != nil {
		return nil, fmt.Errorf("error opening pool: %w", err)
	}
	s.pool, s.name = pool, name
	return pool, nil
}

func (s *sharedDB) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		return
	}
	s.pool.Close()
	ctx := context.Background()
	if conn, err := pgx.Connect(ctx, ServerURL()); err == nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{s.name}.Sanitize()+" WITH (FORCE)")
		conn.Close(ctx)
	}
	s.pool = nil
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// ensureTemplate returns the name of a template database migrated to the
// current schema, building it when no test process has yet. Test binaries of
// several packages run at once, so building is serialised by an advisory lock
// and the template appears under its final name only when complete.
func ensureTemplate(ctx context.Context) (string, error) {
	templateOnce.Do(func() {
		templateName, templateErr = buildTemplate(ctx)
	})
	return templateName, templateErr
}

func buildTemplate(ctx context.Context) (string, error) {
	name := "webhooks_tmpl_" + migrations.Fingerprint()[:12]
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return "", fmt.Errorf("error connecting to %s (start it with `make db`, or set TEST_DATABASE_URL): %w", ServerURL(), err)
	}
	defer admin.Close(ctx)

	lockKey := int64(fnvHash("webhooks dbtest template"))
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return "", fmt.Errorf("error taking template lock: %w", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("error looking for template: %w", err)
	}
	if exists {
		return name, nil
	}

	// Templates of other schemas a day old are of no further use. Younger
	// ones may be another checkout's, whose tests run now (two branches on
	// one server): dropping those failed every test of theirs that was
	// making a database. Where the server does not let us read when a
	// database was made (pg_stat_file needs a superuser), none is dropped.
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'webhooks\_tmpl\_%'
		AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '1 day'`)
	var old []string
	if err == nil {
		old, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	for _, db := range old {
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" IS_TEMPLATE false"); err != nil {
			return "", fmt.Errorf("error dropping old template %s: %w", db, err)
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("error dropping old template %s: %w", db, err)
		}
	}

	building := name + "_building"
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		return "", fmt.Errorf("error creating template %s: %w", building, err)
	}
	if err := migrate(ctx, building); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("error renaming template: %w", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" IS_TEMPLATE true"); err != nil {
		return "", fmt.Errorf("error marking template: %w", err)
	}
	return name, nil
}

func migrate(ctx context.Context, database string) error {
	u, err := pgurl.WithDatabase(ServerURL(), database)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return fmt.Errorf("error opening pool: %w", err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return fmt.Errorf("error migrating template: %w", err)
	}
	return nil
}

// urlWithDatabase returns ServerURL pointed at another database.
func urlWithDatabase(t testing.TB, database string) string {
	u, err := pgurl.WithDatabase(ServerURL(), database)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return u
}

// testPrefix names the databases cloned from a template after it, so a
// leftover of a killed run says where it came from.
func testPrefix(template string) string {
	return "webhooks_test_" + template[len("webhooks_tmpl_"):]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func fnvHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
