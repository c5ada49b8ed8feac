package weaviate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgesearch/edgesearch/search"
)

// Bounds on the flattening of one payload: a refusal, never a payload
// that filters would silently miss.
const (
	// MaxPayloadDepth is how deeply a payload's objects and arrays may nest.
	MaxPayloadDepth = 16
	// MaxPayloadPaths is the most distinct key paths one payload may reach.
	MaxPayloadPaths = 256
)

// errPayload marks a payload that cannot be flattened.
var errPayload = errors.New("payload")

// eachStep is the array step of a path, Qdrant's "[]"; a name step is the
// name itself, which can be "[]" too, so a path's steps carry a kind byte.
const eachStep = "\x00[]"

// flat is a payload flattened into property values, and the properties
// they need.
type flat struct {
	values map[string]any
	props  map[string]wProperty
}

// pathValues gathers what one path reaches in one payload.
type pathValues struct {
	path               []string
	strs               []string
	ints               []int64
	nums               []float64
	bools              []bool
	present, null, big bool
	numbers            int
}

// flatten reads a payload (a JSON object or nothing) into Weaviate
// properties: for each path the payload reaches (search.Filter's key rules:
// a name step enters an object, [] each element of an array), the strings,
// integers, other numbers and booleans reached, an array's elements
// counted one by one (an array inside it is not: search.Filter never
// matches one), whether anything non-empty or null was reached, and
// whether more than one number was. Also the point's text and the payload
// verbatim.
func flatten(payload []byte) (*flat, error) {
	f := &flat{values: map[string]any{}, props: map[string]wProperty{}}
	t := bytes.TrimSpace(payload)
	if len(t) == 0 || string(t) == "null" {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%w: %v", errPayload, err)
	}
	f.values[propPayload] = string(t)
	if text, _ := search.PointText(obj); text != "" {
		f.values[propText] = text
	}
	paths := map[string]*pathValues{}
	var order []string
	var walk func(path []string, v any, depth int) error
	walk = func(path []string, v any, depth int) error {
		if depth > MaxPayloadDepth {
			return fmt.Errorf("%w nests deeper than %d levels", errPayload, MaxPayloadDepth)
		}
		key := strings.Join(path, "\x01")
		pv := paths[key]
		if pv == nil {
			if len(paths) >= MaxPayloadPaths {
				return fmt.Errorf("%w reaches more than %d key paths", errPayload, MaxPayloadPaths)
			}
			pv = &pathValues{path: append([]string(nil), path...)}
			paths[key] = pv
			order = append(order, key)
		}
		pv.add(v)
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if err := walk(append(path, k), c, depth+1); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(append(path, eachStep), e, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for k, v := range obj {
		if err := walk([]string{k}, v, 1); err != nil {
			return nil, err
		}
	}
	for _, key := range order {
		paths[key].emit(f)
	}
	return f, nil
}

// add records one value the path reaches.
func (pv *pathValues) add(v any) {
	a, isArray := v.([]any)
	switch {
	case v == nil:
		pv.null = true
	case !isArray || len(a) > 0:
		pv.present = true
	}
	if !isArray {
		pv.scalar(v)
		return
	}
	for _, e := range a {
		if _, nested := e.([]any); !nested {
			pv.scalar(e)
		}
	}
}

func (pv *pathValues) scalar(v any) {
	switch x := v.(type) {
	case string:
		pv.strs = append(pv.strs, wrapString(x))
	case bool:
		pv.bools = append(pv.bools, x)
	case json.Number:
		pv.numbers++
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil && n >= -maxExactInt && n <= maxExactInt {
			pv.ints = append(pv.ints, n)
		} else if isIntLiteral(string(x)) {
			// Weaviate reads JSON numbers as float64, which cannot hold
			// it: filters on the path are refused (see Translate).
			pv.big = true
		} else if fl, err := strconv.ParseFloat(string(x), 64); err == nil {
			pv.nums = append(pv.nums, fl)
		}
	}
}

// maxExactInt is the largest integer a float64 holds exactly with all
// smaller ones: 2^53.
const maxExactInt = 1 << 53

// isIntLiteral reports whether a JSON number literal has no fraction or
// exponent.
func isIntLiteral(s string) bool { return !strings.ContainsAny(s, ".eE") }

// wrapString is how a string is stored and compared: Weaviate's field
// tokenization trims white space, which would make "red " equal "red".
func wrapString(s string) string { return "|" + s + "|" }

func (pv *pathValues) emit(f *flat) {
	add := func(kind, dataType string, v any) {
		name := propName(pv.path, kind)
		f.values[name] = v
		p := wProperty{Name: name, DataType: []string{dataType}, Description: describePath(pv.path) + " (" + kind + ")",
			IndexFilterable: boolp(true), IndexSearchable: boolp(false)}
		if dataType == "text[]" {
			p.Tokenization = "field"
		}
		f.props[name] = p
	}
	if len(pv.strs) > 0 {
		add(kindStrings, "text[]", pv.strs)
	}
	if len(pv.ints) > 0 {
		add(kindInts, "int[]", pv.ints)
	}
	if len(pv.nums) > 0 {
		add(kindNumbers, "number[]", pv.nums)
	}
	if len(pv.bools) > 0 {
		add(kindBools, "boolean[]", pv.bools)
	}
	if pv.present {
		add(kindPresent, "boolean", true)
	}
	if pv.null {
		add(kindNull, "boolean", true)
	}
	if pv.numbers > 1 {
		add(kindMulti, "boolean", true)
	}
	if pv.big {
		add(kindBig, "boolean", true)
	}
}

// describePath writes a path in Qdrant's key syntax, for the schema.
func describePath(path []string) string {
	var b strings.Builder
	for i, s := range path {
		if s == eachStep {
			b.WriteString("[]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Quote(s))
	}
	return "payload key " + b.String()
}
