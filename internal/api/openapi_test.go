package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// TestOpenAPICoversRoutes: the served document names every route the server
// has, and no other.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, "", "GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var served []string
	for _, r := range api.Routes() {
		served = append(served, r)
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)

	// Every documented response refers to something that exists.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(res.body), -1)
	var components map[string]map[string]json.RawMessage
	var whole struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &whole))
	components = whole.Components
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		require.Contains(t, components[ref[1]], ref[2], "dangling $ref %s", ref[0])
	}

	// And every served route answers as the document says it exists: not
	// the catch-all 404 of unknown routes.
	for _, r := range api.Routes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{id}", "nope")
		res := b.do(t, b.ws.keys["owner"], method, path, nil)
		require.NotContains(t, string(res.body), "no such route", r)
	}
}
