package api

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// wildcards finds the {name} and {name...} path parameters of a route
// pattern.
var wildcards = regexp.MustCompile(`\{(\w+)(?:\.\.\.)?\}`)

// judgeInput refuses, with a 400 naming each bad parameter, a request whose
// path parameters or query string the handlers could not take at face value,
// before any of them (or authentication) reaches the database:
//   - invalid UTF-8 and NUL, which PostgreSQL text cannot hold (SQLSTATE
//     22021 was a 500 before), and ';' in a path parameter;
//   - ';' in the query, which net/http drops along with the whole parameter
//     (`eventType=a;b` answered unfiltered, `limit=1;DROP` the default page);
//   - bad percent-encoding in the query, which net/http drops the same way.
//
// The query is judged from r.URL.RawQuery, as sent, for that reason.
func judgeInput(pattern string, next http.HandlerFunc) http.HandlerFunc {
	var params []string
	for _, m := range wildcards.FindAllStringSubmatch(pattern, -1) {
		params = append(params, m[1])
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var errs []fieldError
		for _, name := range params {
			v := r.PathValue(name)
			msg := badText(v)
			if msg == "" && strings.Contains(v, ";") {
				msg = "must not contain ';'" // no id has one
			}
			if msg != "" {
				errs = append(errs, fieldError{Field: name, Message: "path parameter " + msg})
			}
		}
		errs = append(errs, judgeQuery(r.URL.RawQuery)...)
		if len(errs) > 0 {
			writeProblem(w, http.StatusBadRequest, "bad path or query parameters; see errors", errs...)
			return
		}
		next(w, r)
	}
}

// badText says what is wrong with a decoded parameter value, or "".
func badText(v string) string {
	switch {
	case !utf8.ValidString(v):
		return "must be valid UTF-8"
	case strings.ContainsRune(v, 0):
		return "must not contain NUL characters"
	}
	return ""
}

// judgeQuery checks each name=value pair of a raw query string.
func judgeQuery(raw string) []fieldError {
	if raw == "" {
		return nil
	}
	var errs []fieldError
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, nameErr := url.QueryUnescape(rawName)
		if nameErr != nil || badText(name) != "" {
			// The name itself is unusable: report it as sent, quoted, so
			// that the problem stays valid UTF-8 and readable.
			errs = append(errs, fieldError{Field: fmt.Sprintf("%q", rawName), Message: "query parameter name must be valid percent-encoded UTF-8 without NUL characters"})
			continue
		}
		if strings.Contains(pair, ";") {
			errs = append(errs, fieldError{Field: name, Message: "query parameter must not contain ';' (percent-encode it as %3B); separate parameters with '&'"})
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			errs = append(errs, fieldError{Field: name, Message: "query parameter is not valid percent-encoding"})
			continue
		}
		if msg := badText(value); msg != "" {
			errs = append(errs, fieldError{Field: name, Message: "query parameter " + msg})
		}
	}
	return errs
}
