package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/cli"
	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/pgurl"
	"github.com/countercyclical/webhooks/sql/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func TestMigrateUpTwiceVersionDown(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": dbtest.NewDB(t)}

	res := run(t, env, "migrate", "up")
	require.Equal(t, 0, res.code, res.stderr)
	res = run(t, env, "migrate", "up")
	require.Equal(t, 0, res.code, res.stderr)

	res = run(t, env, "migrate", "version")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, itoa(migrations.Latest())+"\n", res.stdout)

	ups, err := fs.Glob(migrations.FS, "*.up.sql") // the steps down to zero: numbers may be skipped
	require.NoError(t, err)
	res = run(t, env, "migrate", "down", strconv.Itoa(len(ups)))
	require.Equal(t, 0, res.code, res.stderr)
	res = run(t, env, "migrate", "version")
	require.Equal(t, "0\n", res.stdout)

	res = run(t, env, "migrate", "down", "1")
	require.Equal(t, 1, res.code)
	require.Equal(t, "webhooks: error reverting migrations: no migration is applied\n", res.stderr)
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback: nothing listens there.
	env := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/webhooks"}
	for _, args := range [][]string{{"migrate", "up"}, {"migrate", "version"}, {"migrate", "down", "1"}, {"serve"}} {
		res := run(t, env, args...)
		require.Equal(t, 1, res.code, args)
		require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
		require.Contains(t, res.stderr, "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused")
		require.Contains(t, res.stderr, "make db")
	}
}

func TestMissingDatabaseSaysSo(t *testing.T) {
	t.Parallel()
	url, err := pgurl.WithDatabase(dbtest.ServerURL(), "webhooks_no_such_database")
	require.NoError(t, err)
	res := run(t, map[string]string{"DATABASE_URL": url}, "migrate", "up")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, `database "webhooks_no_such_database" does not exist`)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"migrate"}, "migrate needs a subcommand"},
		{[]string{"migrate", "sideways"}, `unknown migrate subcommand "sideways"`},
		{[]string{"migrate", "down"}, "migrate down needs the number"},
		{[]string{"migrate", "down", "two"}, `"two" is not a positive number`},
		{[]string{"migrate", "down", "0"}, `"0" is not a positive number`},
		{[]string{"serve", "extra"}, "serve takes no arguments"},
	} {
		res := run(t, nil, tt.args...)
		require.Equal(t, 2, res.code, tt.args)
		require.Contains(t, res.stderr, tt.want, tt.args)
		require.Contains(t, res.stderr, "Usage: webhooks", tt.args)
	}
}

func TestDBCreate(t *testing.T) {
	t.Parallel()
	name := "webhooks_test_create_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	url, err := pgurl.WithDatabase(dbtest.ServerURL(), name)
	require.NoError(t, err)
	env := map[string]string{"DATABASE_URL": url}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dbtest.ServerURL())
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		require.NoError(t, err)
	})

	res := run(t, env, "db", "ping", url)
	require.Equal(t, 0, res.code, "a server without the database still answers: %s", res.stderr)
	res = run(t, env, "db", "create")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "database "+name+" created\n", res.stdout)
	res = run(t, env, "db", "create")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "database "+name+" exists\n", res.stdout)

	res = run(t, env, "db", "ping", "postgres://postgres@127.0.0.1:1/x")
	require.Equal(t, 1, res.code)
}

// syncBuffer lets the test read what serve logs while serve writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeHealthz(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": dbtest.NewDB(t), "WEBHOOKS_ADDR": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	}()

	urlRe := regexp.MustCompile(`url=(http://\S+)`)
	var base string
	require.Eventually(t, func() bool {
		m := urlRe.FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "serve never logged its address: %s", stderr.String())

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok\n", string(body))
	require.Regexp(t, `msg=serving url=\S+ max_conns=1024 expand_workers=2 deliver_workers=200 reindex_at=00:00\n`, stderr.String(),
		"the start line says what runs")

	cancel()
	require.Equal(t, 0, <-done, stderr.String())
	http.DefaultClient.CloseIdleConnections()
}

func TestServeBadMaxConns(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-1", "many"} {
		res := run(t, map[string]string{"WEBHOOKS_MAX_CONNS": v}, "serve")
		require.Equal(t, 1, res.code, v)
		require.Contains(t, res.stderr, `WEBHOOKS_MAX_CONNS="`+v+`" is not a positive whole number`)
	}
}

func itoa(v uint) string { return strconv.FormatUint(uint64(v), 10) }

func TestPlayFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"play", "--fail-rate", "1.5"}, "--fail-rate 1.5 is not between 0 and 1"},
		{[]string{"play", "--status", "42"}, "--status 42 is not an HTTP status"},
		{[]string{"play", "--delay", "-1s"}, "--delay -1s is negative"},
		{[]string{"play", "--keep", "0"}, "--keep 0 must be at least 1"},
		{[]string{"play", "--secret", "whsec_***"}, "invalid secret"},
		{[]string{"play", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"play", "extra"}, `play takes flags only, not "extra"`},
	} {
		res := run(t, nil, tt.args...)
		require.Equal(t, 2, res.code, tt.args)
		require.Contains(t, res.stderr, tt.want, tt.args)
	}
}

func TestPlayServes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"play", "--addr", "127.0.0.1:0", "--status", "503", "--retry-after", "7"}, func(string) string { return "" }, &stdout, &stderr)
	}()
	urlRe := regexp.MustCompile(`receiving on (http://\S+)/ `)
	var base string
	require.Eventually(t, func() bool {
		m := urlRe.FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, stderr.String(), "deliveries are not verified")

	resp, err := http.Post(base+"/anywhere", "application/json", strings.NewReader(`{"eventType":"memo.created"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "--status alone fails every delivery")
	require.Equal(t, "7", resp.Header.Get("Retry-After"))
	require.Contains(t, stdout.String(), "503 POST /anywhere type=memo.created")

	cancel()
	require.Equal(t, 0, <-done, stderr.String())
	http.DefaultClient.CloseIdleConnections()
}

// memberAndOutsider makes a workspace with a member, and a user outside it.
func memberAndOutsider(t *testing.T, url string) (conn *pgx.Conn, workspaceID, userID, outsiderID string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	workspaceID = dbtest.Workspace(t, conn, "w")
	return conn, workspaceID, dbtest.Member(t, conn, workspaceID, "member"), dbtest.User(t, conn)
}

func TestAPIKeyCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	env := map[string]string{"DATABASE_URL": url}
	conn, workspaceID, userID, outsiderID := memberAndOutsider(t, url)

	res := run(t, env, "apikey", "create", "--workspace", workspaceID, "--user", userID, "--name", "ci")
	require.Equal(t, 0, res.code, res.stderr)
	require.Regexp(t, `^whk_[A-Za-z0-9_-]{43}\n$`, res.stdout, "the key alone on standard output")
	require.Contains(t, res.stderr, "(member) in workspace "+workspaceID)
	keyID := regexp.MustCompile(`created API key (\S+) `).FindStringSubmatch(res.stderr)[1]

	res = run(t, env, "apikey", "create", "--workspace", workspaceID, "--user", outsiderID)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "is not a member of workspace")
	require.Empty(t, res.stdout)

	res = run(t, env, "apikey", "create", "--workspace", workspaceID)
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "needs --workspace W and --user U")

	res = run(t, env, "apikey", "revoke", keyID)
	require.Equal(t, 0, res.code, res.stderr)
	var revoked bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM webhooks.api_keys WHERE id = $1`, keyID).Scan(&revoked))
	require.True(t, revoked)

	res = run(t, env, "apikey", "revoke", "whk_thekeyitself")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "not the key")
}

// TestPortalCommand: `webhooks portal` prints a one-time link for a member,
// under WEBHOOKS_PUBLIC_URL, and refuses anyone else.
func TestPortalCommand(t *testing.T) {
	t.Parallel()
	url := dbtest.NewDB(t)
	_, workspaceID, userID, outsiderID := memberAndOutsider(t, url)

	res := run(t, map[string]string{"DATABASE_URL": url}, "portal", "--workspace", workspaceID, "--user", userID)
	require.Equal(t, 0, res.code, res.stderr)
	require.Regexp(t, `^http://127\.0\.0\.1:8080/portal/start\?token=[A-Za-z0-9_-]{43}\n$`, res.stdout, "the link alone on standard output")
	require.Contains(t, res.stderr, "one-time link")

	res = run(t, map[string]string{"DATABASE_URL": url, "WEBHOOKS_PUBLIC_URL": "https://hooks.example.com/"}, "portal", "--workspace", workspaceID, "--user", userID)
	require.Equal(t, 0, res.code, res.stderr)
	require.True(t, strings.HasPrefix(res.stdout, "https://hooks.example.com/portal/start?token="), res.stdout)

	res = run(t, map[string]string{"DATABASE_URL": url, "WEBHOOKS_ADDR": ":9090"}, "portal", "--workspace", workspaceID, "--user", userID)
	require.Equal(t, 0, res.code, res.stderr)
	require.True(t, strings.HasPrefix(res.stdout, "http://127.0.0.1:9090/portal/start?token="), "a listener on every interface is reached on loopback: %s", res.stdout)

	res = run(t, map[string]string{"DATABASE_URL": url}, "portal", "--workspace", workspaceID, "--user", outsiderID)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "is not a member of workspace")
	require.Empty(t, res.stdout)

	res = run(t, map[string]string{"DATABASE_URL": url}, "portal", "--user", userID)
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "portal needs --workspace W and --user U")

	res = run(t, map[string]string{"DATABASE_URL": url, "WEBHOOKS_PUBLIC_URL": "https://hooks.example.com/app"}, "portal", "--workspace", workspaceID, "--user", userID)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "must be an http or https origin")
}

func TestReplayCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	env := map[string]string{"DATABASE_URL": url}
	conn, workspaceID, userID, _ := memberAndOutsider(t, url)
	webhookID := dbtest.WebhookWith(t, conn, workspaceID, userID, "https://example.com/hooks",
		dbtest.WebhookOptions{Name: "crm", Events: []string{"pipeline.created"}, CreatedAt: time.Now()})
	// Three events of the last hour, as expansion leaves them (to no webhook,
	// as captured), one of them a type the webhook does not take.
	_, err := conn.Exec(ctx, `INSERT INTO webhooks.outbox (event_id, event_type, resource_type, resource_id, workspace_id, payload, captured_at, expanded_at)
		SELECT webhooks.gen_id(), t, 'pipeline', 'p' || i, $1, json_build_object('id', 'p' || i, 'created_by', $2::text, 'visibility', 'Workspace'),
			now() - interval '10 minutes', now()
		FROM unnest(ARRAY['pipeline.created', 'pipeline.created', 'pipeline.deleted']) WITH ORDINALITY AS e (t, i)`, workspaceID, userID)
	require.NoError(t, err)
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	res := run(t, env, "replay", "--webhook", webhookID, "--since", since, "--dry-run")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "2 events would be sent to crm ("+webhookID+")\n", res.stdout)

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--since", since}, 2, "replay needs --webhook W and --since T"},
		{[]string{"--webhook", webhookID, "--since", "yesterday"}, 2, `--since "yesterday" is not an RFC 3339 time`},
		{[]string{"--webhook", webhookID, "--since", since, "--until", since}, 2, "--until must be after --since"},
		{[]string{"--webhook", webhookID, "--since", since, "--event-types", "memo.created"}, 2, `does not take "memo.created"`},
		{[]string{"--webhook", webhookID, "--since", since, "--event-types", "pipeline.*"}, 2, `names event types such as investment.updated, not "pipeline.*"`},
		{[]string{"--webhook", webhookID, "--since", since, "--event-types", ","}, 2, `not ""`},
		{[]string{"--webhook", webhookID, "--since", since, "--dry-run", "--follow"}, 2, "a --dry-run sends nothing to follow"},
		{[]string{"--webhook", "nope", "--since", since}, 1, `no webhook "nope"`},
		{[]string{"--webhook", webhookID, "--since", "2001-01-01T00:00:00Z"}, 1, "--since must not be before"},
	} {
		res := run(t, env, append([]string{"replay"}, tt.args...)...)
		require.Equal(t, tt.code, res.code, "%v: %s", tt.args, res.stderr)
		require.Contains(t, res.stderr, tt.want, tt.args)
	}

	res = run(t, env, "replay", "--webhook", webhookID, "--since", since)
	require.Equal(t, 0, res.code, res.stderr)
	require.Regexp(t, `^rpl_\S+\n$`, res.stdout, "the replay's id alone on standard output")
	require.Contains(t, res.stderr, "replay of 2 events to crm started")
	var total, jobs int
	require.NoError(t, conn.QueryRow(ctx, `SELECT total FROM webhooks.replays WHERE id = $1 AND state = 'running'`, strings.TrimSpace(res.stdout)).Scan(&total))
	require.Equal(t, 2, total)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_replay' AND args ->> 'replayId' = $1`, strings.TrimSpace(res.stdout)).Scan(&jobs))
	require.Equal(t, 1, jobs)
	res = run(t, env, "replay", "--webhook", webhookID, "--since", since)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "a replay of this webhook is running")
}

func TestDemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	res := run(t, map[string]string{"DATABASE_URL": url}, "demo")
	require.Equal(t, 0, res.code, res.stderr)
	for _, role := range []string{"owner", "admin", "member", "guest"} {
		require.Regexp(t, `(?m)^  `+role+` +\S.* user \S+  API key whk_\S+$`, res.stdout)
	}
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var types int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(DISTINCT resource_type) FROM (SELECT resource_type FROM webhooks.capture_queue UNION ALL SELECT resource_type FROM webhooks.outbox) e`).Scan(&types))
	require.Equal(t, 6, types, "a few resources of each type, captured")
}

func TestBadAPIConfig(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"WEBHOOKS_ALLOW_HTTP":                 `WEBHOOKS_ALLOW_HTTP="maybe" is not true or false`,
		"WEBHOOKS_ALLOWED_CIDRS":              `WEBHOOKS_ALLOWED_CIDRS: "maybe" is not a CIDR range`,
		"WEBHOOKS_SECRET_GRACE":               `WEBHOOKS_SECRET_GRACE="maybe" is not a duration`,
		"WEBHOOKS_LOG_FORMAT":                 `WEBHOOKS_LOG_FORMAT="maybe" is not text or json`,
		"WEBHOOKS_RETRY_SCHEDULE":             `entry 1 "maybe" is not a positive duration`,
		"WEBHOOKS_TIMEOUT":                    `WEBHOOKS_TIMEOUT="maybe" is not a positive duration`,
		"WEBHOOKS_DELIVER_WORKERS":            `WEBHOOKS_DELIVER_WORKERS="maybe" is not a positive whole number`,
		"WEBHOOKS_PUBLIC_URL":                 `WEBHOOKS_PUBLIC_URL="maybe" must be an http or https origin`,
		"WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE": `WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE="maybe" is not a positive whole number`,
		"WEBHOOKS_TEST_SENDS_PER_MINUTE":      `WEBHOOKS_TEST_SENDS_PER_MINUTE="maybe" is not a positive whole number`,
		"WEBHOOKS_REINDEX_AT":                 `WEBHOOKS_REINDEX_AT="maybe" is not a time of day in UTC such as 03:30, or off`,
	} {
		for _, command := range []string{"serve", "worker"} {
			res := run(t, map[string]string{env: "maybe"}, command)
			require.Equal(t, 1, res.code, env)
			require.Contains(t, res.stderr, want)
		}
	}
}

// TestWorkerShutdownFinishesDeliveries: on SIGINT/SIGTERM (the context
// ending) a worker stops fetching but lets a delivery under way finish and
// be recorded.
func TestWorkerShutdownFinishesDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	started := make(chan struct{}, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(500 * time.Millisecond)
	}))
	defer receiver.Close()

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	ws, user, _ := dbtest.OneWebhook(t, conn, receiver.URL)

	env := map[string]string{"DATABASE_URL": url, "WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOWED_CIDRS": "127.0.0.0/8"}
	workerCtx, cancel := context.WithCancel(ctx)
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(workerCtx, []string{"worker"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	}()
	_, err = conn.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, ws, user)
	require.NoError(t, err)
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatalf("no delivery started: %s", stderr.String())
	}
	cancel() // as SIGTERM does, mid-delivery
	require.Equal(t, 0, <-done, stderr.String())
	require.Contains(t, stderr.String(), "shutting down")
	require.Contains(t, stderr.String(), "expand_workers=2 deliver_workers=200 reindex_at=00:00", "the log says what runs")

	var state string
	var succeeded bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT m.state, a.succeeded FROM webhooks.messages m JOIN webhooks.delivery_attempts a ON a.message_id = m.id`).Scan(&state, &succeeded))
	require.Equal(t, "succeeded", state, "the delivery under way finished and was recorded")
	require.True(t, succeeded)
}

// TestServeAnswersBeside200SlowClients: with 200 slow connections held open
// (bodies announced and never sent, headers never finished, nothing sent),
// `serve` with its defaults still answers /healthz and an authenticated API
// request, and the 200 are still held after: its connection cap leaves room
// above them. (Their being cut by timeouts is TestSlowClientsAreCut.)
func TestServeAnswersBeside200SlowClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	ws := dbtest.Workspace(t, conn, "w")
	user := dbtest.Member(t, conn, ws, "owner")
	env := map[string]string{"DATABASE_URL": url, "WEBHOOKS_ADDR": "127.0.0.1:0"}
	res := run(t, env, "apikey", "create", "--workspace", ws, "--user", user)
	require.Equal(t, 0, res.code, res.stderr)
	key := strings.TrimSpace(res.stdout)

	serveCtx, cancel := context.WithCancel(ctx)
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(serveCtx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		require.Equal(t, 0, <-done, stderr.String())
	}()
	addrRe := regexp.MustCompile(`url=http://(\S+)`)
	var addr string
	require.Eventually(t, func() bool {
		m := addrRe.FindStringSubmatch(stderr.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "serve never logged its address: %s", stderr.String())

	slow := make([]net.Conn, 200)
	for i := range slow {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		switch i % 3 {
		case 0:
			_, err = io.WriteString(c, "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+
				"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		case 1:
			_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		}
		require.NoError(t, err)
		slow[i] = c
	}

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	req, err := http.NewRequest("GET", "http://"+addr+"/v1/webhooks", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	// All 200 are still open and unanswered (the quickest timeout, 10 s for
	// headers, is far off): the answers above came beside them, not after
	// they were cut.
	for i, c := range slow {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Millisecond)))
		n, err := c.Read(make([]byte, 1))
		var netErr net.Error
		require.True(t, errors.As(err, &netErr) && netErr.Timeout(), "slow connection %d: read %d bytes, error %v", i, n, err)
	}
}

// TestServeQuotasFromEnvironment: WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE and
// WEBHOOKS_TEST_SENDS_PER_MINUTE reach the API that serve serves.
func TestServeQuotasFromEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	ws := dbtest.Workspace(t, conn, "w")
	user := dbtest.Member(t, conn, ws, "owner")
	env := map[string]string{"DATABASE_URL": url, "WEBHOOKS_ADDR": "127.0.0.1:0",
		"WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE": "1", "WEBHOOKS_TEST_SENDS_PER_MINUTE": "1"}
	res := run(t, env, "apikey", "create", "--workspace", ws, "--user", user)
	require.Equal(t, 0, res.code, res.stderr)
	key := strings.TrimSpace(res.stdout)

	serveCtx, cancel := context.WithCancel(ctx)
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(serveCtx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		require.Equal(t, 0, <-done, stderr.String())
		http.DefaultClient.CloseIdleConnections()
	}()
	urlRe := regexp.MustCompile(`url=(http://\S+)`)
	var base string
	require.Eventually(t, func() bool {
		m := urlRe.FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "serve never logged its address: %s", stderr.String())

	post := func(path, body string) *http.Response {
		req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	hook := `{"name": "h", "url": "https://example.com/hooks", "events": ["investment.created"]}`
	resp := post("/v1/webhooks", hook)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var created struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	require.Equal(t, http.StatusUnprocessableEntity, post("/v1/webhooks", hook).StatusCode)
	require.Equal(t, http.StatusAccepted, post("/v1/webhooks/"+created.ID+"/test", `{"eventType": "investment.created"}`).StatusCode)
	require.Equal(t, http.StatusTooManyRequests, post("/v1/webhooks/"+created.ID+"/test", `{"eventType": "investment.created"}`).StatusCode)
}

// TestServeNeedsPublicURLBeyondLoopback: serve listening beyond loopback
// without WEBHOOKS_PUBLIC_URL refuses to start, saying what to set; on
// loopback, or with it set, it goes on (here to a database that does not
// answer).
func TestServeNeedsPublicURLBeyondLoopback(t *testing.T) {
	t.Parallel()
	const nowhere = "postgres://postgres@127.0.0.1:1/webhooks"
	for _, addr := range []string{":8080", "0.0.0.0:8080", "[::]:8080", "10.1.2.3:8080", "webhooks.internal:8080"} {
		res := run(t, map[string]string{"DATABASE_URL": nowhere, "WEBHOOKS_ADDR": addr}, "serve")
		require.Equal(t, 1, res.code, addr)
		require.Contains(t, res.stderr, `WEBHOOKS_ADDR="`+addr+`" listens beyond loopback, so set WEBHOOKS_PUBLIC_URL to the origin browsers reach serve at, such as https://webhooks.example.com`, addr)
	}
	for _, env := range []map[string]string{
		{"WEBHOOKS_ADDR": "127.0.0.1:8080"},
		{"WEBHOOKS_ADDR": "localhost:8080"},
		{"WEBHOOKS_ADDR": "[::1]:8080"},
		{},
		{"WEBHOOKS_ADDR": ":8080", "WEBHOOKS_PUBLIC_URL": "https://webhooks.example.com"},
	} {
		env["DATABASE_URL"] = nowhere
		res := run(t, env, "serve")
		require.Equal(t, 1, res.code, env)
		require.NotContains(t, res.stderr, "WEBHOOKS_PUBLIC_URL", env)
		require.Contains(t, res.stderr, "cannot connect to PostgreSQL", env)
	}
}
