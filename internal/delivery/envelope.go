package delivery

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/webhook"
)

// EnvelopeBody is the HTTP body of a message's deliveries: the envelope,
// as signed and sent, byte for byte the same on every attempt. The API shows
// it (GET /v1/messages/{id}) from this same function.
func EnvelopeBody(m *db.MessageGetForDeliveryManyRow) ([]byte, error) {
	eventID := ""
	if m.EventID != nil {
		eventID = *m.EventID
	}
	envelope := webhook.Envelope{
		ID: m.ID, EventID: eventID, EventType: m.EventType, Timestamp: m.CapturedAt.UTC().Format(webhook.TimestampFormat),
		WorkspaceID: m.WorkspaceID, ApplicationID: m.WebhookID, Payload: m.Payload,
	}
	if strings.HasSuffix(m.EventType, ".updated") {
		envelope.PreviousAttributes = m.PreviousAttributes
	}
	body, err := json.Marshal(envelope)
	if err != nil {
		return nil, fmt.Errorf("error encoding envelope: %w", err)
	}
	return body, nil
}
