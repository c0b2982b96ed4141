package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJudgeInputWildcards: a {name...} wildcard is judged as {name} is.
func TestJudgeInputWildcards(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x/{id}/{rest...}", judgeInput("/x/{id}/{rest...}", func(http.ResponseWriter, *http.Request) {}))
	for path, field := range map[string]string{"/x/a/b/%ff": "rest", "/x/%00/b": "id", "/x/a/b;c": "rest"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		require.Equal(t, http.StatusBadRequest, rec.Code, path)
		require.Contains(t, rec.Body.String(), `"field":"`+field+`"`, path)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/x/a/b/c", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}
