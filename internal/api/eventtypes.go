package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

type eventType struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// catalogue lists the event types of every tracked table: a table tracked
// with webhooks.track is subscribable at once.
func (s *Server) catalogue(ctx context.Context) ([]eventType, error) {
	tables, err := s.queries.TrackedTableList(ctx, s.config.Pool)
	if err != nil {
		return nil, fmt.Errorf("error listing tracked tables: %w", err)
	}
	var types []eventType
	for _, t := range tables {
		noun := strings.ReplaceAll(t.ResourceType, "_", " ")
		article := "a"
		if strings.ContainsRune("aeiou", rune(noun[0])) {
			article = "an"
		}
		for _, op := range []string{"created", "updated", "deleted"} {
			types = append(types, eventType{
				Name:        t.ResourceType + "." + op,
				Description: fmt.Sprintf("Sent when %s %s is %s.", article, noun, op),
			})
		}
	}
	return types, nil
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
