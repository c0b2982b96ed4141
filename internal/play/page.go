package play

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
)

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"deref": func(b *bool) bool { return *b },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>webhooks play</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.3em; }
.delivery { border: 1px solid #ccc; border-radius: 6px; margin: 1em 0; padding: .5em 1em; }
.ok { color: #170; } .bad { color: #b00; } .muted { color: #777; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
table { border-collapse: collapse; } td { padding: 0 1em 0 0; vertical-align: top; font-family: monospace; }
</style>
</head>
<body>
<h1>webhooks play</h1>
<p id="summary" data-total="{{.Total}}">{{.Total}} received{{if gt .Total (len .Deliveries)}}, showing the last {{len .Deliveries}}{{end}}. POST to any path of this server; this page refreshes as deliveries arrive.</p>
{{range .Deliveries}}
<div class="delivery">
  <p><strong>#{{.Delivery.Seq}} {{or .Delivery.EventType "(no eventType)"}}</strong>
  answered {{.Delivery.Status}} at {{.Delivery.ReceivedAt.Format "2006-01-02 15:04:05.000Z07:00"}} · {{.Delivery.Method}} {{.Delivery.Path}}<br>
  webhook-id <code>{{or .Delivery.WebhookID "-"}}</code> · eventId <code>{{or .Delivery.EventID "-"}}</code>
  {{if .Delivery.Duplicate}}· <span class="bad">duplicate of an earlier webhook-id</span>{{end}}<br>
  {{if not .Delivery.Verified}}<span class="muted">not verified: start play with --secret</span>
  {{else if deref .Delivery.Verified}}<span class="ok">signature verified</span>
  {{else}}<span class="bad">signature NOT verified: {{.Delivery.VerifyError}}</span>{{end}}</p>
  <details><summary>headers</summary><table>{{range $name, $value := .Delivery.Headers}}<tr><td>{{$name}}</td><td>{{$value}}</td></tr>{{end}}</table></details>
  <pre>{{.Pretty}}</pre>
</div>
{{else}}
<p class="muted">Nothing yet.</p>
{{end}}
<script>
// Reload when the count changes: simple, and enough for a local tool.
const shown = document.getElementById("summary").dataset.total;
setInterval(async () => {
  try {
    const r = await fetch("api/deliveries");
    const j = await r.json();
    if (String(j.total) !== shown) location.reload();
  } catch (e) {}
}, 1000);
</script>
</body>
</html>
`))

type pageDelivery struct {
	Delivery Delivery
	Pretty   string
}

func (r *Receiver) page(w http.ResponseWriter, req *http.Request) {
	deliveries, total := r.Deliveries()
	data := struct {
		Total      int64
		Deliveries []pageDelivery
	}{Total: total}
	for _, d := range deliveries {
		pretty := d.Body
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(d.Body), "", "  ") == nil {
			pretty = buf.String()
		}
		data.Deliveries = append(data.Deliveries, pageDelivery{d, pretty})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, data); err != nil {
		http.Error(w, "error rendering page", http.StatusInternalServerError)
	}
}
