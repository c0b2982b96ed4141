package filter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/countercyclical/webhooks/internal/filter"
)

// payload is an investment as a receiver gets it, with a nested jsonb
// column, an array column, a numeric with trailing zeros and a null.
const payload = `{
	"id": "inv_1", "tickerSymbol": "KO", "name": "Coca-Cola Co", "employees": 100.00,
	"valuation": 123456789012345678901234567890.5, "closedAt": null,
	"createdAt": "2026-11-30T08:00:00.000Z",
	"metadata": {"region": "eu", "board": {"seats": 7}}, "tags": ["consumer", "dividend"],
	"ratio": "NaN"
}`

func TestMatch(t *testing.T) {
	doc, err := filter.Decode([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"tickerSymbol": "KO"}`, true},
		{`{"tickerSymbol": "PEP"}`, false},
		{`{"tickerSymbol": "KO", "employees": {"$gte": 100}}`, true},
		{`{"tickerSymbol": "KO", "employees": {"$gt": 100}}`, false},
		// numbers by value: numeric's 100.00 is 100 and 1e2.
		{`{"employees": 100}`, true},
		{`{"employees": 1e2}`, true},
		{`{"employees": {"$in": [99, 100.0]}}`, true},
		{`{"employees": {"$nin": [99, 100.0]}}`, false},
		{`{"employees": {"$gte": 99.999, "$lt": 100.001}}`, true},
		// digits beyond a float64 still count.
		{`{"valuation": {"$gt": 123456789012345678901234567890.4}}`, true},
		{`{"valuation": {"$gt": 123456789012345678901234567890.6}}`, false},
		{`{"valuation": 123456789012345678901234567890.50}`, true},
		// kinds do not mix.
		{`{"employees": "100"}`, false},
		{`{"employees": {"$gt": "1"}}`, false},
		{`{"ratio": "NaN"}`, true},
		{`{"ratio": {"$gt": 0}}`, false},
		// nested fields, by dots or by objects.
		{`{"metadata.region": "eu"}`, true},
		{`{"metadata": {"region": "eu"}}`, true},
		{`{"metadata": {"board.seats": {"$gte": 7}}}`, true},
		{`{"metadata.board.seats": {"$lt": 7}}`, false},
		{`{"metadata": {"$eq": {"region": "eu", "board": {"seats": 7}}}}`, true},
		{`{"metadata.missing.deeper": {"$exists": false}}`, true},
		{`{"name.first": {"$exists": true}}`, false},
		// arrays: the array itself or one of its elements.
		{`{"tags": "dividend"}`, true},
		{`{"tags": "growth"}`, false},
		{`{"tags": ["consumer", "dividend"]}`, true},
		{`{"tags": ["dividend", "consumer"]}`, false},
		{`{"tags": {"$in": ["growth", "consumer"]}}`, true},
		{`{"tags": {"$ne": "dividend"}}`, false},
		{`{"tags.1": "dividend"}`, true},
		{`{"tags.2": {"$exists": true}}`, false},
		{`{"tags": {"$gt": "d"}}`, true},
		// null and missing.
		{`{"closedAt": null}`, true},
		{`{"closedAt": {"$exists": true}}`, true},
		{`{"nothere": null}`, true},
		{`{"nothere": {"$exists": true}}`, false},
		{`{"closedAt": {"$ne": null}}`, false},
		{`{"closedAt": {"$gt": ""}}`, false},
		{`{"nothere": {"$lt": 5}}`, false},
		// timestamps compare in time order as strings.
		{`{"createdAt": {"$gte": "2026-11-30T00:00:00.000Z", "$lt": "2026-12-01T00:00:00.000Z"}}`, true},
		{`{"createdAt": {"$lt": "2026-11-30T07:59:59.999Z"}}`, false},
		// logic.
		{`{"$or": [{"tickerSymbol": "PEP"}, {"employees": {"$gte": 50}}]}`, true},
		{`{"$or": [{"tickerSymbol": "PEP"}, {"employees": {"$lt": 50}}]}`, false},
		{`{"$and": [{"tickerSymbol": "KO"}, {"$not": {"metadata.region": "us"}}]}`, true},
		{`{"$not": {"tickerSymbol": "KO"}}`, false},
		{`{"metadata": {"$or": [{"region": "us"}, {"board.seats": 7}]}}`, true},
	} {
		f, err := filter.Parse([]byte(tc.filter))
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.filter, err)
			continue
		}
		if got := f.Match(doc); got != tc.want {
			t.Errorf("%s matched %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 11) + `1` + strings.Repeat(`}`, 11)
	for _, tc := range []struct {
		filter, path, reason string
	}{
		{`[]`, "", "must be a JSON object of conditions"},
		{`"KO"`, "", "must be a JSON object of conditions"},
		{`{"a": 1`, "", "must be a JSON object"},
		{`{"a": 1} {"b": 2}`, "", "must be one JSON object"},
		{`{"employees": {"$gte": true}}`, "employees.$gte", "must be a number or a string, got a boolean"},
		{`{"employees": {"$between": [1, 2]}}`, "employees.$between", "is not an operator"},
		{`{"employees": {"$in": 5}}`, "employees.$in", "must be an array of values, got a number"},
		{`{"employees": {"$exists": "yes"}}`, "employees.$exists", "must be true or false, got a string"},
		{`{"employees": {"$gt": 1, "max": 2}}`, "employees", "mixes operators"},
		{`{"employees": {}}`, "employees", "must not be an empty object"},
		{`{"$or": []}`, "$or", "must be a non-empty array of filters"},
		{`{"$or": {"a": 1}}`, "$or", "must be a non-empty array of filters"},
		{`{"$or": [{"a": 1}, 2]}`, "$or[1]", "must be a non-empty object of conditions"},
		{`{"$or": [{"a": {"$lt": null}}]}`, "$or[0].a.$lt", "must be a number or a string, got null"},
		{`{"$not": []}`, "$not", "must be a non-empty object of conditions"},
		{`{"$where": "1"}`, "$where", "is not an operator here"},
		{`{"metadata..region": 1}`, "metadata..region", "is not a field path"},
		{`{".a": 1}`, ".a", "is not a field path"},
		{`{"metadata": {"region": {"$regex": "e"}}}`, "metadata.region.$regex", "is not an operator"},
		{`{"a": {"$eq": 1e999}}`, "a.$eq", "out of range"},
		{deep, "a.a.a.a.a.a.a.a.a.a", "nested more than 10 deep"},
		{`{"a": "` + strings.Repeat("x", filter.MaxBytes) + `"}`, "", "must be at most 8192 bytes"},
	} {
		_, err := filter.Parse([]byte(tc.filter))
		var fe *filter.Error
		if !errors.As(err, &fe) {
			t.Errorf("Parse(%.60s) = %v, want a *filter.Error", tc.filter, err)
			continue
		}
		if fe.Path != tc.path || !strings.Contains(fe.Reason, tc.reason) {
			t.Errorf("Parse(%.60s): path %q, reason %q; want path %q, reason with %q", tc.filter, fe.Path, fe.Reason, tc.path, tc.reason)
		}
	}
}

func TestNilMatchesAll(t *testing.T) {
	var f *filter.Filter
	if !f.Match(nil) {
		t.Fatal("a nil filter refused a payload")
	}
}
