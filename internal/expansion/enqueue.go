// Package expansion turns captured events into messages and their delivery
// jobs: the expansion of the outbox (with payload and changed-column
// filters, and the rendering of payloads), the queues of ordered webhooks,
// and replays of a time range. The delivery jobs themselves are River's,
// made by the Enqueue the jobs package gives it.
//
// It imports delivery (the states and triggers), batch, filter, db and
// webhook.
package expansion

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery is a delivery job to make: what finds its message, and what
// River UI shows of it.
type Delivery struct {
	MessageID  string
	CapturedAt time.Time
	WebhookID  string
	EventType  string
	// Trigger is what made it (delivery.TriggerReplay, …); empty for
	// expansion's.
	Trigger string
	// Ordered marks the delivery of an ordered webhook's message.
	Ordered bool
	// Replay puts it behind live deliveries.
	Replay bool
}

// Enqueue makes delivery jobs in tx.
type Enqueue func(ctx context.Context, tx pgx.Tx, deliveries []Delivery) error
