package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/internal/filter"
	"github.com/countercyclical/webhooks/internal/netguard"
)

// Limits of webhook fields.
const (
	maxNameLength        = 100
	maxDescriptionLength = 1000
	maxEvents            = 100
	maxRateLimit         = 10000
)

// timeJSON renders like the spec's timestamps: RFC 3339 UTC, milliseconds.
type timeJSON time.Time

func (t timeJSON) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

func optionalTime(t *time.Time) *timeJSON {
	if t == nil {
		return nil
	}
	v := timeJSON(*t)
	return &v
}

type webhookJSON struct {
	ID             string    `json:"id"`
	WorkspaceID    string    `json:"workspaceId"`
	CreatedBy      string    `json:"createdBy"`
	Name           string    `json:"name"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	DisabledReason *string   `json:"disabledReason"`
	DisabledAt     *timeJSON `json:"disabledAt"`
	// FailingSince is when its endpoint began failing, without a success
	// since; null when it is not failing.
	FailingSince       *timeJSON `json:"failingSince"`
	RateLimitPerSecond *int32    `json:"rateLimitPerSecond"`
	Filter             any       `json:"filter"`
	ChangedColumns     []string  `json:"changedColumns"`
	// Ordered webhooks get the changes of one resource one at a time, in
	// commit order.
	Ordered   bool     `json:"ordered"`
	CreatedAt timeJSON `json:"createdAt"`
	UpdatedAt timeJSON `json:"updatedAt"`
	Secret    string   `json:"secret,omitempty"`
	// Health is in lists and reads, not in the answers of changes.
	Health *healthJSON `json:"health,omitempty"`
}

// healthJSON sums up a webhook's recent attempts.
type healthJSON struct {
	Attempts24h    int64     `json:"attempts24h"`
	SuccessRate24h *float64  `json:"successRate24h"` // percent; null without attempts
	LastAttemptAt  *timeJSON `json:"lastAttemptAt"`
	LastFailureAt  *timeJSON `json:"lastFailureAt"`
	// FailuresSinceSuccess counts the failed attempts since the last
	// success; LastStatusCode and LastError are the last one's, while
	// failing.
	FailuresSinceSuccess int64   `json:"failuresSinceSuccess"`
	LastStatusCode       *int32  `json:"lastStatusCode"`
	LastError            *string `json:"lastError"`
}

// withHealth fills in the health of webhooks.
func (s *Server) withHealth(ctx context.Context, webhooks []webhookJSON) error {
	ids := make([]string, len(webhooks))
	for i, wh := range webhooks {
		ids[i] = wh.ID
	}
	rows, err := s.queries.WebhookHealthList(ctx, s.config.Pool, ids)
	if err != nil {
		return err
	}
	health := map[string]*healthJSON{}
	for _, row := range rows {
		h := &healthJSON{Attempts24h: row.Attempts24h}
		if row.Attempts24h > 0 {
			rate := math.Round(float64(row.Succeeded24h)*1000/float64(row.Attempts24h)) / 10
			h.SuccessRate24h = &rate
		}
		h.LastAttemptAt, h.LastFailureAt = optionalTime(row.LastAttemptAt), optionalTime(row.LastFailureAt)
		h.FailuresSinceSuccess, h.LastStatusCode, h.LastError = row.FailuresSinceSuccess, row.LastFailureStatus, row.LastFailureError
		health[row.WebhookID] = h
	}
	for i := range webhooks {
		webhooks[i].Health = health[webhooks[i].ID]
	}
	return nil
}

func toJSON(w db.WebhooksWebhook) webhookJSON {
	return webhookJSON{
		ID: w.ID, WorkspaceID: w.WorkspaceID, CreatedBy: w.CreatedBy, Name: w.Name, URL: w.URL,
		Events: w.EventTypes, Description: w.Description, Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, DisabledAt: optionalTime(w.DisabledAt), FailingSince: optionalTime(w.FailingSince),
		RateLimitPerSecond: w.RateLimitPerSecond, Filter: filterJSON(w.Filter), ChangedColumns: w.ChangedColumns,
		Ordered: w.Ordered, CreatedAt: timeJSON(w.CreatedAt), UpdatedAt: timeJSON(w.UpdatedAt),
	}
}

// filterJSON is a stored filter as the API shows it: null when none.
func filterJSON(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return raw
}

// mayManageWebhooks: guests may not manage webhooks at all.
func mayManageWebhooks(w http.ResponseWriter, p principal) bool {
	if !auth.MayManageWebhooks(p.Role) {
		writeProblem(w, http.StatusForbidden, "guests cannot manage webhooks; ask a workspace admin")
		return false
	}
	return true
}

// mayManage reports whether p may manage a webhook of its workspace: owners
// and admins every one, members their own.
func mayManage(p principal, wh db.WebhooksWebhook) bool {
	return p.Role == "owner" || p.Role == "admin" || wh.CreatedBy == p.UserID
}

// loadWebhook finds the webhook of the path that the caller may manage,
// writing a 404 for one of another workspace or, for members, of someone
// else: what a caller may not manage does not exist for them.
func (s *Server) loadWebhook(w http.ResponseWriter, r *http.Request) (db.WebhooksWebhook, principal, bool) {
	p := principalFrom(r.Context())
	if !mayManageWebhooks(w, p) {
		return db.WebhooksWebhook{}, p, false
	}
	id := r.PathValue("id") // judged by judgeInput: valid UTF-8, no NUL
	wh, err := s.queries.WebhookGetByID(r.Context(), s.config.Pool, db.WebhookGetByIDParams{ID: id, WorkspaceID: p.WorkspaceID})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !mayManage(p, wh)) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("webhook %q not found", id))
		return db.WebhooksWebhook{}, p, false
	}
	if err != nil {
		s.internalError(w, r, "error loading webhook", err)
		return db.WebhooksWebhook{}, p, false
	}
	return wh, p, true
}

// webhookInput is a validated create or patch body; nil fields were absent.
type webhookInput struct {
	Name, URL, Description *string
	Events                 []string
	RateLimit              *int64
	RateLimitPresent       bool
	Filter                 json.RawMessage // nil: none
	FilterPresent          bool
	ChangedColumns         []string // nil: none
	ChangedColumnsPresent  bool
	Ordered                *bool
}

// readWebhookInput reads and validates a create (current is nil) or a
// patch of current.
func (s *Server) readWebhookInput(w http.ResponseWriter, r *http.Request, current *db.WebhooksWebhook) (webhookInput, bool) {
	creating := current == nil
	raw, ok := readObject(w, r, !creating)
	if !ok {
		return webhookInput{}, false
	}
	f := &fields{raw: raw}
	f.unknown("name", "url", "events", "description", "rateLimitPerSecond", "filter", "changedColumns", "ordered")
	var in webhookInput

	if name, ok := f.string("name", creating); ok {
		switch n := utf8.RuneCountInString(name); {
		case strings.TrimSpace(name) == "":
			f.fail("name", "must not be blank")
		case n > maxNameLength:
			f.fail("name", "must be at most %d characters, got %d", maxNameLength, n)
		default:
			in.Name = &name
		}
	}
	if url, ok := f.string("url", creating); ok {
		if err := s.config.Policy.CheckURL(url); err != nil {
			msg := err.Error()
			if principalFrom(r.Context()).KeyID == "" { // the page's user: no server settings to change
				msg = netguard.ForPeople(err)
			}
			f.fail("url", "%s", msg)
		} else {
			in.URL = &url
		}
	}
	if events, ok := f.strings("events", creating); ok {
		if clean, msg := s.checkEvents(r.Context(), events); msg != "" {
			f.fail("events", "%s", msg)
		} else {
			in.Events = clean
		}
	}
	if description, ok := f.string("description", false); ok {
		if n := utf8.RuneCountInString(description); n > maxDescriptionLength {
			f.fail("description", "must be at most %d characters, got %d", maxDescriptionLength, n)
		} else {
			in.Description = &description
		}
	} else if v, present := raw["description"]; present && isNull(v) {
		f.errors = f.errors[:len(f.errors)-1] // null clears the description
		empty := ""
		in.Description = &empty
	}
	if limit, ok := f.optionalInt("rateLimitPerSecond"); ok {
		if limit != nil && (*limit < 1 || *limit > maxRateLimit) {
			f.fail("rateLimitPerSecond", "must be between 1 and %d, or null for no limit", maxRateLimit)
		} else {
			in.RateLimit, in.RateLimitPresent = limit, true
		}
	}
	if ordered, ok := f.bool("ordered"); ok {
		in.Ordered = &ordered
	}
	if value, present := raw["filter"]; present {
		in.FilterPresent = true
		if !isNull(value) {
			if parsed, err := filter.Parse(value); err != nil {
				var fe *filter.Error
				if errors.As(err, &fe) && fe.Path != "" {
					f.fail("filter", "%s: %s", fe.Path, fe.Reason)
				} else {
					f.fail("filter", "%v", err)
				}
			} else if bytes.Contains(value, []byte(`\u0000`)) {
				f.fail("filter", "must not contain NUL characters")
			} else if parsed != nil { // {} is no filter
				in.Filter = value
			}
		}
	}
	if value, present := raw["changedColumns"]; present {
		in.ChangedColumnsPresent = true
		if !isNull(value) {
			if columns, ok := f.strings("changedColumns", false); ok {
				events := in.Events
				if events == nil && current != nil {
					events = current.EventTypes
				}
				if !f.failed("events") {
					if msg := s.checkChangedColumns(r.Context(), events, columns); msg != "" {
						f.fail("changedColumns", "%s", msg)
					} else {
						in.ChangedColumns = columns
					}
				}
			}
		}
	} else if in.Events != nil && current != nil && current.ChangedColumns != nil {
		// New events must still cover the columns kept.
		if msg := s.checkChangedColumns(r.Context(), in.Events, current.ChangedColumns); msg != "" {
			f.fail("changedColumns", "%s (set for the events before; change or clear changedColumns with them)", msg)
		}
	}
	if len(f.errors) > 0 {
		slices.SortFunc(f.errors, func(a, b fieldError) int { return strings.Compare(a.Field, b.Field) })
		writeProblem(w, http.StatusUnprocessableEntity, "the webhook is not valid; see errors", f.errors...)
		return webhookInput{}, false
	}
	return in, true
}

// maxChangedColumns bounds a webhook's changedColumns.
const maxChangedColumns = 100

// checkChangedColumns validates changedColumns against the columns of the
// tables whose updated events the webhook subscribes to.
func (s *Server) checkChangedColumns(ctx context.Context, events, columns []string) string {
	switch {
	case len(columns) == 0:
		return "must name at least one column, or be null for any change"
	case len(columns) > maxChangedColumns:
		return fmt.Sprintf("must name at most %d columns", maxChangedColumns)
	}
	updated := map[string]bool{} // resource types whose updates the events take
	all := false
	for _, e := range events {
		resource, op, _ := strings.Cut(e, ".")
		switch {
		case e == "*":
			all = true
		case op == "*" || op == "updated":
			updated[resource] = true
		}
	}
	if !all && len(updated) == 0 {
		return "applies to *.updated events, and events names none"
	}
	rows, err := s.queries.TrackedColumnList(ctx, s.config.Pool)
	if err != nil {
		return "could not be checked against the tracked tables; try again"
	}
	known := map[string]bool{}   // payload keys of those resources
	tracked := map[string]bool{} // of them, the ones a change of makes an event
	for _, c := range rows {
		if all || updated[c.ResourceType] {
			key := expansion.PayloadKey(c.ColumnName)
			known[key] = true
			tracked[key] = tracked[key] || !c.Ignored
		}
	}
	for i, c := range columns {
		switch {
		case !known[c]:
			return fmt.Sprintf("changedColumns[%d] %q is not a column of the subscribed resources, as payloads name it (lowerCamelCase); see GET /v1/event-types", i, c)
		case !tracked[c]:
			return fmt.Sprintf("changedColumns[%d] %q is ignored by tracking: a change to it alone is no event", i, c)
		case slices.Contains(columns[:i], c):
			return fmt.Sprintf("changedColumns[%d] %q is named twice", i, c)
		}
	}
	return ""
}

// checkEvents validates event types against the catalogue; "*" and
// "<resource>.*" are accepted. It returns them deduplicated, in order.
func (s *Server) checkEvents(ctx context.Context, events []string) ([]string, string) {
	if len(events) == 0 {
		return nil, "must name at least one event type, or \"*\" for all"
	}
	if len(events) > maxEvents {
		return nil, fmt.Sprintf("must name at most %d event types", maxEvents)
	}
	catalogue, err := s.catalogue(ctx)
	if err != nil {
		return nil, "could not be checked against the catalogue; try again"
	}
	resources := map[string]bool{}
	types := map[string]bool{}
	for _, t := range catalogue {
		types[t.Name] = true
		resources[strings.SplitN(t.Name, ".", 2)[0]] = true
	}
	var clean []string
	for i, e := range events {
		resource, op, _ := strings.Cut(e, ".")
		switch {
		case e == "*", types[e], op == "*" && resources[resource]:
		default:
			return nil, fmt.Sprintf("events[%d] %q is not an event type; see GET /v1/event-types (\"*\" and \"investment.*\" are accepted)", i, e)
		}
		if !slices.Contains(clean, e) {
			clean = append(clean, e)
		}
	}
	return clean, ""
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !mayManageWebhooks(w, p) {
		return
	}
	in, ok := s.readWebhookInput(w, r, nil)
	if !ok {
		return
	}
	description := ""
	if in.Description != nil {
		description = *in.Description
	}
	secret := auth.NewSecret()
	tx, err := s.config.Pool.Begin(r.Context())
	if err != nil {
		s.internalError(w, r, "error beginning transaction", err)
		return
	}
	defer tx.Rollback(r.Context()) //nolint:errcheck
	if err := s.queries.WebhookQuotaLock(r.Context(), tx, p.WorkspaceID); err != nil {
		s.internalError(w, r, "error locking the workspace's webhook quota", err)
		return
	}
	count, err := s.queries.WebhookCount(r.Context(), tx, p.WorkspaceID)
	if err != nil {
		s.internalError(w, r, "error counting webhooks", err)
		return
	}
	if count >= int64(s.config.MaxWebhooksPerWorkspace) {
		writeProblem(w, http.StatusUnprocessableEntity, "the workspace has as many webhooks as it may; see errors",
			fieldError{Field: "workspace", Message: s.quotaMessage(p)})
		return
	}
	wh, err := s.queries.WebhookInsert(r.Context(), tx, db.WebhookInsertParams{
		WorkspaceID: p.WorkspaceID, CreatedBy: p.UserID, Name: *in.Name, URL: *in.URL,
		EventTypes: in.Events, Description: description, RateLimitPerSecond: int32Ptr(in.RateLimit),
		Filter: in.Filter, ChangedColumns: in.ChangedColumns, Ordered: in.Ordered != nil && *in.Ordered,
	})
	if err != nil {
		s.internalError(w, r, "error inserting webhook", err)
		return
	}
	if err := s.queries.SigningSecretInsert(r.Context(), tx, db.SigningSecretInsertParams{WebhookID: wh.ID, Secret: secret}); err != nil {
		s.internalError(w, r, "error inserting secret", err)
		return
	}
	if err := tx.Commit(r.Context()); err != nil {
		s.internalError(w, r, "error committing webhook", err)
		return
	}
	out := toJSON(wh)
	out.Secret = secret
	w.Header().Set("Location", "/v1/webhooks/"+wh.ID)
	writeJSON(w, http.StatusCreated, out)
}

func int32Ptr(v *int64) *int32 {
	if v == nil {
		return nil
	}
	n := int32(*v)
	return &n
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if !mayManageWebhooks(w, p) {
		return
	}
	q := r.URL.Query()
	f := &fields{}
	limit := 20
	if v := q.Get("limit"); v != "" {
		limit = f.limitParam(v)
	}
	params := db.WebhookListParams{WorkspaceID: p.WorkspaceID, Max: int32(limit + 1)}
	if v := q.Get("cursor"); v != "" {
		c := f.cursorParam(v)
		params.AfterCreatedAt, params.AfterID = &c.CreatedAt, &c.ID
	}
	for name := range q {
		if name != "limit" && name != "cursor" {
			f.fail(name, "unknown query parameter; known are limit, cursor")
		}
	}
	if len(f.errors) > 0 {
		writeProblem(w, http.StatusBadRequest, "bad query parameters; see errors", f.errors...)
		return
	}
	if p.Role == "member" {
		params.CreatedBy = &p.UserID
	}
	rows, err := s.queries.WebhookList(r.Context(), s.config.Pool, params)
	if err != nil {
		s.internalError(w, r, "error listing webhooks", err)
		return
	}
	list := newPage(rows, limit, toJSON,
		func(wh db.WebhooksWebhook) cursor { return cursor{CreatedAt: wh.CreatedAt, ID: wh.ID} })
	if err := s.withHealth(r.Context(), list.Data); err != nil {
		s.internalError(w, r, "error reading webhook health", err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	out := []webhookJSON{toJSON(wh)}
	if err := s.withHealth(r.Context(), out); err != nil {
		s.internalError(w, r, "error reading webhook health", err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	wh, p, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	in, ok := s.readWebhookInput(w, r, &wh)
	if !ok {
		return
	}
	params := db.WebhookUpdateParams{
		ID: wh.ID, WorkspaceID: p.WorkspaceID, Name: wh.Name, URL: wh.URL, EventTypes: wh.EventTypes,
		Description: wh.Description, RateLimitPerSecond: wh.RateLimitPerSecond,
		Filter: wh.Filter, ChangedColumns: wh.ChangedColumns, Ordered: wh.Ordered,
	}
	if in.Name != nil {
		params.Name = *in.Name
	}
	if in.URL != nil {
		params.URL = *in.URL
	}
	if in.Events != nil {
		params.EventTypes = in.Events
	}
	if in.Description != nil {
		params.Description = *in.Description
	}
	if in.RateLimitPresent {
		params.RateLimitPerSecond = int32Ptr(in.RateLimit)
	}
	if in.FilterPresent {
		params.Filter = in.Filter
	}
	if in.ChangedColumnsPresent {
		params.ChangedColumns = in.ChangedColumns
	}
	if in.Ordered != nil {
		params.Ordered = *in.Ordered
	}
	tx, err := s.config.Pool.Begin(r.Context())
	if err != nil {
		s.internalError(w, r, "error beginning transaction", err)
		return
	}
	defer tx.Rollback(r.Context()) //nolint:errcheck
	updated, err := s.queries.WebhookUpdate(r.Context(), tx, params)
	if s.gone(w, r, wh.ID, err) {
		return
	}
	if wh.Ordered && !updated.Ordered {
		if err := s.unorder(r.Context(), tx, wh.ID); err != nil {
			s.internalError(w, r, "error releasing the webhook's ordered messages", err)
			return
		}
	}
	if err := tx.Commit(r.Context()); err != nil {
		s.internalError(w, r, "error committing webhook", err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(updated))
}

// gone handles the error of a write to a webhook loaded a moment ago: a
// concurrent delete makes it a 404.
func (s *Server) gone(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("webhook %q not found", id))
		return true
	}
	if err != nil {
		s.internalError(w, r, "error writing webhook", err)
		return true
	}
	return false
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	wh, p, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	if _, err := s.queries.WebhookDelete(r.Context(), s.config.Pool, db.WebhookDeleteParams{ID: wh.ID, WorkspaceID: p.WorkspaceID}); err != nil {
		s.internalError(w, r, "error deleting webhook", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) setEnabled(w http.ResponseWriter, r *http.Request, enabled bool) {
	wh, p, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	var reason *string
	if !enabled {
		raw, ok := readObject(w, r, true)
		if !ok {
			return
		}
		f := &fields{raw: raw}
		f.unknown("reason")
		// Said for people: who, by name or email.
		who, err := s.queries.UserDisplayName(r.Context(), s.config.Pool, p.UserID)
		if err != nil {
			s.internalError(w, r, "error reading user", err)
			return
		}
		text := "disabled by " + who
		if v, ok := f.string("reason", false); ok {
			if n := utf8.RuneCountInString(v); n > maxDescriptionLength {
				f.fail("reason", "must be at most %d characters", maxDescriptionLength)
			}
			text = v
		}
		if len(f.errors) > 0 {
			writeProblem(w, http.StatusUnprocessableEntity, "bad request; see errors", f.errors...)
			return
		}
		reason = &text
	}
	updated, err := s.queries.WebhookSetEnabled(r.Context(), s.config.Pool, db.WebhookSetEnabledParams{
		ID: wh.ID, WorkspaceID: p.WorkspaceID, Enabled: enabled, DisabledReason: reason,
	})
	if s.gone(w, r, wh.ID, err) {
		return
	}
	writeJSON(w, http.StatusOK, toJSON(updated))
}

func (s *Server) enableWebhook(w http.ResponseWriter, r *http.Request)  { s.setEnabled(w, r, true) }
func (s *Server) disableWebhook(w http.ResponseWriter, r *http.Request) { s.setEnabled(w, r, false) }

type secretJSON struct {
	Secret            string    `json:"secret"`
	PreviousSecret    *string   `json:"previousSecret"`
	PreviousExpiresAt *timeJSON `json:"previousExpiresAt"`
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	secret, err := s.queries.SigningSecretGet(r.Context(), s.config.Pool, wh.ID)
	if err != nil {
		s.internalError(w, r, "error reading secret", err)
		return
	}
	writeJSON(w, http.StatusOK, toSecretJSON(secret))
}

// toSecretJSON shows the previous secret only while it still signs.
func toSecretJSON(s db.WebhooksSigningSecret) secretJSON {
	out := secretJSON{Secret: s.Secret}
	if s.PreviousExpiresAt != nil && s.PreviousExpiresAt.After(time.Now()) {
		out.PreviousSecret, out.PreviousExpiresAt = s.PreviousSecret, optionalTime(s.PreviousExpiresAt)
	}
	return out
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	if _, ok := readObject(w, r, true); !ok {
		return
	}
	expires := time.Now().Add(s.config.SecretGrace)
	rotated, err := s.queries.SigningSecretRotate(r.Context(), s.config.Pool, db.SigningSecretRotateParams{
		WebhookID: wh.ID, Secret: auth.NewSecret(), PreviousExpiresAt: &expires,
	})
	if s.gone(w, r, wh.ID, err) {
		return
	}
	writeJSON(w, http.StatusOK, toSecretJSON(rotated))
}

// hourJSON is one hour of a webhook's attempts.
type hourJSON struct {
	Hour      timeJSON `json:"hour"`
	Attempts  int64    `json:"attempts"`
	Succeeded int64    `json:"succeeded"`
	Failed    int64    `json:"failed"`
}

// webhookStats answers the attempts of the last 24 hours, hour by hour,
// oldest first: the page draws its chart from them.
func (s *Server) webhookStats(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	rows, err := s.queries.WebhookHourlyStats(r.Context(), s.config.Pool, wh.ID)
	if err != nil {
		s.internalError(w, r, "error reading webhook stats", err)
		return
	}
	hours := make([]hourJSON, len(rows))
	for i, row := range rows {
		hours[i] = hourJSON{Hour: timeJSON(row.Hour), Attempts: row.Attempts, Succeeded: row.Succeeded, Failed: row.Attempts - row.Succeeded}
	}
	writeJSON(w, http.StatusOK, struct {
		Data []hourJSON `json:"data"`
	}{hours})
}
