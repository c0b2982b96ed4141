// Package filter is the language of a webhook's payload filter: a JSON
// object of conditions on the fields of an event's payload, as the
// receiver gets it (lowerCamelCase keys, timestamps as RFC 3339 strings).
//
//	{"tickerSymbol": "KO", "employees": {"$gte": 100}}
//
// Each key of an object is a condition and all must hold. A key is a path
// into the payload, with dots for nested fields and numbers for array
// elements ("metadata.region", "tags.0"), or one of the logical operators
// $and and $or (a non-empty array of filters) and $not (a filter). A
// path's value is either a plain JSON value (equality), an object of
// operators, or an object of paths below it (which may combine them with
// $and, $or and $not):
//
//	$eq, $ne        equal, not equal (any JSON value)
//	$gt, $gte,      greater, less (or equal): numbers with numbers, strings
//	$lt, $lte       with strings (timestamps compare in time order)
//	$in, $nin       equal to one of, to none of (an array)
//	$exists         the field is there (true) or not (false), null or not
//
// As in MongoDB's queries, a condition on a field that holds an array holds
// when it holds for the array or for one of its elements, and equality with
// null also holds for a missing field. Numbers compare by value, exactly:
// 100, 100.0 and 1e2 are equal, as PostgreSQL's numeric columns give them.
//
// It imports nothing of this project.
package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Limits of a filter, so that matching one stays cheap.
const (
	MaxBytes = 8192 // the filter's JSON
	maxDepth = 10   // objects and arrays within each other
	maxIn    = 1000 // values of one $in or $nin
)

// Error says where a filter is wrong and why. Path is the place in the
// filter, such as `employees.$gte` or `$or[1].name`.
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Filter is a parsed filter. The zero of *Filter (nil) matches everything.
type Filter struct {
	root node
}

// node is one condition of a filter.
type node interface {
	match(payload any) bool
}

// Parse reads a filter. It refuses, with an *Error, anything it does not
// understand: a mistake in a filter must not silently match all or nothing.
// An empty object is no filter (nil).
func Parse(raw []byte) (*Filter, error) {
	if len(raw) > MaxBytes {
		return nil, &Error{Reason: fmt.Sprintf("must be at most %d bytes of JSON, got %d", MaxBytes, len(raw))}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Error{Reason: "must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Reason: "must be one JSON object"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Reason: "must be a JSON object of conditions, such as {\"tickerSymbol\": \"KO\"}"}
	}
	if len(obj) == 0 {
		return nil, nil
	}
	p := parser{}
	root, err := p.conditions(obj, "", "", 1)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

// Match reports whether a payload, decoded with json.Decoder.UseNumber,
// passes the filter.
func (f *Filter) Match(payload any) bool {
	if f == nil {
		return true
	}
	return f.root.match(payload)
}

// Decode decodes a payload for Match.
func Decode(payload []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("error decoding payload: %w", err)
	}
	return v, nil
}

type parser struct{}

// join names a place in the filter, for errors.
func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// conditions parses an object of conditions on the value at prefix (a path
// from the payload's root, "" for the root); where is its place in the
// filter.
func (p parser) conditions(obj map[string]any, prefix, where string, depth int) (node, error) {
	if depth > maxDepth {
		return nil, &Error{Path: where, Reason: fmt.Sprintf("is nested more than %d deep", maxDepth)}
	}
	keys := sortedKeys(obj)
	conds := make(all, 0, len(keys))
	for _, key := range keys {
		value := obj[key]
		here := join(where, key)
		switch {
		case key == "$and" || key == "$or":
			list, ok := value.([]any)
			if !ok || len(list) == 0 {
				return nil, &Error{Path: here, Reason: "must be a non-empty array of filters"}
			}
			parts := make([]node, len(list))
			for i, item := range list {
				itemWhere := fmt.Sprintf("%s[%d]", here, i)
				sub, ok := item.(map[string]any)
				if !ok || len(sub) == 0 {
					return nil, &Error{Path: itemWhere, Reason: "must be a non-empty object of conditions"}
				}
				n, err := p.conditions(sub, prefix, itemWhere, depth+1)
				if err != nil {
					return nil, err
				}
				parts[i] = n
			}
			if key == "$and" {
				conds = append(conds, and(parts))
			} else {
				conds = append(conds, or(parts))
			}
		case key == "$not":
			sub, ok := value.(map[string]any)
			if !ok || len(sub) == 0 {
				return nil, &Error{Path: here, Reason: "must be a non-empty object of conditions"}
			}
			n, err := p.conditions(sub, prefix, here, depth+1)
			if err != nil {
				return nil, err
			}
			conds = append(conds, not{n})
		case strings.HasPrefix(key, "$"):
			return nil, &Error{Path: here, Reason: "is not an operator here; fields take $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin and $exists, and filters $and, $or and $not"}
		default:
			segments := strings.Split(key, ".")
			if slices.Contains(segments, "") {
				return nil, &Error{Path: here, Reason: "is not a field path: dots separate non-empty field names"}
			}
			n, err := p.field(join(prefix, key), value, here, depth)
			if err != nil {
				return nil, err
			}
			conds = append(conds, n)
		}
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return conds, nil
}

// field parses the condition on one path.
func (p parser) field(path string, value any, where string, depth int) (node, error) {
	obj, ok := value.(map[string]any)
	if !ok {
		if err := checkValue(value, where, depth+1); err != nil {
			return nil, err
		}
		return test{path: splitPath(path), op: "$eq", operand: value}, nil
	}
	if len(obj) == 0 {
		return nil, &Error{Path: where, Reason: "must not be an empty object: to compare with {}, write {\"$eq\": {}}"}
	}
	// $and, $or and $not combine conditions on fields below this one.
	operators := 0
	for key := range obj {
		if strings.HasPrefix(key, "$") && key != "$and" && key != "$or" && key != "$not" {
			operators++
		}
	}
	switch {
	case operators == 0:
		// Fields below this one.
		return p.conditions(obj, path, where, depth+1)
	case operators < len(obj):
		return nil, &Error{Path: where, Reason: "mixes operators ($…) and fields; put the fields in an $and"}
	}
	keys := sortedKeys(obj)
	conds := make(all, 0, len(keys))
	for _, op := range keys {
		operand := obj[op]
		here := join(where, op)
		if err := checkValue(operand, here, depth+1); err != nil {
			return nil, err
		}
		switch op {
		case "$eq", "$ne":
		case "$gt", "$gte", "$lt", "$lte":
			switch operand.(type) {
			case json.Number, string:
			default:
				return nil, &Error{Path: here, Reason: "must be a number or a string, got " + kind(operand)}
			}
		case "$in", "$nin":
			list, ok := operand.([]any)
			if !ok {
				return nil, &Error{Path: here, Reason: "must be an array of values, got " + kind(operand)}
			}
			if len(list) > maxIn {
				return nil, &Error{Path: here, Reason: fmt.Sprintf("must have at most %d values, got %d", maxIn, len(list))}
			}
		case "$exists":
			if _, ok := operand.(bool); !ok {
				return nil, &Error{Path: here, Reason: "must be true or false, got " + kind(operand)}
			}
		default:
			return nil, &Error{Path: here, Reason: "is not an operator; fields take $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin and $exists"}
		}
		conds = append(conds, test{path: splitPath(path), op: op, operand: operand})
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return conds, nil
}

// checkValue refuses values nested deeper than the limit, and numbers
// beyond a float64's range, whose exact comparison could be costly.
func checkValue(v any, where string, depth int) error {
	if depth > maxDepth {
		return &Error{Path: where, Reason: fmt.Sprintf("is nested more than %d deep", maxDepth)}
	}
	switch v := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return &Error{Path: where, Reason: fmt.Sprintf("number %s is out of range", v)}
		}
	case []any:
		for _, e := range v {
			if err := checkValue(e, where, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range v {
			if err := checkValue(e, where, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

func sortedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func splitPath(path string) []string { return strings.Split(path, ".") }

type all []node

func (a all) match(payload any) bool {
	for _, n := range a {
		if !n.match(payload) {
			return false
		}
	}
	return true
}

type and []node

func (a and) match(payload any) bool { return all(a).match(payload) }

type or []node

func (o or) match(payload any) bool {
	for _, n := range o {
		if n.match(payload) {
			return true
		}
	}
	return false
}

type not struct{ n node }

func (n not) match(payload any) bool { return !n.n.match(payload) }

// test is one operator on one path.
type test struct {
	path    []string
	op      string
	operand any
}

func (t test) match(payload any) bool {
	value, present := lookup(payload, t.path)
	switch t.op {
	case "$exists":
		return present == t.operand.(bool)
	case "$eq":
		return equalOrContains(value, present, t.operand)
	case "$ne":
		return !equalOrContains(value, present, t.operand)
	case "$in":
		for _, v := range t.operand.([]any) {
			if equalOrContains(value, present, v) {
				return true
			}
		}
		return false
	case "$nin":
		for _, v := range t.operand.([]any) {
			if equalOrContains(value, present, v) {
				return false
			}
		}
		return true
	default:
		if !present {
			return false
		}
		if list, ok := value.([]any); ok {
			for _, e := range list {
				if ordered(t.op, e, t.operand) {
					return true
				}
			}
			return false
		}
		return ordered(t.op, value, t.operand)
	}
}

// lookup follows a path through objects and, by index, arrays.
func lookup(v any, path []string) (any, bool) {
	for _, key := range path {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[key]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// equalOrContains is equality with MongoDB's two extensions: a missing
// field equals null, and an array equals a value it contains.
func equalOrContains(value any, present bool, operand any) bool {
	if !present {
		return operand == nil
	}
	if equal(value, operand) {
		return true
	}
	if list, ok := value.([]any); ok {
		if _, isList := operand.([]any); !isList {
			for _, e := range list {
				if equal(e, operand) {
					return true
				}
			}
		}
	}
	return false
}

// equal is JSON equality, with numbers by value.
func equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case json.Number:
		b, ok := b.(json.Number)
		return ok && compareNumbers(a, b) == 0
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// ordered applies $gt, $gte, $lt or $lte to values of one kind; values of
// different kinds are never ordered.
func ordered(op string, value, operand any) bool {
	var c int
	switch a := value.(type) {
	case json.Number:
		b, ok := operand.(json.Number)
		if !ok {
			return false
		}
		c = compareNumbers(a, b)
	case string:
		b, ok := operand.(string)
		if !ok {
			return false
		}
		c = strings.Compare(a, b)
	default:
		return false
	}
	switch op {
	case "$gt":
		return c > 0
	case "$gte":
		return c >= 0
	case "$lt":
		return c < 0
	default:
		return c <= 0
	}
}

// compareNumbers compares JSON numbers exactly: numeric columns carry more
// digits than a float64.
func compareNumbers(a, b json.Number) int {
	if a == b {
		return 0
	}
	// Rounding to float64 keeps order, so floats that differ decide.
	if x, err := strconv.ParseFloat(string(a), 64); err == nil {
		if y, err := strconv.ParseFloat(string(b), 64); err == nil && x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	x, okx := new(big.Rat).SetString(string(a))
	y, oky := new(big.Rat).SetString(string(b))
	if !okx || !oky {
		return strings.Compare(string(a), string(b))
	}
	return x.Cmp(y)
}
