package portal_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

// The tests here are findings of a walk through the page as a new user
// would take it; each failed before its fix.

// newHook makes a webhook through the API for the owner, to the receiver.
func (s *site) newHook(t *testing.T, name string, events ...string) string {
	t.Helper()
	status, body := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{"name": name, "url": s.receiver.url, "events": events})
	require.Equal(t, http.StatusCreated, status, body)
	return body["id"].(string)
}

// rowButton clicks a button of a webhook's row by its text.
func rowButton(t *testing.T, ctx context.Context, name, label string) {
	t.Helper()
	eval[any](t, ctx, `[...document.querySelectorAll("tr.webhook")].find(r => r.querySelector(".name").lastChild.textContent === `+quote(name)+`)
		.querySelector("td:last-child").querySelectorAll("button").forEach(b => { if (b.textContent === `+quote(label)+`) b.click(); })`)
}

// act clicks an action of the first webhook's row by its text, a button
// or an item of its menu.
func act(t *testing.T, ctx context.Context, label string) {
	t.Helper()
	eval[any](t, ctx, `[...document.querySelector("tr.webhook td:last-child").querySelectorAll("button")].find(b => b.textContent === `+quote(label)+`).click()`)
}

// onMenu is true when the focus is on a row's menu button whose item n
// (from 1) reads label.
func onMenu(n int, label string) string {
	return `document.activeElement.matches("tr.webhook .menu-button") && document.activeElement.closest("tr").querySelector('[role=menuitem]:nth-child(` + strconv.Itoa(n) + `)').textContent === ` + quote(label)
}

func quote(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" }

// polls has the log refreshed twice more, now rather than at polling's
// slowing pace, and waits for both.
func polls(t *testing.T, ctx context.Context) {
	t.Helper()
	for range 2 {
		n := eval[int](t, ctx, `+(document.body.dataset.polls || 0)`)
		eval[any](t, ctx, `pollNow()`)
		waitJS(t, ctx, `+(document.body.dataset.polls || 0) > `+strconv.Itoa(n))
	}
}

// TestPortalLogsShowOnlyTheirWebhook: a message opened in one webhook's
// log is not shown under another's, and a fresh log shows no empty
// message box (the panel's display overrode its hidden attribute).
func TestPortalLogsShowOnlyTheirWebhook(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Alpha", "investment.*")
	s.newHook(t, "Beta", "pipeline.*")
	insertInvestment(t, s)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Alpha", "View Logs")
	waitJS(t, ctx, `getComputedStyle(document.querySelector("#message-detail")).display === "none"`)
	waitJS(t, ctx, `document.querySelector("#messages tr.message button") !== null`)
	step(t, ctx, chromedp.Click(chromedp.CSS(`#messages tr.message button`)))
	waitJS(t, ctx, `document.querySelector("#md-id").textContent !== "" && getComputedStyle(document.querySelector("#message-detail")).display !== "none"`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#back")))
	waitJS(t, ctx, `!document.querySelector("#list-view").hidden`)
	rowButton(t, ctx, "Beta", "View Logs")
	waitJS(t, ctx, `document.querySelector("#logs-name").textContent === "Beta"`)
	require.Equal(t, "none", eval[string](t, ctx, `getComputedStyle(document.querySelector("#message-detail")).display`), "Alpha's message is not under Beta")
}

// TestPortalRefreshKeepsFocusAndSelection: the log's refresh updates rows
// in place: a focused Open button keeps the focus, and a selection in the
// payload survives.
func TestPortalRefreshKeepsFocusAndSelection(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Alpha", "investment.*")
	insertInvestment(t, s)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Alpha", "View Logs")
	waitJS(t, ctx, `!!document.querySelector("#messages tr.message .state")?.textContent.includes("succeeded")`)
	eval[any](t, ctx, `document.querySelector("#messages tr.message button").focus()`)
	polls(t, ctx)
	require.True(t, eval[bool](t, ctx, `document.activeElement === document.querySelector("#messages tr.message button")`), "the focus stays on Open across refreshes")

	step(t, ctx, chromedp.Click(chromedp.CSS(`#messages tr.message button`)))
	waitJS(t, ctx, `document.querySelector("#payload").textContent.includes("tickerSymbol")`)
	eval[any](t, ctx, `(() => { const r = document.createRange(); r.selectNodeContents(document.querySelector("#payload")); getSelection().removeAllRanges(); getSelection().addRange(r); })()`)
	polls(t, ctx)
	require.Contains(t, eval[string](t, ctx, `getSelection().toString()`), "tickerSymbol", "the selection survives a refresh")
}

// TestPortalEventsForm: unchecking "All events" unchecks what it had
// checked; "*" reads "All events" in the list; the test menu offers the
// webhook's own event types; the name is limited to what the API takes.
func TestPortalEventsForm(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Everything", "*")
	s.newHook(t, "Investments", "investment.*")
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	waitJS(t, ctx, `document.querySelectorAll("tr.webhook").length === 2`)
	require.Equal(t, "All events", eval[string](t, ctx, `[...document.querySelectorAll("tr.webhook")].find(r => r.querySelector(".name").lastChild.textContent === "Everything").querySelector(".events").lastChild.textContent`))
	require.Less(t, eval[float64](t, ctx, `Math.max(...[...document.querySelectorAll("tr.webhook")].map(r => r.getBoundingClientRect().height))`), 50.0,
		"one line a webhook: the actions are in a menu, not a stack of buttons")

	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	require.Equal(t, "100", eval[string](t, ctx, `document.querySelector("#f-name").getAttribute("maxlength")`))
	step(t, ctx, chromedp.Click(chromedp.CSS("#ev-all")))
	waitJS(t, ctx, `document.querySelector('input[value="memo.created"]').checked`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#ev-all")))
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll(".ev input:checked").length`), "nothing stays checked")
	step(t, ctx, chromedp.Click(chromedp.CSS(`input[value="memo.*"]`)))
	step(t, ctx, chromedp.Click(chromedp.CSS(`input[value="memo.*"]`)))
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll(".ev input:checked").length`), "a group's types are unchecked with it")
	step(t, ctx, chromedp.Click(chromedp.CSS("#cancel")))

	rowButton(t, ctx, "Investments", "Test")
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden`)
	require.Equal(t, "investment.created,investment.updated,investment.deleted", eval[string](t, ctx, `[...document.querySelectorAll("#test-type option")].map(o => o.value).join()`))
}

// TestPortalNoSidewaysScroll: with a 100-character name without spaces
// and a long email, the document is no wider than the window at 390 and
// 1280 pixels.
func TestPortalNoSidewaysScroll(t *testing.T) {
	s := startSite(t)
	name := strings.Repeat("W", 100)
	s.newHook(t, name, "*")
	_, err := s.pool.Exec(context.Background(), `UPDATE users SET email = $1 WHERE id = $2`, strings.Repeat("o", 80)+"@acme-capital-partners.example", s.users["owner"])
	require.NoError(t, err)
	for _, width := range []int{390, 1280} {
		ctx := browser(t, width)
		open(t, ctx, s.link(t, "owner"))
		waitJS(t, ctx, `document.querySelectorAll("tr.webhook").length === 1`)
		require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), eval[int](t, ctx, `window.innerWidth`), "the list at %d px", width)
		rowButton(t, ctx, name, "View Logs")
		waitJS(t, ctx, `!document.querySelector("#logs-view").hidden`)
		require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), eval[int](t, ctx, `window.innerWidth`), "the log at %d px", width)
		if width == 390 {
			screenshot(t, ctx, "portal-webhook-390")
		}
	}
}

// TestPortalUnchangedEditSendsNothing: an edit saved without a change sends
// no PATCH, though the stored events are in another order than the form's.
func TestPortalUnchangedEditSendsNothing(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Mixed", "memo.*", "investment.created")
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Mixed", "Edit")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	eval[any](t, ctx, `(() => { window.sent = []; const f = window.fetch; window.fetch = (u, i) => { if (i && i.method === "PATCH") window.sent.push(i.body); return f(u, i); }; })()`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#notice").textContent === "Nothing changed."`)
	require.Equal(t, "", eval[string](t, ctx, `window.sent.join()`))
}

// TestPortalFavicon: the page names an icon that is there, and
// /favicon.ico answers, so no page load logs a 404.
func TestPortalFavicon(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	href := eval[string](t, ctx, `document.querySelector('link[rel="icon"]').href`)
	for _, u := range []string{href, s.url + "/favicon.ico"} {
		resp, err := http.Get(u)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, u)
		require.Equal(t, "image/svg+xml", resp.Header.Get("Content-Type"), u)
	}
}

// TestPortalSessionEndedWords: a Save after signing out in another tab
// says so in words for people, not the API's words for programs.
func TestPortalSessionEndedWords(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	// Signed out in another tab: the session and its cookie are gone.
	eval[any](t, ctx, `fetch("/portal/logout", {method: "POST"}).then(r => r.status)`)
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.portal_sessions`))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#notice").textContent.includes("Your session has ended")`)
	require.NotContains(t, text(t, ctx, "#webhook-form"), "Authorization")
}

// TestPortalDisabledWebhookSaysWhy: a test sent to a disabled webhook is
// refused with the reason, not announced and then cancelled unsent.
func TestPortalDisabledWebhookSaysWhy(t *testing.T) {
	s := startSite(t)
	id := s.newHook(t, "Paused", "investment.*")
	status, _ := s.call(t, s.keys["owner"], "POST", "/v1/webhooks/"+id+"/disable", map[string]any{"reason": "endpoint moving"})
	require.Equal(t, http.StatusOK, status)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Paused", "Test")
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#send-test")))
	waitJS(t, ctx, `document.querySelector("#notice").className === "error-notice"`)
	require.Contains(t, text(t, ctx, "#notice"), `webhook "Paused" is disabled (endpoint moving); enable it, then send again`)
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE webhook_id = $1`, id))
}

// TestPortalFocusAfterActions: the focus never drops to <body>. A failed
// Save puts it on the first field to correct, in the form's order (a
// fieldset's first box) and says so in the live region; Done, Save,
// Disable, Enable and Delete leave it on the row, or on Create; Escape on
// a changed form asks before discarding it.
func TestPortalFocusAfterActions(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	focused := func() string {
		return eval[string](t, ctx, `document.activeElement.id || document.activeElement.textContent`)
	}

	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	step(t, ctx, chromedp.SendKeys(chromedp.CSS("#f-name"), "Focus"))
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-url"), s.receiver.url))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#err-events").textContent !== ""`)
	require.Equal(t, "ev-all", focused(), "the events' first box: the fieldset takes no focus")
	require.Contains(t, text(t, ctx, "#notice"), "Not saved: 1 field to correct")
	require.Equal(t, "polite", eval[string](t, ctx, `document.querySelector("#notice").getAttribute("aria-live")`))

	step(t, ctx, chromedp.Click(chromedp.CSS(`input[value="investment.*"]`)))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#secret-view")))
	step(t, ctx, chromedp.Click(chromedp.CSS("#secret-done")))
	waitJS(t, ctx, onMenu(1, "Edit"))

	rowButton(t, ctx, "Focus", "Disable")
	waitJS(t, ctx, onMenu(3, "Enable"))
	rowButton(t, ctx, "Focus", "Enable")
	waitJS(t, ctx, onMenu(3, "Disable"))

	rowButton(t, ctx, "Focus", "Edit")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	step(t, ctx, chromedp.SendKeys(chromedp.CSS("#f-name"), " renamed"))
	step(t, ctx, chromedp.KeyEvent(kb.Escape))
	waitJS(t, ctx, `document.querySelector("#confirm").open && document.querySelector("#confirm-text").textContent.includes("Discard your changes to “Focus”")`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#confirm-cancel")))
	waitJS(t, ctx, `!document.querySelector("#confirm").open && !document.querySelector("#form-view").hidden`)
	require.Equal(t, "Focus renamed", eval[string](t, ctx, `document.querySelector("#f-name").value`), "kept")
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `!document.querySelector("#list-view").hidden && `+onMenu(1, "Edit"))

	rowButton(t, ctx, "Focus renamed", "Delete")
	waitJS(t, ctx, `document.querySelector("#confirm").open`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, `!document.querySelector("#empty").hidden && document.activeElement.id === "create"`)
}

// TestPortalURLErrorsForPeople: the page's users are told what is wrong
// with a URL, not which server setting would allow it.
func TestPortalURLErrorsForPeople(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-url"), "https://10.1.2.3/hooks"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#err-url").textContent !== ""`)
	require.Equal(t, "must not point at 10.1.2.3, a private address; use an address the internet can reach", text(t, ctx, "#err-url"))
	// The API's callers, operators' programs, keep the hint.
	status, body := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{"name": "x", "url": "https://10.1.2.3/hooks", "events": []string{"*"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body["errors"].([]any)[0].(map[string]any)["message"], "WEBHOOKS_ALLOWED_CIDRS")
}

// TestPortalPollsOnlyWhileVisible: a hidden tab asks nothing; shown again,
// it polls at once.
func TestPortalPollsOnlyWhileVisible(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Alpha", "investment.*")
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Alpha", "View Logs")
	polls(t, ctx)
	eval[any](t, ctx, `(() => {
		window.requests = 0;
		const f = window.fetch;
		window.fetch = (u, i) => { window.requests++; return f(u, i); };
		Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
		document.dispatchEvent(new Event("visibilitychange"));
	})()`)
	time.Sleep(5 * time.Second) // more than two polls at the fastest pace
	require.Zero(t, eval[int](t, ctx, `window.requests`), "nothing asked while hidden")
	eval[any](t, ctx, `(() => {
		Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
		document.dispatchEvent(new Event("visibilitychange"));
	})()`)
	waitJS(t, ctx, `window.requests > 0`)
}

// TestPortalWebhookView: a webhook's own view says what it is, draws its
// last 24 hours of attempts, succeeded and failed, from the API's hourly
// figures, and reveals its signing secret on request.
func TestPortalWebhookView(t *testing.T) {
	s := startSite(t)
	id := s.newHook(t, "Deal flow", "investment.*", "memo.created")
	s.receiver.failing.Store(true)
	insertInvestment(t, s) // fails twice: the schedule has one retry
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state = 'failed'`) == "1"
	}, time.Minute, 20*time.Millisecond)
	s.receiver.failing.Store(false)
	insertInvestment(t, s)
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state = 'succeeded'`) == "1"
	}, time.Minute, 20*time.Millisecond)

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Deal flow", "View Logs")
	waitJS(t, ctx, `document.querySelector("#chart-desc")?.textContent.startsWith("3 attempts")`)
	require.Equal(t, s.receiver.url, text(t, ctx, "#ov-url"))
	require.Equal(t, "All investment events, memo.created", text(t, ctx, "#ov-events"))
	require.Equal(t, "Enabled", text(t, ctx, "#ov-state"))
	require.Equal(t, "3 attempts in the last 24 hours, 2 failed; the tallest hour had 3.", eval[string](t, ctx, `document.querySelector("#chart-desc").textContent`))
	require.Equal(t, 24, eval[int](t, ctx, `document.querySelectorAll("#chart g.bar").length`))
	// The bars' own figures add up (an hour's turn may split them in two).
	require.Equal(t, "1 2", eval[string](t, ctx, `(() => {
		let ok = 0, bad = 0;
		for (const t of document.querySelectorAll("#chart g.bar title")) {
			const m = t.textContent.match(/: (\d+) succeeded, (\d+) failed$/);
			ok += +m[1]; bad += +m[2];
		}
		return ok + " " + bad;
	})()`))
	require.Greater(t, eval[float64](t, ctx, `[...document.querySelectorAll("#chart rect.bad")].reduce((a, r) => a + +r.getAttribute("height"), 0)`), 0.0)
	screenshot(t, ctx, "portal-webhook")
	require.True(t, eval[bool](t, ctx, `(() => {
		const chart = document.querySelector("#chart").getBoundingClientRect(), box = document.querySelector("#overview").getBoundingClientRect();
		return chart.bottom <= box.bottom && chart.height > 50;
	})()`), "the chart sits inside its panel")

	require.Equal(t, "hidden", text(t, ctx, "#ov-secret"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#ov-reveal")))
	waitJS(t, ctx, `document.querySelector("#ov-secret").textContent.startsWith("whsec_")`)
	require.Equal(t, s.scalar(t, `SELECT secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, id), text(t, ctx, "#ov-secret"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#ov-reveal")))
	waitJS(t, ctx, `document.querySelector("#ov-secret").textContent === "hidden"`)
}

// TestPortalKeyboardOnly: create, edit, view logs, open a message, retry
// it and delete, by keys alone; after every step the focus is on an
// element, visibly, never on <body>.
func TestPortalKeyboardOnly(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	press := func(keys string) { t.Helper(); step(t, ctx, chromedp.KeyEvent(keys)) }
	focusOK := func() {
		t.Helper()
		waitJS(t, ctx, `document.activeElement !== document.body && document.activeElement.matches(":focus-visible")`)
	}
	tabTo := func(selector string) {
		t.Helper()
		for range 80 {
			if eval[bool](t, ctx, `document.activeElement.matches(`+strconv.Quote(selector)+`)`) {
				return
			}
			press(kb.Tab)
		}
		t.Fatalf("Tab never reached %s", selector)
	}

	// Create.
	tabTo("#create")
	press(kb.Enter)
	waitJS(t, ctx, `document.activeElement.id === "f-name"`)
	press("Keys")
	tabTo("#f-url")
	press(s.receiver.url)
	tabTo(`input[value="investment.*"]`)
	press(" ")
	tabTo("#save")
	press(kb.Enter)
	waitJS(t, ctx, `document.activeElement.id === "copy-secret"`)
	tabTo("#secret-done")
	press(kb.Enter)
	waitJS(t, ctx, onMenu(1, "Edit"))
	focusOK() // the new row's menu

	// Edit, from the menu.
	press(kb.Enter)
	waitJS(t, ctx, `document.activeElement.textContent === "Edit" && document.activeElement.getAttribute("role") === "menuitem"`)
	focusOK() // the menu's first item
	press(kb.Enter)
	waitJS(t, ctx, `document.activeElement.id === "f-name"`)
	press(" edited")
	tabTo("#save")
	press(kb.Enter)
	waitJS(t, ctx, onMenu(1, "Edit")+` && document.querySelector("tr.webhook .name").textContent.endsWith("Keys edited")`)
	focusOK() // the row's menu after Save

	// View logs; a delivery fails for good; open it and retry it.
	s.receiver.failing.Store(true)
	insertInvestment(t, s)
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state = 'failed'`) == "1"
	}, time.Minute, 20*time.Millisecond)
	s.receiver.failing.Store(false)
	tabTo(`tr.webhook .row-actions > button`) // View Logs
	press(kb.Enter)
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden && document.querySelector("#messages tr.message.state-failed") !== null`)
	focusOK() // Back
	tabTo(`#messages tr.message button`)
	press(kb.Enter)
	waitJS(t, ctx, `!document.querySelector("#retry").hidden`)
	focusOK() // Open
	tabTo("#retry")
	press(kb.Enter)
	waitJS(t, ctx, `document.querySelector("#md-summary").textContent.includes("succeeded")`)
	focusOK() // Retry

	// Back, and delete through the dialog.
	tabTo("#back")
	press(kb.Enter)
	waitJS(t, ctx, `!document.querySelector("#list-view").hidden && document.activeElement.textContent === "View Logs"`)
	focusOK() // the row's View Logs
	tabTo("tr.webhook .menu-button")
	press(kb.Enter)
	waitJS(t, ctx, `document.activeElement.getAttribute("role") === "menuitem"`)
	press(kb.Escape) // closes the menu, back on its button
	waitJS(t, ctx, `document.activeElement.matches(".menu-button") && document.activeElement.getAttribute("aria-expanded") === "false" && document.querySelector("tr.webhook [role=menu]").hidden`)
	press(kb.Enter)
	press(kb.End)
	waitJS(t, ctx, `document.activeElement.textContent === "Delete"`)
	press(kb.Enter)
	waitJS(t, ctx, `document.querySelector("#confirm").open && document.activeElement.id === "confirm-cancel"`)
	press(kb.Tab)
	press(kb.Enter)
	waitJS(t, ctx, `!document.querySelector("#empty").hidden && document.activeElement.id === "create"`)
	focusOK() // Create
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.webhooks`))
}

// TestPortalRetryNow: a message waiting an hour to retry shows when, and
// "Retry now" sends it at once once its endpoint is fixed.
func TestPortalRetryNow(t *testing.T) {
	s := startSiteWith(t, []time.Duration{time.Hour})
	s.newHook(t, "Slow retry", "investment.*")
	s.receiver.failing.Store(true)
	insertInvestment(t, s)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Slow retry", "View Logs")
	waitJS(t, ctx, `document.querySelector("#messages tr.message.state-retrying") !== null`)
	step(t, ctx, chromedp.Click(chromedp.CSS(`#messages tr.message button`)))
	waitJS(t, ctx, `document.querySelector("#md-summary").textContent.includes("· next attempt ")`)
	require.Equal(t, "Retry now", text(t, ctx, "#retry"))
	s.receiver.failing.Store(false)
	step(t, ctx, chromedp.Click(chromedp.CSS("#retry")))
	waitJS(t, ctx, `document.querySelector("#md-summary").textContent.startsWith("investment.created · succeeded · 2 attempts")`)
}

// TestPortalCancelledForPeople: a message its disabled webhook did not send
// says so in words, without the webhook's id.
func TestPortalCancelledForPeople(t *testing.T) {
	s := startSiteWith(t, []time.Duration{2 * time.Second})
	id := s.newHook(t, "Paused", "investment.*")
	s.receiver.failing.Store(true)
	insertInvestment(t, s)
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state = 'retrying'`) == "1"
	}, time.Minute, 20*time.Millisecond)
	status, _ := s.call(t, s.keys["owner"], "POST", "/v1/webhooks/"+id+"/disable", map[string]any{"reason": "endpoint moving"})
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages WHERE state = 'cancelled'`) == "1"
	}, time.Minute, 20*time.Millisecond)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Paused", "View Logs")
	waitJS(t, ctx, `document.querySelector("#messages tr.message.state-cancelled") !== null`)
	last := eval[string](t, ctx, `document.querySelector("#messages tr.message.state-cancelled td:nth-child(5)").lastChild.textContent`)
	require.Equal(t, "not sent: its webhook is disabled (endpoint moving)", last)
	require.NotContains(t, last, id)
}

// TestPortalPollingSlowsWhenQuiet: a poll that finds nothing new doubles
// the wait for the next; one that finds a delivery brings it back to 2 s.
func TestPortalPollingSlowsWhenQuiet(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Quiet", "investment.*")
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Quiet", "View Logs")
	waitJS(t, ctx, `+(document.body.dataset.polls || 0) >= 1`)
	require.Equal(t, 4000, eval[int](t, ctx, `pollDelay`), "nothing new: the next poll in 4 s")
	waitJS(t, ctx, `+(document.body.dataset.polls || 0) >= 2`)
	require.Equal(t, 8000, eval[int](t, ctx, `pollDelay`), "still nothing: 8 s")
	insertInvestment(t, s)
	// The poll that finds the delivery sets the next one 2 s away.
	waitJS(t, ctx, `document.querySelector("#messages tr.message") !== null && pollDelay === 2000`)
}
