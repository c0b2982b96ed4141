package jobs

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
// them must be among the event's previous attributes). Each filter is
// parsed and each payload decoded at most once a batch, and only for
// webhooks that have filters, so that unfiltered webhooks cost what they
// cost before. A filter that cannot be parsed (the API refuses them; only
// a write by hand could store one) lets its events through and is logged:
// a receiver can drop an event it did not want, not get back one it missed.
func (w *ExpandWorker) filter(ctx context.Context, matches []db.OutboxMatchRow, events map[int64]*renderedEvent) []db.OutboxMatchRow {
	var (
		filters  map[string]*filter.Filter
		payloads map[int64]any
		changed  map[int64]map[string]json.RawMessage
	)
	kept := matches[:0]
	for _, m := range matches {
		event := events[m.OutboxID]
		if len(m.ChangedColumns) > 0 && strings.HasSuffix(m.EventType, ".updated") {
			if changed == nil {
				changed = make(map[int64]map[string]json.RawMessage)
			}
			previous, ok := changed[m.OutboxID]
			if !ok {
				_ = json.Unmarshal(event.Previous, &previous) // rendered by us: an object
				changed[m.OutboxID] = previous
			}
			if !slices.ContainsFunc(m.ChangedColumns, func(c string) bool { _, ok := previous[c]; return ok }) {
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
					payload, _ = filter.Decode(event.Payload) // rendered by us: valid JSON
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

func (w *ExpandWorker) log() *slog.Logger {
	if w.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.logger
}
