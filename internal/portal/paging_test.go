package portal_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

// TestPortalListPaging: the list loads one page of webhooks, not all of
// them; "Show more webhooks" adds the next by keyboard, with the focus on
// the first webhook it added; a refresh keeps the rows paged in.
func TestPortalListPaging(t *testing.T) {
	s := startSite(t)
	for i := range 25 {
		s.newHook(t, fmt.Sprintf("Hook %02d", i+1), "investment.created")
	}
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	require.Equal(t, 20, eval[int](t, ctx, `document.querySelectorAll("tr.webhook").length`))
	require.Equal(t, 1, eval[int](t, ctx, `performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname === "/v1/webhooks").length`),
		"one request for the list")
	require.True(t, eval[bool](t, ctx, `!document.querySelector("#more-webhooks").hidden`))
	require.Equal(t, "Showing the first 20 webhooks.", text(t, ctx, "#list-count"))

	eval[any](t, ctx, `document.querySelector("#more-webhooks").focus()`)
	step(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `document.querySelectorAll("tr.webhook").length === 25`)
	require.True(t, eval[bool](t, ctx, `document.querySelector("#more-webhooks").hidden && document.querySelector("#list-count").hidden`))
	waitJS(t, ctx, `document.activeElement.textContent === "View Logs" && document.activeElement.closest("tr").querySelector(".name").lastChild.textContent === "Hook 21"`)

	// A refresh (back from a webhook's view) keeps the 25.
	rowButton(t, ctx, "Hook 24", "View Logs")
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#back")))
	waitJS(t, ctx, `!document.querySelector("#list-view").hidden && document.activeElement.closest("tr") && document.activeElement.closest("tr").querySelector(".name").lastChild.textContent === "Hook 24"`)
	require.Equal(t, 25, eval[int](t, ctx, `document.querySelectorAll("tr.webhook").length`))
	axeCheck(t, ctx, "the list paged")
}
