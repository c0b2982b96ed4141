package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/metrics"
)

// TestStatesAgree: a message's states and an attempt's error classes are
// defined once, in delivery; the table's CHECK, the API's enums, the page's
// state filter and the metrics' help say the same.
func TestStatesAgree(t *testing.T) {
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	want := sorted(delivery.MessageStates)

	t.Run("CHECK", func(t *testing.T) {
		var def string
		require.NoError(t, dbtest.NewTx(t).QueryRow(t.Context(), `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
			WHERE c.conrelid = 'webhooks.messages'::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%state%'`).Scan(&def))
		var got []string
		for _, m := range regexp.MustCompile(`'([a-z_]+)'::text`).FindAllStringSubmatch(def, -1) {
			got = append(got, m[1])
		}
		require.Equal(t, want, sorted(got), def)
	})

	t.Run("OpenAPI", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("..", "api", "openapi.json"))
		require.NoError(t, err)
		var doc any
		require.NoError(t, json.Unmarshal(data, &doc))
		// Every enum that holds "retrying" is one of message states.
		var enums [][]string
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if e, ok := v["enum"].([]any); ok {
					var values []string
					for _, x := range e {
						if s, ok := x.(string); ok {
							values = append(values, s)
						}
					}
					if slices.Contains(values, delivery.StateRetrying) {
						enums = append(enums, values)
					}
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(doc)
		require.NotEmpty(t, enums)
		for _, e := range enums {
			require.Equal(t, want, sorted(e))
		}
	})

	t.Run("triggers", func(t *testing.T) {
		var def string
		require.NoError(t, dbtest.NewTx(t).QueryRow(t.Context(), `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
			WHERE c.conrelid = 'webhooks.delivery_attempts'::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%triggered_by%'`).Scan(&def))
		var got []string
		for _, m := range regexp.MustCompile(`'([a-z_]+)'::text`).FindAllStringSubmatch(def, -1) {
			got = append(got, m[1])
		}
		require.Equal(t, sorted(delivery.Triggers), sorted(got), def)
		require.Equal(t, sorted(delivery.Triggers), sorted(openAPIEnum(t, "triggeredBy")))
	})

	t.Run("error classes", func(t *testing.T) {
		require.Equal(t, sorted(delivery.ErrorClasses), sorted(openAPIEnum(t, "errorClass")))
	})

	t.Run("page", func(t *testing.T) {
		html, err := os.ReadFile(filepath.Join("..", "portal", "templates", "page.html"))
		require.NoError(t, err)
		sel := regexp.MustCompile(`(?s)<select id="filter-state">(.*?)</select>`).FindSubmatch(html)
		require.NotNil(t, sel, "the page's state filter")
		var got []string
		for _, m := range regexp.MustCompile(`<option>([a-z_]+)</option>`).FindAllSubmatch(sel[1], -1) {
			got = append(got, string(m[1]))
		}
		require.Equal(t, delivery.MessageStates, got, "the filter offers every state, in the order of a message's life")
	})

	t.Run("metrics", func(t *testing.T) {
		got := regexp.MustCompile(`\(([^)]*)\)`).FindStringSubmatch(metrics.DeliveriesHelp)
		require.NotNil(t, got, metrics.DeliveriesHelp)
		require.Equal(t, sorted(delivery.ErrorClasses), sorted(strings.Split(got[1], ", ")))
	})
}

// openAPIEnum is the string values of the enum of every property named
// name in the OpenAPI document, which must agree.
func openAPIEnum(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "api", "openapi.json"))
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc))
	var found [][]string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if p, ok := v[name].(map[string]any); ok {
				var values []string
				for _, x := range p["enum"].([]any) {
					if s, ok := x.(string); ok {
						values = append(values, s)
					}
				}
				found = append(found, values)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	require.NotEmpty(t, found, "no property %s in the OpenAPI document", name)
	for _, values := range found[1:] {
		require.Equal(t, found[0], values, "the enums of %s disagree", name)
	}
	return found[0]
}
