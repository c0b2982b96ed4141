package api

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPIDocument describes every route; TestOpenAPICoversRoutes keeps it
// true. Its webhooks section is added when served, from the catalogue as
// the tables are then.
//
//go:embed openapi.json
var openAPIDocument []byte

// deliveryHeaders are the Standard Webhooks headers of every delivery.
var deliveryHeaders = []any{
	map[string]any{"name": "webhook-id", "in": "header", "required": true, "schema": jsonSchema{"type": "string"},
		"description": "The message id, the envelope's id: the same on every retry. Deduplicate on it."},
	map[string]any{"name": "webhook-timestamp", "in": "header", "required": true, "schema": jsonSchema{"type": "string"},
		"description": "Unix seconds of this attempt. Reject one more than five minutes from now."},
	map[string]any{"name": "webhook-signature", "in": "header", "required": true, "schema": jsonSchema{"type": "string"},
		"description": "Space-separated v1,<base64 HMAC-SHA256> of id.timestamp.body, keyed with the base64-decoded part of the secret after whsec_; two while a rotated secret still signs."},
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	types, err := s.catalogue(r.Context())
	if err != nil {
		s.internalError(w, r, "error reading event types", err)
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		s.internalError(w, r, "error reading the OpenAPI document", err)
		return
	}
	webhooks := map[string]any{}
	for _, t := range types {
		t = t.withSchema()
		webhooks[t.Name] = map[string]any{"post": map[string]any{
			"summary":     t.Description,
			"description": "Schema version " + t.Version + ", derived from the table's columns.",
			"operationId": "receive" + operationName(t.Name),
			"parameters":  deliveryHeaders,
			"requestBody": map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": t.Schema, "example": t.Example},
			}},
			"responses": map[string]any{
				"2XX":     map[string]any{"description": "Delivered."},
				"default": map[string]any{"description": "Failed: retried on the schedule; 410 Gone disables the webhook."},
			},
		}}
	}
	doc["webhooks"], err = json.Marshal(webhooks)
	if err != nil {
		s.internalError(w, r, "error writing the OpenAPI document", err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// operationName is an event type in CamelCase: investment.created →
// InvestmentCreated.
func operationName(eventType string) string {
	out := []byte{}
	upper := true
	for i := 0; i < len(eventType); i++ {
		c := eventType[i]
		switch {
		case c == '.' || c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			out = append(out, c-'a'+'A')
			upper = false
		default:
			out = append(out, c)
			upper = false
		}
	}
	return string(out)
}
