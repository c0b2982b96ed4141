package delivery

// A message's states (webhooks.messages.state): defined here once, and
// checked against the table's CHECK, the API's enums and the page by
// TestStatesAgree.
const (
	StatePending   = "pending"   // waiting for its first attempt
	StateSucceeded = "succeeded" // an attempt got a 2xx
	StateRetrying  = "retrying"  // an attempt failed; River retries it on the schedule
	StateFailed    = "failed"    // every attempt of the schedule failed
	StateCancelled = "cancelled" // not sent, or not again: its webhook was deleted or disabled, its replay cancelled, it was skipped
)

// MessageStates are a message's states, in the order of its life.
var MessageStates = []string{StatePending, StateSucceeded, StateRetrying, StateFailed, StateCancelled}

// The classes of a failed attempt (delivery_attempts.error_class, the
// errorClass of the API, the outcome label of
// webhooks_delivery_attempts_total).
const (
	ErrorStatus        = "status"         // the endpoint answered, neither 2xx nor 3xx
	ErrorRedirect      = "redirect"       // the endpoint answered 3xx, which is not followed
	ErrorTimeout       = "timeout"        // no answer within the timeout
	ErrorConnection    = "connection"     // no connection, or it broke
	ErrorBlocked       = "blocked"        // the address is one the network policy forbids
	ErrorInvalidURL    = "invalid_url"    // the URL cannot make a request
	ErrorInvalidSecret = "invalid_secret" // the webhook's secret cannot sign
)

// ErrorClasses are the classes of a failed attempt.
var ErrorClasses = []string{ErrorStatus, ErrorRedirect, ErrorTimeout, ErrorConnection, ErrorBlocked, ErrorInvalidURL, ErrorInvalidSecret}

// What made an attempt (delivery_attempts.triggered_by, triggeredBy in the
// API).
const (
	TriggerSchedule    = "schedule"     // a delivery, and every retry on the schedule
	TriggerManualRetry = "manual_retry" // POST /v1/messages/{id}/retry, River UI's Retry
	TriggerRecover     = "recover"      // POST /v1/webhooks/{id}/recover
	TriggerTest        = "test"         // POST /v1/webhooks/{id}/test
	TriggerReplay      = "replay"       // POST /v1/webhooks/{id}/replay
)

// Triggers are what may make an attempt.
var Triggers = []string{TriggerSchedule, TriggerManualRetry, TriggerRecover, TriggerTest, TriggerReplay}
