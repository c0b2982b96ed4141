package webhook

import "encoding/json"

// Envelope is the body of every delivery.
type Envelope struct {
	// ID is the message: this event for this webhook, the same on every
	// retry, and the webhook-id header. Deduplicate on it.
	ID string `json:"id"`
	// EventID is the change, the same for every webhook that receives it.
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	// Timestamp is when the change was captured, RFC 3339 UTC with
	// milliseconds. Order by it: deliveries may arrive out of order.
	Timestamp   string `json:"timestamp"`
	WorkspaceID string `json:"workspaceId"`
	// ApplicationID is the webhook's id.
	ApplicationID string          `json:"applicationId"`
	Payload       json.RawMessage `json:"payload"`
	// PreviousAttributes, on *.updated only, holds the old values of the
	// changed fields.
	PreviousAttributes json.RawMessage `json:"previousAttributes,omitempty"`
}

// TimestampFormat is the layout of Envelope.Timestamp.
const TimestampFormat = "2006-01-02T15:04:05.000Z"
