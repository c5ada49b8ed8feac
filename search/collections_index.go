package search

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Payload indexes (Qdrant's create_payload_index): for a field declared
// keyword, integer, bool or uuid, the collection keeps in memory, for each
// value the field holds, the internal ids of the points holding it. A
// filter whose must conditions include a match value or match any on such
// a field then starts from those points instead of testing the filter on
// every point: at 1M points and 1% selectivity that scan was most of a
// query's time. The other schemas (float, datetime, text, geo) are recorded
// and reported but not indexed: their filters scan as before.
//
// An entry is a candidate, never an answer: the planner tests the whole
// filter on every candidate it takes, so entries left behind by a deleted
// point or a changed payload only cost work. They are counted, and the
// index is rebuilt when they outnumber the live points.

// indexedSchemas are the schemas an index is built for; the value is the
// kind of value it holds, for the posting keys.
var indexedSchemas = map[string]bool{"keyword": true, "integer": true, "bool": true, "uuid": true}

// fieldIndexes are a collection's payload indexes. Guarded by the
// pointIndex's mu.
type fieldIndexes struct {
	fields map[string]*fieldIndex // by field key as declared
	stale  int                    // entries of slots that were deleted or changed since the last build
}

type fieldIndex struct {
	path     []string            // the key split at dots
	postings map[string][]uint32 // valueKey → internal ids, in no order, maybe repeated
}

// indexablePath splits a declared field key into its names, or reports it
// cannot be indexed (array steps, empty names): a filter on it scans.
func indexablePath(key string) ([]string, bool) {
	if key == "" || strings.ContainsAny(key, "[]\"") {
		return nil, false
	}
	path := strings.Split(key, ".")
	for _, p := range path {
		if p == "" {
			return nil, false
		}
	}
	return path, true
}

// valueKey is the posting key of one payload value as the filter's match
// compares it (filterCond.testOne): strings by their text, integers by
// intOf, booleans; other values have none.
func valueKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s" + x, true
	case bool:
		if x {
			return "b1", true
		}
		return "b0", true
	}
	if n, ok := intOf(v); ok {
		return "i" + strconv.FormatInt(n, 10), true
	}
	return "", false
}

// add records the values slot's payload holds at the field: the value at
// the path, or each element when it is an array (a match passes when one
// element does).
func (fi *fieldIndex) add(slot uint64, payload map[string]any) {
	var v any = payload
	for _, name := range fi.path {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if v, ok = m[name]; !ok {
			return
		}
	}
	put := func(x any) {
		if k, ok := valueKey(x); ok {
			fi.postings[k] = append(fi.postings[k], uint32(slot))
		}
	}
	if a, ok := v.([]any); ok {
		for _, e := range a {
			put(e)
		}
		return
	}
	put(v)
}

// build (re)makes the indexes of the declared fields from the live slots.
func (fx *fieldIndexes) build(declared map[string]string, slots []pointSlot) {
	fx.fields, fx.stale = nil, 0
	for key, schema := range declared {
		path, ok := indexablePath(key)
		if !ok || !indexedSchemas[schema] {
			continue
		}
		if fx.fields == nil {
			fx.fields = map[string]*fieldIndex{}
		}
		fi := &fieldIndex{path: path, postings: map[string][]uint32{}}
		for i := range slots {
			if slots[i].live {
				fi.add(uint64(i), slots[i].payload.obj())
			}
		}
		fx.fields[key] = fi
	}
}

// add indexes a slot whose payload was just set.
func (fx *fieldIndexes) add(slot uint64, payload map[string]any) {
	for _, fi := range fx.fields {
		fi.add(slot, payload)
	}
}

// dropped counts a slot whose entries are now stale (deleted, replaced or
// given another payload), and rebuilds the indexes once stale entries
// outnumber the live points.
func (fx *fieldIndexes) dropped(declared map[string]string, slots []pointSlot, live int) {
	if fx.fields == nil {
		return
	}
	fx.stale++
	if fx.stale > live+1024 {
		fx.build(declared, slots)
	}
}

// candidates returns the internal ids that can match f, sorted and
// distinct, from the smallest posting set among f's must conditions that
// match a value (or any of several) on an indexed field; ok is false when
// f has no such condition, or when that set holds more than most entries
// (the caller's bound, beyond which it would not use them; < 0 for none).
// The caller tests f on each, unless exact: f is that one condition and
// the index has no stale entries, so every live candidate matches.
func (fx *fieldIndexes) candidates(f *Filter, most int) (ids []uint32, exact, ok bool) {
	if f == nil || fx.fields == nil {
		return nil, false, false
	}
	best := -1
	var lists [][]uint32
	for i := range f.must {
		c := &f.must[i]
		if c.kind != condMatchValue && c.kind != condMatchAny {
			continue
		}
		fi := fx.fields[c.key]
		if fi == nil {
			continue
		}
		var keys []string
		switch {
		case c.kind == condMatchValue && c.vkind == valueString:
			keys = []string{"s" + c.str}
		case c.kind == condMatchValue && c.vkind == valueInt:
			keys = []string{"i" + strconv.FormatInt(c.num, 10)}
		case c.kind == condMatchValue:
			keys = []string{map[bool]string{true: "b1", false: "b0"}[c.flag]}
		case c.intList:
			for _, n := range c.ints {
				keys = append(keys, "i"+strconv.FormatInt(n, 10))
			}
		default:
			for _, s := range c.strs {
				keys = append(keys, "s"+s)
			}
		}
		var ls [][]uint32
		size := 0
		for _, k := range keys {
			if l := fi.postings[k]; len(l) > 0 {
				ls = append(ls, l)
				size += len(l)
			}
		}
		if best < 0 || size < best {
			best, lists = size, ls
		}
	}
	if best < 0 || (most >= 0 && best > most) {
		return nil, false, false
	}
	ids = make([]uint32, 0, best)
	for _, l := range lists {
		ids = append(ids, l...)
	}
	slices.Sort(ids)
	exact = fx.stale == 0 && len(f.must) == 1 && f.should == nil && f.mustNot == nil && f.minShould == nil
	return slices.Compact(ids), exact, true
}

// CreatePayloadIndex records that field of the collection is indexed with
// schema (see store.PayloadSchemas) and, for keyword, integer, bool and
// uuid, builds the index now; filters matching values of that field then
// start from the points holding them. It fails with store.ErrNotFound for
// an unknown collection and store.ErrInvalid for a bad field or schema.
func (c *Collections) CreatePayloadIndex(ctx context.Context, name, field, schema string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	col, err := c.get(name)
	if err != nil {
		return err
	}
	if err := c.st.SetPayloadIndex(ctx, name, field, schema); err != nil {
		return err
	}
	return c.reindexFields(col)
}

// DeletePayloadIndex forgets field's index; filters on it scan again.
func (c *Collections) DeletePayloadIndex(ctx context.Context, name, field string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	col, err := c.get(name)
	if err != nil {
		return err
	}
	if err := c.st.DeletePayloadIndex(ctx, name, field); err != nil {
		return err
	}
	return c.reindexFields(col)
}

// reindexFields rebuilds col's payload indexes from the store's list of
// them. Called with writeMu held.
func (c *Collections) reindexFields(col *pointIndex) error {
	info, err := c.st.Collection(col.name)
	if err != nil {
		return fmt.Errorf("payload indexes of collection %q: %w", col.name, err)
	}
	col.mu.Lock()
	col.declared = info.PayloadIndexes
	col.fields.build(col.declared, col.slots)
	col.mu.Unlock()
	return nil
}

// PayloadIndexCounts reports, per declared field of the collection, its
// schema and how many live points hold a value for it (-1 where it is not
// indexed), for Qdrant's payload_schema.
func (c *Collections) PayloadIndexCounts(name string) (map[string]IndexedField, error) {
	col, err := c.get(name)
	if err != nil {
		return nil, err
	}
	col.mu.RLock()
	defer col.mu.RUnlock()
	out := make(map[string]IndexedField, len(col.declared))
	for key, schema := range col.declared {
		f := IndexedField{Schema: schema, Points: -1}
		if fi := col.fields.fields[key]; fi != nil {
			seen := make([]uint64, (len(col.slots)+63)/64)
			for _, l := range fi.postings {
				for _, s := range l {
					if int(s) < len(col.slots) && col.slots[s].live && seen[s/64]&(1<<(s%64)) == 0 {
						seen[s/64] |= 1 << (s % 64)
						f.Points++
					}
				}
			}
			f.Points++ // from -1
		}
		out[key] = f
	}
	return out, nil
}

// IndexedField describes one payload index.
type IndexedField struct {
	Schema string
	// Points is how many points hold a value of the field, -1 for a schema
	// that is recorded but not indexed.
	Points int
}
