package portal_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestPortalTroubleBanner: a failing webhook shows a banner with since when
// and its last error; a disabled one shows its reason and a button that
// enables it again.
func TestPortalTroubleBanner(t *testing.T) {
	s := startSite(t)
	status, hook := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{
		"name": "Deal flow", "url": s.receiver.url, "events": []string{"investment.*"},
	})
	require.Equal(t, http.StatusCreated, status, hook)
	id := hook["id"].(string)
	s.receiver.failing.Store(true)
	insertInvestment(t, s)

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	waitJS(t, ctx, `document.querySelector("tr.trouble .banner.warn") !== null`)
	banner := text(t, ctx, "tr.trouble .banner")
	require.Contains(t, banner, "“Deal flow” is failing since ")
	require.Contains(t, banner, "Last error: answered 500 Internal Server Error.")
	screenshot(t, ctx, "portal-failing")

	status, _ = s.call(t, s.keys["owner"], "POST", "/v1/webhooks/"+id+"/disable", map[string]any{"reason": "maintenance window"})
	require.Equal(t, http.StatusOK, status)
	open(t, ctx, s.link(t, "owner"))
	waitJS(t, ctx, `document.querySelector("tr.trouble .banner.off") !== null`)
	banner = text(t, ctx, "tr.trouble .banner")
	require.Contains(t, banner, "“Deal flow” is disabled since ")
	require.Contains(t, banner, ": maintenance window. Its endpoint had been failing since ")
	require.Contains(t, banner, "Last error: answered 500 Internal Server Error.")

	// Enabled from the banner: it goes, and deliveries resume.
	s.receiver.failing.Store(false)
	step(t, ctx, chromedp.Click(chromedp.CSS("tr.trouble .banner button")))
	waitJS(t, ctx, `document.querySelector("tr.trouble") === null && document.querySelector("tr.webhook .status").textContent.includes("Enabled")`)
	require.Equal(t, "true", s.scalar(t, `SELECT enabled::text FROM webhooks.webhooks WHERE id = $1`, id))

	// Disabled from the page: the banner says by whom, as people know
	// them, not by user id.
	act(t, ctx, "Disable")
	waitJS(t, ctx, `document.querySelector("tr.trouble .banner.off") !== null`)
	require.Contains(t, text(t, ctx, "tr.trouble .banner"), ": disabled by owner@acme.example.")
	require.NotContains(t, text(t, ctx, "tr.trouble .banner"), s.users["owner"])
}
