package expansion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/countercyclical/webhooks/webhook"
)

// renderPayload turns a captured row image into what a receiver gets, as
// the SQL function webhooks.payload does: keys in lowerCamelCase, in the
// image's order; the values of timestamp columns as RFC 3339 UTC with
// milliseconds; every other value as it is. Expansion renders each event
// once, here rather than in PostgreSQL, where the same work cost about a
// millisecond per event of the database's CPU that deliveries share.
// A null image renders as nil.
func renderPayload(image []byte, timestampColumns map[string]bool) ([]byte, error) {
	if len(image) == 0 || string(image) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(image))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("error rendering payload: not a JSON object")
	}
	var out bytes.Buffer
	out.Grow(len(image) + len(image)/8)
	out.WriteByte('{')
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("error rendering payload: %w", err)
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("error rendering payload: %w", err)
		}
		if i > 0 {
			out.WriteByte(',')
		}
		name, _ := json.Marshal(PayloadKey(key))
		out.Write(name)
		out.WriteByte(':')
		if timestampColumns[key] {
			value = renderTimestamp(value)
		}
		out.Write(value)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// PayloadKey is a column's key in payloads, as webhooks.camel_case makes
// it: ticker_symbol → tickerSymbol.
func PayloadKey(name string) string {
	if !strings.Contains(name, "_") {
		return name
	}
	parts := strings.Split(name, "_")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, part := range parts[1:] {
		r, size := utf8.DecodeRuneInString(part)
		if size > 0 {
			b.WriteRune(unicode.ToUpper(r))
		}
		b.WriteString(part[size:])
	}
	return b.String()
}

// Layouts row_to_json writes timestamps in: with the session's offset
// (hours, hours and minutes, or a historic one with seconds) or, for
// timestamp without time zone, none.
var timestampLayouts = []string{
	"2006-01-02T15:04:05.999999Z07:00",
	"2006-01-02T15:04:05.999999Z07",
	"2006-01-02T15:04:05.999999Z07:00:00",
	"2006-01-02T15:04:05.999999",
}

// renderTimestamp formats a timestamp value as receivers get it; anything
// else (null, infinity, a year past 9999 or BC) is left as it is, as
// webhooks.payload leaves it.
func renderTimestamp(value json.RawMessage) json.RawMessage {
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return value
	}
	if rendered := renderTimestampString(s); rendered != s {
		out, _ := json.Marshal(rendered)
		return out
	}
	return value
}

// renderTimestampString is renderTimestamp for a decoded string.
func renderTimestampString(s string) string {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(webhook.TimestampFormat)
		}
	}
	return s
}
