package search

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParseFilter feeds ParseFilter arbitrary bytes. Parsing must never
// panic and must fail only with ErrBadFilter; a filter it accepts must
// marshal to JSON that parses to an equal filter and marshals to the same
// bytes, and both copies must agree on a few payloads (Match must not panic
// on any of them). The seeds are the filters of the table tests.
func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds() {
		f.Add(s)
	}
	payloads := []map[string]any{
		nil,
		decodePayload(f, `{"a":1,"b":[1,"x",null,[2],{"c":3}],"color":"red","tags":["red","blue"],"t":"Hello, world","n":9007199254740993}`),
		decodePayload(f, `{"dogs":[{"age":9,"color":"white"},{"age":"x"}],"d":"2024-01-01T00:00:00Z","p":[1.5,-2e3],"x":null,"a":{"b":{"c":[]}}}`),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		f1, err := ParseFilter(data)
		if err != nil {
			if !errors.Is(err, ErrBadFilter) {
				t.Fatalf("ParseFilter(%q) = %v, not an ErrBadFilter", data, err)
			}
			return
		}
		m1, err := f1.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of %q: %v", data, err)
		}
		f2, err := ParseFilter(m1)
		if err != nil {
			t.Fatalf("re-parsing %s (from %q): %v", m1, data, err)
		}
		if !reflect.DeepEqual(f1, f2) {
			t.Fatalf("re-parsed filter differs for %q via %s", data, m1)
		}
		m2, err := f2.MarshalJSON()
		if err != nil || !bytes.Equal(m1, m2) {
			t.Fatalf("second marshal differs: %s vs %s (%v)", m1, m2, err)
		}
		for _, p := range payloads {
			for _, id := range []PointID{NumPointID(1), uuidID("550e8400-e29b-41d4-a716-446655440000")} {
				if f1.Match(id, p) != f2.Match(id, p) {
					t.Fatalf("the copies of %q disagree on %v", data, p)
				}
			}
		}
		f1.IDs()
	})
}
