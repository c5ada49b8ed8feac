package weaviate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Where is a Weaviate where filter, in the shape of its REST API (JSON);
// GraphQL gets the same tree written as a GraphQL literal.
type Where struct {
	Operator       string   `json:"operator"`
	Operands       []Where  `json:"operands,omitempty"`
	Path           []string `json:"path,omitempty"`
	ValueText      *string  `json:"valueText,omitempty"`
	ValueInt       *int64   `json:"valueInt,omitempty"`
	ValueNumber    *float64 `json:"valueNumber,omitempty"`
	ValueBoolean   *bool    `json:"valueBoolean,omitempty"`
	ValueTextArray []string `json:"valueTextArray,omitempty"`
	ValueIntArray  []int64  `json:"valueIntArray,omitempty"`
}

// Translation is a filter translated: Where, unless the filter holds for
// every point (All) or for none (None), which Weaviate's filters cannot say
// and callers can answer without asking (a query without where, an empty
// answer).
type Translation struct {
	Where     *Where
	All, None bool
}

// Translate turns a filter into a Weaviate where filter over the
// properties of a class, props (the flattened payload paths its points
// reached, see flatten; a condition on a path no point reached is decided
// here). What maps, with the same result as search.Filter.Match:
//
//   - must, should, must_not → And, Or, Not (an empty should matches
//     nothing, as ours does);
//   - match value (string, integer, bool) → Equal on the path's strings,
//     integers or booleans (array elements included);
//   - match any → ContainsAny;
//   - match prefix → Like "prefix*" (a prefix holding * or ? does not map);
//   - range over numbers → GreaterThan(Equal)/LessThan(Equal) on the
//     path's integers and other numbers; a range of two bounds only when
//     no point holds more than one number at the path (Weaviate tests each
//     bound against any element, ours all bounds against one);
//   - is_empty → Not(present), is_null → null;
//   - has_id → id ContainsAny.
//
// What does not map, and fails with ErrUnsupportedFilter naming it: match
// except, text, text_any and phrase (word matching), datetime ranges,
// values_count, nested, min_should and keys with an array index [N].
// A nil filter is All.
func Translate(f *search.Filter, props map[string]bool) (Translation, error) {
	tr, _, err := translate(f, props)
	return tr, err
}

// translate is Translate, also reporting whether some condition was decided
// by a property missing from props: a client whose view of the schema may
// be older than another client's writes asks again before it trusts that.
func translate(f *search.Filter, props map[string]bool) (Translation, bool, error) {
	if f == nil {
		return Translation{All: true}, false, nil
	}
	raw, err := f.MarshalJSON()
	if err != nil {
		return Translation{}, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return Translation{}, false, err
	}
	t := translator{props: props}
	n, err := t.filter(tree, "")
	if err != nil {
		return Translation{}, t.missed, err
	}
	switch n.c {
	case constAll:
		return Translation{All: true}, t.missed, nil
	case constNone:
		return Translation{None: true}, t.missed, nil
	}
	return Translation{Where: n.w}, t.missed, nil
}

type constKind uint8

const (
	constNo constKind = iota
	constAll
	constNone
)

// node is a translated condition: a where filter or a constant.
type node struct {
	c constKind
	w *Where
}

var (
	all  = node{c: constAll}
	none = node{c: constNone}
)

func leaf(w Where) node { return node{w: &w} }

func and(ns []node) node {
	var ops []Where
	for _, n := range ns {
		switch n.c {
		case constNone:
			return none
		case constNo:
			ops = append(ops, *n.w)
		}
	}
	switch len(ops) {
	case 0:
		return all
	case 1:
		return leaf(ops[0])
	}
	return leaf(Where{Operator: "And", Operands: ops})
}

func or(ns []node) node {
	var ops []Where
	for _, n := range ns {
		switch n.c {
		case constAll:
			return all
		case constNo:
			ops = append(ops, *n.w)
		}
	}
	switch len(ops) {
	case 0:
		return none
	case 1:
		return leaf(ops[0])
	}
	return leaf(Where{Operator: "Or", Operands: ops})
}

func not(n node) node {
	switch n.c {
	case constAll:
		return none
	case constNone:
		return all
	}
	return leaf(Where{Operator: "Not", Operands: []Where{*n.w}})
}

type translator struct {
	props  map[string]bool
	missed bool // a property looked up was not in props
}

// has reports whether the class has the property, noting when not.
func (t *translator) has(name string) bool {
	if t.props[name] {
		return true
	}
	t.missed = true
	return false
}

func unsupported(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrUnsupportedFilter, where, fmt.Sprintf(format, args...))
}

func (t *translator) filter(tree map[string]any, at string) (node, error) {
	var parts []node
	for _, k := range []string{"must", "should", "must_not", "min_should"} {
		v, ok := tree[k]
		if !ok {
			continue
		}
		if k == "min_should" {
			return node{}, unsupported(join(at, k), "min_should has no Weaviate equivalent")
		}
		list, _ := v.([]any)
		conds := make([]node, 0, len(list))
		for i, c := range list {
			cm, _ := c.(map[string]any)
			n, err := t.cond(cm, fmt.Sprintf("%s[%d]", join(at, k), i))
			if err != nil {
				return node{}, err
			}
			conds = append(conds, n)
		}
		switch k {
		case "must":
			parts = append(parts, and(conds))
		case "should":
			parts = append(parts, or(conds))
		case "must_not":
			for _, n := range conds {
				parts = append(parts, not(n))
			}
		}
	}
	return and(parts), nil
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func (t *translator) cond(c map[string]any, at string) (node, error) {
	switch {
	case c["has_id"] != nil:
		list, _ := c["has_id"].([]any)
		var uuids []string
		for _, e := range list {
			var id store.PointID
			b, _ := json.Marshal(e)
			if err := id.UnmarshalJSON(b); err != nil {
				return node{}, fmt.Errorf("%s: %w", at, err)
			}
			u, err := ObjectID(id)
			if err != nil {
				continue // such a point cannot be stored, so it matches nothing
			}
			uuids = append(uuids, u)
		}
		if len(uuids) == 0 {
			return none, nil
		}
		return leaf(Where{Operator: "ContainsAny", Path: []string{"id"}, ValueTextArray: uuids}), nil
	case c["nested"] != nil:
		return node{}, unsupported(at, "nested conditions (several fields of one array element) have no Weaviate equivalent")
	case c["is_empty"] != nil, c["is_null"] != nil:
		kind, obj := kindPresent, c["is_empty"]
		if obj == nil {
			kind, obj = kindNull, c["is_null"]
		}
		m, _ := obj.(map[string]any)
		key, _ := m["key"].(string)
		path, err := keyPath(key)
		if err != nil {
			return node{}, unsupported(at, "key %q: %v", key, err)
		}
		name := propName(path, kind)
		has := t.has(name)
		if kind == kindPresent {
			if !has {
				return all, nil
			}
			return not(leaf(Where{Operator: "Equal", Path: []string{name}, ValueBoolean: boolp(true)})), nil
		}
		if !has {
			return none, nil
		}
		return leaf(Where{Operator: "Equal", Path: []string{name}, ValueBoolean: boolp(true)}), nil
	case c["key"] != nil:
		return t.field(c, at)
	}
	// A filter used as a condition.
	return t.filter(c, at)
}

func (t *translator) field(c map[string]any, at string) (node, error) {
	key, _ := c["key"].(string)
	path, err := keyPath(key)
	if err != nil {
		return node{}, unsupported(at, "key %q: %v", key, err)
	}
	prop := func(kind string) (string, bool) {
		name := propName(path, kind)
		return name, t.has(name)
	}
	_, big := prop(kindBig)
	if c["values_count"] != nil {
		return node{}, unsupported(at, "values_count on %q has no Weaviate equivalent", key)
	}
	if r, ok := c["range"].(map[string]any); ok {
		if big {
			return node{}, unsupported(at, "range on %q, where some point holds an integer beyond ±2^53 (Weaviate keeps numbers as float64)", key)
		}
		return t.rangeCond(r, key, at, prop)
	}
	m, _ := c["match"].(map[string]any)
	for k, v := range m {
		switch k {
		case "value":
			switch x := v.(type) {
			case string:
				name, ok := prop(kindStrings)
				if !ok {
					return none, nil
				}
				return leaf(Where{Operator: "Equal", Path: []string{name}, ValueText: ptr(wrapString(x))}), nil
			case bool:
				name, ok := prop(kindBools)
				if !ok {
					return none, nil
				}
				return leaf(Where{Operator: "Equal", Path: []string{name}, ValueBoolean: ptr(x)}), nil
			case json.Number:
				n, err := strconv.ParseInt(string(x), 10, 64)
				if err != nil || big || n < -maxExactInt || n > maxExactInt {
					return node{}, unsupported(at, "match value %s on %q: integers beyond ±2^53 do not map (Weaviate keeps numbers as float64)", x, key)
				}
				name, ok := prop(kindInts)
				if !ok {
					return none, nil
				}
				return leaf(Where{Operator: "Equal", Path: []string{name}, ValueInt: ptr(n)}), nil
			}
		case "any":
			list, _ := v.([]any)
			if len(list) == 0 {
				return none, nil
			}
			if _, isStr := list[0].(string); isStr {
				name, ok := prop(kindStrings)
				if !ok {
					return none, nil
				}
				strs := make([]string, len(list))
				for i, e := range list {
					s, _ := e.(string)
					strs[i] = wrapString(s)
				}
				return leaf(Where{Operator: "ContainsAny", Path: []string{name}, ValueTextArray: strs}), nil
			}
			name, ok := prop(kindInts)
			if !ok {
				return none, nil
			}
			ints := make([]int64, len(list))
			for i, e := range list {
				num, _ := e.(json.Number)
				n, err := strconv.ParseInt(string(num), 10, 64)
				if err != nil || big || n < -maxExactInt || n > maxExactInt {
					return node{}, unsupported(at, "match any %s on %q: integers beyond ±2^53 do not map (Weaviate keeps numbers as float64)", num, key)
				}
				ints[i] = n
			}
			return leaf(Where{Operator: "ContainsAny", Path: []string{name}, ValueIntArray: ints}), nil
		case "prefix":
			s, _ := v.(string)
			if strings.ContainsAny(s, "*?") {
				return node{}, unsupported(at, "match prefix %q: Weaviate's Like cannot escape * or ?", s)
			}
			name, ok := prop(kindStrings)
			if !ok {
				return none, nil
			}
			return leaf(Where{Operator: "Like", Path: []string{name}, ValueText: ptr("|" + s + "*")}), nil
		default:
			return node{}, unsupported(at, "match %s on %q has no Weaviate equivalent with the same result", k, key)
		}
	}
	return node{}, unsupported(at, "condition on %q", key)
}

// rangeCond translates a numeric range: an Or over the path's integers and
// other numbers of the And of its bounds.
func (t *translator) rangeCond(r map[string]any, key, at string, prop func(string) (string, bool)) (node, error) {
	type bound struct {
		op  string
		lit string
	}
	var bounds []bound
	ops := map[string]string{"gt": "GreaterThan", "gte": "GreaterThanEqual", "lt": "LessThan", "lte": "LessThanEqual"}
	names := make([]string, 0, len(r))
	for k := range r {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		num, ok := r[k].(json.Number)
		if !ok {
			return node{}, unsupported(at, "datetime range on %q has no Weaviate equivalent over a JSON payload", key)
		}
		bounds = append(bounds, bound{ops[k], string(num)})
	}
	if _, multi := prop(kindMulti); multi && len(bounds) > 1 {
		return node{}, unsupported(at, "range with %d bounds on %q, where some point holds several numbers (Weaviate would test each bound against a different one)", len(bounds), key)
	}
	var alts []node
	if name, ok := prop(kindInts); ok {
		var conds []node
		for _, b := range bounds {
			n, err := intBound(name, b.op, b.lit)
			if err != nil {
				return node{}, unsupported(at, "range on %q: %v", key, err)
			}
			conds = append(conds, n)
		}
		alts = append(alts, and(conds))
	}
	if name, ok := prop(kindNumbers); ok {
		var conds []node
		for _, b := range bounds {
			x, err := strconv.ParseFloat(b.lit, 64)
			if err != nil {
				return node{}, unsupported(at, "range bound %s", b.lit)
			}
			conds = append(conds, leaf(Where{Operator: b.op, Path: []string{name}, ValueNumber: ptr(x)}))
		}
		alts = append(alts, and(conds))
	}
	return or(alts), nil
}

// intBound compares integers with a bound that may have a fraction or lie
// beyond ±2^53, which no stored integer does (see flatten): x > 2.5 is
// x >= 3, x < 1e30 holds for every integer. A fractional bound of 2^52 or
// more, where float64 cannot tell neighbouring integers apart, does not
// map.
func intBound(name, op, lit string) (node, error) {
	lower := op == "GreaterThan" || op == "GreaterThanEqual"
	beyond := func(high bool) node {
		if high == lower {
			return none
		}
		return all
	}
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		switch {
		case n > maxExactInt:
			return beyond(true), nil
		case n < -maxExactInt:
			return beyond(false), nil
		}
		return leaf(Where{Operator: op, Path: []string{name}, ValueInt: ptr(n)}), nil
	}
	x, err := strconv.ParseFloat(lit, 64)
	switch {
	case err != nil && !math.IsInf(x, 0):
		return node{}, err
	case x >= maxExactInt*2 || isIntLiteral(lit) && x > 0:
		return beyond(true), nil
	case x <= -maxExactInt*2 || isIntLiteral(lit):
		return beyond(false), nil
	case math.Abs(x) >= maxExactInt/2:
		return node{}, fmt.Errorf("bound %s: float64 cannot tell the integers near it apart", lit)
	}
	var b float64
	switch op {
	case "GreaterThan":
		b = math.Floor(x) + 1
	case "GreaterThanEqual":
		b = math.Ceil(x)
	case "LessThan":
		b = math.Ceil(x) - 1
	default:
		b = math.Floor(x)
	}
	cmp := "GreaterThanEqual"
	if !lower {
		cmp = "LessThanEqual"
	}
	return leaf(Where{Operator: cmp, Path: []string{name}, ValueInt: ptr(int64(b))}), nil
}

func ptr[T any](v T) *T { return &v }

// keyPath splits a key in Qdrant's syntax (see search.Filter) into the
// steps flatten names paths by; an index step [N] is refused.
func keyPath(key string) ([]string, error) {
	var steps []string
	s := key
	first := true
	for s != "" || first {
		switch {
		case !first && strings.HasPrefix(s, "[]"):
			steps = append(steps, eachStep)
			s = s[2:]
			continue
		case !first && s[0] == '[':
			return nil, fmt.Errorf("array index %q: Weaviate cannot address one element", s[:strings.IndexByte(s+"]", ']')+1])
		case !first && s[0] == '.':
			s = s[1:]
		case !first:
			return nil, fmt.Errorf("unexpected %q", s[:1])
		}
		first = false
		if s != "" && s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf(`unclosed " in name`)
			}
			steps = append(steps, s[1:1+end])
			s = s[2+end:]
			continue
		}
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !(unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' || r == '-') {
				break
			}
			i += n
		}
		if i == 0 {
			return nil, fmt.Errorf("empty name")
		}
		steps = append(steps, s[:i])
		s = s[i:]
	}
	return steps, nil
}

// graphQL writes w as a GraphQL input literal, as the Get and Aggregate
// queries take it: operators are enums, the array values of REST
// (valueTextArray, valueIntArray) are lists under valueText and valueInt.
func (w *Where) graphQL(b *strings.Builder) {
	b.WriteString("{operator:")
	b.WriteString(w.Operator)
	if len(w.Operands) > 0 {
		b.WriteString(",operands:[")
		for i := range w.Operands {
			if i > 0 {
				b.WriteByte(',')
			}
			w.Operands[i].graphQL(b)
		}
		b.WriteByte(']')
	}
	if len(w.Path) > 0 {
		b.WriteString(",path:")
		writeJSON(b, w.Path)
	}
	switch {
	case w.ValueText != nil:
		b.WriteString(",valueText:")
		writeJSON(b, *w.ValueText)
	case w.ValueInt != nil:
		b.WriteString(",valueInt:")
		writeJSON(b, *w.ValueInt)
	case w.ValueNumber != nil:
		b.WriteString(",valueNumber:")
		writeJSON(b, *w.ValueNumber)
	case w.ValueBoolean != nil:
		b.WriteString(",valueBoolean:")
		writeJSON(b, *w.ValueBoolean)
	case w.ValueTextArray != nil:
		b.WriteString(",valueText:")
		writeJSON(b, w.ValueTextArray)
	case w.ValueIntArray != nil:
		b.WriteString(",valueInt:")
		writeJSON(b, w.ValueIntArray)
	}
	b.WriteByte('}')
}

// writeJSON writes a string, number, bool or list of them: JSON's syntax
// for these is GraphQL's (json.Marshal escapes <, > and & as \u00XX, which
// GraphQL reads too).
func writeJSON(b *strings.Builder, v any) {
	data, _ := json.Marshal(v)
	b.Write(data)
}
