package weaviate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/search"
)

// props returns the property set of a class whose points reached these
// payloads.
func propsOf(t *testing.T, payloads ...string) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, p := range payloads {
		f, err := flatten([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		for name := range f.props {
			m[name] = true
		}
	}
	return m
}

func TestTranslate(t *testing.T) {
	props := propsOf(t,
		`{"color":"red","n":3,"x":2.5,"ok":true,"tags":["a","b"],"gone":null,"meta":{"lang":"en"},"items":[{"k":1}]}`,
		`{"many":[1,2,3]}`)
	name := func(kind string, path ...string) string { return propName(path, kind) }
	cases := []struct {
		name, filter string
		want         string // the where as JSON, or "ALL"/"NONE"
	}{
		{"match string", `{"must":[{"key":"color","match":{"value":"red"}}]}`,
			`{"operator":"Equal","path":["` + name(kindStrings, "color") + `"],"valueText":"|red|"}`},
		{"match int", `{"must":[{"key":"n","match":{"value":3}}]}`,
			`{"operator":"Equal","path":["` + name(kindInts, "n") + `"],"valueInt":3}`},
		{"match bool", `{"must":[{"key":"ok","match":{"value":true}}]}`,
			`{"operator":"Equal","path":["` + name(kindBools, "ok") + `"],"valueBoolean":true}`},
		{"match any", `{"must":[{"key":"tags","match":{"any":["a","z"]}}]}`,
			`{"operator":"ContainsAny","path":["` + name(kindStrings, "tags") + `"],"valueTextArray":["|a|","|z|"]}`},
		{"nested key", `{"must":[{"key":"meta.lang","match":{"value":"en"}}]}`,
			`{"operator":"Equal","path":["` + name(kindStrings, "meta", "lang") + `"],"valueText":"|en|"}`},
		{"array of objects", `{"must":[{"key":"items[].k","match":{"value":1}}]}`,
			`{"operator":"Equal","path":["` + name(kindInts, "items", eachStep, "k") + `"],"valueInt":1}`},
		{"key nobody has", `{"must":[{"key":"nope","match":{"value":"x"}}]}`, "NONE"},
		{"must_not of key nobody has", `{"must_not":[{"key":"nope","match":{"value":"x"}}]}`, "ALL"},
		{"empty should", `{"should":[]}`, "NONE"},
		{"range on int and number", `{"must":[{"key":"n","range":{"gt":2.5}}]}`,
			`{"operator":"GreaterThanEqual","path":["` + name(kindInts, "n") + `"],"valueInt":3}`},
		{"range two bounds", `{"must":[{"key":"x","range":{"gte":1,"lt":3}}]}`,
			`{"operator":"And","operands":[{"operator":"GreaterThanEqual","path":["` + name(kindNumbers, "x") + `"],"valueNumber":1},{"operator":"LessThan","path":["` + name(kindNumbers, "x") + `"],"valueNumber":3}]}`},
		{"is_null", `{"must":[{"is_null":{"key":"gone"}}]}`,
			`{"operator":"Equal","path":["` + name(kindNull, "gone") + `"],"valueBoolean":true}`},
		{"is_empty", `{"must":[{"is_empty":{"key":"tags"}}]}`,
			`{"operator":"Not","operands":[{"operator":"Equal","path":["` + name(kindPresent, "tags") + `"],"valueBoolean":true}]}`},
		{"has_id", `{"must":[{"has_id":[5,"5c56c793-69e3-4b3a-9d3f-1c2a3b4c5d6e"]}]}`,
			`{"operator":"ContainsAny","path":["id"],"valueTextArray":["00000000-0000-0000-0000-000000000005","5c56c793-69e3-4b3a-9d3f-1c2a3b4c5d6e"]}`},
		{"prefix", `{"must":[{"key":"color","match":{"prefix":"re"}}]}`,
			`{"operator":"Like","path":["` + name(kindStrings, "color") + `"],"valueText":"|re*"}`},
		{"should and must_not", `{"should":[{"key":"n","match":{"value":3}},{"key":"ok","match":{"value":true}}],"must_not":[{"key":"color","match":{"value":"red"}}]}`,
			`{"operator":"And","operands":[{"operator":"Or","operands":[{"operator":"Equal","path":["` + name(kindInts, "n") + `"],"valueInt":3},{"operator":"Equal","path":["` + name(kindBools, "ok") + `"],"valueBoolean":true}]},{"operator":"Not","operands":[{"operator":"Equal","path":["` + name(kindStrings, "color") + `"],"valueText":"|red|"}]}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := search.ParseFilter([]byte(tc.filter))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := Translate(f, props)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch {
			case tr.All:
				got = "ALL"
			case tr.None:
				got = "NONE"
			default:
				b, _ := json.Marshal(tr.Where)
				got = string(b)
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestTranslateRefusesWhatDoesNotMap(t *testing.T) {
	props := propsOf(t, `{"color":"red","many":[1,2,3],"at":"2024-01-01T00:00:00Z","items":[{"k":1}]}`)
	for _, filter := range []string{
		`{"must":[{"key":"color","match":{"except":["red"]}}]}`,
		`{"must":[{"key":"color","match":{"text":"red"}}]}`,
		`{"must":[{"key":"color","match":{"phrase":"red"}}]}`,
		`{"must":[{"key":"color","match":{"text_any":"red"}}]}`,
		`{"must":[{"key":"color","match":{"prefix":"r*"}}]}`,
		`{"must":[{"key":"at","range":{"gt":"2023-01-01T00:00:00Z"}}]}`,
		`{"must":[{"key":"many","values_count":{"gt":1}}]}`,
		`{"must":[{"key":"many","range":{"gt":1,"lt":3}}]}`,
		`{"must":[{"key":"many[0]","match":{"value":1}}]}`,
		`{"must":[{"nested":{"key":"items","filter":{"must":[{"key":"k","match":{"value":1}}]}}}]}`,
		`{"min_should":{"conditions":[{"key":"color","match":{"value":"red"}}],"min_count":1}}`,
	} {
		f, err := search.ParseFilter([]byte(filter))
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		if _, err := Translate(f, props); !errors.Is(err, ErrUnsupportedFilter) {
			t.Errorf("%s: got %v, want ErrUnsupportedFilter", filter, err)
		}
	}
}

func TestWhereAsGraphQL(t *testing.T) {
	w := Where{Operator: "And", Operands: []Where{
		{Operator: "ContainsAny", Path: []string{"id"}, ValueTextArray: []string{"a", "b"}},
		{Operator: "Equal", Path: []string{"p"}, ValueText: ptr(`say "hi"`)},
	}}
	var b strings.Builder
	w.graphQL(&b)
	want := `{operator:And,operands:[{operator:ContainsAny,path:["id"],valueText:["a","b"]},{operator:Equal,path:["p"],valueText:"say \"hi\""}]}`
	if b.String() != want {
		t.Fatalf("got  %s\nwant %s", b.String(), want)
	}
}

func TestFlattenBounds(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxPayloadDepth+1) + "1" + strings.Repeat("}", MaxPayloadDepth+1)
	if _, err := flatten([]byte(deep)); err == nil {
		t.Fatal("a payload nested too deep was flattened")
	}
	var b strings.Builder
	b.WriteString("{")
	for i := range MaxPayloadPaths + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `_` + itoa(i) + `":1`)
	}
	b.WriteString("}")
	if _, err := flatten([]byte(b.String())); err == nil {
		t.Fatal("a payload of too many paths was flattened")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
