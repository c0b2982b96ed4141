// Package cli implements the webhooks command: its subcommands, flags and the
// configuration it reads from the environment.
//
// It imports the fronts (server, play), the bench, jobs and the parts
// they configure; only cmd/webhooks imports it.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/internal/pgurl"
	"github.com/countercyclical/webhooks/jobs"
)

// DefaultDatabaseURL is used when DATABASE_URL is not set.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/webhooks"

// Env reads configuration; tests pass their own.
type Env func(key string) string

// Main runs the command given by args (without the program name) and returns
// the process exit status.
func Main(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if env == nil {
		env = os.Getenv
	}
	c := &command{env: env, stdout: stdout, stderr: stderr}
	if err := c.run(ctx, args); err != nil {
		var usage usageError
		if errors.As(err, &usage) {
			fmt.Fprintf(stderr, "webhooks: %v\n\n%s", err, usageOf(args))
			return 2
		}
		fmt.Fprintf(stderr, "webhooks: %v\n", err)
		return 1
	}
	return 0
}

const usageText = `Usage: webhooks <command> [arguments]

Commands:
  migrate up          apply River's migrations, then the project's
  migrate down N      revert the last N of the project's migrations
  migrate version     print the project's migration version
  serve               run the HTTP server (WEBHOOKS_ADDR) and the workers
  worker              run the workers only
  play [flags]        a local receiver that verifies and shows deliveries
  apikey create --workspace W --user U [--name N]
                      make an API key; the key alone goes to standard output
  apikey revoke ID    revoke an API key by its id
  portal --workspace W --user U
                      print a one-time link to the Webhooks page for a user
  replay --webhook W --since T [--until T] [--event-types a,b] [--dry-run] [--follow]
                      send a webhook the events of a time range again
  demo                seed a demo workspace, print an API key per role
  bench [flags]       the pipeline against River's own rate, in a scratch database
  db ping URL         exit 0 when a PostgreSQL server answers at URL
  db create           create the database of DATABASE_URL when missing

Each command's own usage: webhooks <command> --help

` + envUsage

// envUsage lists the environment that serve and worker read.
const envUsage = `Environment:
  DATABASE_URL        PostgreSQL connection string (default ` + DefaultDatabaseURL + `)
  WEBHOOKS_ADDR       address serve listens on (default 127.0.0.1:8080)
  WEBHOOKS_PUBLIC_URL where browsers reach serve, for links to the Webhooks page;
                      https makes its cookie Secure, named __Host-webhooks_session.
                      Required when WEBHOOKS_ADDR is not loopback
                      (default http:// and WEBHOOKS_ADDR)
  WEBHOOKS_MAX_CONNS  connections serve keeps open at once (default 1024)
  WEBHOOKS_ALLOW_HTTP     accept plain http endpoint URLs (default false)
  WEBHOOKS_ALLOWED_CIDRS  internal ranges endpoints may reach, e.g. 127.0.0.0/8,::1/128
  WEBHOOKS_SECRET_GRACE   how long a rotated-out secret still signs (default 24h)
  WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE   webhooks a workspace may have (default 100)
  WEBHOOKS_TEST_SENDS_PER_MINUTE   test sends a workspace may make a minute,
                      counted per serve process (default 10)
  WEBHOOKS_EXPAND_WORKERS, WEBHOOKS_DELIVER_WORKERS   workers per queue (2, 200)
  WEBHOOKS_RETRY_SCHEDULE waits before retries (default 5s,5m,30m,2h,5h,10h,10h)
  WEBHOOKS_DISABLE_AFTER  disable a webhook failing this long without success (120h)
  WEBHOOKS_CONNECT_TIMEOUT, WEBHOOKS_TIMEOUT   per attempt (5s, 15s)
  WEBHOOKS_MAX_INFLIGHT   deliveries under way per webhook, at most (10)
  WEBHOOKS_RETENTION      events, messages, attempts kept this long (720h)
  WEBHOOKS_PARTITION_STEP time one partition of the logs covers (24h)
  WEBHOOKS_PARTITIONS_AHEAD   partitions kept ready after the current one (4)
  WEBHOOKS_JOB_RETENTION  how long River keeps completed and cancelled jobs (1m)
  WEBHOOKS_REINDEX_AT     when River rebuilds its table's indexes each day, HH:MM
                          in UTC, or off (default 00:00)
  WEBHOOKS_LOG_FORMAT     text or json (default text)
  WEBHOOKS_READY_FD       worker writes "ready" to this inherited file descriptor
                          once it works, then closes it (for a supervising parent)
  RIVERUI_USERNAME, RIVERUI_PASSWORD   River UI's basic auth; without both it is not served
`

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type command struct {
	env    Env
	stdout io.Writer
	stderr io.Writer
}

func (c *command) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	if _, ok := commandUsage[args[0]]; ok && wantsHelp(args[1:]) {
		fmt.Fprint(c.stdout, usageOf(args))
		return nil
	}
	switch args[0] {
	case "migrate":
		return c.migrate(ctx, args[1:])
	case "serve":
		return c.serve(ctx, args[1:])
	case "worker":
		return c.worker(ctx, args[1:])
	case "db":
		return c.db(ctx, args[1:])
	case "play":
		return c.play(ctx, args[1:])
	case "apikey":
		return c.apikey(ctx, args[1:])
	case "demo":
		return c.demo(ctx, args[1:])
	case "bench":
		return c.bench(ctx, args[1:])
	case "portal":
		return c.portal(ctx, args[1:])
	case "replay":
		return c.replay(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usageOf(args[1:])) // `help play` is play's
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}

func (c *command) addr() string { return cmp.Or(c.env("WEBHOOKS_ADDR"), DefaultAddr) }

func (c *command) databaseURL() string {
	return cmp.Or(c.env("DATABASE_URL"), DefaultDatabaseURL)
}

// connect opens a pool on DATABASE_URL and checks that the server answers, so
// that an unreachable database is one clear line rather than a late failure.
func (c *command) connect(ctx context.Context) (*pgxpool.Pool, error) {
	return connect(ctx, c.databaseURL())
}

func connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string: %s", reason(err))
	}
	// pool_max_conns in the URL wins.
	if !strings.Contains(url, "pool_max_conns") {
		config.MaxConns = jobs.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string: %s", reason(err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, unreachable(url, err)
	}
	return pool, nil
}

// unreachable turns a failed connection into one line: where, why, what to do.
func unreachable(url string, err error) error {
	return fmt.Errorf("cannot connect to PostgreSQL at %s: %s; run `make db` to start one, or set DATABASE_URL to a server that answers", pgurl.Server(url), reason(err))
}

// reason is the innermost useful message of a connection error, without
// pgx's restatement of the whole configuration.
func reason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return strings.TrimPrefix(opErr.Err.Error(), "connect: ")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within 5s"
	}
	return err.Error()
}
