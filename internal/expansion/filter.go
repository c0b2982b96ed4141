package expansion

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/filter"
)

// filter keeps the matches whose event passes the webhook's filters: its
// payload filter, and for *.updated events its changed columns (one of
// them must be among the event's previous attributes). Both are judged on
// the event as receivers get it, but read from the captured image, so that
// an event every filter turns away is never rendered. Each filter is
// parsed and each image decoded at most once a batch, and only for
// webhooks that have filters: unfiltered webhooks cost what they cost
// before. A filter that cannot be parsed (the API refuses them; only a
// write by hand could store one) lets its events through and is logged: a
// receiver can drop an event it did not want, not get back one it missed.
func (w *Expander) filter(ctx context.Context, matches []db.OutboxMatchRow, claimed []db.OutboxClaimRow, timestamps map[string]map[string]bool) []db.OutboxMatchRow {
	var (
		events   map[int64]*db.OutboxClaimRow
		filters  map[string]*filter.Filter
		payloads map[int64]any
		changed  map[int64]map[string]bool // payload keys of previous attributes
	)
	event := func(id int64) *db.OutboxClaimRow {
		if events == nil {
			events = make(map[int64]*db.OutboxClaimRow, len(claimed))
			for i := range claimed {
				events[claimed[i].ID] = &claimed[i]
			}
		}
		return events[id]
	}
	kept := matches[:0]
	for _, m := range matches {
		if len(m.ChangedColumns) > 0 && strings.HasSuffix(m.EventType, ".updated") {
			if changed == nil {
				changed = make(map[int64]map[string]bool)
			}
			keys, ok := changed[m.OutboxID]
			if !ok {
				var previous map[string]json.RawMessage
				_ = json.Unmarshal(event(m.OutboxID).PreviousAttributes, &previous) // captured by row_to_json: an object
				keys = make(map[string]bool, len(previous))
				for column := range previous {
					keys[PayloadKey(column)] = true
				}
				changed[m.OutboxID] = keys
			}
			if !slices.ContainsFunc(m.ChangedColumns, func(key string) bool { return keys[key] }) {
				continue
			}
		}
		if m.Filter != nil {
			if filters == nil {
				filters, payloads = make(map[string]*filter.Filter), make(map[int64]any)
			}
			f, ok := filters[m.WebhookID]
			if !ok {
				var err error
				if f, err = filter.Parse(m.Filter); err != nil {
					w.log().WarnContext(ctx, "webhook filter unreadable; its events are sent unfiltered", "webhook_id", m.WebhookID, "error", err)
				}
				filters[m.WebhookID] = f
			}
			if f != nil {
				payload, ok := payloads[m.OutboxID]
				if !ok {
					e := event(m.OutboxID)
					payload = payloadView(e.Payload, timestamps[e.ResourceType])
					payloads[m.OutboxID] = payload
				}
				if !f.Match(payload) {
					continue
				}
			}
		}
		kept = append(kept, m)
	}
	return kept
}

// payloadView decodes a captured image as renderPayload would render it:
// top-level keys in lowerCamelCase and timestamp columns' values in RFC
// 3339 UTC with milliseconds. An image that cannot be decoded is nil, which
// only conditions on null or absence match.
func payloadView(image []byte, timestampColumns map[string]bool) any {
	decoded, err := filter.Decode(image)
	if err != nil {
		return nil
	}
	row, ok := decoded.(map[string]any)
	if !ok {
		return decoded
	}
	view := make(map[string]any, len(row))
	for column, value := range row {
		if s, ok := value.(string); ok && timestampColumns[column] {
			value = renderTimestampString(s)
		}
		view[PayloadKey(column)] = value
	}
	return view
}

func (w *Expander) log() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}
