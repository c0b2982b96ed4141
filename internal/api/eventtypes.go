package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/webhook"
)

// eventType is one entry of the catalogue.
type eventType struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	ResourceType string `json:"resourceType"`
	// Version changes when the resource's table's columns do.
	Version string `json:"version"`
	// Schema and Example are in the answer for one type.
	Schema  jsonSchema `json:"schema,omitempty"`
	Example any        `json:"example,omitempty"`

	op     string
	shape  *resourceShape // of a tracked table's type
	system *systemType    // of an event about webhooks
}

// operations are the changes of a resource, in the catalogue's order.
var operations = []string{"created", "updated", "deleted"}

// catalogue lists the event types of every tracked table, as its columns
// are now, then the events about webhooks: a table tracked with
// webhooks.track is subscribable at once, and ALTER TABLE changes its
// types' schemas and versions at once.
func (s *Server) catalogue(ctx context.Context) ([]eventType, error) {
	rows, err := s.queries.TrackedColumnList(ctx, s.config.Pool)
	if err != nil {
		return nil, fmt.Errorf("error listing tracked columns: %w", err)
	}
	byResource := shapes(rows)
	resources := make([]string, 0, len(byResource))
	for r := range byResource {
		resources = append(resources, r)
	}
	sort.Strings(resources)
	var types []eventType
	for _, r := range resources {
		noun := strings.ReplaceAll(r, "_", " ")
		article := "a"
		if strings.ContainsRune("aeiou", rune(noun[0])) {
			article = "an"
		}
		for _, op := range operations {
			types = append(types, eventType{
				Name: r + "." + op, Description: fmt.Sprintf("Sent when %s %s is %s.", article, noun, op),
				ResourceType: r, Version: byResource[r].version, op: op, shape: byResource[r],
			})
		}
	}
	for i := range systemTypes {
		st := &systemTypes[i]
		resource, _, _ := strings.Cut(st.name, ".")
		types = append(types, eventType{Name: st.name, Description: st.description, ResourceType: resource, Version: systemVersion, system: st})
	}
	return types, nil
}

// withSchema fills in a type's schema and example.
func (t eventType) withSchema() eventType {
	var payload jsonSchema
	if t.system != nil {
		payload = t.system.payloadSchema()
	} else {
		payload = payloadSchema(t.ResourceType, t.shape)
	}
	t.Schema = eventSchema(t.Name, t.Description, t.op, payload)
	t.Example = exampleEvent(t)
	return t
}

// exampleRow is an example payload of the type, keyed as the database
// writes it.
func (t eventType) exampleRow(workspaceID, userID, id, now string) map[string]any {
	if t.system != nil {
		return t.system.exampleRow()
	}
	return exampleRow(t.shape, workspaceID, userID, id, now)
}

// exampleEvent is an example body of a type's deliveries.
func exampleEvent(t eventType) webhook.Envelope {
	now := time.Date(2024, 11, 19, 14, 29, 33, 260e6, time.UTC).Format(webhook.TimestampFormat)
	row := t.exampleRow("7WLHlmQyWCsv1xocMkXK-L4A", "nHvhu2rNScm1DdkCDMSSk4oE", "2hLQ0Yq1KxXoYVj3gq8KpV4g", now)
	payload := map[string]any{}
	for column, v := range row {
		payload[expansion.PayloadKey(column)] = v
	}
	env := webhook.Envelope{
		ID: "msg_1srOrx2ZWZBpBUvZwXKQmoEYga2", EventID: "DUZOjLYj5BwYP6SKfCFbloaX", EventType: t.Name, Timestamp: now,
		WorkspaceID: "7WLHlmQyWCsv1xocMkXK-L4A", ApplicationID: "wh_example",
	}
	env.Payload, _ = json.Marshal(payload)
	if t.op == "updated" {
		column, value := exampleChange(t.shape, row)
		env.PreviousAttributes, _ = json.Marshal(map[string]any{expansion.PayloadKey(column): value})
	}
	return env
}

func (s *Server) eventTypes(w http.ResponseWriter, r *http.Request) {
	types, err := s.catalogue(r.Context())
	if err != nil {
		s.internalError(w, r, "error reading event types", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Data []eventType `json:"data"`
	}{types})
}

func (s *Server) eventTypeDetail(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("type")
	types, err := s.catalogue(r.Context())
	if err != nil {
		s.internalError(w, r, "error reading event types", err)
		return
	}
	for _, t := range types {
		if t.Name == name {
			writeJSON(w, http.StatusOK, t.withSchema())
			return
		}
	}
	writeProblem(w, http.StatusNotFound, fmt.Sprintf("event type %q not found; see GET /v1/event-types", name))
}
