package portal_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// setHidden makes the page's document hidden or visible, as switching tabs
// does, and tells it with visibilitychange. Headless Chromium keeps its
// one tab visible and DevTools has no switch for it (Page.setWebLifecycleState
// freezes the page, timers and all, which is not what a hidden tab does),
// so document.hidden and visibilityState are overridden in the page.
func setHidden(t *testing.T, ctx context.Context, hidden bool) {
	t.Helper()
	state := "visible"
	if hidden {
		state = "hidden"
	}
	eval[any](t, ctx, `Object.defineProperty(document, "hidden", {configurable: true, get: () => `+strconv.FormatBool(hidden)+`});
		Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "`+state+`"});
		document.dispatchEvent(new Event("visibilitychange"))`)
}

// TestPortalPollingPace: the log is not polled while the tab is hidden,
// is polled at once when shown again, and polls half as often after each
// poll that found nothing new (2 s, 4 s, 8 s, up to 30 s), back to 2 s
// once something changed.
func TestPortalPollingPace(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Quiet", "investment.created")
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	act(t, ctx, "View Logs")
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden && document.querySelector("#no-messages").hidden === false`)
	deliveries := `performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith("/deliveries")).length`

	setHidden(t, ctx, true)
	polls, asked := eval[int](t, ctx, `+(document.body.dataset.polls || 0)`), eval[int](t, ctx, deliveries)
	time.Sleep(5 * time.Second) // past the first poll's 2 s, and the next's 4 s
	require.Equal(t, polls, eval[int](t, ctx, `+(document.body.dataset.polls || 0)`), "no poll while hidden")
	require.Equal(t, asked, eval[int](t, ctx, deliveries), "no request while hidden")

	shown := time.Now()
	setHidden(t, ctx, false)
	waitJS(t, ctx, `+(document.body.dataset.polls || 0) === `+strconv.Itoa(polls+1))
	require.Less(t, time.Since(shown), 1500*time.Millisecond, "polled at once when shown")
	require.Equal(t, "4000", eval[string](t, ctx, `document.body.dataset.pollDelay`), "nothing new: the next in 4 s")
	waitJS(t, ctx, `+(document.body.dataset.polls || 0) === `+strconv.Itoa(polls+2))
	require.Equal(t, "8000", eval[string](t, ctx, `document.body.dataset.pollDelay`), "still nothing: 8 s")

	insertInvestment(t, s) // a delivery: the next poll finds it
	waitJS(t, ctx, `+(document.body.dataset.polls || 0) === `+strconv.Itoa(polls+3))
	require.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll("#messages tr.message").length`))
	require.Equal(t, "2000", eval[string](t, ctx, `document.body.dataset.pollDelay`), "something new: back to 2 s")
}
