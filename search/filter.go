package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edgesearch/edgesearch/store"
)

// Qdrant's payload filter language: a Filter is parsed once from Qdrant's
// JSON (lib/segment/src/types.rs: Filter, Condition, FieldCondition, Match,
// Range, ValuesCount, ...) and then tested against many points with Match,
// which is why keys are split and value sets built at parse time and Match
// allocates nothing. The semantics follow Qdrant's unindexed checker
// (lib/segment/src/payload_storage/query_checker.rs and condition_checker.rs),
// except where a comment says otherwise.

// Bounds on one filter, so that a hostile filter can neither exhaust the
// stack while it is parsed nor make Match do unbounded work per point.
const (
	// MaxFilterConditions is the most condition objects one filter may hold,
	// counted at every level (a nested or inner filter's conditions count
	// too). The values listed inside one condition (match any, has_id) are
	// not conditions; they are bounded by the request body.
	MaxFilterConditions = 1024
	// MaxFilterDepth is how deeply filters may nest: the top-level filter is
	// depth 1, and a filter used as a condition or a nested condition's
	// filter is one deeper than the filter holding it.
	MaxFilterDepth = 32
	// maxFilterJSONDepth bounds JSON nesting before the filter is read at
	// all: a filter level takes at most five JSON levels (filter object,
	// min_should object, conditions array, nested condition, its nested
	// object) and a leaf condition three more (match, any, value).
	maxFilterJSONDepth = 5*MaxFilterDepth + 8
	// filterSetMin is the list length from which match any/except look
	// values up in a map rather than scanning the list.
	filterSetMin = 16
)

var (
	// ErrBadFilter means a filter is not valid JSON, is not one of the shapes
	// Qdrant accepts, uses a condition this package does not support, or
	// exceeds MaxFilterConditions or MaxFilterDepth. The message names the
	// offending place, like "bad filter: must[2].range: no bound".
	ErrBadFilter = errors.New("bad filter")
	// ErrBadPointID means a point id is neither an unsigned 64-bit integer
	// nor a UUID; it is store.ErrBadPointID.
	ErrBadPointID = store.ErrBadPointID
)

// PointID identifies a point: an unsigned 64-bit integer or a UUID. It is
// store.PointID, which the store keys points by; see there.
type PointID = store.PointID

// NumPointID returns the integer point id n.
func NumPointID(n uint64) PointID { return store.NumPointID(n) }

// ParsePointID reads an id as it appears in a URL path; see
// store.ParsePointID.
func ParsePointID(s string) (PointID, error) { return store.ParsePointID(s) }

// pointIDFrom reads an id from a decoded JSON value (json.Number or string):
// a number must be an unsigned 64-bit integer and a string a UUID, as in
// PointID.UnmarshalJSON.
func pointIDFrom(v any) (PointID, error) {
	switch x := v.(type) {
	case json.Number:
		if n, ok := parseUintLiteral(string(x)); ok {
			return NumPointID(n), nil
		}
		return PointID{}, fmt.Errorf("%w: %s is not an unsigned 64-bit integer", ErrBadPointID, x)
	case string:
		// ParsePointID also reads digits as an integer; in JSON a string of
		// digits is not an id.
		if id, err := ParsePointID(x); err == nil {
			if _, isUUID := id.UUID(); isUUID {
				return id, nil
			}
		}
		return PointID{}, fmt.Errorf("%w: %q is not a UUID", ErrBadPointID, x)
	}
	return PointID{}, fmt.Errorf("%w: want an unsigned integer or a UUID string, got %s", ErrBadPointID, jsonKind(v))
}

// Filter is a parsed Qdrant filter. A point matches when every must
// condition matches, no must_not condition matches, at least one should
// condition matches (if should is given at all: an empty should list
// matches nothing, as in Qdrant) and at least min_count of the min_should
// conditions match. An empty filter matches every point, and so does a nil
// *Filter.
//
// A condition on a key sees every value the key reaches (see the key rules
// below) and, for match, range and text conditions, a value that is an array
// is tested element by element: the condition holds when any one element
// holds. So {"key":"tags","match":{"value":"red"}} matches tags
// ["red","blue"]; under must_not the whole condition is negated, so the same
// condition in must_not drops every point with a "red" tag. match except
// holds when some value is not in the list and is not null: it matches
// ["red","blue"] with except ["red"]; "no value is red" is must_not with
// match any. An array inside an array is not flattened: match never holds
// for it and except always does. A missing key fails every match and range
// condition (so it passes the same condition under must_not).
//
// Keys follow Qdrant's JSON paths: dotted names "a.b.c", names in double
// quotes for keys with other characters (a."b.c"), [N] for one array
// element and [] for every element. A name step does not look inside
// arrays: for {"a":[{"b":1}]} the key "a.b" reaches nothing and "a[].b"
// reaches 1.
//
// A Filter is immutable once parsed and safe for concurrent use.
type Filter struct {
	must, should, mustNot []filterCond // nil when absent
	minShould             *minShould
}

type minShould struct {
	conds []filterCond
	min   uint64 // at least 1
}

type condKind uint8

const (
	condMatchValue condKind = iota
	condMatchAny
	condMatchExcept
	condMatchText
	condMatchTextAny
	condMatchPhrase
	condMatchPrefix
	condRange
	condDatetimeRange
	condValuesCount
	condIsEmpty
	condIsNull
	condHasID
	condNested
	condFilter
)

// matchNames are the match object's field names, by kind.
var matchNames = [...]string{
	condMatchValue:   "value",
	condMatchAny:     "any",
	condMatchExcept:  "except",
	condMatchText:    "text",
	condMatchTextAny: "text_any",
	condMatchPhrase:  "phrase",
	condMatchPrefix:  "prefix",
}

// boundNames are a range's bounds in the order filterCond.bounds keeps them.
var boundNames = [4]string{"gt", "gte", "lt", "lte"}

type valueKind uint8

const (
	valueString valueKind = iota
	valueInt
	valueBool
)

// filterCond is one parsed condition. Only the fields its kind uses are set.
type filterCond struct {
	kind condKind
	key  string     // as written, for MarshalJSON
	path []pathStep // key split; a nested key gets a trailing []

	// match value
	vkind valueKind
	str   string // also the text of text, text_any, phrase and prefix
	num   int64
	flag  bool

	// match any / except: one of strs or ints is used (ints when intList)
	intList bool
	strs    []string
	ints    []int64
	strSet  map[string]struct{} // built from filterSetMin values
	intSet  map[int64]struct{}

	words []string // text, text_any and phrase: the text's words, lower-cased

	bounds [4]rangeBound // range and datetime range: gt, gte, lt, lte
	counts [4]countBound // values_count: gt, gte, lt, lte

	ids   []PointID // has_id, in first-seen order
	idSet map[PointID]struct{}

	sub *Filter // nested and filter conditions
}

type rangeBound struct {
	set bool
	lit string // the bound as written: a number literal or a datetime
	num number
	at  instant
}

type countBound struct {
	set bool
	n   uint64
}

type stepKind uint8

const (
	stepKey   stepKind = iota // .name
	stepIndex                 // [N]
	stepEach                  // []
)

type pathStep struct {
	kind  stepKind
	key   string
	index int
}

// ParseFilter reads a filter in Qdrant's JSON shape:
//
//	{"must":[...], "should":[...], "must_not":[...],
//	 "min_should":{"conditions":[...], "min_count":N}}
//
// where must, should and must_not may also be a single condition object,
// and a condition is a field condition {"key":K, "match"|"range"|
// "values_count":...}, {"is_empty":{"key":K}}, {"is_null":{"key":K}},
// {"has_id":[ids]}, {"nested":{"key":K,"filter":{...}}} or a filter.
// Parsing is strict: an unknown or duplicated field, a condition of no kind
// or of two kinds, a range with no bound, a value of the wrong type, a
// condition this package does not support (geo, has_vector, slice) or a
// filter beyond MaxFilterConditions or MaxFilterDepth is an error wrapping
// ErrBadFilter that names where it is. A null field counts as absent, as in
// Qdrant.
func ParseFilter(data []byte) (*Filter, error) {
	tree, err := decodeFilterJSON(data)
	if err != nil {
		return nil, err
	}
	var p filterParser
	return p.filter(tree, "", 1, false)
}

// UnmarshalJSON parses data with ParseFilter, so a Filter can sit in a
// request struct; JSON null leaves f unchanged.
func (f *Filter) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	g, err := ParseFilter(data)
	if err != nil {
		return err
	}
	*f = *g
	return nil
}

// MarshalJSON writes the filter in the shape ParseFilter reads, with must,
// should and must_not always as arrays; parsing the result gives an equal
// filter. A nil filter is null.
func (f *Filter) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	return json.Marshal(f.tree())
}

// Match reports whether the point with this id and payload passes the
// filter. The payload is a JSON object as encoding/json decodes it with
// UseNumber: nil, bool, string, json.Number, []any and map[string]any, so
// integers beyond 2^53 compare exactly. float64, int, int64 and uint64 are
// read too (a float64 with no fraction counts as an integer for match,
// since it cannot tell 5 from 5.0); any other type matches nothing. A nil
// payload has no keys. Match does not allocate (save for a payload number
// beyond float64's range, which strconv reports with an error value).
func (f *Filter) Match(id PointID, payload map[string]any) bool {
	if f == nil {
		return true
	}
	return f.match(id, payload)
}

// IDs returns the point ids the filter admits at most, for a planner that
// would rather look points up than scan: the has_id set of the filter's
// must conditions (the ids common to all of them when there are several,
// in the order the first lists them), or nil when must has no has_id.
// only is true when the filter is nothing but must has_id conditions, so
// every stored point among ids matches and Match need not be called. The
// slice is the caller's to keep; it is empty, not nil, when no id can match.
func (f *Filter) IDs() (ids []PointID, only bool) {
	if f == nil {
		return nil, false
	}
	found := false
	only = f.should == nil && f.mustNot == nil && f.minShould == nil
	for i := range f.must {
		c := &f.must[i]
		if c.kind != condHasID {
			only = false
			continue
		}
		if !found {
			ids = append(make([]PointID, 0, len(c.ids)), c.ids...)
			found = true
			continue
		}
		ids = slices.DeleteFunc(ids, func(id PointID) bool {
			_, ok := c.idSet[id]
			return !ok
		})
	}
	if !found {
		return nil, false
	}
	return ids, only
}

// ---- evaluation ----

func (f *Filter) match(id PointID, obj any) bool {
	for i := range f.must {
		if !f.must[i].match(id, obj) {
			return false
		}
	}
	for i := range f.mustNot {
		if f.mustNot[i].match(id, obj) {
			return false
		}
	}
	if f.should != nil {
		hit := false
		for i := range f.should {
			if f.should[i].match(id, obj) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if ms := f.minShould; ms != nil {
		n := uint64(0)
		for i := range ms.conds {
			if ms.conds[i].match(id, obj) {
				if n++; n >= ms.min {
					break
				}
			}
		}
		if n < ms.min {
			return false
		}
	}
	return true
}

// match tests the condition against the object obj (the payload, or one
// element of a nested array).
func (c *filterCond) match(id PointID, obj any) bool {
	switch c.kind {
	case condHasID:
		_, ok := c.idSet[id]
		return ok
	case condFilter:
		return c.sub.match(id, obj)
	case condIsEmpty:
		// Qdrant: every value reached is null or [] (true when none is).
		nonEmpty, _ := c.reach(obj, c.path)
		return !nonEmpty
	case condValuesCount:
		hit, found := c.reach(obj, c.path)
		if !found {
			return c.countHolds(0)
		}
		return hit
	}
	hit, _ := c.reach(obj, c.path)
	return hit
}

// reach walks path from v and tests each value it reaches, stopping at the
// first that passes: hit is whether one passed, found whether any value was
// reached at all.
func (c *filterCond) reach(v any, path []pathStep) (hit, found bool) {
	for i := range path {
		s := &path[i]
		switch s.kind {
		case stepKey:
			m, ok := v.(map[string]any)
			if !ok {
				return false, false
			}
			if v, ok = m[s.key]; !ok {
				return false, false
			}
		case stepIndex:
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return false, false
			}
			v = a[s.index]
		case stepEach:
			a, ok := v.([]any)
			if !ok {
				return false, false
			}
			for _, e := range a {
				h, f := c.reach(e, path[i+1:])
				found = found || f
				if h {
					return true, true
				}
			}
			return false, found
		}
	}
	return c.test(v), true
}

// test reports whether one reached value passes: for is_empty, whether it
// is a witness that the key is not empty.
func (c *filterCond) test(v any) bool {
	switch c.kind {
	case condValuesCount:
		return c.countHolds(valueCount(v))
	case condIsEmpty:
		a, isArray := v.([]any)
		return v != nil && !(isArray && len(a) == 0)
	case condIsNull:
		// [null] is not null, as in Qdrant.
		return v == nil
	case condNested:
		m, ok := v.(map[string]any)
		return ok && c.sub.match(PointID{}, m)
	}
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if c.testOne(e) {
				return true
			}
		}
		return false
	}
	return c.testOne(v)
}

// testOne tests one value (an array element or a non-array value) against a
// match or range condition.
func (c *filterCond) testOne(v any) bool {
	switch c.kind {
	case condMatchValue:
		switch c.vkind {
		case valueString:
			s, ok := v.(string)
			return ok && s == c.str
		case valueInt:
			n, ok := intOf(v)
			return ok && n == c.num
		default:
			b, ok := v.(bool)
			return ok && b == c.flag
		}
	case condMatchAny:
		if c.intList {
			n, ok := intOf(v)
			return ok && c.hasInt(n)
		}
		s, ok := v.(string)
		return ok && c.hasStr(s)
	case condMatchExcept:
		// Qdrant: null never passes; a value of another type than the list
		// (bool, object, array, a float against integers) always does.
		switch x := v.(type) {
		case nil:
			return false
		case string:
			return c.intList || !c.hasStr(x)
		}
		if !c.intList {
			return true
		}
		n, ok := intOf(v)
		return !ok || !c.hasInt(n)
	case condMatchText:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, w := range c.words {
			if !containsWord(s, w) {
				return false
			}
		}
		return true
	case condMatchTextAny:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, w := range c.words {
			if containsWord(s, w) {
				return true
			}
		}
		return false
	case condMatchPhrase:
		s, ok := v.(string)
		return ok && containsPhrase(s, c.words)
	case condMatchPrefix:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, c.str)
	case condRange:
		n, ok := numberOf(v)
		if !ok {
			return false
		}
		for i := range c.bounds {
			if b := &c.bounds[i]; b.set && !boundHolds(i, compareNumbers(n, b.num)) {
				return false
			}
		}
		return true
	case condDatetimeRange:
		s, ok := v.(string)
		if !ok {
			return false
		}
		t, ok := parseDatetime(s)
		if !ok {
			return false
		}
		for i := range c.bounds {
			if b := &c.bounds[i]; b.set && !boundHolds(i, t.compare(b.at)) {
				return false
			}
		}
		return true
	}
	return false
}

// boundHolds reports whether value-versus-bound comparison cmp satisfies
// bound i (gt, gte, lt, lte).
func boundHolds(i, cmp int) bool {
	switch i {
	case 0:
		return cmp > 0
	case 1:
		return cmp >= 0
	case 2:
		return cmp < 0
	}
	return cmp <= 0
}

func (c *filterCond) countHolds(n uint64) bool {
	for i := range c.counts {
		b := &c.counts[i]
		if !b.set {
			continue
		}
		cmp := 0
		if n < b.n {
			cmp = -1
		} else if n > b.n {
			cmp = 1
		}
		if !boundHolds(i, cmp) {
			return false
		}
	}
	return true
}

// valueCount is Qdrant's count of values in one reached value: an array's
// length, 0 for null, else 1.
func valueCount(v any) uint64 {
	switch x := v.(type) {
	case nil:
		return 0
	case []any:
		return uint64(len(x))
	}
	return 1
}

func (c *filterCond) hasStr(s string) bool {
	if c.strSet != nil {
		_, ok := c.strSet[s]
		return ok
	}
	return slices.Contains(c.strs, s)
}

func (c *filterCond) hasInt(n int64) bool {
	if c.intSet != nil {
		_, ok := c.intSet[n]
		return ok
	}
	return slices.Contains(c.ints, n)
}

// ---- numbers ----

type numKind uint8

const (
	numInt   numKind = iota // i
	numBig                  // u, above math.MaxInt64
	numFloat                // f, finite
)

// number is a JSON number kept exactly: integers as integers, so that
// integers beyond 2^53 compare exactly with each other and with floats.
type number struct {
	kind numKind
	i    int64
	u    uint64
	f    float64
}

// parseNumber reads a JSON number literal; false for a float beyond float64
// or a string that is not a number.
func parseNumber(s string) (number, bool) {
	if i, ok := parseInt64Literal(s); ok {
		return number{kind: numInt, i: i}, true
	}
	if u, ok := parseUintLiteral(s); ok {
		return number{kind: numBig, u: u}, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return number{}, false
	}
	return number{kind: numFloat, f: f}, true
}

// splitIntLiteral reads an optional '-' and one or more decimal digits
// whose magnitude fits 64 bits, without allocating.
func splitIntLiteral(s string) (neg bool, mag uint64, ok bool) {
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 {
		return false, 0, false
	}
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 || mag > (math.MaxUint64-uint64(d))/10 {
			return false, 0, false
		}
		mag = mag*10 + uint64(d)
	}
	return neg, mag, true
}

func parseUintLiteral(s string) (uint64, bool) {
	neg, mag, ok := splitIntLiteral(s)
	return mag, ok && !neg
}

// parseInt64Literal reads an integer literal in int64 range: no fraction,
// no exponent, as serde_json's as_i64 sees an integer.
func parseInt64Literal(s string) (int64, bool) {
	neg, mag, ok := splitIntLiteral(s)
	switch {
	case !ok:
		return 0, false
	case neg && mag <= 1<<63:
		return int64(-mag), true // -mag wraps to MinInt64 at 1<<63, as wanted
	case !neg && mag <= math.MaxInt64:
		return int64(mag), true
	}
	return 0, false
}

// intOf is the payload value as a 64-bit integer the way Qdrant's match
// reads one (serde_json's as_i64): an integer literal in int64 range.
func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		return parseInt64Literal(string(x))
	case float64:
		if x == math.Trunc(x) && x >= -0x1p63 && x < 0x1p63 {
			return int64(x), true
		}
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// numberOf is the payload value as a number for range, if it is one.
func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case json.Number:
		return parseNumber(string(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return number{}, false
		}
		return number{kind: numFloat, f: x}, true
	case int:
		return number{kind: numInt, i: int64(x)}, true
	case int64:
		return number{kind: numInt, i: x}, true
	case uint64:
		if x > math.MaxInt64 {
			return number{kind: numBig, u: x}, true
		}
		return number{kind: numInt, i: int64(x)}, true
	}
	return number{}, false
}

// compareNumbers returns -1, 0 or 1 as a is less than, equal to or greater
// than b, exactly: Qdrant compares as float64, which is the same except
// for integers too large for a float64 to hold.
func compareNumbers(a, b number) int {
	switch {
	case a.kind == numFloat && b.kind == numFloat:
		return cmpOrdered(a.f, b.f)
	case a.kind == numFloat:
		return -compareIntFloat(b, a.f)
	case b.kind == numFloat:
		return compareIntFloat(a, b.f)
	case a.kind == numBig && b.kind == numBig:
		return cmpOrdered(a.u, b.u)
	case a.kind == numBig:
		return 1
	case b.kind == numBig:
		return -1
	}
	return cmpOrdered(a.i, b.i)
}

// compareIntFloat compares an integer number a with a finite float f.
func compareIntFloat(a number, f float64) int {
	if a.kind == numBig {
		switch {
		case f >= 0x1p64:
			return -1
		case f < 0x1p63:
			return 1
		}
		// f is a whole number here: every float64 at or above 2^53 is.
		return cmpOrdered(a.u, uint64(f))
	}
	switch {
	case f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	t := math.Trunc(f)
	if c := cmpOrdered(a.i, int64(t)); c != 0 {
		return c
	}
	return cmpOrdered(0, f-t)
}

func cmpOrdered[T int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---- datetimes ----

// instant is a point in time as seconds and nanoseconds since the Unix
// epoch, UTC.
type instant struct {
	sec  int64
	nsec int32
}

func (a instant) compare(b instant) int {
	if c := cmpOrdered(a.sec, b.sec); c != 0 {
		return c
	}
	return cmpOrdered(int64(a.nsec), int64(b.nsec))
}

// parseDatetime reads the datetimes Qdrant's DatetimeRange accepts, without
// allocating: RFC 3339 ("2024-05-01T12:30:00Z", "...12:30:00.5+02:00",
// "t" or a space for "T", "z" for "Z", "+0200" for "+02:00"), and without a
// zone, taken as UTC: "2024-05-01T12:30:00[.fff]", "2024-05-01T12:30" (also
// with a space) and "2024-05-01". Leap seconds (":60") are not accepted.
func parseDatetime(s string) (instant, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return instant{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return instant{}, false
	}
	var hour, minute, second, nsec, offset int
	if rest := s[10:]; rest != "" {
		if len(rest) < 6 || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') || rest[3] != ':' {
			return instant{}, false
		}
		var ok4, ok5 bool
		hour, ok4 = digits(rest[1:3])
		minute, ok5 = digits(rest[4:6])
		if !ok4 || !ok5 || hour > 23 || minute > 59 {
			return instant{}, false
		}
		rest = rest[6:]
		if rest != "" {
			if len(rest) < 3 || rest[0] != ':' {
				return instant{}, false
			}
			var ok bool
			if second, ok = digits(rest[1:3]); !ok || second > 59 {
				return instant{}, false
			}
			rest = rest[3:]
			if rest != "" && rest[0] == '.' {
				n := 1
				for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
					if n <= 9 {
						nsec = nsec*10 + int(rest[n]-'0')
					}
					n++
				}
				if n == 1 {
					return instant{}, false
				}
				for i := n; i <= 9; i++ {
					nsec *= 10
				}
				rest = rest[n:]
			}
			if offset, ok = zoneOffset(rest); !ok {
				return instant{}, false
			}
		}
	}
	sec := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second-offset)
	return instant{sec: sec, nsec: int32(nsec)}, true
}

// zoneOffset reads "" (UTC), "Z", "z", "+hh:mm" or "+hhmm" into seconds
// east of UTC.
func zoneOffset(s string) (int, bool) {
	switch {
	case s == "":
		return 0, true
	case s == "Z" || s == "z":
		return 0, true
	case len(s) != 5 && len(s) != 6, s[0] != '+' && s[0] != '-':
		return 0, false
	}
	h, ok1 := digits(s[1:3])
	mm := s[3:]
	if len(s) == 6 {
		if s[3] != ':' {
			return 0, false
		}
		mm = s[4:]
	}
	m, ok2 := digits(mm)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// digits reads a short run of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int(d)
	}
	return n, len(s) > 0
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's days_from_civil).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// ---- text ----

// Match text, text_any and phrase work on words, as Qdrant's full-text
// index with its default word tokenizer and lowercase on: a word is a
// maximal run of letters, digits and non-spacing marks (isWordRune, the
// snippet's rule), anything else separates words, and words compare after
// Unicode lower-casing. No stemming, stop words or prefix matching. text
// holds when every word of the query is among the value's words, text_any
// when one is, phrase when the query's words appear consecutively in
// order. A query with no words matches every string for text and phrase
// and nothing for text_any, as Qdrant's unindexed check does. prefix is a
// case-sensitive byte prefix of the whole string, as in Qdrant.

// textWords returns the lower-cased words of s.
func textWords(s string) []string {
	var words []string
	for i := 0; ; {
		start, end := nextWord(s, i)
		if start == end {
			return words
		}
		words = append(words, strings.Map(unicode.ToLower, s[start:end]))
		i = end
	}
}

// nextWord returns the byte span of the first word of s at or after i;
// start == end when there is none.
func nextWord(s string, i int) (start, end int) {
	for i < len(s) {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if isWordRune(r) {
			break
		}
		i += n
	}
	start = i
	for i < len(s) {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if !isWordRune(r) {
			break
		}
		i += n
	}
	return start, i
}

// wordIs reports whether word, lower-cased, equals lower.
func wordIs(word, lower string) bool {
	for word != "" && lower != "" {
		r, n := utf8.DecodeRuneInString(word)
		q, m := utf8.DecodeRuneInString(lower)
		if unicode.ToLower(r) != q {
			return false
		}
		word, lower = word[n:], lower[m:]
	}
	return word == "" && lower == ""
}

func containsWord(s, lower string) bool {
	for i := 0; ; {
		start, end := nextWord(s, i)
		if start == end {
			return false
		}
		if wordIs(s[start:end], lower) {
			return true
		}
		i = end
	}
}

func containsPhrase(s string, words []string) bool {
	if len(words) == 0 {
		return true
	}
	for i := 0; ; {
		start, end := nextWord(s, i)
		if start == end {
			return false
		}
		if wordIs(s[start:end], words[0]) {
			j, all := end, true
			for _, w := range words[1:] {
				ws, we := nextWord(s, j)
				if ws == we || !wordIs(s[ws:we], w) {
					all = false
					break
				}
				j = we
			}
			if all {
				return true
			}
		}
		i = end
	}
}

// ---- keys ----

// parseKeyPath splits a key into steps by Qdrant's JSON path grammar: a
// first name, then any of .name, ."quoted name", [N] and []. A bare name is
// letters, digits, '_' and '-'; a quoted one is anything but '"' and '\'.
func parseKeyPath(key string) ([]pathStep, error) {
	var steps []pathStep
	s := key
	name, rest, err := keyName(s)
	if err != nil {
		return nil, err
	}
	steps = append(steps, pathStep{kind: stepKey, key: name})
	for s = rest; s != ""; {
		switch {
		case s[0] == '.':
			if name, s, err = keyName(s[1:]); err != nil {
				return nil, err
			}
			steps = append(steps, pathStep{kind: stepKey, key: name})
		case strings.HasPrefix(s, "[]"):
			steps = append(steps, pathStep{kind: stepEach})
			s = s[2:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, errors.New("unclosed [")
			}
			n, ok := digits(s[1:end])
			if !ok || end > 10 { // at most 9 digits: an index that fits an int anywhere
				return nil, fmt.Errorf("bad array index %q", s[:end+1])
			}
			steps = append(steps, pathStep{kind: stepIndex, index: n})
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("unexpected %q", s[:1])
		}
	}
	return steps, nil
}

// keyName reads one bare or quoted name from the start of s.
func keyName(s string) (name, rest string, err error) {
	if s != "" && s[0] == '"' {
		end := strings.IndexAny(s[1:], `"\`)
		if end < 0 || s[1+end] != '"' {
			return "", "", errors.New(`unclosed " in name`)
		}
		return s[1 : 1+end], s[2+end:], nil
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
		return "", "", errors.New("empty name (quote names with other characters)")
	}
	return s[:i], s[i:], nil
}

// ---- parsing ----

// decodeFilterJSON decodes data into nil, bool, string, json.Number, []any
// and map[string]any, rejecting duplicate fields, nesting beyond
// maxFilterJSONDepth and trailing data.
func decodeFilterJSON(data []byte) (any, error) {
	d := jsonTree{dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the filter object", ErrBadFilter)
	}
	return v, nil
}

type jsonTree struct {
	dec   *json.Decoder
	stack []jsonSeg // where the decoder is, for error messages
}

type jsonSeg struct {
	key   string
	index int // -1 for an object field
}

func (t *jsonTree) where() string {
	var b strings.Builder
	for _, s := range t.stack {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

func (t *jsonTree) fail(format string, args ...any) error {
	return badFilter(t.where(), format, args...)
}

func (t *jsonTree) value(depth int) (any, error) {
	tok, err := t.dec.Token()
	if err == io.EOF {
		return nil, t.fail("unexpected end of JSON")
	}
	if err != nil {
		return nil, t.fail("invalid JSON: %v", err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxFilterJSONDepth {
		return nil, t.fail("JSON nested deeper than %d levels", maxFilterJSONDepth)
	}
	if delim == '[' {
		arr := []any{}
		for i := 0; t.dec.More(); i++ {
			t.stack = append(t.stack, jsonSeg{index: i})
			v, err := t.value(depth + 1)
			if err != nil {
				return nil, err
			}
			t.stack = t.stack[:len(t.stack)-1]
			arr = append(arr, v)
		}
		if _, err := t.dec.Token(); err != nil {
			return nil, t.fail("invalid JSON: %v", err)
		}
		return arr, nil
	}
	obj := map[string]any{}
	for t.dec.More() {
		tok, err := t.dec.Token()
		if err != nil {
			return nil, t.fail("invalid JSON: %v", err)
		}
		key, _ := tok.(string)
		t.stack = append(t.stack, jsonSeg{key: key, index: -1})
		if _, dup := obj[key]; dup {
			return nil, t.fail("duplicate field")
		}
		v, err := t.value(depth + 1)
		if err != nil {
			return nil, err
		}
		t.stack = t.stack[:len(t.stack)-1]
		obj[key] = v
	}
	if _, err := t.dec.Token(); err != nil {
		return nil, t.fail("invalid JSON: %v", err)
	}
	return obj, nil
}

func badFilter(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return fmt.Errorf("%w: %s", ErrBadFilter, msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrBadFilter, path, msg)
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// jsonKind names a decoded JSON value's type for error messages.
func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// sortedFields returns an object's field names in order, so that the first
// error reported does not depend on map order.
func sortedFields(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type filterParser struct {
	conds int // conditions read so far, against MaxFilterConditions
}

// filter reads a filter object at depth; inNested is set inside a nested
// condition's filter, where has_id is refused.
func (p *filterParser) filter(v any, path string, depth int, inNested bool) (*Filter, error) {
	if depth > MaxFilterDepth {
		return nil, badFilter(path, "filters nested deeper than %d levels", MaxFilterDepth)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badFilter(path, "want a filter object, got %s", jsonKind(v))
	}
	f := &Filter{}
	for _, k := range sortedFields(obj) {
		kp := joinPath(path, k)
		var err error
		switch k {
		case "must":
			f.must, err = p.conditions(obj[k], kp, depth, inNested)
		case "should":
			f.should, err = p.conditions(obj[k], kp, depth, inNested)
		case "must_not":
			f.mustNot, err = p.conditions(obj[k], kp, depth, inNested)
		case "min_should":
			f.minShould, err = p.minShould(obj[k], kp, depth, inNested)
		default:
			err = badFilter(kp, "unknown field (want must, should, must_not or min_should)")
		}
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// conditions reads a list of conditions or a single one; null is absent.
func (p *filterParser) conditions(v any, path string, depth int, inNested bool) ([]filterCond, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		c, err := p.condition(x, path, depth, inNested)
		if err != nil {
			return nil, err
		}
		return []filterCond{c}, nil
	case []any:
		conds := make([]filterCond, 0, len(x))
		for i, e := range x {
			c, err := p.condition(e, indexPath(path, i), depth, inNested)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
		return conds, nil
	}
	return nil, badFilter(path, "want a condition or an array of conditions, got %s", jsonKind(v))
}

func (p *filterParser) minShould(v any, path string, depth int, inNested bool) (*minShould, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badFilter(path, "want an object with conditions and min_count, got %s", jsonKind(v))
	}
	ms := &minShould{}
	for _, k := range sortedFields(obj) {
		kp := joinPath(path, k)
		switch k {
		case "conditions":
			arr, ok := obj[k].([]any)
			if !ok {
				return nil, badFilter(kp, "want an array of conditions, got %s", jsonKind(obj[k]))
			}
			ms.conds = make([]filterCond, 0, len(arr))
			for i, e := range arr {
				c, err := p.condition(e, indexPath(kp, i), depth, inNested)
				if err != nil {
					return nil, err
				}
				ms.conds = append(ms.conds, c)
			}
		case "min_count":
			n, ok := obj[k].(json.Number)
			var min uint64
			if ok {
				min, ok = parseUintLiteral(string(n))
			}
			if !ok || min == 0 {
				return nil, badFilter(kp, "want an integer of at least 1, got %s", jsonKind(obj[k]))
			}
			ms.min = min
		default:
			return nil, badFilter(kp, "unknown field (want conditions and min_count)")
		}
	}
	if ms.conds == nil {
		return nil, badFilter(joinPath(path, "conditions"), "missing")
	}
	if ms.min == 0 {
		return nil, badFilter(joinPath(path, "min_count"), "missing")
	}
	return ms, nil
}

// conditionKind names the kind of condition a field of a condition object
// selects; known is false for a field no condition has. Inside a field
// condition (hasKey), is_empty and is_null are its own boolean options.
func conditionKind(field string, hasKey bool) (kind string, known bool) {
	switch field {
	case "key", "match", "range", "values_count", "geo_bounding_box", "geo_radius", "geo_polygon":
		return "key", true
	case "is_empty", "is_null":
		if hasKey {
			return "key", true
		}
		return field, true
	case "has_id", "nested", "has_vector", "slice":
		return field, true
	case "must", "should", "must_not", "min_should":
		return "filter", true
	}
	return "", false
}

func (p *filterParser) condition(v any, path string, depth int, inNested bool) (filterCond, error) {
	if p.conds++; p.conds > MaxFilterConditions {
		return filterCond{}, badFilter(path, "more than %d conditions in the filter", MaxFilterConditions)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return filterCond{}, badFilter(path, "want a condition object, got %s", jsonKind(v))
	}
	_, hasKey := obj["key"]
	var kinds []string
	for _, k := range sortedFields(obj) {
		kind, known := conditionKind(k, hasKey)
		if !known {
			return filterCond{}, badFilter(joinPath(path, k), "unknown field")
		}
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
	}
	switch len(kinds) {
	case 0:
		return filterCond{}, badFilter(path, "empty condition (want key, is_empty, is_null, has_id, nested, must, should, must_not or min_should)")
	case 1:
	default:
		slices.Sort(kinds)
		return filterCond{}, badFilter(path, "two kinds of condition: %s and %s", kinds[0], kinds[1])
	}
	switch kind := kinds[0]; kind {
	case "key":
		return p.fieldCondition(obj, path)
	case "is_empty", "is_null":
		c := filterCond{kind: condIsEmpty}
		if kind == "is_null" {
			c.kind = condIsNull
		}
		kp := joinPath(path, kind)
		inner, ok := obj[kind].(map[string]any)
		if !ok {
			return filterCond{}, badFilter(kp, `want {"key":...}, got %s`, jsonKind(obj[kind]))
		}
		for _, k := range sortedFields(inner) {
			if k != "key" {
				return filterCond{}, badFilter(joinPath(kp, k), "unknown field (want key)")
			}
		}
		err := c.setKey(inner["key"], joinPath(kp, "key"), false)
		return c, err
	case "has_id":
		return p.hasID(obj["has_id"], joinPath(path, "has_id"), inNested)
	case "nested":
		return p.nested(obj["nested"], joinPath(path, "nested"), depth)
	case "filter":
		f, err := p.filter(obj, path, depth+1, inNested)
		if err != nil {
			return filterCond{}, err
		}
		return filterCond{kind: condFilter, sub: f}, nil
	default: // has_vector, slice
		return filterCond{}, badFilter(joinPath(path, kind), "condition not supported")
	}
}

// setKey reads and splits a condition's key; a nested key is extended with
// [] as Qdrant does, since nested always walks an array's elements.
func (c *filterCond) setKey(v any, path string, nested bool) error {
	if v == nil {
		return badFilter(path, "missing")
	}
	key, ok := v.(string)
	if !ok {
		return badFilter(path, "want a string, got %s", jsonKind(v))
	}
	steps, err := parseKeyPath(key)
	if err != nil {
		return badFilter(path, "%q is not a valid key: %v", key, err)
	}
	if nested && steps[len(steps)-1].kind != stepEach {
		steps = append(steps, pathStep{kind: stepEach})
	}
	c.key, c.path = key, steps
	return nil
}

func (p *filterParser) fieldCondition(obj map[string]any, path string) (filterCond, error) {
	var c filterCond
	if err := c.setKey(obj["key"], joinPath(path, "key"), false); err != nil {
		return filterCond{}, err
	}
	var which []string
	for _, k := range sortedFields(obj) {
		if k != "key" && obj[k] != nil { // null counts as absent, as in Qdrant
			which = append(which, k)
		}
	}
	switch len(which) {
	case 0:
		return filterCond{}, badFilter(path, "no condition on key %q (want match, range or values_count)", c.key)
	case 1:
	default:
		return filterCond{}, badFilter(path, "two kinds of condition: %s and %s", which[0], which[1])
	}
	kp := joinPath(path, which[0])
	v := obj[which[0]]
	switch which[0] {
	case "match":
		return c, c.parseMatch(v, kp)
	case "range":
		return c, c.parseRange(v, kp)
	case "values_count":
		return c, c.parseValuesCount(v, kp)
	case "is_empty", "is_null":
		return filterCond{}, badFilter(kp, `the field-condition form is not supported; use {"%s":{"key":%q}}`, which[0], c.key)
	default: // geo_*
		return filterCond{}, badFilter(kp, "condition not supported")
	}
}

func (c *filterCond) parseMatch(v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return badFilter(path, "want an object, got %s", jsonKind(v))
	}
	var which []string
	for _, k := range sortedFields(obj) {
		if !slices.Contains(matchNames[:], k) {
			return badFilter(joinPath(path, k), "unknown field (want value, any, except, text, text_any, phrase or prefix)")
		}
		if obj[k] != nil {
			which = append(which, k)
		}
	}
	switch len(which) {
	case 0:
		return badFilter(path, "no match kind (want value, any, except, text, text_any, phrase or prefix)")
	case 1:
	default:
		return badFilter(path, "two kinds of match: %s and %s", which[0], which[1])
	}
	name := which[0]
	kp := joinPath(path, name)
	c.kind = condKind(slices.Index(matchNames[:], name))
	v = obj[name]
	switch c.kind {
	case condMatchValue:
		switch x := v.(type) {
		case string:
			c.vkind, c.str = valueString, x
		case bool:
			c.vkind, c.flag = valueBool, x
		case json.Number:
			n, ok := parseInt64Literal(string(x))
			if !ok {
				return badFilter(kp, "want a string, a boolean or an integer in int64 range, got %s", jsonKind(v))
			}
			c.vkind, c.num = valueInt, n
		default:
			return badFilter(kp, "want a string, an integer or a boolean, got %s", jsonKind(v))
		}
		return nil
	case condMatchAny, condMatchExcept:
		return c.parseValueList(v, kp)
	}
	s, ok := v.(string)
	if !ok {
		return badFilter(kp, "want a string, got %s", jsonKind(v))
	}
	c.str = s
	if c.kind != condMatchPrefix {
		c.words = textWords(s)
	}
	return nil
}

// parseValueList reads match any/except's list: all strings or all
// integers, duplicates dropped; an empty list is a list of strings.
func (c *filterCond) parseValueList(v any, path string) error {
	arr, ok := v.([]any)
	if !ok {
		return badFilter(path, "want an array of strings or of integers, got %s", jsonKind(v))
	}
	if len(arr) > 0 {
		_, c.intList = arr[0].(json.Number)
	}
	for i, e := range arr {
		if c.intList {
			x, _ := e.(json.Number)
			n, ok := parseInt64Literal(string(x))
			if !ok {
				return badFilter(indexPath(path, i), "want an integer in int64 range like the first value, got %s", jsonKind(e))
			}
			if !slices.Contains(c.ints, n) {
				c.ints = append(c.ints, n)
			}
			continue
		}
		s, ok := e.(string)
		if !ok {
			return badFilter(indexPath(path, i), "want a string like the first value, got %s", jsonKind(e))
		}
		if !slices.Contains(c.strs, s) {
			c.strs = append(c.strs, s)
		}
	}
	if len(c.strs) >= filterSetMin {
		c.strSet = make(map[string]struct{}, len(c.strs))
		for _, s := range c.strs {
			c.strSet[s] = struct{}{}
		}
	}
	if len(c.ints) >= filterSetMin {
		c.intSet = make(map[int64]struct{}, len(c.ints))
		for _, n := range c.ints {
			c.intSet[n] = struct{}{}
		}
	}
	return nil
}

// parseRange reads a range: numbers, or datetime strings when any bound is
// a string (Qdrant's DatetimeRange); at least one bound.
func (c *filterCond) parseRange(v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return badFilter(path, "want an object with gt, gte, lt or lte, got %s", jsonKind(v))
	}
	c.kind = condRange
	for _, k := range sortedFields(obj) {
		if !slices.Contains(boundNames[:], k) {
			return badFilter(joinPath(path, k), "unknown field (want gt, gte, lt or lte)")
		}
		if _, ok := obj[k].(string); ok {
			c.kind = condDatetimeRange
		}
	}
	for i, name := range boundNames {
		b := obj[name]
		if b == nil {
			continue
		}
		kp := joinPath(path, name)
		if c.kind == condDatetimeRange {
			s, ok := b.(string)
			if !ok {
				return badFilter(kp, "want a datetime string like the other bounds, got %s", jsonKind(b))
			}
			t, ok := parseDatetime(s)
			if !ok {
				return badFilter(kp, "%q is not an RFC 3339 datetime (like 2024-05-01T12:00:00Z)", s)
			}
			c.bounds[i] = rangeBound{set: true, lit: s, at: t}
			continue
		}
		x, ok := b.(json.Number)
		if !ok {
			return badFilter(kp, "want a number or an RFC 3339 datetime string, got %s", jsonKind(b))
		}
		n, ok := parseNumber(string(x))
		if !ok {
			return badFilter(kp, "%s is out of float64 range", x)
		}
		c.bounds[i] = rangeBound{set: true, lit: string(x), num: n}
	}
	if !c.bounds[0].set && !c.bounds[1].set && !c.bounds[2].set && !c.bounds[3].set {
		return badFilter(path, "no bound (want gt, gte, lt or lte)")
	}
	return nil
}

func (c *filterCond) parseValuesCount(v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return badFilter(path, "want an object with gt, gte, lt or lte, got %s", jsonKind(v))
	}
	c.kind = condValuesCount
	for _, k := range sortedFields(obj) {
		i := slices.Index(boundNames[:], k)
		if i < 0 {
			return badFilter(joinPath(path, k), "unknown field (want gt, gte, lt or lte)")
		}
		if obj[k] == nil {
			continue
		}
		x, ok := obj[k].(json.Number)
		var n uint64
		if ok {
			n, ok = parseUintLiteral(string(x))
		}
		if !ok {
			return badFilter(joinPath(path, k), "want a non-negative integer, got %s", jsonKind(obj[k]))
		}
		c.counts[i] = countBound{set: true, n: n}
	}
	if !c.counts[0].set && !c.counts[1].set && !c.counts[2].set && !c.counts[3].set {
		return badFilter(path, "no bound (want gt, gte, lt or lte)")
	}
	return nil
}

func (p *filterParser) hasID(v any, path string, inNested bool) (filterCond, error) {
	if inNested {
		// Qdrant accepts it there but never matches (a nested element has no
		// id); refusing says so instead of silently matching nothing.
		return filterCond{}, badFilter(path, "has_id is not allowed inside a nested filter")
	}
	arr, ok := v.([]any)
	if !ok {
		return filterCond{}, badFilter(path, "want an array of point ids, got %s", jsonKind(v))
	}
	c := filterCond{kind: condHasID, ids: make([]PointID, 0, len(arr)), idSet: make(map[PointID]struct{}, len(arr))}
	for i, e := range arr {
		id, err := pointIDFrom(e)
		if err != nil {
			return filterCond{}, fmt.Errorf("%w: %s: %w", ErrBadFilter, indexPath(path, i), err)
		}
		if _, dup := c.idSet[id]; dup {
			continue
		}
		c.idSet[id] = struct{}{}
		c.ids = append(c.ids, id)
	}
	return c, nil
}

func (p *filterParser) nested(v any, path string, depth int) (filterCond, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return filterCond{}, badFilter(path, `want {"key":...,"filter":{...}}, got %s`, jsonKind(v))
	}
	for _, k := range sortedFields(obj) {
		if k != "key" && k != "filter" {
			return filterCond{}, badFilter(joinPath(path, k), "unknown field (want key and filter)")
		}
	}
	c := filterCond{kind: condNested}
	if err := c.setKey(obj["key"], joinPath(path, "key"), true); err != nil {
		return filterCond{}, err
	}
	if obj["filter"] == nil {
		return filterCond{}, badFilter(joinPath(path, "filter"), "missing")
	}
	f, err := p.filter(obj["filter"], joinPath(path, "filter"), depth+1, true)
	if err != nil {
		return filterCond{}, err
	}
	c.sub = f
	return c, nil
}

// ---- marshalling ----

func (f *Filter) tree() map[string]any {
	m := map[string]any{}
	if f.must != nil {
		m["must"] = condTrees(f.must)
	}
	if f.should != nil {
		m["should"] = condTrees(f.should)
	}
	if f.mustNot != nil {
		m["must_not"] = condTrees(f.mustNot)
	}
	if ms := f.minShould; ms != nil {
		m["min_should"] = map[string]any{"conditions": condTrees(ms.conds), "min_count": ms.min}
	}
	return m
}

func condTrees(conds []filterCond) []any {
	out := make([]any, len(conds))
	for i := range conds {
		out[i] = conds[i].tree()
	}
	return out
}

func (c *filterCond) tree() map[string]any {
	switch c.kind {
	case condIsEmpty:
		return map[string]any{"is_empty": map[string]any{"key": c.key}}
	case condIsNull:
		return map[string]any{"is_null": map[string]any{"key": c.key}}
	case condHasID:
		ids := make([]any, len(c.ids))
		for i, id := range c.ids {
			ids[i] = id
		}
		return map[string]any{"has_id": ids}
	case condNested:
		return map[string]any{"nested": map[string]any{"key": c.key, "filter": c.sub.tree()}}
	case condFilter:
		return c.sub.tree()
	case condRange, condDatetimeRange:
		r := map[string]any{}
		for i, b := range c.bounds {
			if !b.set {
				continue
			}
			if c.kind == condRange {
				r[boundNames[i]] = json.Number(b.lit)
			} else {
				r[boundNames[i]] = b.lit
			}
		}
		return map[string]any{"key": c.key, "range": r}
	case condValuesCount:
		r := map[string]any{}
		for i, b := range c.counts {
			if b.set {
				r[boundNames[i]] = b.n
			}
		}
		return map[string]any{"key": c.key, "values_count": r}
	}
	var v any
	switch c.kind {
	case condMatchValue:
		switch c.vkind {
		case valueString:
			v = c.str
		case valueInt:
			v = c.num
		default:
			v = c.flag
		}
	case condMatchAny, condMatchExcept:
		list := []any{}
		for _, s := range c.strs {
			list = append(list, s)
		}
		for _, n := range c.ints {
			list = append(list, n)
		}
		v = list
	default:
		v = c.str
	}
	return map[string]any{"key": c.key, "match": map[string]any{matchNames[c.kind]: v}}
}
