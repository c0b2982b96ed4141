package portal_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// TestPortalQuotas: the page says plainly when the workspace has as many
// webhooks as it may (in the API's words for people, without the server's
// setting), and when a test is one too many this minute.
func TestPortalQuotas(t *testing.T) {
	s := startSiteConfig(t, nil, api.Config{MaxWebhooksPerWorkspace: 1, TestSendsPerMinute: 1})
	status, body := s.call(t, s.keys["owner"], "POST", "/v1/webhooks", map[string]any{"name": "Only", "url": s.receiver.url, "events": []string{"investment.created"}})
	require.Equal(t, http.StatusCreated, status, body)

	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "One more"),
		chromedp.SendKeys(chromedp.CSS("#f-url"), s.receiver.url),
		chromedp.Click(chromedp.CSS("#ev-all")),
		chromedp.Click(chromedp.CSS("#save")),
	))
	const full = "This workspace has 1 webhook, the most it may have; delete one to create another."
	waitJS(t, ctx, `document.querySelector("#notice").textContent !== ""`)
	require.Equal(t, "Not saved: "+full, text(t, ctx, "#notice"))
	require.Equal(t, "error-notice", eval[string](t, ctx, `document.querySelector("#notice").className`))
	require.Contains(t, text(t, ctx, "#err-form"), "this workspace has 1 webhook")
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll("#webhook-form [aria-invalid]").length`), "no field is marked wrong")

	step(t, ctx, chromedp.Click(chromedp.CSS("#cancel")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhooks")))
	act(t, ctx, "Test")
	waitJS(t, ctx, `!document.querySelector("#logs-view").hidden`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#send-test")))
	waitJS(t, ctx, `document.querySelector("#notice").textContent.startsWith("Sent a test")`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#send-test")))
	waitJS(t, ctx, `document.querySelector("#notice").textContent.startsWith("Not sent")`)
	require.Regexp(t, `^Not sent: this workspace has sent 1 test in the last minute, the most it may; send the next in \d+ s$`, text(t, ctx, "#notice"))
	require.Equal(t, "error-notice", eval[string](t, ctx, `document.querySelector("#notice").className`))
}
