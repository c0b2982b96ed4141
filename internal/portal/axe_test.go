package portal_test

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// axeCheck runs axe-core in the page as it stands and fails on any serious
// or critical violation. The script comes from WEBHOOKS_AXE, which
// scripts/tools.sh axe installs from npm; outside CI, without it, the check
// is skipped with how to get it.
func axeCheck(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	path := os.Getenv("WEBHOOKS_AXE")
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the accessibility checks need axe-core: WEBHOOKS_AXE=$(scripts/tools.sh axe)")
		}
		t.Skip("skipping the accessibility check: set WEBHOOKS_AXE=$(scripts/tools.sh axe)")
	}
	src, err := os.ReadFile(path)
	require.NoError(t, err, "WEBHOOKS_AXE")
	if !eval[bool](t, ctx, `typeof axe !== "undefined"`) {
		// Evaluated through DevTools, which the page's CSP does not govern:
		// the product itself never loads it.
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+"\n;true"))
		require.NoError(t, err)
	}
	found := eval[string](t, ctx, `axe.run(document, { resultTypes: ["violations"] }).then((r) => JSON.stringify(
		r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
			.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }))))`)
	require.Equal(t, "[]", found, "serious or critical accessibility violations in %s", what)
}

// TestPortalAccessibility: axe-core finds no serious or critical violation
// in the list (with a failing webhook's banner), the form with its errors,
// a webhook's view and the confirmation dialog.
func TestPortalAccessibility(t *testing.T) {
	s := startSite(t)
	s.newHook(t, "Deal flow", "investment.*")
	s.receiver.failing.Store(true)
	insertInvestment(t, s)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	waitJS(t, ctx, `document.querySelector("tr.trouble") !== null`)
	axeCheck(t, ctx, "the list")

	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#err-events").textContent !== ""`)
	eval[any](t, ctx, `[...document.querySelectorAll("details.fields")].forEach((d) => d.open = true)`)
	waitJS(t, ctx, `[...document.querySelectorAll("details.fields dt")].length > 0`)
	axeCheck(t, ctx, "the form with errors")
	step(t, ctx, chromedp.Click(chromedp.CSS("#cancel")))

	rowButton(t, ctx, "Deal flow", "View Logs")
	waitJS(t, ctx, `document.querySelector("#chart-desc")?.textContent !== "" && document.querySelector("#messages tr.message") !== null`)
	step(t, ctx, chromedp.Click(chromedp.CSS(`#messages tr.message button`)))
	waitJS(t, ctx, `!document.querySelector("#message-detail").hidden`)
	axeCheck(t, ctx, "a webhook's view with a message open")

	step(t, ctx, chromedp.Click(chromedp.CSS("#back")))
	waitJS(t, ctx, `!document.querySelector("#list-view").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("tr.webhook .menu-button")))
	waitJS(t, ctx, `document.activeElement.getAttribute("role") === "menuitem"`)
	axeCheck(t, ctx, "a row's menu, open")
	rowButton(t, ctx, "Deal flow", "Delete")
	waitJS(t, ctx, `document.querySelector("#confirm").open`)
	axeCheck(t, ctx, "the confirmation dialog")

	narrow := browser(t, 390)
	open(t, narrow, s.link(t, "owner"))
	waitJS(t, narrow, `document.querySelector("tr.trouble") !== null`)
	axeCheck(t, narrow, "the list at 390 px")
	step(t, narrow, chromedp.Click(chromedp.CSS("#create")))
	step(t, narrow, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	axeCheck(t, narrow, "the form at 390 px")
	step(t, narrow, chromedp.Click(chromedp.CSS("#cancel")))
	rowButton(t, narrow, "Deal flow", "View Logs")
	waitJS(t, narrow, `document.querySelector("#messages tr.message") !== null`)
	step(t, narrow, chromedp.Click(chromedp.CSS(`#messages tr.message button`)))
	waitJS(t, narrow, `!document.querySelector("#message-detail").hidden`)
	axeCheck(t, narrow, "a webhook's view at 390 px, a message open")
	step(t, narrow, chromedp.Click(chromedp.CSS("#replay-open")))
	waitJS(t, narrow, `document.querySelector("#replay-dialog").open`)
	axeCheck(t, narrow, "the replay dialog at 390 px")
}
