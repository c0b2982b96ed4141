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

// TestStatesAgree: a message's states, an attempt's error classes and its
// triggers are defined once, in delivery; the tables' CHECKs, the API's
// enums, the page's state filter and the metrics' help say the same.
func TestStatesAgree(t *testing.T) {
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	want := sorted(delivery.MessageStates)

	t.Run("CHECK", func(t *testing.T) {
		require.Equal(t, want, sorted(checkValues(t, "webhooks.messages", "state")))
	})

	t.Run("OpenAPI", func(t *testing.T) {
		// Every enum that holds "retrying" is one of message states.
		var enums [][]string
		walkOpenAPI(t, func(object map[string]any) {
			if values := enumOf(object); slices.Contains(values, delivery.StateRetrying) {
				enums = append(enums, values)
			}
		})
		require.NotEmpty(t, enums)
		for _, e := range enums {
			require.Equal(t, want, sorted(e))
		}
	})

	t.Run("triggers", func(t *testing.T) {
		require.Equal(t, sorted(delivery.Triggers), sorted(checkValues(t, "webhooks.delivery_attempts", "triggered_by")))
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

// checkValues is the values the CHECK on a table's column (on it alone)
// allows, as the migrated database has it.
func checkValues(t *testing.T, table, column string) []string {
	t.Helper()
	var def string
	require.NoError(t, dbtest.NewTx(t).QueryRow(t.Context(), `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = $2
		WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND c.conkey = ARRAY[a.attnum]`, table, column).Scan(&def))
	var values []string
	for _, m := range regexp.MustCompile(`'([a-z_]+)'::text`).FindAllStringSubmatch(def, -1) {
		values = append(values, m[1])
	}
	require.NotEmpty(t, values, def)
	return values
}

// walkOpenAPI calls visit with every object of the OpenAPI document.
func walkOpenAPI(t *testing.T, visit func(object map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "api", "openapi.json"))
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			visit(v)
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
}

// enumOf is the string values of an object's enum.
func enumOf(object map[string]any) []string {
	var values []string
	e, _ := object["enum"].([]any)
	for _, x := range e {
		if s, ok := x.(string); ok {
			values = append(values, s)
		}
	}
	return values
}

// openAPIEnum is the enum of every property named name in the OpenAPI
// document, which must agree.
func openAPIEnum(t *testing.T, name string) []string {
	t.Helper()
	var found [][]string
	walkOpenAPI(t, func(object map[string]any) {
		if p, ok := object[name].(map[string]any); ok {
			found = append(found, enumOf(p))
		}
	})
	require.NotEmpty(t, found, "no property %s in the OpenAPI document", name)
	for _, values := range found[1:] {
		require.Equal(t, found[0], values, "the enums of %s disagree", name)
	}
	return found[0]
}
