package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// site is a running `webhooks serve`: the server's handler on a real HTTP
// server, a River client working both queues, the outbox listener, and a
// workspace with a user and an API key of each role.
type site struct {
	pool     *pgxpool.Pool
	url      string
	ws       string
	users    map[string]string // role → user id
	keys     map[string]string // role → API key
	receiver *receiver
}

// receiver is an endpoint that answers 200, or 500 while failing.
type receiver struct {
	url     string
	failing atomic.Bool
	got     atomic.Int64
}

func startSite(t *testing.T) *site {
	t.Helper()
	// One retry, soon: a failing delivery fails for good within a second.
	return startSiteWith(t, []time.Duration{200 * time.Millisecond})
}

// startSiteWith is startSite with a retry schedule of its own.
func startSiteWith(t *testing.T, schedule []time.Duration) *site {
	t.Helper()
	return startSiteConfig(t, schedule, api.Config{})
}

// startSiteConfig is startSiteWith with settings of the API's (its policy
// and attempts are the site's).
func startSiteConfig(t *testing.T, schedule []time.Duration, config api.Config) *site {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	allowed, err := netguard.ParseCIDRs("127.0.0.0/8")
	require.NoError(t, err)
	policy := netguard.Policy{AllowHTTP: true, Allowed: allowed}
	deliveryConfig := delivery.Config{Policy: policy, Schedule: schedule, Timeout: 5 * time.Second}
	runner, err := jobs.NewRunner(pool, jobs.Config{Delivery: deliveryConfig, SafetyNet: time.Hour})
	require.NoError(t, err)
	require.NoError(t, runner.Start(ctx))
	client := runner.Client
	apiConfig := config
	apiConfig.Policy, apiConfig.MaxAttempts = policy, deliveryConfig.MaxAttempts()
	handlerCtx, stopHandler := context.WithCancel(ctx)
	handler, err := server.New(handlerCtx, server.Config{
		Pool: pool, River: client,
		API: apiConfig,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		stopHandler()
		runner.Stop()
	})

	rcv := &receiver{}
	rsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rcv.got.Add(1)
		if rcv.failing.Load() {
			http.Error(w, "receiver <b>down</b> for maintenance", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(rsrv.Close)
	rcv.url = rsrv.URL + "/hooks"

	s := &site{pool: pool, url: srv.URL, users: map[string]string{}, keys: map[string]string{}, receiver: rcv}
	q := db.New()
	ws, err := q.WorkspaceInsert(ctx, pool, "Acme <Capital>")
	require.NoError(t, err)
	s.ws = ws.ID
	for _, role := range []string{"owner", "admin", "member", "guest"} {
		user, err := q.UserInsert(ctx, pool, db.UserInsertParams{Email: role + "@acme.example"})
		require.NoError(t, err)
		_, err = q.WorkspaceMemberUpsert(ctx, pool, db.WorkspaceMemberUpsertParams{WorkspaceID: ws.ID, UserID: user.ID, Role: role})
		require.NoError(t, err)
		key, _, _, err := auth.CreateAPIKey(ctx, pool, ws.ID, user.ID, "test")
		require.NoError(t, err)
		s.users[role], s.keys[role] = user.ID, key
	}
	return s
}

// call is a request to the API with an API key; it returns the status and
// the decoded body.
func (s *site) call(t *testing.T, key, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		reader = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.url+path, reader)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), string(data))
	}
	return res.StatusCode, out
}

// link asks for a one-time link to the page as the host app would.
func (s *site) link(t *testing.T, role string) string {
	t.Helper()
	status, body := s.call(t, s.keys[role], "POST", "/v1/portal/sessions", nil)
	require.Equal(t, http.StatusCreated, status, body)
	u := body["url"].(string)
	require.True(t, strings.HasPrefix(u, s.url+"/portal/start?token="), u)
	return u
}

func (s *site) scalar(t *testing.T, sql string, args ...any) string {
	t.Helper()
	var v string
	require.NoError(t, s.pool.QueryRow(context.Background(), sql, args...).Scan(&v), sql)
	return v
}

// chromium finds the browser, or skips the test outside CI with how to
// install it; in CI a missing browser fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("WEBHOOKS_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the browser tests need Chromium: scripts/tools.sh chromium installs it (apt-get install chromium)")
	}
	t.Skip("skipping browser test: no Chromium here; install it with `scripts/tools.sh chromium` (Debian's chromium package), or set WEBHOOKS_CHROMIUM to a Chrome binary")
	return ""
}

// browser starts a headless Chromium of its own for the test, with an
// empty profile, at the given window width.
func browser(t *testing.T, width int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 900)))
	return ctx
}

// open follows a portal link and waits for the page to have loaded its data.
// A link first asks whom it signs in; open says yes.
func open(t *testing.T, ctx context.Context, link string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	))
	if strings.Contains(link, "/portal/start") {
		step(t, ctx, chromedp.Click(chromedp.CSS("#continue")))
	}
	waitJS(t, ctx, `document.location.pathname === "/portal/" && (document.body.dataset.ready === "true" || !!document.querySelector("#guest"))`)
}

// waitJS waits until a JavaScript expression is true in the page.
func waitJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		// A poll begun before a navigation ends with its page (the target
		// navigated, or its execution context is gone): poll the next.
		gone := err != nil && (strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context"))
		if !gone || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		// What the page showed, for the failure's message.
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText + "\n[dialog open=" + document.querySelector("#confirm").open + " returnValue=" + document.querySelector("#confirm").returnValue + "]"`))
		t.Fatalf("waiting for %s: %v; the page shows:\n%s", expr, err, shown)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return v
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, expr)
	return v
}

// screenshot saves the page as PNG: into WEBHOOKS_SCREENSHOTS when set
// (`make screenshots` sets it to docs/), else into the test's directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WEBHOOKS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// TestPortalWebhookLifecycle walks the page as an owner: create with a
// field error, the secret shown once, a delivery in View Logs, a failure
// retried from the page, a test event, edit, disable and delete.
func TestPortalWebhookLifecycle(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	require.Contains(t, text(t, ctx, "#who"), "owner@acme.example")
	require.Contains(t, text(t, ctx, "#who"), "Acme <Capital>", "escaped, shown as text")
	require.True(t, eval[bool](t, ctx, `!document.querySelector("#empty").hidden`))

	// A field error, in the API's words, beside its field.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SendKeys(chromedp.CSS("#f-url"), "ftp://example.com/hooks"),
		chromedp.Click(chromedp.CSS("#save")),
	))
	waitJS(t, ctx, `document.querySelector("#err-url").textContent !== ""`)
	require.Contains(t, text(t, ctx, "#err-url"), "ftp")
	require.Equal(t, "must not be blank", text(t, ctx, "#err-name"))
	require.Contains(t, text(t, ctx, "#err-events"), "at least one event type")
	require.Equal(t, "true", eval[string](t, ctx, `document.querySelector("#f-url").getAttribute("aria-invalid")`))
	screenshot(t, ctx, "portal-create-error")

	// Saved: the secret is shown once, and it is the one that signs.
	name := `<img src=x> Deals & "memos"`
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-url"), s.receiver.url))
	step(t, ctx, chromedp.SendKeys(chromedp.CSS("#f-name"), name))
	step(t, ctx, chromedp.Click(chromedp.CSS(`input[value="investment.*"]`)))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#secret-view")))
	webhookID := s.scalar(t, `SELECT id FROM webhooks.webhooks WHERE workspace_id = $1`, s.ws)
	require.Equal(t, s.scalar(t, `SELECT secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, webhookID), text(t, ctx, "#secret"))
	require.Equal(t, `{investment.*}`, s.scalar(t, `SELECT event_types::text FROM webhooks.webhooks WHERE id = $1`, webhookID))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#secret-done")), chromedp.WaitVisible(chromedp.CSS("#webhooks"))))
	require.Empty(t, text(t, ctx, "#secret"), "the secret is gone from the page")
	require.Equal(t, name, eval[string](t, ctx, `document.querySelector("tr.webhook .name").lastChild.textContent`), "names are text, not markup")
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll("#webhooks img").length`))

	// An investment inserted by the app arrives, and shows in View Logs.
	insertInvestment(t, s)
	act(t, ctx, "View Logs")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#logs-view")))
	waitJS(t, ctx, `[...document.querySelectorAll("#messages tr.message")].some(r => r.querySelector(".state").textContent.includes("succeeded"))`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#messages tr.message button`)), chromedp.WaitVisible(chromedp.CSS("#message-detail"))))
	waitJS(t, ctx, `document.querySelector("#attempts tbody tr") !== null`)
	require.Contains(t, text(t, ctx, "#attempts tbody tr .code"), "200")
	require.Contains(t, text(t, ctx, "#payload"), "\"eventType\": \"investment.created\",\n  \"timestamp\"", "the envelope, pretty-printed")
	require.Contains(t, text(t, ctx, "#payload"), `"tickerSymbol": "KO"`)

	// Two deliveries fail for good; the page follows them without a reload.
	s.receiver.failing.Store(true)
	insertInvestment(t, s)
	insertInvestment(t, s)
	waitJS(t, ctx, `[...document.querySelectorAll("#messages tr.message .state")].filter(c => c.textContent.includes("failed")).length === 2`)
	failed := eval[string](t, ctx, `document.querySelector("#messages tr.message.state-failed").dataset.id`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#messages tr.message.state-failed button`))))
	waitJS(t, ctx, `document.querySelector("#md-id").textContent === "`+failed+`" && !document.querySelector("#retry").hidden`)
	require.Contains(t, text(t, ctx, "#attempts tbody tr .code"), "500")
	require.Contains(t, text(t, ctx, "#attempts tbody"), "receiver <b>down</b>", "the response excerpt, as text")

	// Retried from the page, it succeeds.
	s.receiver.failing.Store(false)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#retry"))))
	waitJS(t, ctx, `[...document.querySelectorAll("#attempts tbody tr .code")].some(c => c.textContent.includes("200"))`)
	require.Equal(t, "succeeded", s.scalar(t, `SELECT state FROM webhooks.messages WHERE id = $1`, failed))
	require.Equal(t, "3", s.scalar(t, `SELECT count(*)::text FROM webhooks.delivery_attempts WHERE message_id = $1`, failed))
	require.Equal(t, "schedule,schedule,manual retry", eval[string](t, ctx, `[...document.querySelectorAll("#attempts tbody .by")].map(c => c.lastChild.textContent).join()`))
	waitJS(t, ctx, `document.querySelector('#messages tr[data-id="`+failed+`"] .state').textContent.includes("succeeded")`)
	screenshot(t, ctx, "portal-logs")

	// Filtered by state, only the failed one is left.
	change(t, ctx, "#filter-state", "failed")
	waitJS(t, ctx, `document.querySelectorAll("#messages tr.message").length === 1 && document.querySelector("#messages tr.message").classList.contains("state-failed")`)

	// A test event of a type the webhook takes goes through the normal path
	// and its attempt appears.
	before := s.receiver.got.Load()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#filter-state"), ""),
		chromedp.SetValue(chromedp.CSS("#test-type"), "investment.updated"),
		chromedp.Click(chromedp.CSS("#send-test")),
	))
	waitJS(t, ctx, `document.querySelector("#md-summary").textContent.startsWith("investment.updated · succeeded")`)
	require.Greater(t, s.receiver.got.Load(), before)

	// By event type, only the test; since a time to come, nothing.
	change(t, ctx, "#filter-type", "investment.updated")
	waitJS(t, ctx, `[...document.querySelectorAll("#messages tr.message .event")].map(c => c.lastChild.textContent).join() === "investment.updated"`)
	change(t, ctx, "#filter-type", "")
	change(t, ctx, "#filter-since", time.Now().Add(time.Hour).Format("2006-01-02T15:04:05"))
	waitJS(t, ctx, `!document.querySelector("#no-messages").hidden && document.querySelectorAll("#messages tr.message").length === 0`)
	change(t, ctx, "#filter-since", "")
	waitJS(t, ctx, `document.querySelectorAll("#messages tr.message").length === 4`)

	// Recover sends the failure left again, and it succeeds.
	change(t, ctx, "#recover-since", time.Now().Add(-time.Hour).Format("2006-01-02T15:04:05"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#recover")))
	waitJS(t, ctx, `document.querySelector("#notice").textContent === "Sending 1 failed message again."`)
	waitJS(t, ctx, `document.querySelectorAll("#messages tr.message.state-succeeded").length === 4`)
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state <> 'succeeded'`))

	// Edit.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#back")), chromedp.WaitVisible(chromedp.CSS("#webhooks"))))
	waitJS(t, ctx, `document.querySelector("tr.webhook .rate").textContent.includes("%")`)
	screenshot(t, ctx, "portal-list")
	act(t, ctx, "Edit")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SetValue(chromedp.CSS("#f-name"), "Deal flow"),
		chromedp.Click(chromedp.CSS(`input[value="memo.created"]`)),
		chromedp.Click(chromedp.CSS("#save")),
	))
	waitJS(t, ctx, `!document.querySelector("#webhooks").hidden && document.querySelector("tr.webhook .name").textContent.endsWith("Deal flow")`)
	require.Equal(t, "Deal flow {investment.*,memo.created}", s.scalar(t, `SELECT name || ' ' || event_types::text FROM webhooks.webhooks WHERE id = $1`, webhookID))

	// Rotate: the new secret is shown once; the old one still signs.
	oldSecret := s.scalar(t, `SELECT secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, webhookID)
	act(t, ctx, "Rotate secret")
	waitJS(t, ctx, `document.querySelector("#confirm").open && document.querySelector("#confirm-text").textContent.includes("Rotate the signing secret of “Deal flow”")`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#secret-view")))
	require.Equal(t, s.scalar(t, `SELECT secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, webhookID), text(t, ctx, "#secret"))
	require.NotEqual(t, oldSecret, text(t, ctx, "#secret"))
	require.Equal(t, oldSecret, s.scalar(t, `SELECT previous_secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, webhookID))
	step(t, ctx, chromedp.Click(chromedp.CSS("#secret-done")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhooks")))

	// Disable, then enable.
	act(t, ctx, "Disable")
	waitJS(t, ctx, `document.querySelector("tr.webhook .status").textContent.includes("Disabled")`)
	require.Equal(t, "false", s.scalar(t, `SELECT enabled::text FROM webhooks.webhooks WHERE id = $1`, webhookID))
	act(t, ctx, "Enable")
	waitJS(t, ctx, `document.querySelector("tr.webhook .status").textContent.includes("Enabled")`)

	// Delete asks first, naming the webhook; Cancel keeps it.
	act(t, ctx, "Delete")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#confirm")))
	require.Contains(t, text(t, ctx, "#confirm-text"), "“Deal flow”")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#confirm-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#confirm"))))
	require.Equal(t, "1", s.scalar(t, `SELECT count(*)::text FROM webhooks.webhooks WHERE id = $1`, webhookID))
	act(t, ctx, "Delete")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
	))
	waitJS(t, ctx, `!document.querySelector("#empty").hidden`)
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.webhooks WHERE id = $1`, webhookID))
}

// change sets the value of a form control as a user would: with the
// change event the page listens to.
func change(t *testing.T, ctx context.Context, selector, value string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[any](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("change", {bubbles: true})); })()`, selector, value)))
	require.NoError(t, err)
}

func step(t *testing.T, ctx context.Context, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(c, a); err != nil {
		png, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		_ = os.WriteFile("/tmp/fail.png", png, 0o644)
		t.Fatal(err)
	}
}

// TestPortalKeyboard: the page works without a mouse: create a webhook,
// and delete it through the confirmation, by keys alone.
func TestPortalKeyboard(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	// tabTo moves the focus with Tab until the focused element matches.
	tabTo := func(selector string) {
		t.Helper()
		for range 60 {
			if eval[bool](t, ctx, `document.activeElement.matches(`+strconv.Quote(selector)+`)`) {
				return
			}
			step(t, ctx, chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("Tab never reached %s", selector)
	}
	tab := func(id string) { t.Helper(); tabTo("#" + id) }
	tab("create")
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `document.activeElement.id === "f-name"`)
	step(t, ctx, chromedp.KeyEvent("By keys"))
	tab("f-url")
	step(t, ctx, chromedp.KeyEvent(s.receiver.url))
	tab("ev-all")
	step(t, ctx, chromedp.KeyEvent(" "))
	tab("save")
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `!document.querySelector("#secret-view").hidden && document.activeElement.id === "copy-secret"`)
	require.Equal(t, "By keys {*}", s.scalar(t, `SELECT name || ' ' || event_types::text FROM webhooks.webhooks WHERE workspace_id = $1`, s.ws))
	tab("secret-done")
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `document.querySelectorAll("tr.webhook").length === 1`)

	// Delete, from the row's menu: the dialog takes the focus; Tab to its
	// Delete, Enter.
	tabTo("tr.webhook .menu-button")
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	step(t, ctx, chromedp.KeyEvent(kb.ArrowUp))
	waitJS(t, ctx, `document.activeElement.textContent === "Delete"`)
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `document.querySelector("#confirm").open && document.activeElement.id === "confirm-cancel"`)
	step(t, ctx, chromedp.KeyEvent(kb.Tab))
	waitJS(t, ctx, `document.activeElement.id === "confirm-ok"`)
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `!document.querySelector("#empty").hidden`)
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.webhooks WHERE workspace_id = $1`, s.ws))
}

// TestPortalLogPaging: a page of older deliveries stays while the log
// follows new ones.
func TestPortalLogPaging(t *testing.T) {
	s := startSite(t)
	status, _ := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{"name": "Busy", "url": s.receiver.url, "events": []string{"investment.created"}})
	require.Equal(t, http.StatusCreated, status)
	_, err := s.pool.Exec(context.Background(), `INSERT INTO investments (workspace_id, created_by, name) SELECT $1, $2, 'Co ' || i FROM generate_series(1, 55) i`, s.ws, s.users["owner"])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state = 'succeeded'`) == "55"
	}, time.Minute, 50*time.Millisecond)

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	act(t, ctx, "View Logs")
	waitJS(t, ctx, `document.querySelectorAll("#messages tr.message").length === 50 && !document.querySelector("#older").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#older")))
	waitJS(t, ctx, `document.querySelectorAll("#messages tr.message").length === 55 && document.querySelector("#older").hidden`)
	// Two polls later the older page is still there.
	polls(t, ctx)
	require.Equal(t, 55, eval[int](t, ctx, `document.querySelectorAll("#messages tr.message").length`))
	// A filter starts over from the newest.
	change(t, ctx, "#filter-state", "succeeded")
	waitJS(t, ctx, `document.querySelectorAll("#messages tr.message").length === 50 && !document.querySelector("#older").hidden`)
}

func insertInvestment(t *testing.T, s *site) {
	t.Helper()
	_, err := s.pool.Exec(context.Background(), `INSERT INTO investments (workspace_id, created_by, ticker_symbol, name, visibility) VALUES ($1, $2, 'KO', 'Coca-Cola Co', 'Workspace')`, s.ws, s.users["owner"])
	require.NoError(t, err)
}

// TestPortalRoles: a member sees their own webhooks only, a guest is told
// plainly that they may not manage webhooks, at a phone's width too.
func TestPortalRoles(t *testing.T) {
	s := startSite(t)
	status, _ := s.call(t, s.keys["admin"], "POST", "/v1/webhooks", map[string]any{"name": "Admin's", "url": s.receiver.url, "events": []string{"*"}})
	require.Equal(t, http.StatusCreated, status)
	status, _ = s.call(t, s.keys["member"], "POST", "/v1/webhooks", map[string]any{"name": "Member's", "url": s.receiver.url, "events": []string{"memo.*"}})
	require.Equal(t, http.StatusCreated, status)

	ctx := browser(t, 390)
	open(t, ctx, s.link(t, "member"))
	waitJS(t, ctx, `document.querySelectorAll("tr.webhook").length === 1`)
	require.Equal(t, "Member's", eval[string](t, ctx, `document.querySelector("tr.webhook .name").lastChild.textContent`))
	require.NotContains(t, eval[string](t, ctx, `document.body.textContent`), "Admin's")
	// At 390 px nothing runs off the side.
	require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 390)
	screenshot(t, ctx, "portal-member-390")
	act(t, ctx, "View Logs")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#logs-view")))
	require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 390, "the logs fit too")
	step(t, ctx, chromedp.Click(chromedp.CSS("#back")))
	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 390, "the form fits too")

	ctx = browser(t, 1280)
	open(t, ctx, s.link(t, "guest"))
	require.Contains(t, text(t, ctx, "#guest"), "Guests cannot manage webhooks")
	require.False(t, eval[bool](t, ctx, `!!document.querySelector("#create")`))
}

// TestPortalLinks: a link opens one session, once, and only while fresh; a
// session ends with sign-out or with the key that made it.
func TestPortalLinks(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)

	link := s.link(t, "owner")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#continue"))))
	require.Equal(t, "as owner@acme.example in Acme <Capital>.", text(t, ctx, "#whom"), "it says whom it signs in, before it does")
	// Two tabs of one link: the first use wins, the second is refused.
	second := browser(t, 1280)
	require.NoError(t, chromedp.Do(second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#continue"))))
	open(t, ctx, link)
	step(t, second, chromedp.Click(chromedp.CSS("#continue")))
	step(t, second, chromedp.WaitVisible(chromedp.CSS("#message")))
	require.Contains(t, text(t, second, "#message"), "expired or was already used")
	// The used link again where it signed in (Back, another tab) leads on
	// to the page, not to "expired".
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(link)))
	waitJS(t, ctx, `document.location.pathname === "/portal/" && document.body.dataset.ready === "true"`)
	step(t, ctx, chromedp.NavigateBack())
	waitJS(t, ctx, `document.location.pathname === "/portal/" && document.body.dataset.ready === "true"`)

	expired := s.link(t, "owner")
	_, err := s.pool.Exec(context.Background(), `UPDATE webhooks.portal_sessions SET link_expires_at = now() - interval '1 second' WHERE redeemed_at IS NULL`)
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(second, chromedp.Navigate(expired), chromedp.WaitVisible(chromedp.CSS("#message"))))
	require.Contains(t, text(t, second, "#message"), "expired or was already used")

	// The first session still works; signing out ends it.
	open(t, ctx, s.url+"/portal/")
	cookie := eval[string](t, ctx, `document.cookie`)
	require.Empty(t, cookie, "the session cookie is HttpOnly")
	status := eval[int](t, ctx, `fetch("/v1/portal/sessions", {method: "POST"}).then(r => r.status)`)
	require.Equal(t, http.StatusForbidden, status, "a session cannot make links: only an API key can")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#message"))))
	require.Contains(t, text(t, ctx, "#message"), "signed out")
	// Reached by a GET: reloading it posts nothing again.
	require.Equal(t, "/portal/signed-out", eval[string](t, ctx, `document.location.pathname`))
	require.Equal(t, "navigate", eval[string](t, ctx, `performance.getEntriesByType("navigation")[0].type`))
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#message"))))
	require.Contains(t, text(t, ctx, "#message"), "signed out")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.url+"/portal/"), chromedp.WaitVisible(chromedp.CSS("#message"))))
	require.Contains(t, text(t, ctx, "#message"), "session of the Webhooks page has ended")
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.portal_sessions WHERE redeemed_at IS NOT NULL`))

	// Revoking the API key that asked for a link ends its session.
	open(t, ctx, s.link(t, "admin"))
	_, err = s.pool.Exec(context.Background(), `UPDATE webhooks.api_keys SET revoked_at = now() WHERE user_id = $1`, s.users["admin"])
	require.NoError(t, err)
	status = eval[int](t, ctx, `fetch("/v1/webhooks").then(r => r.status)`)
	require.Equal(t, http.StatusUnauthorized, status)
}

// TestPortalRefusesCrossSiteRequests: a page of another origin cannot make
// the browser change anything with the session, though the browser holds it.
func TestPortalRefusesCrossSiteRequests(t *testing.T) {
	s := startSite(t)
	status, wh := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{"name": "Target", "url": s.receiver.url, "events": []string{"*"}})
	require.Equal(t, http.StatusCreated, status)
	id := wh["id"].(string)

	// Another port of the same host: same site, so the SameSite cookie
	// would go along; only the origin check stops the request.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/v1/webhooks/%s/disable"></form>
<script>document.getElementById("f").submit()</script>`, s.url, id)
	}))
	t.Cleanup(evil.Close)

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(evil.URL)))
	waitJS(t, ctx, `document.location.href.startsWith("`+s.url+`")`)
	require.Contains(t, eval[string](t, ctx, `document.body.textContent`), "cross-origin request detected")
	require.Equal(t, "true", s.scalar(t, `SELECT enabled::text FROM webhooks.webhooks WHERE id = $1`, id))

	// Nor can it sign the browser into someone else's session (login
	// CSRF): a link is used only by a POST from the page that shows it.
	guestLink := s.link(t, "guest")
	token := strings.TrimPrefix(guestLink, s.url+"/portal/start?token=")
	signIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/portal/start"><input name="token" value="%s"></form>
<script>document.getElementById("f").submit()</script>`, s.url, token)
	}))
	t.Cleanup(signIn.Close)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(signIn.URL)))
	waitJS(t, ctx, `document.location.href.startsWith("`+s.url+`")`)
	require.Contains(t, eval[string](t, ctx, `document.body.textContent`), "cross-origin request detected")
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.portal_sessions WHERE user_id = $1 AND redeemed_at IS NOT NULL`, s.users["guest"]))

	// The same request from the page itself goes through.
	open(t, ctx, s.url+"/portal/")
	status = eval[int](t, ctx, `fetch("/v1/webhooks/`+id+`/disable", {method: "POST"}).then(r => r.status)`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "false", s.scalar(t, `SELECT enabled::text FROM webhooks.webhooks WHERE id = $1`, id))
}

// TestPortalHeaders: every answer forbids inline script and framing; a
// link without a token and unknown pages are plain refusals.
func TestPortalHeaders(t *testing.T) {
	s := startSite(t)
	for _, path := range []string{"/portal/", "/portal/start", "/portal/start?token=nope", "/portal/nope", "/portal/assets/portal.js"} {
		res, err := http.Get(s.url + path)
		require.NoError(t, err)
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self'", path)
		require.NotContains(t, csp, "unsafe-inline", path)
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), path)
	}
	// What holds a session or a link's token is never stored.
	for _, path := range []string{"/portal/", "/portal/start?token=nope"} {
		res, err := http.Get(s.url + path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"), path)
	}
	out, err := http.Post(s.url+"/portal/logout", "", nil)
	require.NoError(t, err)
	out.Body.Close()
	require.Equal(t, "no-store", out.Request.Response.Header.Get("Cache-Control"), "logout's answer, which clears the cookie")
	for path, want := range map[string]int{
		"/portal/": http.StatusUnauthorized, "/portal/start": http.StatusBadRequest,
		"/portal/start?token=nope": http.StatusGone, "/portal/nope": http.StatusNotFound,
	} {
		res, err := http.Get(s.url + path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, want, res.StatusCode, path)
	}

	// Fetching a link, as scanners and previews do, neither signs in nor
	// uses it up.
	link := s.link(t, "owner")
	for _, method := range []string{"HEAD", "GET", "GET"} {
		req, err := http.NewRequest(method, link, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, method)
		require.Empty(t, res.Header.Get("Set-Cookie"), method)
	}

	// The cookie a link sets when used.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(s.url+"/portal/start", url.Values{"token": {strings.TrimPrefix(link, s.url+"/portal/start?token=")}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/portal/", res.Header.Get("Location"))
	setCookie := res.Header.Get("Set-Cookie")
	require.Contains(t, setCookie, auth.SessionCookie+"=")
	require.Contains(t, setCookie, "HttpOnly")
	require.Contains(t, setCookie, "SameSite=Strict")
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	// Links are made with an API key, not from a session.
	status, body := s.call(t, s.keys["owner"], "POST", "/v1/portal/sessions", map[string]any{"user": "someone"})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
}
