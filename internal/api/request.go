package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// readObject reads a JSON object body of at most MaxBody bytes, field by
// field, so that absent, null and wrongly typed fields can each be named.
// It writes the problem and returns false when the body is unusable.
func readObject(w http.ResponseWriter, r *http.Request, allowEmpty bool) (map[string]json.RawMessage, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type must be application/json, not %q", ct))
			return nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body must be at most %d bytes", MaxBody))
			return nil, false
		}
		writeProblem(w, http.StatusBadRequest, "error reading body")
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return map[string]json.RawMessage{}, true
		}
		writeProblem(w, http.StatusBadRequest, "body must be a JSON object")
		return nil, false
	}
	if !utf8.Valid(body) {
		writeProblem(w, http.StatusBadRequest, "body must be UTF-8")
		return nil, false
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax):
			writeProblem(w, http.StatusBadRequest, fmt.Sprintf("body is not valid JSON: %v (at byte %d)", err, syntax.Offset))
		case errors.Is(err, io.ErrUnexpectedEOF):
			writeProblem(w, http.StatusBadRequest, "body is not valid JSON: it ends before the object does")
		default:
			writeProblem(w, http.StatusBadRequest, "body must be a JSON object")
		}
		return nil, false
	}
	if fields == nil {
		writeProblem(w, http.StatusBadRequest, "body must be a JSON object")
		return nil, false
	}
	if dec.More() {
		writeProblem(w, http.StatusBadRequest, "body must hold one JSON object, and nothing after it")
		return nil, false
	}
	return fields, true
}

// fields walks a request object, collecting the errors of every field.
type fields struct {
	raw    map[string]json.RawMessage
	errors []fieldError
}

func (f *fields) fail(field, format string, args ...any) {
	f.errors = append(f.errors, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// failed reports whether field has an error already.
func (f *fields) failed(field string) bool {
	return slices.ContainsFunc(f.errors, func(e fieldError) bool { return e.Field == field })
}

// unknown reports fields not in known.
func (f *fields) unknown(known ...string) {
	for name := range f.raw {
		found := false
		for _, k := range known {
			if name == k {
				found = true
			}
		}
		if !found {
			f.fail(name, "unknown field; known fields are %s", strings.Join(known, ", "))
		}
	}
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// string decodes a string field; present is false when absent.
func (f *fields) string(name string, required bool) (value string, present bool) {
	raw, ok := f.raw[name]
	if !ok {
		if required {
			f.fail(name, "is required")
		}
		return "", false
	}
	if isNull(raw) || json.Unmarshal(raw, &value) != nil {
		f.fail(name, "must be a string")
		return "", false
	}
	if strings.ContainsRune(value, 0) {
		f.fail(name, "must not contain NUL characters")
		return "", false
	}
	return value, true
}

// strings decodes an array of strings.
func (f *fields) strings(name string, required bool) (values []string, present bool) {
	raw, ok := f.raw[name]
	if !ok {
		if required {
			f.fail(name, "is required")
		}
		return nil, false
	}
	if isNull(raw) || json.Unmarshal(raw, &values) != nil {
		f.fail(name, "must be an array of strings")
		return nil, false
	}
	for _, v := range values {
		if strings.ContainsRune(v, 0) {
			f.fail(name, "must not contain NUL characters")
			return nil, false
		}
	}
	return values, true
}

// bool decodes a boolean field; present is false when absent.
func (f *fields) bool(name string) (value, present bool) {
	raw, ok := f.raw[name]
	if !ok {
		return false, false
	}
	if isNull(raw) || json.Unmarshal(raw, &value) != nil {
		f.fail(name, "must be true or false")
		return false, false
	}
	return value, true
}

// optionalInt decodes an integer that may be null (null clears it).
func (f *fields) optionalInt(name string) (value *int64, present bool) {
	raw, ok := f.raw[name]
	if !ok {
		return nil, false
	}
	if isNull(raw) {
		return nil, true
	}
	// Into any, not json.Number, which would take the string "5" too.
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, isNumber := v.(json.Number)
	if dec.Decode(&v) == nil {
		n, isNumber = v.(json.Number)
	}
	if !isNumber {
		f.fail(name, "must be an integer or null")
		return nil, false
	}
	i, err := n.Int64()
	if err != nil {
		f.fail(name, "must be an integer or null")
		return nil, false
	}
	return &i, true
}

// cursor is the opaque position of a page: the last row's (created_at, id).
type cursor struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// String encodes the cursor for nextCursor.
func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cursorParam decodes a cursor query parameter.
func (f *fields) cursorParam(v string) cursor {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" || strings.ContainsRune(c.ID, 0) {
		f.fail("cursor", "is not a cursor this API returned; pass nextCursor as it came")
	}
	return c
}

// limitParam decodes a limit query parameter, 1 to 100.
func (f *fields) limitParam(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		f.fail("limit", "must be an integer from 1 to 100, got %q", v)
		return 20
	}
	return n
}

// page is a list response: up to limit rows, and where the next page starts.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// newPage makes a page of the first limit of rows (fetched limit+1, to know
// whether more follow), with position giving a row's cursor.
func newPage[R, T any](rows []R, limit int, convert func(R) T, position func(R) cursor) page[T] {
	p := page[T]{Data: []T{}}
	for i, row := range rows {
		if i == limit {
			next := position(rows[limit-1]).String()
			p.NextCursor = &next
			break
		}
		p.Data = append(p.Data, convert(row))
	}
	return p
}
