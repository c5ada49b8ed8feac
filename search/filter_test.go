package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decodePayload decodes a payload the way callers of Match must: with
// UseNumber.
func decodePayload(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("payload %s: %v", s, err)
	}
	return m
}

func mustParseFilter(t testing.TB, s string) *Filter {
	t.Helper()
	f, err := ParseFilter([]byte(s))
	if err != nil {
		t.Fatalf("ParseFilter(%s): %v", s, err)
	}
	return f
}

type filterCase struct {
	name    string
	filter  string
	payload string
	id      PointID
	want    bool
}

// must wraps one condition in a must filter.
func must(cond string) string { return `{"must":[` + cond + `]}` }

var filterCases = []filterCase{
	// match value
	{"value string", must(`{"key":"color","match":{"value":"red"}}`), `{"color":"red"}`, PointID{}, true},
	{"value string differs", must(`{"key":"color","match":{"value":"red"}}`), `{"color":"Red"}`, PointID{}, false},
	{"value string vs number", must(`{"key":"n","match":{"value":"5"}}`), `{"n":5}`, PointID{}, false},
	{"value int", must(`{"key":"n","match":{"value":5}}`), `{"n":5}`, PointID{}, true},
	{"value int vs float literal", must(`{"key":"n","match":{"value":5}}`), `{"n":5.0}`, PointID{}, false},
	{"value int vs string", must(`{"key":"n","match":{"value":5}}`), `{"n":"5"}`, PointID{}, false},
	{"value int beyond 2^53 exact", must(`{"key":"n","match":{"value":9007199254740993}}`), `{"n":9007199254740992}`, PointID{}, false},
	{"value int beyond 2^53 equal", must(`{"key":"n","match":{"value":9007199254740993}}`), `{"n":9007199254740993}`, PointID{}, true},
	{"value negative int", must(`{"key":"n","match":{"value":-9223372036854775808}}`), `{"n":-9223372036854775808}`, PointID{}, true},
	{"value bool", must(`{"key":"ok","match":{"value":true}}`), `{"ok":true}`, PointID{}, true},
	{"value bool false", must(`{"key":"ok","match":{"value":false}}`), `{"ok":true}`, PointID{}, false},
	{"value missing key", must(`{"key":"color","match":{"value":"red"}}`), `{}`, PointID{}, false},
	{"value null", must(`{"key":"color","match":{"value":"red"}}`), `{"color":null}`, PointID{}, false},
	{"value any array element", must(`{"key":"tags","match":{"value":"red"}}`), `{"tags":["blue","red"]}`, PointID{}, true},
	{"value no array element", must(`{"key":"tags","match":{"value":"red"}}`), `{"tags":["blue"]}`, PointID{}, false},
	{"value array in array not flattened", must(`{"key":"tags","match":{"value":"red"}}`), `{"tags":[["red"]]}`, PointID{}, false},
	{"value object", must(`{"key":"a","match":{"value":"red"}}`), `{"a":{"b":"red"}}`, PointID{}, false},

	// match any
	{"any strings", must(`{"key":"c","match":{"any":["red","green"]}}`), `{"c":"green"}`, PointID{}, true},
	{"any strings none", must(`{"key":"c","match":{"any":["red","green"]}}`), `{"c":"blue"}`, PointID{}, false},
	{"any ints", must(`{"key":"n","match":{"any":[1,2,3]}}`), `{"n":2}`, PointID{}, true},
	{"any ints vs string", must(`{"key":"n","match":{"any":[1,2,3]}}`), `{"n":"2"}`, PointID{}, false},
	{"any array element", must(`{"key":"n","match":{"any":[7,8]}}`), `{"n":[1,8]}`, PointID{}, true},
	{"any empty list", must(`{"key":"c","match":{"any":[]}}`), `{"c":"red"}`, PointID{}, false},
	{"any long list uses set", must(`{"key":"c","match":{"any":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}}`), `{"c":"q"}`, PointID{}, true},
	{"any long list miss", must(`{"key":"c","match":{"any":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}}`), `{"c":"z"}`, PointID{}, false},
	{"any long int list", must(`{"key":"n","match":{"any":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}}`), `{"n":17}`, PointID{}, true},

	// match except (Qdrant: some value not in the list and not null)
	{"except other value", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":"blue"}`, PointID{}, true},
	{"except listed value", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":"red"}`, PointID{}, false},
	{"except array with one other", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":["red","blue"]}`, PointID{}, true},
	{"except array all listed", must(`{"key":"c","match":{"except":["red","blue"]}}`), `{"c":["red","blue"]}`, PointID{}, false},
	{"except empty array", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":[]}`, PointID{}, false},
	{"except missing", must(`{"key":"c","match":{"except":["red"]}}`), `{}`, PointID{}, false},
	{"except null", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":null}`, PointID{}, false},
	{"except bool", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":true}`, PointID{}, true},
	{"except number vs strings", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":5}`, PointID{}, true},
	{"except string vs ints", must(`{"key":"c","match":{"except":[5]}}`), `{"c":"5"}`, PointID{}, true},
	{"except float vs ints", must(`{"key":"c","match":{"except":[5]}}`), `{"c":5.5}`, PointID{}, true},
	{"except listed int", must(`{"key":"c","match":{"except":[5]}}`), `{"c":5}`, PointID{}, false},
	{"except nested array", must(`{"key":"c","match":{"except":["red"]}}`), `{"c":[["red"]]}`, PointID{}, true},
	{"except empty list", must(`{"key":"c","match":{"except":[]}}`), `{"c":"red"}`, PointID{}, true},

	// must_not over arrays: the whole condition is negated
	{"must_not value in array", `{"must_not":[{"key":"tags","match":{"value":"red"}}]}`, `{"tags":["red","blue"]}`, PointID{}, false},
	{"must_not value absent from array", `{"must_not":[{"key":"tags","match":{"value":"red"}}]}`, `{"tags":["green","blue"]}`, PointID{}, true},
	{"must_not missing key passes", `{"must_not":[{"key":"tags","match":{"value":"red"}}]}`, `{}`, PointID{}, true},
	{"must_not any", `{"must_not":{"key":"tags","match":{"any":["red","green"]}}}`, `{"tags":["blue","green"]}`, PointID{}, false},
	{"must_not except", `{"must_not":{"key":"tags","match":{"except":["red"]}}}`, `{"tags":["red","blue"]}`, PointID{}, false},
	{"must_not except all listed", `{"must_not":{"key":"tags","match":{"except":["red"]}}}`, `{"tags":["red","red"]}`, PointID{}, true},

	// text
	{"text all words", must(`{"key":"t","match":{"text":"world HELLO"}}`), `{"t":"Hello, world!"}`, PointID{}, true},
	{"text missing word", must(`{"key":"t","match":{"text":"hello moon"}}`), `{"t":"Hello, world!"}`, PointID{}, false},
	{"text whole words only", must(`{"key":"t","match":{"text":"worl"}}`), `{"t":"Hello, world!"}`, PointID{}, false},
	{"text splits on punctuation", must(`{"key":"t","match":{"text":"e-mail"}}`), `{"t":"send mail by e, please"}`, PointID{}, true},
	{"text unicode case", must(`{"key":"t","match":{"text":"ÉCOLE"}}`), `{"t":"à l'école"}`, PointID{}, true},
	{"text digits", must(`{"key":"t","match":{"text":"v2"}}`), `{"t":"api v2 docs"}`, PointID{}, true},
	{"text array element", must(`{"key":"t","match":{"text":"moon"}}`), `{"t":["sun","blue moon"]}`, PointID{}, true},
	{"text not a string", must(`{"key":"t","match":{"text":"5"}}`), `{"t":5}`, PointID{}, false},
	{"text no words matches any string", must(`{"key":"t","match":{"text":"  ,"}}`), `{"t":"x"}`, PointID{}, true},
	{"text_any one word", must(`{"key":"t","match":{"text_any":"moon world"}}`), `{"t":"Hello, world!"}`, PointID{}, true},
	{"text_any none", must(`{"key":"t","match":{"text_any":"moon sun"}}`), `{"t":"Hello, world!"}`, PointID{}, false},
	{"text_any no words", must(`{"key":"t","match":{"text_any":""}}`), `{"t":"Hello"}`, PointID{}, false},
	{"phrase in order", must(`{"key":"t","match":{"phrase":"quick brown"}}`), `{"t":"The quick, brown fox"}`, PointID{}, true},
	{"phrase out of order", must(`{"key":"t","match":{"phrase":"brown quick"}}`), `{"t":"The quick, brown fox"}`, PointID{}, false},
	{"phrase not adjacent", must(`{"key":"t","match":{"phrase":"quick fox"}}`), `{"t":"The quick, brown fox"}`, PointID{}, false},
	{"phrase second occurrence", must(`{"key":"t","match":{"phrase":"a b"}}`), `{"t":"a c a b"}`, PointID{}, true},
	{"prefix", must(`{"key":"t","match":{"prefix":"doc"}}`), `{"t":"docs/a.md"}`, PointID{}, true},
	{"prefix case-sensitive", must(`{"key":"t","match":{"prefix":"Doc"}}`), `{"t":"docs/a.md"}`, PointID{}, false},

	// range
	{"range gt", must(`{"key":"p","range":{"gt":10}}`), `{"p":10.5}`, PointID{}, true},
	{"range gt equal", must(`{"key":"p","range":{"gt":10}}`), `{"p":10}`, PointID{}, false},
	{"range gte equal", must(`{"key":"p","range":{"gte":10}}`), `{"p":10}`, PointID{}, true},
	{"range gte int vs float bound", must(`{"key":"p","range":{"gte":10.0}}`), `{"p":10}`, PointID{}, true},
	{"range lt", must(`{"key":"p","range":{"lt":0}}`), `{"p":-0.001}`, PointID{}, true},
	{"range lte", must(`{"key":"p","range":{"lte":-1}}`), `{"p":-1.0}`, PointID{}, true},
	{"range between", must(`{"key":"p","range":{"gte":1,"lt":2}}`), `{"p":1.99}`, PointID{}, true},
	{"range between miss", must(`{"key":"p","range":{"gte":1,"lt":2}}`), `{"p":2}`, PointID{}, false},
	{"range big int exact", must(`{"key":"p","range":{"gt":9007199254740992}}`), `{"p":9007199254740993}`, PointID{}, true},
	{"range big int vs float bound", must(`{"key":"p","range":{"gt":9007199254740992.0}}`), `{"p":9007199254740993}`, PointID{}, true},
	{"range uint64 above int64", must(`{"key":"p","range":{"gt":9223372036854775807}}`), `{"p":18446744073709551615}`, PointID{}, true},
	{"range negative vs uint64", must(`{"key":"p","range":{"lt":-1}}`), `{"p":18446744073709551615}`, PointID{}, false},
	{"range exponent", must(`{"key":"p","range":{"gte":1e3}}`), `{"p":1000}`, PointID{}, true},
	{"range array any element", must(`{"key":"p","range":{"gt":5}}`), `{"p":[1,2,9]}`, PointID{}, true},
	{"range array no element", must(`{"key":"p","range":{"gt":5}}`), `{"p":[1,2]}`, PointID{}, false},
	{"range string value", must(`{"key":"p","range":{"gt":5}}`), `{"p":"9"}`, PointID{}, false},
	{"range missing", must(`{"key":"p","range":{"gt":5}}`), `{}`, PointID{}, false},
	{"must_not range missing", `{"must_not":{"key":"p","range":{"gt":5}}}`, `{}`, PointID{}, true},

	// datetime range
	{"datetime gte", must(`{"key":"d","range":{"gte":"2024-01-01T00:00:00Z"}}`), `{"d":"2024-01-01T01:00:00+01:00"}`, PointID{}, true},
	{"datetime gt same instant", must(`{"key":"d","range":{"gt":"2024-01-01T00:00:00Z"}}`), `{"d":"2024-01-01T01:00:00+01:00"}`, PointID{}, false},
	{"datetime fractions", must(`{"key":"d","range":{"gt":"2024-01-01T00:00:00.5Z"}}`), `{"d":"2024-01-01T00:00:00.500000001Z"}`, PointID{}, true},
	{"datetime naive is utc", must(`{"key":"d","range":{"lt":"2024-01-01T00:00:01Z"}}`), `{"d":"2024-01-01 00:00:00"}`, PointID{}, true},
	{"datetime date only", must(`{"key":"d","range":{"gte":"2024-03-01","lt":"2024-03-02"}}`), `{"d":"2024-03-01T23:59:59.999Z"}`, PointID{}, true},
	{"datetime offset without colon", must(`{"key":"d","range":{"lt":"2024-01-01T00:00:00Z"}}`), `{"d":"2024-01-01T00:30:00+0100"}`, PointID{}, true},
	{"datetime bad payload", must(`{"key":"d","range":{"gt":"2000-01-01T00:00:00Z"}}`), `{"d":"yesterday"}`, PointID{}, false},
	{"datetime number payload", must(`{"key":"d","range":{"gt":"2000-01-01T00:00:00Z"}}`), `{"d":1700000000}`, PointID{}, false},
	{"datetime array", must(`{"key":"d","range":{"lt":"2000-01-01"}}`), `{"d":["2020-01-01","1999-12-31"]}`, PointID{}, true},

	// values_count
	{"values_count array", must(`{"key":"a","values_count":{"gte":2}}`), `{"a":[1,2]}`, PointID{}, true},
	{"values_count array short", must(`{"key":"a","values_count":{"gt":2}}`), `{"a":[1,2]}`, PointID{}, false},
	{"values_count scalar is one", must(`{"key":"a","values_count":{"lte":1,"gte":1}}`), `{"a":"x"}`, PointID{}, true},
	{"values_count object is one", must(`{"key":"a","values_count":{"lt":2}}`), `{"a":{"b":1,"c":2}}`, PointID{}, true},
	{"values_count null is zero", must(`{"key":"a","values_count":{"lt":1}}`), `{"a":null}`, PointID{}, true},
	{"values_count missing is zero", must(`{"key":"a","values_count":{"lt":1}}`), `{}`, PointID{}, true},
	{"values_count missing gte", must(`{"key":"a","values_count":{"gte":1}}`), `{}`, PointID{}, false},

	// is_empty
	{"is_empty missing", must(`{"is_empty":{"key":"a"}}`), `{}`, PointID{}, true},
	{"is_empty null", must(`{"is_empty":{"key":"a"}}`), `{"a":null}`, PointID{}, true},
	{"is_empty empty array", must(`{"is_empty":{"key":"a"}}`), `{"a":[]}`, PointID{}, true},
	{"is_empty array of null", must(`{"is_empty":{"key":"a"}}`), `{"a":[null]}`, PointID{}, false},
	{"is_empty empty string", must(`{"is_empty":{"key":"a"}}`), `{"a":""}`, PointID{}, false},
	{"is_empty zero", must(`{"is_empty":{"key":"a"}}`), `{"a":0}`, PointID{}, false},
	{"is_empty empty object", must(`{"is_empty":{"key":"a"}}`), `{"a":{}}`, PointID{}, false},
	{"is_empty projection all empty", must(`{"is_empty":{"key":"a[].b"}}`), `{"a":[{"b":[]},{"b":null},{}]}`, PointID{}, true},
	{"is_empty projection one set", must(`{"is_empty":{"key":"a[].b"}}`), `{"a":[{"b":[]},{"b":1}]}`, PointID{}, false},

	// is_null
	{"is_null null", must(`{"is_null":{"key":"a"}}`), `{"a":null}`, PointID{}, true},
	{"is_null missing", must(`{"is_null":{"key":"a"}}`), `{}`, PointID{}, false},
	{"is_null array of null", must(`{"is_null":{"key":"a"}}`), `{"a":[null]}`, PointID{}, false},
	{"is_null value", must(`{"is_null":{"key":"a"}}`), `{"a":0}`, PointID{}, false},
	{"is_null projection any", must(`{"is_null":{"key":"a[].b"}}`), `{"a":[{"b":1},{"b":null}]}`, PointID{}, true},

	// has_id
	{"has_id number", must(`{"has_id":[1,2,3]}`), `{}`, NumPointID(2), true},
	{"has_id number miss", must(`{"has_id":[1,2,3]}`), `{}`, NumPointID(4), false},
	{"has_id uuid any case", must(`{"has_id":["550E8400-E29B-41D4-A716-446655440000"]}`), `{}`, uuidID("550e8400-e29b-41d4-a716-446655440000"), true},
	{"has_id uuid simple form", must(`{"has_id":["550e8400e29b41d4a716446655440000"]}`), `{}`, uuidID("550e8400-e29b-41d4-a716-446655440000"), true},
	{"has_id number is not uuid", must(`{"has_id":["550e8400-e29b-41d4-a716-446655440000"]}`), `{}`, NumPointID(0), false},
	{"must_not has_id", `{"must_not":{"has_id":[5]}}`, `{}`, NumPointID(5), false},

	// keys
	{"dotted key", must(`{"key":"a.b.c","match":{"value":1}}`), `{"a":{"b":{"c":1}}}`, PointID{}, true},
	{"dotted key does not enter arrays", must(`{"key":"a.b","match":{"value":1}}`), `{"a":[{"b":1}]}`, PointID{}, false},
	{"projection", must(`{"key":"a[].b","match":{"value":1}}`), `{"a":[{"b":2},{"b":1}]}`, PointID{}, true},
	{"projection of arrays flattens one level", must(`{"key":"a[].b","match":{"value":1}}`), `{"a":[{"b":[2,1]}]}`, PointID{}, true},
	{"projection on object reaches nothing", must(`{"key":"a[].b","match":{"value":1}}`), `{"a":{"b":1}}`, PointID{}, false},
	{"index", must(`{"key":"a[1]","match":{"value":"y"}}`), `{"a":["x","y"]}`, PointID{}, true},
	{"index other element", must(`{"key":"a[0]","match":{"value":"y"}}`), `{"a":["x","y"]}`, PointID{}, false},
	{"index out of range", must(`{"key":"a[5]","match":{"value":"y"}}`), `{"a":["x","y"]}`, PointID{}, false},
	{"quoted key", must(`{"key":"meta.\"file.name\"","match":{"value":"x"}}`), `{"meta":{"file.name":"x"}}`, PointID{}, true},
	{"double projection", must(`{"key":"a[].b[].c","match":{"value":3}}`), `{"a":[{"b":[{"c":1}]},{"b":[{"c":3}]}]}`, PointID{}, true},

	// nested: every condition on the same element
	{"nested same element", must(`{"nested":{"key":"dogs","filter":{"must":[{"key":"color","match":{"value":"white"}},{"key":"age","range":{"gt":5}}]}}}`),
		`{"dogs":[{"color":"white","age":3},{"color":"black","age":7}]}`, PointID{}, false},
	{"projection may mix elements", `{"must":[{"key":"dogs[].color","match":{"value":"white"}},{"key":"dogs[].age","range":{"gt":5}}]}`,
		`{"dogs":[{"color":"white","age":3},{"color":"black","age":7}]}`, PointID{}, true},
	{"nested one element matches", must(`{"nested":{"key":"dogs","filter":{"must":[{"key":"color","match":{"value":"white"}},{"key":"age","range":{"gt":5}}]}}}`),
		`{"dogs":[{"color":"white","age":9},{"color":"black","age":7}]}`, PointID{}, true},
	{"nested key with []", must(`{"nested":{"key":"dogs[]","filter":{"must":{"key":"age","range":{"gt":5}}}}}`), `{"dogs":[{"age":9}]}`, PointID{}, true},
	{"nested deep key", must(`{"nested":{"key":"a.dogs","filter":{"must":{"key":"age","range":{"gt":5}}}}}`), `{"a":{"dogs":[{"age":9}]}}`, PointID{}, true},
	{"nested on object", must(`{"nested":{"key":"dogs","filter":{"must":{"key":"age","range":{"gt":5}}}}}`), `{"dogs":{"age":9}}`, PointID{}, false},
	{"nested skips non-objects", must(`{"nested":{"key":"dogs","filter":{}}}`), `{"dogs":[1,"x"]}`, PointID{}, false},
	{"nested empty filter", must(`{"nested":{"key":"dogs","filter":{}}}`), `{"dogs":[{}]}`, PointID{}, true},
	{"nested must_not", must(`{"nested":{"key":"dogs","filter":{"must_not":{"key":"age","range":{"gt":5}}}}}`), `{"dogs":[{"age":9},{"age":1}]}`, PointID{}, true},
	{"must_not nested", `{"must_not":{"nested":{"key":"dogs","filter":{"must":{"key":"age","range":{"gt":5}}}}}}`, `{"dogs":[{"age":9},{"age":1}]}`, PointID{}, false},
	{"nested is_empty inside", must(`{"nested":{"key":"d","filter":{"must":{"is_empty":{"key":"x"}}}}}`), `{"d":[{"x":1},{"y":1}]}`, PointID{}, true},
	{"nested in nested", must(`{"nested":{"key":"a","filter":{"must":{"nested":{"key":"b","filter":{"must":{"key":"c","match":{"value":1}}}}}}}}`), `{"a":[{"b":[{"c":2}]},{"b":[{"c":1}]}]}`, PointID{}, true},

	// combinations
	{"empty filter", `{}`, `{"a":1}`, PointID{}, true},
	{"empty must", `{"must":[]}`, `{}`, PointID{}, true},
	{"empty must_not", `{"must_not":[]}`, `{}`, PointID{}, true},
	{"empty should matches nothing", `{"should":[]}`, `{}`, PointID{}, false},
	{"null lists are absent", `{"must":null,"should":null,"must_not":null,"min_should":null}`, `{}`, PointID{}, true},
	{"should one", `{"should":[{"key":"a","match":{"value":1}},{"key":"b","match":{"value":1}}]}`, `{"b":1}`, PointID{}, true},
	{"should none", `{"should":[{"key":"a","match":{"value":1}},{"key":"b","match":{"value":1}}]}`, `{"b":2}`, PointID{}, false},
	{"should single object", `{"should":{"key":"a","match":{"value":1}}}`, `{"a":1}`, PointID{}, true},
	{"must and should", `{"must":{"key":"a","match":{"value":1}},"should":[{"key":"b","match":{"value":1}}]}`, `{"a":1,"b":2}`, PointID{}, false},
	{"must and must_not", `{"must":{"key":"a","match":{"value":1}},"must_not":[{"key":"b","match":{"value":1}}]}`, `{"a":1,"b":1}`, PointID{}, false},
	{"min_should met", `{"min_should":{"conditions":[{"key":"a","match":{"value":1}},{"key":"b","match":{"value":1}},{"key":"c","match":{"value":1}}],"min_count":2}}`, `{"a":1,"c":1}`, PointID{}, true},
	{"min_should short", `{"min_should":{"conditions":[{"key":"a","match":{"value":1}},{"key":"b","match":{"value":1}},{"key":"c","match":{"value":1}}],"min_count":2}}`, `{"a":1}`, PointID{}, false},
	{"min_should above count", `{"min_should":{"conditions":[{"key":"a","match":{"value":1}}],"min_count":2}}`, `{"a":1}`, PointID{}, false},
	{"filter as condition", `{"must":[{"should":[{"key":"a","match":{"value":1}},{"key":"a","match":{"value":2}}]},{"key":"b","match":{"value":true}}]}`, `{"a":2,"b":true}`, PointID{}, true},
	{"filter as condition fails", `{"must":[{"should":[{"key":"a","match":{"value":1}},{"key":"a","match":{"value":2}}]},{"key":"b","match":{"value":true}}]}`, `{"a":3,"b":true}`, PointID{}, false},
	{"must_not filter", `{"must_not":[{"must":[{"key":"a","match":{"value":1}},{"key":"b","match":{"value":1}}]}]}`, `{"a":1,"b":2}`, PointID{}, true},
	{"has_id and payload", `{"must":[{"has_id":[7]},{"key":"a","match":{"value":1}}]}`, `{"a":1}`, NumPointID(7), true},
	{"null field condition kinds are absent", must(`{"key":"a","match":{"value":1},"range":null}`), `{"a":1}`, PointID{}, true},
}

// TestFilterMatch pins every condition kind against Qdrant's semantics,
// including arrays, missing keys, nested and must_not.
func TestFilterMatch(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParseFilter(t, tc.filter)
			p := decodePayload(t, tc.payload)
			if got := f.Match(tc.id, p); got != tc.want {
				t.Errorf("filter %s\npayload %s: Match = %v, want %v", tc.filter, tc.payload, got, tc.want)
			}
		})
	}
}

// TestFilterMatchPlainTypes pins that payloads decoded without UseNumber or
// built in Go still match.
func TestFilterMatchPlainTypes(t *testing.T) {
	cases := []struct {
		filter  string
		payload map[string]any
		want    bool
	}{
		{must(`{"key":"n","match":{"value":5}}`), map[string]any{"n": 5.0}, true},
		{must(`{"key":"n","match":{"value":5}}`), map[string]any{"n": 5}, true},
		{must(`{"key":"n","match":{"value":5}}`), map[string]any{"n": int64(5)}, true},
		{must(`{"key":"n","match":{"value":5}}`), map[string]any{"n": uint64(5)}, true},
		{must(`{"key":"n","match":{"value":5}}`), map[string]any{"n": 5.5}, false},
		{must(`{"key":"n","range":{"gt":5}}`), map[string]any{"n": uint64(math.MaxUint64)}, true},
		{must(`{"key":"n","range":{"gt":5}}`), map[string]any{"n": math.NaN()}, false},
		{must(`{"key":"n","range":{"lt":5}}`), map[string]any{"n": int(-3)}, true},
		{must(`{"key":"n","match":{"value":"x"}}`), map[string]any{"n": []string{"x"}}, false}, // only []any is an array
		{must(`{"key":"n","match":{"value":"x"}}`), nil, false},
		{must(`{"is_empty":{"key":"n"}}`), nil, true},
	}
	for _, tc := range cases {
		if got := mustParseFilter(t, tc.filter).Match(PointID{}, tc.payload); got != tc.want {
			t.Errorf("filter %s payload %#v: Match = %v, want %v", tc.filter, tc.payload, got, tc.want)
		}
	}
	var nilFilter *Filter
	if !nilFilter.Match(PointID{}, nil) {
		t.Error("a nil filter must match every point")
	}
}

// TestParseFilterErrors pins that bad filters are refused with an error
// that wraps ErrBadFilter and names the place.
func TestParseFilterErrors(t *testing.T) {
	cases := []struct{ filter, want string }{
		{``, "bad filter: unexpected end of JSON"},
		{`{"must":[}`, "bad filter: must: invalid JSON"},
		{`{} {}`, "bad filter: data after the filter object"},
		{`[]`, "bad filter: want a filter object, got an array"},
		{`null`, "bad filter: want a filter object, got null"},
		{`{"must":[],"must":[]}`, "bad filter: must: duplicate field"},
		{`{"mustnt":[]}`, "bad filter: mustnt: unknown field (want must, should, must_not or min_should)"},
		{`{"must":"a"}`, "bad filter: must: want a condition or an array of conditions, got a string"},
		{`{"must":[1]}`, "bad filter: must[0]: want a condition object, got the number 1"},
		{`{"must":[{}]}`, "bad filter: must[0]: empty condition"},
		{`{"must":{"foo":1}}`, "bad filter: must.foo: unknown field"},
		{`{"must":[{"has_id":[1],"is_null":{"key":"a"}}]}`, "bad filter: must[0]: two kinds of condition: has_id and is_null"},
		{`{"must":[{"key":"a","has_id":[1]}]}`, "bad filter: must[0]: two kinds of condition: has_id and key"},
		{`{"must":[{"has_id":[1],"must":[]}]}`, "bad filter: must[0]: two kinds of condition: filter and has_id"},
		{`{"must":[{"match":{"value":1}}]}`, "bad filter: must[0].key: missing"},
		{`{"must":[{"key":5,"match":{"value":1}}]}`, "bad filter: must[0].key: want a string, got the number 5"},
		{`{"must":[{"key":"a..b","match":{"value":1}}]}`, `bad filter: must[0].key: "a..b" is not a valid key`},
		{`{"must":[{"key":"a[x]","match":{"value":1}}]}`, `bad filter: must[0].key: "a[x]" is not a valid key: bad array index "[x]"`},
		{`{"must":[{"key":"","match":{"value":1}}]}`, `bad filter: must[0].key: "" is not a valid key`},
		{`{"must":[{"key":"a b","match":{"value":1}}]}`, `bad filter: must[0].key: "a b" is not a valid key: unexpected " "`},
		{`{"must":[{"key":"a"}]}`, `bad filter: must[0]: no condition on key "a" (want match, range or values_count)`},
		{`{"must":[{"key":"a","match":{"value":1},"range":{"gt":1}}]}`, "bad filter: must[0]: two kinds of condition: match and range"},
		{`{"must":[{"key":"a","matches":{"value":1}}]}`, "bad filter: must[0].matches: unknown field"},
		{`{"must":[{"key":"a","match":{}}]}`, "bad filter: must[0].match: no match kind"},
		{`{"must":[{"key":"a","match":{"value":1,"any":[1]}}]}`, "bad filter: must[0].match: two kinds of match: any and value"},
		{`{"must":[{"key":"a","match":{"values":1}}]}`, "bad filter: must[0].match.values: unknown field"},
		{`{"must":[{"key":"a","match":{"value":1.5}}]}`, "bad filter: must[0].match.value: want a string, a boolean or an integer in int64 range, got the number 1.5"},
		{`{"must":[{"key":"a","match":{"value":9223372036854775808}}]}`, "bad filter: must[0].match.value: want a string, a boolean or an integer in int64 range"},
		{`{"must":[{"key":"a","match":{"value":[1]}}]}`, "bad filter: must[0].match.value: want a string, an integer or a boolean, got an array"},
		{`{"must":[{"key":"a","match":{"any":"x"}}]}`, "bad filter: must[0].match.any: want an array of strings or of integers, got a string"},
		{`{"must":[{"key":"a","match":{"any":["x",1]}}]}`, "bad filter: must[0].match.any[1]: want a string like the first value, got the number 1"},
		{`{"must":[{"key":"a","match":{"except":[1,"x"]}}]}`, "bad filter: must[0].match.except[1]: want an integer in int64 range like the first value, got a string"},
		{`{"must":[{"key":"a","match":{"any":[true]}}]}`, "bad filter: must[0].match.any[0]: want a string like the first value, got a boolean"},
		{`{"must":[{"key":"a","match":{"text":5}}]}`, "bad filter: must[0].match.text: want a string, got the number 5"},
		{`{"must":[{"key":"a","range":{}}]}`, "bad filter: must[0].range: no bound (want gt, gte, lt or lte)"},
		{`{"must":[1,2,{"key":"a","range":{"gt":null}}]}`, "bad filter: must[0]: want a condition object"},
		{`{"must":[{"key":"a","range":{"gt":null}}]}`, "bad filter: must[0].range: no bound"},
		{`{"must":[{"key":"a","range":{"gt":"x"}}]}`, `bad filter: must[0].range.gt: "x" is not an RFC 3339 datetime`},
		{`{"must":[{"key":"a","range":{"gt":"2024-01-01","lt":5}}]}`, "bad filter: must[0].range.lt: want a datetime string like the other bounds, got the number 5"},
		{`{"must":[{"key":"a","range":{"gt":true}}]}`, "bad filter: must[0].range.gt: want a number or an RFC 3339 datetime string, got a boolean"},
		{`{"must":[{"key":"a","range":{"gt":1e400}}]}`, "bad filter: must[0].range.gt: 1e400 is out of float64 range"},
		{`{"must":[{"key":"a","range":{"gt":1,"ne":2}}]}`, "bad filter: must[0].range.ne: unknown field"},
		{`{"must":[{"key":"a","range":"5"}]}`, "bad filter: must[0].range: want an object with gt, gte, lt or lte, got a string"},
		{`{"must":[{"key":"a","values_count":{}}]}`, "bad filter: must[0].values_count: no bound"},
		{`{"must":[{"key":"a","values_count":{"gt":-1}}]}`, "bad filter: must[0].values_count.gt: want a non-negative integer, got the number -1"},
		{`{"must":[{"key":"a","values_count":{"gt":1.5}}]}`, "bad filter: must[0].values_count.gt: want a non-negative integer"},
		{`{"must":[{"key":"a","geo_radius":{"center":{"lat":0,"lon":0},"radius":1}}]}`, "bad filter: must[0].geo_radius: condition not supported"},
		{`{"must":[{"key":"a","is_empty":true}]}`, `bad filter: must[0].is_empty: the field-condition form is not supported; use {"is_empty":{"key":"a"}}`},
		{`{"must":[{"has_vector":"v"}]}`, "bad filter: must[0].has_vector: condition not supported"},
		{`{"must":[{"is_empty":"a"}]}`, `bad filter: must[0].is_empty: want {"key":...}, got a string`},
		{`{"must":[{"is_null":{"key":"a","x":1}}]}`, "bad filter: must[0].is_null.x: unknown field (want key)"},
		{`{"must":[{"is_null":{}}]}`, "bad filter: must[0].is_null.key: missing"},
		{`{"must":[{"has_id":1}]}`, "bad filter: must[0].has_id: want an array of point ids, got the number 1"},
		{`{"must":[{"has_id":[1,-2]}]}`, "bad filter: must[0].has_id[1]: bad point id: -2 is not an unsigned 64-bit integer"},
		{`{"must":[{"has_id":["42"]}]}`, `bad filter: must[0].has_id[0]: bad point id: "42" is not a UUID`},
		{`{"must":[{"has_id":[1.0]}]}`, "bad filter: must[0].has_id[0]: bad point id: 1.0 is not an unsigned 64-bit integer"},
		{`{"must":[{"has_id":[18446744073709551616]}]}`, "bad filter: must[0].has_id[0]: bad point id"},
		{`{"must":[{"nested":{"key":"a"}}]}`, "bad filter: must[0].nested.filter: missing"},
		{`{"must":[{"nested":{"filter":{}}}]}`, "bad filter: must[0].nested.key: missing"},
		{`{"must":[{"nested":{"key":"a","filter":{},"x":1}}]}`, "bad filter: must[0].nested.x: unknown field (want key and filter)"},
		{`{"must":[{"nested":{"key":"a","filter":{"must":[{"has_id":[1]}]}}}]}`, "bad filter: must[0].nested.filter.must[0].has_id: has_id is not allowed inside a nested filter"},
		{`{"must":[{"nested":{"key":"a","filter":{"must":[{"key":"b","range":{}}]}}}]}`, "bad filter: must[0].nested.filter.must[0].range: no bound"},
		{`{"should":{"must":{"key":"b","range":{}}}}`, "bad filter: should.must.range: no bound"},
		{`{"min_should":{"conditions":[]}}`, "bad filter: min_should.min_count: missing"},
		{`{"min_should":{"min_count":1}}`, "bad filter: min_should.conditions: missing"},
		{`{"min_should":{"conditions":[],"min_count":0}}`, "bad filter: min_should.min_count: want an integer of at least 1, got the number 0"},
		{`{"min_should":{"conditions":{},"min_count":1}}`, "bad filter: min_should.conditions: want an array of conditions, got an object"},
		{`{"min_should":{"conditions":[{"key":"a","range":{}}],"min_count":1}}`, "bad filter: min_should.conditions[0].range: no bound"},
		{`{"min_should":{"conditions":[],"min_count":1,"max":2}}`, "bad filter: min_should.max: unknown field"},
	}
	for _, tc := range cases {
		_, err := ParseFilter([]byte(tc.filter))
		if err == nil {
			t.Errorf("ParseFilter(%s) succeeded, want error %q", tc.filter, tc.want)
			continue
		}
		if !errors.Is(err, ErrBadFilter) {
			t.Errorf("ParseFilter(%s) = %v, want an ErrBadFilter", tc.filter, err)
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseFilter(%s)\n got %q\nwant %q...", tc.filter, err, tc.want)
		}
	}
	_, err := ParseFilter([]byte(`{"must":{"has_id":["nope"]}}`))
	if !errors.Is(err, ErrBadPointID) {
		t.Errorf("a bad has_id id gives %v, want it to wrap ErrBadPointID too", err)
	}
}

// nestFilters returns a filter nested depth levels deep, alternating the
// filter-as-condition and nested forms.
func nestFilters(depth int) string {
	inner := `{"must":[{"key":"x","match":{"value":1}}]}`
	for d := 1; d < depth; d++ {
		if d%2 == 0 {
			inner = `{"must":[` + inner + `]}`
		} else {
			inner = `{"must":[{"nested":{"key":"n","filter":` + inner + `}}]}`
		}
	}
	return inner
}

// TestFilterLimits pins MaxFilterDepth and MaxFilterConditions, and that
// JSON nested far deeper is refused before it is walked.
func TestFilterLimits(t *testing.T) {
	if _, err := ParseFilter([]byte(nestFilters(MaxFilterDepth))); err != nil {
		t.Errorf("a filter %d deep: %v", MaxFilterDepth, err)
	}
	_, err := ParseFilter([]byte(nestFilters(MaxFilterDepth + 1)))
	if !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), fmt.Sprintf("filters nested deeper than %d levels", MaxFilterDepth)) {
		t.Errorf("a filter %d deep: %v, want the depth error", MaxFilterDepth+1, err)
	}

	conds := func(n int) string {
		c := make([]string, n)
		for i := range c {
			c[i] = `{"key":"a","match":{"value":1}}`
		}
		return `{"should":[` + strings.Join(c, ",") + `]}`
	}
	if _, err := ParseFilter([]byte(conds(MaxFilterConditions))); err != nil {
		t.Errorf("%d conditions: %v", MaxFilterConditions, err)
	}
	_, err = ParseFilter([]byte(conds(MaxFilterConditions + 1)))
	if !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), fmt.Sprintf("should[%d]: more than %d conditions", MaxFilterConditions, MaxFilterConditions)) {
		t.Errorf("%d conditions: %v, want the count error", MaxFilterConditions+1, err)
	}
	// Conditions inside nested filters count too.
	nested := `{"must":[` + strings.Repeat(`{"nested":{"key":"a","filter":{"must":{"key":"b","match":{"value":1}}}}},`, MaxFilterConditions/2) + `{"has_id":[1]}]}`
	if _, err := ParseFilter([]byte(nested)); !errors.Is(err, ErrBadFilter) {
		t.Errorf("%d conditions counting nested ones: %v, want the count error", MaxFilterConditions+1, err)
	}

	for _, deep := range []string{
		strings.Repeat("[", 200000),
		strings.Repeat(`{"must":`, 100000),
		`{"must":{"key":"a","match":{"any":` + strings.Repeat("[", 100000) + `}}}`,
	} {
		_, err := ParseFilter([]byte(deep))
		if !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), "JSON nested deeper than") {
			t.Errorf("deep JSON %.20s...: %v, want the JSON depth error", deep, err)
		}
	}
}

// TestFilterRoundTrip pins that MarshalJSON writes Qdrant's shape and that
// parsing it gives back an equal filter.
func TestFilterRoundTrip(t *testing.T) {
	in := `{
		"must": {"key": "city", "match": {"value": "London"}},
		"should": [
			{"key": "n", "match": {"any": [3, 1, 3]}},
			{"key": "tags[].name", "match": {"except": ["a", "b"]}},
			{"key": "t", "match": {"text": "Hello World"}},
			{"key": "t", "match": {"text_any": "x y"}},
			{"key": "t", "match": {"phrase": "x y"}},
			{"key": "t", "match": {"prefix": "x"}},
			{"key": "ok", "match": {"value": false}},
			{"key": "p", "range": {"gte": 1.50, "lt": 9007199254740993, "gt": null}},
			{"key": "d", "range": {"gt": "2024-01-01T00:00:00+02:00"}},
			{"key": "a", "values_count": {"lte": 3}},
			{"is_empty": {"key": "a.\"b c\""}},
			{"is_null": {"key": "a[0]"}},
			{"has_id": [5, "550E8400-E29B-41D4-A716-446655440000", 5]},
			{"nested": {"key": "dogs", "filter": {"must_not": [{"key": "age", "range": {"lt": 1}}]}}},
			{"should": [], "must": []}
		],
		"must_not": [],
		"min_should": {"conditions": [{"key": "z", "match": {"value": -7}}], "min_count": 1}
	}`
	f := mustParseFilter(t, in)
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"min_should":{"conditions":[{"key":"z","match":{"value":-7}}],"min_count":1},` +
		`"must":[{"key":"city","match":{"value":"London"}}],"must_not":[],"should":[` +
		`{"key":"n","match":{"any":[3,1]}},` +
		`{"key":"tags[].name","match":{"except":["a","b"]}},` +
		`{"key":"t","match":{"text":"Hello World"}},` +
		`{"key":"t","match":{"text_any":"x y"}},` +
		`{"key":"t","match":{"phrase":"x y"}},` +
		`{"key":"t","match":{"prefix":"x"}},` +
		`{"key":"ok","match":{"value":false}},` +
		`{"key":"p","range":{"gte":1.50,"lt":9007199254740993}},` +
		`{"key":"d","range":{"gt":"2024-01-01T00:00:00+02:00"}},` +
		`{"key":"a","values_count":{"lte":3}},` +
		`{"is_empty":{"key":"a.\"b c\""}},` +
		`{"is_null":{"key":"a[0]"}},` +
		`{"has_id":[5,"550e8400-e29b-41d4-a716-446655440000"]},` +
		`{"nested":{"filter":{"must_not":[{"key":"age","range":{"lt":1}}]},"key":"dogs"}},` +
		`{"must":[],"should":[]}]}`
	if string(out) != want {
		t.Errorf("MarshalJSON\n got %s\nwant %s", out, want)
	}
	g := mustParseFilter(t, string(out))
	if !reflect.DeepEqual(f, g) {
		t.Errorf("re-parsed filter differs:\n%#v\n%#v", f, g)
	}

	// A Filter sits in a request struct; null leaves it absent.
	var req struct {
		Filter *Filter `json:"filter"`
		Limit  int     `json:"limit"`
	}
	if err := json.Unmarshal([]byte(`{"filter":{"must":{"has_id":[1]}},"limit":3}`), &req); err != nil || req.Filter == nil {
		t.Fatalf("request with a filter: %v, %v", err, req.Filter)
	}
	if !req.Filter.Match(NumPointID(1), nil) || req.Filter.Match(NumPointID(2), nil) {
		t.Error("the filter decoded in a request does not match as parsed")
	}
	req.Filter = nil
	if err := json.Unmarshal([]byte(`{"filter":null}`), &req); err != nil || req.Filter != nil {
		t.Errorf("request with a null filter: %v, %v", err, req.Filter)
	}
	err = json.Unmarshal([]byte(`{"filter":{"must":{"key":"a","range":{}}}}`), &req)
	if !errors.Is(err, ErrBadFilter) {
		t.Errorf("request with a bad filter: %v, want ErrBadFilter", err)
	}
	if b, _ := (*Filter)(nil).MarshalJSON(); string(b) != "null" {
		t.Errorf("nil filter marshals to %s, want null", b)
	}
}

// TestFilterMatchDoesNotAllocate pins that Match costs no allocation for
// the common conditions, so it can run inside the HNSW walk.
func TestFilterMatchDoesNotAllocate(t *testing.T) {
	f := mustParseFilter(t, `{
		"must": [
			{"key": "color", "match": {"value": "red"}},
			{"key": "n", "match": {"value": 5}},
			{"key": "tags", "match": {"any": ["x", "y"]}},
			{"key": "tags", "match": {"any": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","x"]}},
			{"key": "tags", "match": {"except": ["z"]}},
			{"key": "price", "range": {"gte": 1.5, "lt": 100}},
			{"key": "big", "range": {"gt": 9007199254740992}},
			{"key": "at", "range": {"gte": "2024-01-01T00:00:00Z"}},
			{"key": "text", "match": {"text": "QUICK fox"}},
			{"key": "text", "match": {"phrase": "brown fox"}},
			{"key": "tags", "values_count": {"gte": 2}},
			{"key": "dogs[].age", "range": {"gt": 1}},
			{"is_empty": {"key": "gone"}},
			{"is_null": {"key": "none"}},
			{"has_id": [1, 2, 3]},
			{"nested": {"key": "dogs", "filter": {"must": [{"key": "age", "range": {"gt": 5}}, {"key": "name", "match": {"text_any": "rex"}}]}}},
			{"should": [{"key": "ok", "match": {"value": true}}]}
		],
		"must_not": [{"key": "color", "match": {"value": "blue"}}],
		"min_should": {"conditions": [{"key": "n", "range": {"gt": 1}}, {"key": "n", "range": {"gt": 2}}], "min_count": 2}
	}`)
	p := decodePayload(t, `{"color":"red","n":5,"tags":["x","q"],"price":9.99,"big":9007199254740993,
		"at":"2024-06-01T10:00:00+02:00","text":"The quick brown fox","none":null,"ok":true,
		"dogs":[{"age":3,"name":"Fido"},{"age":7,"name":"Rex the dog"}]}`)
	id := NumPointID(2)
	if !f.Match(id, p) {
		t.Fatal("the payload should match; the allocation count would mean little")
	}
	if n := testing.AllocsPerRun(200, func() { f.Match(id, p) }); n != 0 {
		t.Errorf("Match allocates %v times a call, want 0", n)
	}
}

// TestFilterIDs pins what IDs reports to a planner.
func TestFilterIDs(t *testing.T) {
	u := uuidID("550e8400-e29b-41d4-a716-446655440000")
	cases := []struct {
		filter string
		ids    []PointID
		only   bool
	}{
		{`{"must":{"has_id":[3,1,3]}}`, []PointID{NumPointID(3), NumPointID(1)}, true},
		{`{"must":[{"has_id":[3,"550e8400-e29b-41d4-a716-446655440000"]}]}`, []PointID{NumPointID(3), u}, true},
		{`{"must":[{"has_id":[1,2,3]},{"has_id":[3,2,9]}]}`, []PointID{NumPointID(2), NumPointID(3)}, true},
		{`{"must":[{"has_id":[1]},{"has_id":[2]}]}`, []PointID{}, true},
		{`{"must":[{"has_id":[]}]}`, []PointID{}, true},
		{`{"must":[{"has_id":[1,2]},{"key":"a","match":{"value":1}}]}`, []PointID{NumPointID(1), NumPointID(2)}, false},
		{`{"must":[{"has_id":[1]}],"must_not":[{"has_id":[1]}]}`, []PointID{NumPointID(1)}, false},
		{`{"must":[{"has_id":[1]}],"should":[]}`, []PointID{NumPointID(1)}, false},
		{`{"should":[{"has_id":[1]}]}`, nil, false},
		{`{"must":[{"must":{"has_id":[1]}}]}`, nil, false},
		{`{}`, nil, false},
	}
	for _, tc := range cases {
		ids, only := mustParseFilter(t, tc.filter).IDs()
		if !reflect.DeepEqual(ids, tc.ids) || only != tc.only {
			t.Errorf("IDs of %s = %v, %v; want %v, %v", tc.filter, ids, only, tc.ids, tc.only)
		}
	}
	if ids, only := (*Filter)(nil).IDs(); ids != nil || only {
		t.Errorf("IDs of a nil filter = %v, %v", ids, only)
	}
	// The slice is the caller's: changing it leaves the filter alone.
	f := mustParseFilter(t, `{"must":{"has_id":[1,2]}}`)
	ids, _ := f.IDs()
	ids[0] = NumPointID(99)
	if again, _ := f.IDs(); again[0] != NumPointID(1) {
		t.Error("IDs returned the filter's own slice")
	}
}

// uuidID is the point id of a canonical UUID, for tables.
func uuidID(canonical string) PointID {
	id, err := ParsePointID(canonical)
	if u, _ := id.UUID(); err != nil || u != canonical {
		panic(fmt.Sprintf("uuidID(%q): %v, %v", canonical, id, err))
	}
	return id
}

func TestPointID(t *testing.T) {
	const canon = "67e55044-10b1-426f-9247-bb680e5fe0c8"
	for _, s := range []string{canon, strings.ToUpper(canon), "67e5504410b1426f9247bb680e5fe0c8", "{" + canon + "}", "urn:uuid:" + canon} {
		id, err := ParsePointID(s)
		if err != nil {
			t.Errorf("ParsePointID(%q): %v", s, err)
			continue
		}
		if u, ok := id.UUID(); !ok || u != canon || id.String() != canon {
			t.Errorf("ParsePointID(%q) = %v, want %s", s, id, canon)
		}
		if _, ok := id.Num(); ok {
			t.Errorf("ParsePointID(%q) claims to be a number", s)
		}
	}
	id, err := ParsePointID("18446744073709551615")
	if n, ok := id.Num(); err != nil || !ok || n != math.MaxUint64 {
		t.Errorf("ParsePointID(max uint64) = %v, %v", id, err)
	}
	for _, s := range []string{"", "-1", "18446744073709551616", "1.0", "67e55044-10b1-426f-9247-bb680e5fe0c", "67e55044_10b1-426f-9247-bb680e5fe0c8", "g7e55044-10b1-426f-9247-bb680e5fe0c8"} {
		if _, err := ParsePointID(s); !errors.Is(err, ErrBadPointID) {
			t.Errorf("ParsePointID(%q) = %v, want ErrBadPointID", s, err)
		}
	}

	var ids []PointID
	if err := json.Unmarshal([]byte(`[0, 18446744073709551615, "`+strings.ToUpper(canon)+`"]`), &ids); err != nil {
		t.Fatal(err)
	}
	want := []PointID{NumPointID(0), NumPointID(math.MaxUint64), uuidID(canon)}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("unmarshal = %v, want %v", ids, want)
	}
	out, _ := json.Marshal(ids)
	if string(out) != `[0,18446744073709551615,"`+canon+`"]` {
		t.Errorf("marshal = %s", out)
	}
	for _, bad := range []string{`"42"`, `-1`, `1.5`, `true`, `null`, `"x"`, `{}`} {
		var id PointID
		if err := json.Unmarshal([]byte(bad), &id); !errors.Is(err, ErrBadPointID) {
			t.Errorf("unmarshal %s = %v, want ErrBadPointID", bad, err)
		}
	}
}

// TestCompareNumbersExact checks compareNumbers against math/big on random
// and edge values of every kind.
func TestCompareNumbersExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edgeInts := []int64{0, 1, -1, 1 << 53, 1<<53 + 1, -(1 << 53) - 1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1}
	edgeFloats := []float64{0, -0.5, 0.5, 0x1p53, 0x1p53 + 2, 0x1p63, -0x1p63, 0x1p64, -0x1p64, 1e300, -1e300, 9.2233720368547748e18, math.SmallestNonzeroFloat64}
	edgeBig := []uint64{1 << 63, 1<<63 + 1, math.MaxUint64, math.MaxUint64 - 1}
	var nums []number
	for _, i := range edgeInts {
		nums = append(nums, number{kind: numInt, i: i})
	}
	for _, f := range edgeFloats {
		nums = append(nums, number{kind: numFloat, f: f})
	}
	for _, u := range edgeBig {
		nums = append(nums, number{kind: numBig, u: u})
	}
	for range 300 {
		i := int64(r.Uint64())
		nums = append(nums, number{kind: numInt, i: i}, number{kind: numFloat, f: float64(i)}, number{kind: numFloat, f: float64(i) + 0.5})
		nums = append(nums, number{kind: numBig, u: r.Uint64() | 1<<63}, number{kind: numFloat, f: float64(r.Uint64() | 1<<63)})
	}
	exact := func(n number) *big.Float {
		switch n.kind {
		case numInt:
			return new(big.Float).SetInt64(n.i)
		case numBig:
			return new(big.Float).SetUint64(n.u)
		}
		return big.NewFloat(n.f)
	}
	for _, a := range nums {
		for _, b := range nums[:40] {
			if got, want := compareNumbers(a, b), exact(a).Cmp(exact(b)); got != want {
				t.Fatalf("compareNumbers(%+v, %+v) = %d, want %d", a, b, got, want)
			}
			if got, want := compareNumbers(b, a), exact(b).Cmp(exact(a)); got != want {
				t.Fatalf("compareNumbers(%+v, %+v) = %d, want %d", b, a, got, want)
			}
		}
	}
}

// TestParseDatetime checks the datetime reader against the time package.
func TestParseDatetime(t *testing.T) {
	cases := []struct{ in, layout string }{
		{"2024-05-01T12:30:00Z", time.RFC3339},
		{"2024-05-01t12:30:00z", ""},
		{"2024-05-01T12:30:00.123456789+02:00", time.RFC3339Nano},
		{"2024-05-01 12:30:00.5-07:30", "2006-01-02 15:04:05.999999999Z07:00"},
		{"2024-05-01T12:30:00+0200", "2006-01-02T15:04:05-0700"},
		{"2024-05-01T12:30:00.25", "2006-01-02T15:04:05.999999999"},
		{"2024-05-01 12:30:07", "2006-01-02 15:04:05"},
		{"2024-05-01T12:30", "2006-01-02T15:04"},
		{"2024-02-29", "2006-01-02"},
		{"1969-12-31T23:59:59.999Z", time.RFC3339Nano},
		{"0001-01-01T00:00:00Z", time.RFC3339},
		{"9999-12-31T23:59:59Z", time.RFC3339},
		{"2000-03-01", "2006-01-02"},
		{"1900-03-01", "2006-01-02"},
	}
	for _, tc := range cases {
		got, ok := parseDatetime(tc.in)
		if !ok {
			t.Errorf("parseDatetime(%q) failed", tc.in)
			continue
		}
		layout, in := tc.layout, tc.in
		if layout == "" {
			layout, in = time.RFC3339, strings.ToUpper(in)
		}
		ref, err := time.Parse(layout, in)
		if err != nil {
			t.Fatalf("time.Parse(%q, %q): %v", layout, in, err)
		}
		if want := (instant{ref.Unix(), int32(ref.Nanosecond())}); got != want {
			t.Errorf("parseDatetime(%q) = %+v, want %+v", tc.in, got, want)
		}
	}
	for _, bad := range []string{"", "2024", "2024-13-01", "2023-02-29", "2024-04-31", "2024-05-01T24:00:00Z", "2024-05-01T12:60",
		"2024-05-01T12:30:61Z", "2024-05-01T12:30:00.Z", "2024-05-01T12:30:00+2", "2024-05-01T12:30+02:00", "2024-05-01X12:30:00Z",
		"2024-05-01T12:30:00Zjunk", "yesterday", "2024-05-01T1:30:00Z", "+024-05-01"} {
		if _, ok := parseDatetime(bad); ok {
			t.Errorf("parseDatetime(%q) succeeded", bad)
		}
	}
}

// BenchmarkFilterMatch measures Match over a typical payload.
func BenchmarkFilterMatch(b *testing.B) {
	f := mustParseFilter(b, `{"must":[{"key":"topic","match":{"any":["health","science"]}},{"key":"year","range":{"gte":2020}}],
		"must_not":{"key":"tags","match":{"value":"draft"}}}`)
	p := decodePayload(b, `{"topic":"science","year":2023,"tags":["a","b","c"],"title":"x"}`)
	id := NumPointID(1)
	for b.Loop() {
		if !f.Match(id, p) {
			b.Fatal("no match")
		}
	}
}

// filterSeeds are the filters of the tests above, for the fuzz corpus.
func filterSeeds() [][]byte {
	var seeds [][]byte
	for _, tc := range filterCases {
		seeds = append(seeds, []byte(tc.filter))
	}
	seeds = append(seeds, []byte(nestFilters(4)), bytes.Repeat([]byte("["), 50))
	return seeds
}
