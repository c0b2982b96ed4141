package api

import "github.com/countercyclical/webhooks/internal/expansion"

// systemType is an event about webhooks themselves, which triggers in the
// database capture (migration 000017): its payload's fields are fixed.
type systemType struct {
	name, description string
	fields            []systemField
}

// systemField is a field of a system event's payload, named as the
// database writes it (snake_case, as a column).
type systemField struct {
	column  string
	schema  jsonSchema
	example any
}

var (
	dateTime         = jsonSchema{"type": "string", "format": "date-time"}
	nullableDateTime = jsonSchema{"type": []any{"string", "null"}, "format": "date-time"}
	webhookFields    = []systemField{
		{"webhook_id", jsonSchema{"type": "string", "description": "The webhook the event is about."}, "0fPVJHc3ySTNv3UY2Ra1wDq4"},
		{"name", jsonSchema{"type": "string"}, "Acme CRM"},
		{"url", jsonSchema{"type": "string"}, "https://example.com/webhooks"},
		{"created_by", jsonSchema{"type": "string", "description": "The user who made the webhook."}, "nHvhu2rNScm1DdkCDMSSk4oE"},
	}
	lastStatus = systemField{"last_status_code", jsonSchema{"type": []any{"integer", "null"}, "description": "The HTTP status of the last failed attempt; null when there was no answer."}, 503}
	lastError  = systemField{"last_error", jsonSchema{"type": []any{"string", "null"}}, "answered 503 Service Unavailable"}
)

// systemTypes are the events about webhooks, in the catalogue's order.
// Subscribe to them by name or with "webhook.*" and "message.*"; "*" means
// the app's resources only. They go to webhooks made by owners and admins.
var systemTypes = []systemType{
	{"webhook.failing", "Sent when a webhook's endpoint starts failing (the first failed attempt after a success), then at most hourly while it keeps failing. Not sent through the failing webhook itself.",
		append(append([]systemField{}, webhookFields...),
			systemField{"failing_since", dateTime, "2024-11-19T14:29:33.260Z"},
			systemField{"last_failure_at", dateTime, "2024-11-19T15:02:10.004Z"},
			systemField{"failures_since_success", jsonSchema{"type": "integer"}, 12},
			lastStatus, lastError,
			systemField{"enabled", jsonSchema{"type": "boolean"}, true})},
	{"webhook.disabled", "Sent when a webhook is disabled: by hand, after failing longer than WEBHOOKS_DISABLE_AFTER, or because its endpoint answered 410 Gone. Not sent through the disabled webhook.",
		append(append([]systemField{}, webhookFields...),
			systemField{"reason", jsonSchema{"type": []any{"string", "null"}}, "the endpoint answered 410 Gone"},
			systemField{"disabled_at", dateTime, "2024-11-19T15:02:10.004Z"},
			systemField{"failing_since", nullableDateTime, "2024-11-19T14:29:33.260Z"})},
	{"webhook.recovered", "Sent when a webhook that was failing delivers successfully again.",
		append(append([]systemField{}, webhookFields...),
			systemField{"recovered_at", dateTime, "2024-11-19T16:00:00.000Z"},
			systemField{"failures", jsonSchema{"type": "integer", "description": "Failed attempts since the last success before this one."}, 12})},
	{"message.exhausted", "Sent when a message's last retry failed: it will not be sent again unless retried or recovered. Not sent through the webhook whose message it was, nor for messages that were themselves about webhooks.",
		[]systemField{
			{"message_id", jsonSchema{"type": "string"}, "msg_1srOrx2ZWZBpBUvZwXKQmoEYga2"},
			{"webhook_id", jsonSchema{"type": "string"}, "0fPVJHc3ySTNv3UY2Ra1wDq4"},
			{"event_id", jsonSchema{"type": []any{"string", "null"}}, "DUZOjLYj5BwYP6SKfCFbloaX"},
			{"event_type", jsonSchema{"type": "string"}, "investment.updated"},
			{"attempts", jsonSchema{"type": "integer"}, 8},
			lastStatus, lastError,
			{"captured_at", dateTime, "2024-11-19T14:29:33.260Z"},
			{"failed_at", dateTime, "2024-11-21T02:11:45.120Z"},
		}},
}

// systemVersion is the schema version of every system type: their fields
// change with a release, not with a table.
const systemVersion = "1"

// payloadSchema is the schema of a system event's payload.
func (t systemType) payloadSchema() jsonSchema {
	properties := jsonSchema{}
	required := []any{}
	for _, f := range t.fields {
		key := expansion.PayloadKey(f.column)
		properties[key] = f.schema
		required = append(required, key)
	}
	return jsonSchema{"type": "object", "title": t.name, "properties": properties, "required": required, "additionalProperties": false}
}

// exampleRow is a system event's example payload, keyed as the database
// writes it.
func (t systemType) exampleRow() map[string]any {
	row := map[string]any{}
	for _, f := range t.fields {
		row[f.column] = f.example
	}
	return row
}
