package portal_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestPortalOrderedSkipAndRetry: on an ordered webhook, the changes that
// wait say behind which message; the head is retried from the page, and
// later one is skipped, each letting the rest of its resource go.
func TestPortalOrderedSkipAndRetry(t *testing.T) {
	s := startSiteWith(t, []time.Duration{time.Hour}) // a failure waits an hour to retry
	status, body := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{"name": "Mirror", "url": s.receiver.url, "events": []string{"investment.*"}, "ordered": true})
	require.Equal(t, http.StatusCreated, status, body)
	s.receiver.failing.Store(true)
	insertInvestment(t, s)
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.messages m WHERE state = 'retrying'
			AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running' AND j.args ->> 'messageId' = m.id)`) == "1"
	}, time.Minute, 20*time.Millisecond)
	for _, name := range []string{"Coca-Cola", "The Coca-Cola Company"} {
		_, err := s.pool.Exec(context.Background(), `UPDATE investments SET name = $1`, name)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.ordered_queue WHERE NOT released`) == "2"
	}, time.Minute, 20*time.Millisecond)
	head := s.scalar(t, `SELECT message_id FROM webhooks.ordered_queue WHERE released`)

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	act(t, ctx, "Edit")
	waitJS(t, ctx, `!document.querySelector("#form-view").hidden`)
	require.True(t, eval[bool](t, ctx, `document.querySelector("#f-ordered").checked`), "the form shows the webhook ordered")
	step(t, ctx, chromedp.Click(chromedp.CSS("#cancel")))
	rowButton(t, ctx, "Mirror", "View Logs")
	waitJS(t, ctx, `document.querySelector("#ov-order").textContent.startsWith("In order")`)
	waitJS(t, ctx, `document.querySelectorAll("#messages .badge.waiting").length === 2`)
	require.Equal(t, "behind "+head, eval[string](t, ctx, `document.querySelector("#messages tr.message td:nth-child(5)").lastChild.textContent`))

	// A waiting message says behind which; it has neither Retry nor Skip.
	step(t, ctx, chromedp.Click(chromedp.CSS(`#messages tr.message button`)))
	waitJS(t, ctx, `!document.querySelector("#md-waiting").hidden`)
	require.Contains(t, text(t, ctx, "#md-waiting"), "Waits behind "+head+", an earlier change of the same investment")
	require.True(t, eval[bool](t, ctx, `document.querySelector("#retry").hidden && document.querySelector("#skip").hidden`))

	// The head, fixed and retried now, lets the two updates go, in order.
	eval[any](t, ctx, `loadMessage(`+quote(head)+`)`)
	waitJS(t, ctx, `document.querySelector("#md-id").textContent === `+quote(head)+` && !document.querySelector("#skip").hidden`)
	s.receiver.failing.Store(false)
	step(t, ctx, chromedp.Click(chromedp.CSS("#retry")))
	waitJS(t, ctx, `document.querySelector("#md-summary").textContent.startsWith("investment.created · succeeded")`)
	polls(t, ctx)
	waitJS(t, ctx, `document.querySelectorAll("#messages .badge.succeeded").length === 3`)

	// A failing head skipped: the next change goes.
	s.receiver.failing.Store(true)
	for _, name := range []string{"KO", "Coke"} {
		_, err := s.pool.Exec(context.Background(), `UPDATE investments SET name = $1`, name)
		require.NoError(t, err)
	}
	// The head has failed once (and waits an hour to retry: its job is
	// finished, for now), the next waits.
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.ordered_queue q JOIN webhooks.messages m ON m.id = q.message_id
			WHERE q.released AND m.state = 'retrying'
			  AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running' AND j.args ->> 'messageId' = q.message_id)`) == "1" &&
			s.scalar(t, `SELECT count(*)::text FROM webhooks.ordered_queue WHERE NOT released`) == "1"
	}, time.Minute, 20*time.Millisecond)
	head = s.scalar(t, `SELECT message_id FROM webhooks.ordered_queue WHERE released`)
	s.receiver.failing.Store(false)
	eval[any](t, ctx, `loadMessage(`+quote(head)+`)`)
	waitJS(t, ctx, `document.querySelector("#md-id").textContent === `+quote(head)+` && !document.querySelector("#skip").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#skip")))
	waitJS(t, ctx, `document.querySelector("#confirm").open`)
	require.Equal(t, "Skip", text(t, ctx, "#confirm-ok"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, `document.querySelector("#md-summary").textContent.startsWith("investment.updated · cancelled")`)
	waitJS(t, ctx, `document.activeElement === document.querySelector("#md-heading")`)
	require.Contains(t, text(t, ctx, "#notice"), "Skipped "+head)
	polls(t, ctx)
	waitJS(t, ctx, `document.querySelectorAll("#messages .badge.succeeded").length === 4 && document.querySelectorAll("#messages .badge.waiting").length === 0`)
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.ordered_queue`))
}

// TestPortalReplay: events from before a webhook existed are counted in
// the replay dialog, replayed, and followed to the end.
func TestPortalReplay(t *testing.T) {
	s := startSite(t)
	for range 3 {
		insertInvestment(t, s)
	}
	require.Eventually(t, func() bool {
		return s.scalar(t, `SELECT count(*)::text FROM webhooks.capture_queue`) == "0"
	}, time.Minute, 20*time.Millisecond)
	s.newHook(t, "Late", "investment.created")

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	rowButton(t, ctx, "Late", "View Logs")
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#replay-open")))
	waitJS(t, ctx, `document.querySelector("#replay-dialog").open && document.activeElement === document.querySelector("#replay-since")`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#replay-dry")))
	waitJS(t, ctx, `document.querySelector("#err-replay-since").textContent === "is required"`)
	require.True(t, eval[bool](t, ctx, `document.activeElement === document.querySelector("#replay-since")`))
	// An hour ago, in the browser's local time, as datetime-local takes it.
	eval[any](t, ctx, `(() => { const d = new Date(Date.now() - 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
		document.querySelector("#replay-since").value = d.toISOString().slice(0, 19); })()`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#replay-dry")))
	waitJS(t, ctx, `document.querySelector("#replay-count").textContent === "3 events would be sent."`)
	waitJS(t, ctx, `!document.querySelector("#replay-start").disabled && document.activeElement === document.querySelector("#replay-start")`)
	require.Zero(t, s.receiver.got.Load(), "counting sends nothing")
	step(t, ctx, chromedp.Click(chromedp.CSS("#replay-start")))
	waitJS(t, ctx, `!document.querySelector("#replay-dialog").open && !document.querySelector("#replay-status").hidden`)
	waitJS(t, ctx, `/^Replay rpl_\S+ finished: 3 sent, 0 failed of 3\.$/.test(document.querySelector("#replay-text").textContent)`)
	require.EqualValues(t, 3, s.receiver.got.Load())
	waitJS(t, ctx, `document.querySelectorAll("#messages .badge.succeeded").length === 3`)
	axeCheck(t, ctx, "the log after a replay")
}
