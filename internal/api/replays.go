package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/jobs"
)

type replayJSON struct {
	ID         string    `json:"id"`
	WebhookID  string    `json:"webhookId"`
	State      string    `json:"state"`
	Since      timeJSON  `json:"since"`
	Until      timeJSON  `json:"until"`
	EventTypes []string  `json:"eventTypes"`
	Total      int64     `json:"total"`
	Queued     int64     `json:"queued"`
	Sent       int64     `json:"sent"`
	Failed     int64     `json:"failed"`
	Cancelled  int64     `json:"cancelled"`
	Pending    int64     `json:"pending"`
	CreatedAt  timeJSON  `json:"createdAt"`
	FinishedAt *timeJSON `json:"finishedAt"`
}

func toReplayJSON(row db.ReplayGetRow) replayJSON {
	r := row.WebhooksReplay
	return replayJSON{
		ID: r.ID, WebhookID: r.WebhookID, State: r.State, Since: timeJSON(r.Since), Until: timeJSON(r.Until), EventTypes: r.EventTypes,
		Total: r.Total, Queued: r.Queued, Sent: row.Sent, Failed: row.Failed, Cancelled: row.Cancelled, Pending: row.Pending,
		CreatedAt: timeJSON(r.CreatedAt), FinishedAt: optionalTime(r.FinishedAt),
	}
}

// replayWebhook sends a webhook the events of a time range again, or, as a
// dry run, counts them.
func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request) {
	wh, p, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	raw, ok := readObject(w, r, false)
	if !ok {
		return
	}
	f := &fields{raw: raw}
	f.unknown("since", "until", "eventTypes", "dryRun")
	now := time.Now()
	req := expansion.ReplayRequest{WebhookID: wh.ID, WorkspaceID: p.WorkspaceID, CreatedBy: p.UserID, Until: now}
	for _, name := range []string{"since", "until"} {
		v, ok := f.string(name, name == "since")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		switch {
		case err != nil:
			f.fail(name, "must be an RFC 3339 time such as 2024-11-19T14:29:33Z, got %q", v)
		case t.After(now):
			f.fail(name, "must not be in the future")
		case name == "since":
			req.Since = t
		default:
			req.Until = t
		}
	}
	if !f.failed("since") && !f.failed("until") && !req.Since.Before(req.Until) {
		f.fail("until", "must be after since")
	}
	if types, ok := f.strings("eventTypes", false); ok {
		if len(types) == 0 {
			f.fail("eventTypes", "must name at least one event type, or be left out for all the webhook takes")
		}
		catalogue, err := s.catalogue(r.Context())
		if err != nil {
			s.internalError(w, r, "error reading event types", err)
			return
		}
		for i, t := range types {
			if !slices.ContainsFunc(catalogue, func(e eventType) bool { return e.Name == t }) {
				f.fail("eventTypes", "eventTypes[%d] %q is not an event type (a wildcard is not one either); see GET /v1/event-types", i, t)
				break
			}
			if !expansion.Takes(wh.EventTypes, t) {
				f.fail("eventTypes", "eventTypes[%d] %q is not an event type the webhook takes (%v)", i, t, wh.EventTypes)
				break
			}
		}
		req.EventTypes = types
	}
	dryRun, _ := f.bool("dryRun")
	if len(f.errors) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "the replay is not valid; see errors", f.errors...)
		return
	}
	if !dryRun && !mayDeliver(w, wh) {
		return
	}
	if dryRun {
		n, err := expansion.CountReplay(r.Context(), s.config.Pool, req)
		if s.replayRefused(w, r, err) {
			return
		}
		if n > expansion.MaxReplay {
			s.replayRefused(w, r, &expansion.ReplayTooLargeError{Events: n})
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Events     int64    `json:"events"`
			Since      timeJSON `json:"since"`
			Until      timeJSON `json:"until"`
			EventTypes []string `json:"eventTypes"`
		}{n, timeJSON(req.Since), timeJSON(req.Until), req.EventTypes})
		return
	}
	if s.config.River == nil {
		s.internalError(w, r, "error starting replay", errors.New("no River client configured"))
		return
	}
	replay, err := jobs.StartReplay(r.Context(), s.config.Pool, s.config.River, req)
	if s.replayRefused(w, r, err) {
		return
	}
	w.Header().Set("Location", "/v1/replays/"+replay.ID)
	writeJSON(w, http.StatusAccepted, toReplayJSON(db.ReplayGetRow{WebhooksReplay: replay}))
}

// replayRefused answers the errors of a replay's count or start: those
// that say what to change are 4xx.
func (s *Server) replayRefused(w http.ResponseWriter, r *http.Request, err error) bool {
	var tooLarge *expansion.ReplayTooLargeError
	var tooOld *expansion.ReplayBeforeRetentionError
	switch {
	case err == nil:
		return false
	case errors.As(err, &tooOld):
		writeProblem(w, http.StatusUnprocessableEntity, "the replay is not valid; see errors", fieldError{Field: "since", Message: tooOld.Error()})
	case errors.As(err, &tooLarge):
		writeProblem(w, http.StatusUnprocessableEntity, "the replay is not valid; see errors", fieldError{Field: "since", Message: tooLarge.Error()})
	case errors.Is(err, expansion.ErrReplayRunning):
		writeProblem(w, http.StatusConflict, err.Error())
	default:
		s.internalError(w, r, "error replaying", err)
	}
	return true
}

// loadReplay finds a replay of a webhook the caller manages.
func (s *Server) loadReplay(w http.ResponseWriter, r *http.Request) (db.ReplayGetRow, bool) {
	p := principalFrom(r.Context())
	if !mayManageWebhooks(w, p) {
		return db.ReplayGetRow{}, false
	}
	id := r.PathValue("id")
	row, err := s.queries.ReplayGet(r.Context(), s.config.Pool, db.ReplayGetParams{ID: id, WorkspaceID: &p.WorkspaceID})
	if err == nil {
		err = s.mayManageWebhookOf(r.Context(), p, row.WebhooksReplay.WebhookID, false)
	}
	return row, s.found(w, r, err, "replay", id)
}

func (s *Server) getReplay(w http.ResponseWriter, r *http.Request) {
	row, ok := s.loadReplay(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toReplayJSON(row))
}

// cancelReplay stops a running replay: it queues nothing more, and what it
// queued and has not sent is cancelled unsent.
func (s *Server) cancelReplay(w http.ResponseWriter, r *http.Request) {
	row, ok := s.loadReplay(w, r)
	if !ok {
		return
	}
	if _, ok := readObject(w, r, true); !ok {
		return
	}
	_, err := s.queries.ReplayEnd(r.Context(), s.config.Pool, db.ReplayEndParams{ID: row.WebhooksReplay.ID, State: "cancelled"})
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("replay %q is %s already", row.WebhooksReplay.ID, row.WebhooksReplay.State))
		return
	}
	if err != nil {
		s.internalError(w, r, "error cancelling replay", err)
		return
	}
	row, ok = s.loadReplay(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toReplayJSON(row))
}

// listReplays lists a webhook's latest replays, newest first.
func (s *Server) listReplays(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	rows, err := s.queries.ReplayLatest(r.Context(), s.config.Pool, db.ReplayLatestParams{WebhookID: wh.ID, Max: 20})
	if err != nil {
		s.internalError(w, r, "error listing replays", err)
		return
	}
	out := struct {
		Data []replayJSON `json:"data"`
	}{Data: []replayJSON{}}
	for _, row := range rows {
		out.Data = append(out.Data, toReplayJSON(db.ReplayGetRow(row)))
	}
	writeJSON(w, http.StatusOK, out)
}
