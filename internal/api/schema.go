package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/expansion"
)

// A resource's schema is derived from its table's columns as the catalog
// says at the time of asking, so that ALTER TABLE changes it at once. Each
// column's schema says what a receiver gets for it: timestamps rendered as
// RFC 3339 UTC with milliseconds, numbers as JSON numbers except NaN and
// the infinities (strings), json and jsonb as they are, arrays as arrays of
// one dimension.

// jsonSchema is a JSON Schema object.
type jsonSchema = map[string]any

// resourceShape is what the catalogue knows of one tracked table.
type resourceShape struct {
	columns []db.TrackedColumnListRow
	// version changes whenever a column is added, dropped, renamed,
	// retyped or made (not) nullable.
	version string
}

// shapes groups the tracked columns by resource type.
func shapes(rows []db.TrackedColumnListRow) map[string]*resourceShape {
	out := map[string]*resourceShape{}
	for _, c := range rows {
		s := out[c.ResourceType]
		if s == nil {
			s = &resourceShape{}
			out[c.ResourceType] = s
		}
		s.columns = append(s.columns, c)
	}
	for _, s := range out {
		h := sha256.New()
		for _, c := range s.columns {
			fmt.Fprintf(h, "%s\x00%s\x00%t\x00", c.ColumnName, c.DataType, c.NotNull)
		}
		s.version = hex.EncodeToString(h.Sum(nil))[:12]
	}
	return out
}

// nonFiniteNumbers are how numeric and float columns' NaN and infinities
// reach receivers: as strings, since JSON has no such numbers.
var nonFiniteNumbers = []any{"NaN", "Infinity", "-Infinity"}

// valueSchema is the schema of a value of a base type (by name and
// category, pg_type's typname and typcategory).
func valueSchema(typeName, category string) jsonSchema {
	switch typeName {
	case "bool":
		return jsonSchema{"type": "boolean"}
	case "int2", "int4", "int8", "oid":
		return jsonSchema{"type": "integer"}
	case "numeric", "float4", "float8":
		return jsonSchema{"anyOf": []any{jsonSchema{"type": "number"}, jsonSchema{"enum": nonFiniteNumbers}}}
	case "timestamptz", "timestamp":
		return jsonSchema{"anyOf": []any{jsonSchema{"type": "string", "format": "date-time"}, jsonSchema{"enum": []any{"infinity", "-infinity"}}}}
	case "date":
		return jsonSchema{"anyOf": []any{jsonSchema{"type": "string", "format": "date"}, jsonSchema{"enum": []any{"infinity", "-infinity"}}}}
	case "json", "jsonb":
		return jsonSchema{} // any JSON value, as stored
	}
	switch category {
	case "C": // composite: an object of its attributes
		return jsonSchema{"type": "object"}
	case "S", "E", "D", "T", "I", "V", "G", "R", "U", "N", "P", "Z":
		// Text, enums, times, intervals, addresses, bits, geometry,
		// ranges, uuid, bytea, money and other types row_to_json writes
		// as strings.
		return jsonSchema{"type": "string"}
	}
	return jsonSchema{}
}

// columnSchema is the schema of a column's value in payloads.
func columnSchema(c db.TrackedColumnListRow) jsonSchema {
	var s jsonSchema
	if c.Category == "A" {
		s = jsonSchema{"type": "array", "items": nullable(valueSchema(c.ElementType, c.ElementCategory))}
	} else {
		s = valueSchema(c.BaseType, c.Category)
	}
	if !c.NotNull {
		s = nullable(s)
	}
	s["description"] = "PostgreSQL " + c.DataType
	return s
}

// nullable lets a schema take null too.
func nullable(s jsonSchema) jsonSchema {
	switch {
	case len(s) == 0:
		return s // anything, null included
	case s["anyOf"] != nil:
		return jsonSchema{"anyOf": append(append([]any{}, s["anyOf"].([]any)...), jsonSchema{"type": "null"})}
	case s["type"] != nil:
		out := jsonSchema{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []any{s["type"], "null"}
		return out
	}
	return s
}

// payloadSchema is the schema of a resource's payload: every column,
// keyed as receivers get it.
func payloadSchema(resource string, shape *resourceShape) jsonSchema {
	properties := jsonSchema{}
	required := []any{}
	for _, c := range shape.columns {
		key := expansion.PayloadKey(c.ColumnName)
		properties[key] = columnSchema(c)
		required = append(required, key)
	}
	return jsonSchema{
		"type": "object", "title": resource, "properties": properties, "required": required, "additionalProperties": false,
	}
}

// eventSchema is the JSON Schema (draft 2020-12) of the whole body of an
// event type's deliveries: the envelope around the payload, and on updates
// the changed fields' previous values. It is self-contained (no $ref), so
// that it reads the same alone and inside the OpenAPI document.
func eventSchema(name, description, op string, payload jsonSchema) jsonSchema {
	properties := jsonSchema{
		"id":            jsonSchema{"type": "string", "description": "The message: this event for this webhook, the same on every retry, and the webhook-id header. Deduplicate on it."},
		"eventId":       jsonSchema{"type": "string", "description": "The change, the same for every webhook that receives it."},
		"eventType":     jsonSchema{"const": name},
		"timestamp":     jsonSchema{"type": "string", "format": "date-time", "description": "When the change was captured, RFC 3339 UTC with milliseconds."},
		"workspaceId":   jsonSchema{"type": "string"},
		"applicationId": jsonSchema{"type": "string", "description": "The webhook's id."},
		"payload":       payload,
	}
	required := []any{"id", "eventId", "eventType", "timestamp", "workspaceId", "applicationId", "payload"}
	if op == "updated" {
		properties["previousAttributes"] = jsonSchema{
			"type": "object", "description": "The previous values of the fields that changed.", "minProperties": 1,
			"properties": payload["properties"], "additionalProperties": false,
		}
		required = append(required, "previousAttributes")
	}
	return jsonSchema{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                name,
		"description":          description,
		"type":                 "object",
		"properties":           properties,
		"required":             required,
		"additionalProperties": false,
	}
}

// exampleRow is a plausible row image of a resource, keyed by column as
// the outbox keeps it: the test event sends it, and the catalogue shows it
// as receivers get it. Investments look like the spec's example.
func exampleRow(shape *resourceShape, workspaceID, userID, id, now string) map[string]any {
	known := map[string]any{
		"id": id, "workspace_id": workspaceID, "created_by": userID, "visibility": "Workspace", "team_id": nil,
		"ticker_symbol": "KO", "name": "Coca-Cola Co", "country": "US", "exchange": "NYSE", "employees": 82500,
		"website": "https://www.coca-colacompany.com", "currency": "USD",
	}
	row := map[string]any{}
	for _, c := range shape.columns {
		if v, ok := known[c.ColumnName]; ok && (v != nil || !c.NotNull) {
			row[c.ColumnName] = v
			continue
		}
		if c.Category == "A" {
			row[c.ColumnName] = []any{exampleValue(c.ElementType, c.ElementCategory, c.ColumnName, now)}
			continue
		}
		row[c.ColumnName] = exampleValue(c.BaseType, c.Category, c.ColumnName, now)
	}
	return row
}

// exampleValue is a value of a base type for an example row.
func exampleValue(typeName, category, column, now string) any {
	switch typeName {
	case "bool":
		return false
	case "int2", "int4", "int8", "oid":
		return 1
	case "numeric", "float4", "float8":
		return 1.5
	case "timestamptz", "timestamp":
		return now
	case "date":
		return now[:10]
	case "json", "jsonb":
		return map[string]any{}
	}
	if category == "C" {
		return map[string]any{}
	}
	return strings.ReplaceAll(column, "_", " ")
}

// exampleChange is the column an example update changed, and its previous
// value: the name or title when there is one.
func exampleChange(shape *resourceShape, row map[string]any) (string, any) {
	c := shape.columns[len(shape.columns)-1]
	for _, candidate := range shape.columns {
		if candidate.ColumnName == "name" || candidate.ColumnName == "title" {
			c = candidate
			break
		}
	}
	if c.Category == "S" {
		return c.ColumnName, "Previous " + strings.ReplaceAll(c.ColumnName, "_", " ")
	}
	return c.ColumnName, row[c.ColumnName]
}
