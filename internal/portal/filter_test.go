package portal_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestPortalFilterEditor: the form edits a webhook's payload filter and
// changed columns. JSON that is not an object is refused in the page, with
// focus on the filter; the API's refusals show beside their fields; an
// edit that leaves the filter alone does not send it; and clearing it
// removes it.
func TestPortalFilterEditor(t *testing.T) {
	s := startSite(t)
	ctx := browser(t, 1280)
	open(t, ctx, s.link(t, "owner"))

	step(t, ctx, chromedp.Click(chromedp.CSS("#create")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	step(t, ctx, chromedp.SendKeys(chromedp.CSS("#f-name"), "Coca-Cola desk"))
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-url"), s.receiver.url))
	step(t, ctx, chromedp.Click(chromedp.CSS(`input[value="investment.*"]`)))

	// The catalogue beside the boxes: an investment's fields and types, as
	// the schema derived from the table says.
	eval[any](t, ctx, `[...document.querySelectorAll("fieldset.ev")].find(f => f.querySelector('input[value="investment.*"]')).querySelector("details.fields").open = true`)
	waitJS(t, ctx, `[...document.querySelectorAll("details.fields[open] dt")].some(d => d.textContent === "tickerSymbol")`)
	fields := eval[string](t, ctx, `document.querySelector("details.fields[open]").innerText`)
	require.Contains(t, fields, "tickerSymbol\nstring or null — PostgreSQL text")
	require.Contains(t, fields, "createdAt\ndate-time or infinity / -infinity — PostgreSQL timestamp with time zone")
	require.Contains(t, fields, "Schema version ")

	// Not JSON: refused before any request, focus on the filter.
	step(t, ctx, chromedp.SendKeys(chromedp.CSS("#f-filter"), `{"tickerSymbol": KO}`))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#err-filter").textContent.startsWith("is not valid JSON")`)
	require.Equal(t, "f-filter", eval[string](t, ctx, `document.activeElement.id`))
	require.Equal(t, "true", eval[string](t, ctx, `document.querySelector("#f-filter").getAttribute("aria-invalid")`))
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.webhooks`))

	// JSON, but a bad operand, and a column no subscribed table has: the
	// API's words, beside each field.
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-filter"), `{"employees": {"$gte": true}}`))
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-changedColumns"), "employees, headcount"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `document.querySelector("#err-filter").textContent.includes("employees.$gte: must be a number or a string")`)
	require.Contains(t, text(t, ctx, "#err-changedColumns"), `"headcount" is not a column of the subscribed resources`)
	require.Equal(t, "true", eval[string](t, ctx, `document.querySelector("#f-changedColumns").getAttribute("aria-invalid")`))
	require.Equal(t, "0", s.scalar(t, `SELECT count(*)::text FROM webhooks.webhooks`))

	// Saved.
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-filter"), `{"tickerSymbol": "KO", "employees": {"$gte": 100}}`))
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-changedColumns"), "employees, tickerSymbol"))
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#secret-view")))
	id := s.scalar(t, `SELECT id FROM webhooks.webhooks`)
	require.Equal(t, `{"employees": {"$gte": 100}, "tickerSymbol": "KO"} {employees,tickerSymbol}`,
		s.scalar(t, `SELECT filter::text || ' ' || changed_columns::text FROM webhooks.webhooks WHERE id = $1`, id))
	step(t, ctx, chromedp.Click(chromedp.CSS("#secret-done")))
	waitJS(t, ctx, `document.querySelector("tr.webhook .events .filtered") !== null`)
	require.Contains(t, eval[string](t, ctx, `document.querySelector("tr.webhook .events .filtered").title`), `updates change employees or tickerSymbol`)

	// An edit of the name alone sends neither: the stored filter's key
	// order differs from what was typed, and it is kept as it is.
	act(t, ctx, "Edit")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	require.JSONEq(t, `{"tickerSymbol": "KO", "employees": {"$gte": 100}}`, eval[string](t, ctx, `document.querySelector("#f-filter").value`))
	require.Equal(t, "employees, tickerSymbol", eval[string](t, ctx, `document.querySelector("#f-changedColumns").value`))
	step(t, ctx, chromedp.SetValue(chromedp.CSS("#f-name"), "KO desk"))
	eval[any](t, ctx, `(() => { window.sent = []; const f = window.fetch; window.fetch = (u, i) => { if (i && i.method === "PATCH") window.sent.push(i.body); return f(u, i); }; })()`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `!document.querySelector("#webhooks").hidden && document.querySelector("tr.webhook .name").textContent.endsWith("KO desk")`)
	require.Equal(t, `{"name":"KO desk"}`, eval[string](t, ctx, `window.sent.join()`))
	require.Equal(t, `{"employees": {"$gte": 100}, "tickerSymbol": "KO"} {employees,tickerSymbol}`,
		s.scalar(t, `SELECT filter::text || ' ' || changed_columns::text FROM webhooks.webhooks WHERE id = $1`, id))

	// Cleared, both are gone.
	act(t, ctx, "Edit")
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	eval[any](t, ctx, `document.querySelector("#f-filter").value = document.querySelector("#f-changedColumns").value = ""`)
	step(t, ctx, chromedp.Click(chromedp.CSS("#save")))
	waitJS(t, ctx, `!document.querySelector("#webhooks").hidden && document.querySelector("tr.webhook .events .filtered") === null`)
	require.Equal(t, "true true", s.scalar(t, `SELECT (filter IS NULL)::text || ' ' || (changed_columns IS NULL)::text FROM webhooks.webhooks WHERE id = $1`, id))
}
