package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestPayloadOpApplyMatchesUpdatePayload pins that Apply computes, for
// every op and payload, the payload UpdatePayload stores, so a backend
// that applies ops itself answers as this store does.
func TestPayloadOpApplyMatchesUpdatePayload(t *testing.T) {
	s := newTestStore(t)
	newCollection(t, s, "c", vec4)
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	payloads := []string{``, `{}`, `{"a": 1, "b": {"x": [1, 2]}, "c": "three"}`, `{"a":1,"a":2}`, `{"<\"q\">":1}`}
	ops := []PayloadOp{
		{Set: map[string]json.RawMessage{"c": raw(`"new"`), "d": raw(` [true, null] `), "a": raw("1")}},
		{Set: map[string]json.RawMessage{"a": raw("1"), "c": raw(`"three"`)}},
		{},
		{Set: map[string]json.RawMessage{"z": raw("0"), "y": raw(`{"q":1}`)}, Overwrite: true},
		{Overwrite: true},
		{Delete: []string{"b", "a", "missing"}},
		{Delete: []string{"missing"}},
		{Clear: true},
		{Set: map[string]json.RawMessage{"<\"q\">": raw("2")}},
	}
	id := NumPointID(1)
	for i, old := range payloads {
		for j, op := range ops {
			t.Run(fmt.Sprintf("payload%d/op%d", i, j), func(t *testing.T) {
				upsert(t, s, "c", unnamed(id, 1, old))
				got, err := op.Apply([]byte(old))
				if err != nil {
					t.Fatalf("Apply(%q, %+v): %v", old, op, err)
				}
				if _, err := s.UpdatePayload(bg, "c", []PointID{id}, op); err != nil {
					t.Fatal(err)
				}
				pts, err := s.GetPoints("c", []PointID{id})
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(pts[0].Payload) {
					t.Errorf("Apply(%q, %+v) = %q, UpdatePayload stored %q", old, op, got, pts[0].Payload)
				}
			})
		}
	}
}

func TestPayloadOpApplyRefuses(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	big := raw(`"` + strings.Repeat("x", MaxPayloadBytes) + `"`)
	for _, op := range []PayloadOp{
		{Clear: true, Delete: []string{"a"}},
		{Delete: []string{"a"}, Overwrite: true},
		{Set: map[string]json.RawMessage{"a": raw("{")}},
		{Set: map[string]json.RawMessage{"a": big}},
		{Set: map[string]json.RawMessage{"a": big}, Overwrite: true},
	} {
		if _, err := op.Apply([]byte(`{"a":1}`)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Apply(%+.60v): %v, want ErrInvalid", op, err)
		}
	}
	if _, err := (PayloadOp{Delete: []string{"a"}}).Apply([]byte(`[1]`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Apply to a payload that is not an object: %v, want ErrCorrupt", err)
	}
}
