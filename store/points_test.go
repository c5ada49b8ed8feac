package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bg = context.Background()

// testVector is a vector of n components that depends only on seed.
func testVector(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// unnamed is a point of a collection with one unnamed vector of dims 4.
func unnamed(id PointID, seed uint64, payload string) Point {
	p := Point{ID: id, Vectors: map[string][]float32{"": testVector(4, seed)}}
	if payload != "" {
		p.Payload = []byte(payload)
	}
	return p
}

func newCollection(t testing.TB, s *Store, name string, vectors map[string]VectorParams) CollectionInfo {
	t.Helper()
	info, err := s.CreateCollection(bg, name, vectors)
	if err != nil {
		t.Fatalf("CreateCollection(%q): %v", name, err)
	}
	return info
}

var vec4 = map[string]VectorParams{"": {Size: 4, Distance: Cosine}}

func upsert(t testing.TB, s *Store, collection string, pts ...Point) {
	t.Helper()
	if err := s.UpsertPoints(bg, collection, pts); err != nil {
		t.Fatalf("UpsertPoints: %v", err)
	}
}

func generation(t testing.TB, s *Store, collection string) uint64 {
	t.Helper()
	info, err := s.Collection(collection)
	if err != nil {
		t.Fatal(err)
	}
	return info.Generation
}

// checkCollections compares every collection's point counter with its
// points bucket and decodes every point, besides bbolt's own page check.
func checkCollections(t testing.TB, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		return tx.Bucket(bucketCollections).ForEach(func(name, _ []byte) error {
			col, err := openCollection(tx, string(name))
			if err != nil {
				return err
			}
			n, err := getCount(col.b, collCount)
			if err != nil {
				return err
			}
			if keys := col.points.Stats().KeyN; uint64(keys) != n {
				return fmt.Errorf("collection %s: counter %d, %d points stored", name, n, keys)
			}
			return col.points.ForEach(func(k, v []byte) error {
				id, err := decodePointKey(k)
				if err == nil {
					_, err = col.decode(id, v)
				}
				return err
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCollectionsCreateListGetDelete(t *testing.T) {
	s := newTestStore(t)
	named := map[string]VectorParams{"image": {Size: 3, Distance: Dot}, "text": {Size: 2, Distance: Euclid}}
	before := time.Now()
	b := newCollection(t, s, "b.2-x_Y", named)
	a := newCollection(t, s, "a", vec4)
	if !reflect.DeepEqual(b.Vectors, named) || b.Points != 0 || b.Created.Before(before.Add(-time.Second)) || b.Generation == 0 {
		t.Errorf("CreateCollection returned %+v", b)
	}
	if _, err := s.CreateCollection(bg, "a", named); !errors.Is(err, ErrExists) {
		t.Errorf("creating a twice: %v, want ErrExists", err)
	}
	infos, err := s.Collections()
	if err != nil {
		t.Fatal(err)
	}
	// The documents' chunks are a collection too, always there.
	if len(infos) != 3 || infos[0].Name != "a" || infos[1].Name != "b.2-x_Y" || infos[2].Name != DocumentsCollection {
		t.Fatalf("Collections = %+v, want a, b.2-x_Y and documents", infos)
	}
	for i, want := range []CollectionInfo{a, b} {
		got, err := s.Collection(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Created.Equal(want.Created) || !reflect.DeepEqual(got.Vectors, want.Vectors) ||
			got.Generation != want.Generation || got.Points != 0 || got.Name != want.Name {
			t.Errorf("Collection(%q) = %+v, want %+v", want.Name, got, want)
		}
		if !reflect.DeepEqual(infos[i], got) {
			t.Errorf("Collections()[%d] = %+v, Collection = %+v", i, infos[i], got)
		}
	}
	for _, name := range []string{"c", "", "..", "a/b"} {
		if _, err := s.Collection(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Collection(%q): %v, want ErrNotFound", name, err)
		}
	}

	upsert(t, s, "a", unnamed(NumPointID(1), 1, ""), unnamed(NumPointID(2), 2, ""))
	if ok, err := s.DeleteCollection(bg, "a"); !ok || err != nil {
		t.Fatalf("DeleteCollection(a) = %v, %v", ok, err)
	}
	if ok, err := s.DeleteCollection(bg, "a"); ok || err != nil {
		t.Fatalf("DeleteCollection(a) again = %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.DeleteCollection(bg, "../x"); ok || err != nil {
		t.Fatalf("DeleteCollection of a bad name = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.GetPoints("a", []PointID{NumPointID(1)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPoints after DeleteCollection: %v, want ErrNotFound", err)
	}
	// Created again, the collection is empty and has another generation.
	again := newCollection(t, s, "a", vec4)
	if n, err := s.CountPoints("a"); n != 0 || err != nil {
		t.Errorf("CountPoints of the new a = %d, %v", n, err)
	}
	if pts, err := s.GetPoints("a", []PointID{NumPointID(1), NumPointID(2)}); len(pts) != 0 || err != nil {
		t.Errorf("the new a holds %d points of the old one (%v)", len(pts), err)
	}
	if again.Generation == a.Generation {
		t.Errorf("the new a has the old one's generation %d", a.Generation)
	}
	checkCollections(t, s)
}

func TestCreateCollectionRefuses(t *testing.T) {
	s := newTestStore(t)
	newCollection(t, s, "taken", vec4)
	many := map[string]VectorParams{}
	for i := range MaxNamedVectors + 1 {
		many[fmt.Sprint("v", i)] = VectorParams{Size: 1, Distance: Dot}
	}
	for _, tt := range []struct {
		name    string
		vectors map[string]VectorParams
		want    error
	}{
		{"", vec4, ErrInvalid},
		{".", vec4, ErrInvalid},
		{"..", vec4, ErrInvalid},
		{"a/b", vec4, ErrInvalid},
		{"a b", vec4, ErrInvalid},
		{"café", vec4, ErrInvalid},
		{"a\x00", vec4, ErrInvalid},
		{strings.Repeat("x", MaxCollectionName+1), vec4, ErrInvalid},
		{"novectors", nil, ErrInvalid},
		{"size0", map[string]VectorParams{"": {Size: 0, Distance: Cosine}}, ErrInvalid},
		{"size65537", map[string]VectorParams{"": {Size: 65537, Distance: Cosine}}, ErrInvalid},
		{"negative", map[string]VectorParams{"": {Size: -1, Distance: Cosine}}, ErrInvalid},
		{"nodistance", map[string]VectorParams{"": {Size: 4}}, ErrInvalid},
		{"distance4", map[string]VectorParams{"": {Size: 4, Distance: 4}}, ErrInvalid},
		{"mixed", map[string]VectorParams{"": {Size: 4, Distance: Dot}, "a": {Size: 4, Distance: Dot}}, ErrInvalid},
		{"badutf8", map[string]VectorParams{"\xff": {Size: 4, Distance: Dot}}, ErrInvalid},
		{"longname", map[string]VectorParams{strings.Repeat("v", MaxCollectionName+1): {Size: 4, Distance: Dot}}, ErrInvalid},
		{"many", many, ErrInvalid},
		{"taken", vec4, ErrExists},
	} {
		if _, err := s.CreateCollection(bg, tt.name, tt.vectors); !errors.Is(err, tt.want) {
			t.Errorf("CreateCollection(%.20q, %v): %v, want %v", tt.name, tt.vectors, err, tt.want)
		}
	}
	for _, name := range []string{strings.Repeat("x", MaxCollectionName), "...", "-_.Az09"} {
		newCollection(t, s, name, map[string]VectorParams{"": {Size: 65536, Distance: Euclid}})
	}
	if infos, _ := s.Collections(); len(infos) != 5 {
		t.Errorf("%d collections after the refusals, want 4 and documents", len(infos))
	}
}

func TestCreateCollectionStopsAtMaxCollections(t *testing.T) {
	s := newTestStore(t)
	// Filled directly, in one transaction: MaxCollections fsyncs would be
	// slow and pin nothing more.
	err := s.db.Update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketCollections)
		for i := range MaxCollections - 1 {
			b, err := top.CreateBucket(fmt.Appendf(nil, "c%04d", i))
			if err != nil {
				return err
			}
			if _, err := b.CreateBucket(collPoints); err != nil {
				return err
			}
			if err := b.Put(collConfig, encodeConfig(time.Now(), vec4)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	newCollection(t, s, "last", vec4)
	if _, err := s.CreateCollection(bg, "onemore", vec4); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "1024 collections") {
		t.Fatalf("CreateCollection past the limit: %v, want ErrInvalid naming the limit", err)
	}
	if infos, err := s.Collections(); err != nil || len(infos) != MaxCollections+1 { // and documents
		t.Fatalf("Collections = %d, %v", len(infos), err)
	}
}

func TestDistanceNames(t *testing.T) {
	for _, d := range []Distance{Cosine, Dot, Euclid} {
		for _, s := range []string{d.String(), strings.ToLower(d.String()), strings.ToUpper(d.String())} {
			if got, err := ParseDistance(s); got != d || err != nil {
				t.Errorf("ParseDistance(%q) = %v, %v", s, got, err)
			}
		}
		b, err := json.Marshal(VectorParams{Size: 3, Distance: d})
		var back VectorParams
		if err != nil || json.Unmarshal(b, &back) != nil || back.Distance != d {
			t.Errorf("JSON round trip of %v: %s, %v, %v", d, b, err, back)
		}
	}
	if Cosine.String() != "Cosine" || Dot.String() != "Dot" || Euclid.String() != "Euclid" {
		t.Error("names differ from Qdrant's")
	}
	for _, s := range []string{"", "Manhattan", "cos", "Euclidean"} {
		if _, err := ParseDistance(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDistance(%q): %v, want ErrInvalid", s, err)
		}
	}
	if _, err := json.Marshal(Distance(0)); err == nil {
		t.Error("Distance(0) marshals")
	}
}

func TestPointsUpsertGetScrollCountDelete(t *testing.T) {
	s := newTestStore(t)
	newCollection(t, s, "c", vec4)
	ua := mustPointID(t, "00000000-0000-0000-0000-0000000000aa")
	ub := mustPointID(t, "FFFFFFFF-0000-0000-0000-000000000000")
	max := NumPointID(math.MaxUint64)
	// Stored in key order: integers ascending, then UUIDs by bytes.
	order := []PointID{NumPointID(0), NumPointID(1), NumPointID(5), NumPointID(300), max, ua, ub}
	pts := []Point{
		unnamed(ub, 1, `{"k":"ub"}`),
		unnamed(NumPointID(5), 2, ` {"k": 5, "nested": {"a": [1, 2]}} `),
		unnamed(NumPointID(300), 3, ""),
		unnamed(ua, 4, `null`),
		unnamed(max, 5, `{}`),
		unnamed(NumPointID(1), 6, `{"k":1}`),
		unnamed(NumPointID(0), 7, `{"k":0}`),
	}
	byID := map[PointID]Point{}
	for _, p := range pts {
		if string(p.Payload) == "null" {
			p.Payload = nil // null is no payload
		}
		byID[p.ID] = p
	}
	g0 := generation(t, s, "c")
	upsert(t, s, "c", pts...)
	if g := generation(t, s, "c"); g != g0+1 {
		t.Errorf("generation %d after one upsert from %d", g, g0)
	}
	if n, err := s.CountPoints("c"); n != len(pts) || err != nil {
		t.Fatalf("CountPoints = %d, %v", n, err)
	}

	got, err := s.GetPoints("c", []PointID{ub, NumPointID(7), NumPointID(5), ua, ub})
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{byID[ub], byID[NumPointID(5)], byID[ua], byID[ub]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetPoints = %+v\nwant %+v", got, want)
	}

	// Scroll in pages of 2 from the start, then from an id in the middle
	// and from one that is not stored.
	var seen []PointID
	var from *PointID
	for pages := 0; ; pages++ {
		page, next, err := s.ScrollPoints("c", from, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			if !reflect.DeepEqual(p, byID[p.ID]) {
				t.Fatalf("scrolled %+v, stored %+v", p, byID[p.ID])
			}
			seen = append(seen, p.ID)
		}
		if next == nil {
			break
		}
		if len(page) != 2 || pages > len(pts) {
			t.Fatalf("page of %d points before next %v", len(page), next)
		}
		from = next
	}
	if !reflect.DeepEqual(seen, order) {
		t.Fatalf("scroll order %v, want %v", seen, order)
	}
	for _, tt := range []struct {
		from  PointID
		limit int
		want  []PointID
		next  *PointID
	}{
		{NumPointID(5), 3, order[2:5], &ua},
		{NumPointID(6), 10, order[3:], nil},
		{ua, 2, order[5:], nil},
		{mustPointID(t, "ffffffff-ffff-ffff-ffff-ffffffffffff"), 1, nil, nil},
	} {
		page, next, err := s.ScrollPoints("c", &tt.from, tt.limit)
		var ids []PointID
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if err != nil || !reflect.DeepEqual(ids, tt.want) || !reflect.DeepEqual(next, tt.next) {
			t.Errorf("ScrollPoints(from %v, %d) = %v, next %v, %v; want %v, next %v", tt.from, tt.limit, ids, next, err, tt.want, tt.next)
		}
	}
	if _, _, err := s.ScrollPoints("c", nil, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("ScrollPoints with limit 0: %v, want ErrInvalid", err)
	}

	// Replacing keeps the count; of two equal ids in a batch the later wins.
	g1 := generation(t, s, "c")
	upsert(t, s, "c", unnamed(NumPointID(5), 20, `{"v":1}`), unnamed(NumPointID(5), 21, `{"v":2}`), unnamed(NumPointID(9), 22, ""))
	if n, _ := s.CountPoints("c"); n != len(pts)+1 {
		t.Errorf("CountPoints = %d after replacing one and adding one to %d", n, len(pts))
	}
	if got, _ := s.GetPoints("c", []PointID{NumPointID(5)}); !reflect.DeepEqual(got, []Point{unnamed(NumPointID(5), 21, `{"v":2}`)}) {
		t.Errorf("point 5 = %+v, want the later of the batch", got)
	}
	if g := generation(t, s, "c"); g != g1+1 {
		t.Errorf("generation %d, want %d", g, g1+1)
	}

	// Delete: missing ids ignored, an id asked twice counted once.
	n, err := s.DeletePoints(bg, "c", []PointID{NumPointID(5), NumPointID(5), NumPointID(77), ua})
	if n != 2 || err != nil {
		t.Fatalf("DeletePoints = %d, %v; want 2", n, err)
	}
	if got, _ := s.GetPoints("c", []PointID{NumPointID(5), ua, ub}); len(got) != 1 || got[0].ID != ub {
		t.Errorf("after delete GetPoints = %+v", got)
	}
	g2 := generation(t, s, "c")
	if g2 != g1+2 {
		t.Errorf("generation %d after a delete, want %d", g2, g1+2)
	}
	if n, err := s.DeletePoints(bg, "c", []PointID{NumPointID(5)}); n != 0 || err != nil || generation(t, s, "c") != g2 {
		t.Errorf("deleting nothing = %d, %v and moved the generation", n, err)
	}
	if n, _ := s.CountPoints("c"); n != len(pts)-1 {
		t.Errorf("CountPoints = %d, want %d", n, len(pts)-1)
	}

	for _, err := range []error{
		s.UpsertPoints(bg, "none", []Point{unnamed(NumPointID(1), 1, "")}),
		s.UpsertPoints(bg, "none", nil),
		func() error { _, err := s.GetPoints("none", nil); return err }(),
		func() error { _, err := s.DeletePoints(bg, "none", nil); return err }(),
		func() error { _, err := s.CountPoints("none"); return err }(),
		func() error { _, _, err := s.ScrollPoints("none", nil, 1); return err }(),
		func() error { _, err := s.UpdatePayload(bg, "none", nil, PayloadOp{Clear: true}); return err }(),
		func() error { _, err := s.ForEachPoint(bg, "none", func(Point) error { return nil }); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("on a missing collection: %v, want ErrNotFound", err)
		}
	}
	checkCollections(t, s)
}

func TestUpsertPointsRefusesTheWholeBatchNamingThePoint(t *testing.T) {
	s := newTestStore(t)
	named := map[string]VectorParams{"image": {Size: 3, Distance: Dot}, "text": {Size: 2, Distance: Euclid}}
	newCollection(t, s, "n", named)
	newCollection(t, s, "u", vec4)
	good := func(id uint64) Point {
		return Point{ID: NumPointID(id), Vectors: map[string][]float32{"image": {1, 2, 3}, "text": {4, 5}}, Payload: []byte(`{"a":1}`)}
	}
	upsert(t, s, "n", good(100))
	g := generation(t, s, "n")
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	for _, tt := range []struct {
		name       string
		collection string
		bad        Point
		message    string
	}{
		{"missing vector", "n", Point{Vectors: map[string][]float32{"image": {1, 2, 3}}}, `vector "text" is missing`},
		{"extra vector", "n", Point{Vectors: map[string][]float32{"image": {1, 2, 3}, "text": {4, 5}, "audio": {1}}}, `vector "audio": the collection has no such vector`},
		{"unnamed in named", "n", Point{Vectors: map[string][]float32{"": {1, 2, 3}}}, `vector "image" is missing`},
		{"no vectors", "u", Point{}, "no vector"},
		{"named in unnamed", "u", Point{Vectors: map[string][]float32{"x": {1, 2, 3, 4}}}, "no vector"},
		{"extra beside unnamed", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4}, "x": {1}}}, `vector "x": the collection has no such vector`},
		{"short", "n", Point{Vectors: map[string][]float32{"image": {1, 2}, "text": {4, 5}}}, `vector "image" has 2 dims, the collection's has 3`},
		{"long", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4, 5}}}, `vector "" has 5 dims, the collection's has 4`},
		{"NaN", "n", Point{Vectors: map[string][]float32{"image": {1, nan, 3}, "text": {4, 5}}}, `vector "image": component 1 is NaN`},
		{"Inf", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, inf}}}, `component 3 is -Inf`},
		{"payload not JSON", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4}}, Payload: []byte(`{"a":}`)}, "not valid JSON"},
		{"payload array", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4}}, Payload: []byte(`[1]`)}, "not a JSON object"},
		{"payload string", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4}}, Payload: []byte(`"x"`)}, "not a JSON object"},
		{"payload two values", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4}}, Payload: []byte(`{} {}`)}, "not valid JSON"},
		{"payload too large", "u", Point{Vectors: map[string][]float32{"": {1, 2, 3, 4}}, Payload: []byte(`{"a":"` + strings.Repeat("x", MaxPayloadBytes) + `"}`)}, "more than 1048576"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := generation(t, s, tt.collection)
			pts := []Point{unnamed(NumPointID(1), 1, ""), unnamed(NumPointID(2), 2, ""), tt.bad, unnamed(NumPointID(3), 3, "")}
			if tt.collection == "n" {
				pts = []Point{good(1), good(2), tt.bad, good(3)}
			}
			pts[2].ID = NumPointID(42)
			err := s.UpsertPoints(bg, tt.collection, pts)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("UpsertPoints: %v, want ErrInvalid", err)
			}
			for _, m := range []string{"point 2 (id 42)", tt.message} {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q lacks %q", err, m)
				}
			}
			if got, _ := s.GetPoints(tt.collection, []PointID{NumPointID(1), NumPointID(2)}); len(got) != 0 {
				t.Errorf("the good points before the bad one were stored: %v", got)
			}
			if generation(t, s, tt.collection) != g {
				t.Error("a refused batch moved the generation")
			}
		})
	}
	if n, _ := s.CountPoints("n"); n != 1 || generation(t, s, "n") != g {
		t.Errorf("collection n: %d points, generation moved: %v", n, generation(t, s, "n") != g)
	}
	// A payload of exactly MaxPayloadBytes is taken.
	p := unnamed(NumPointID(7), 7, `{"a":"`+strings.Repeat("x", MaxPayloadBytes-8)+`"}`)
	if len(p.Payload) != MaxPayloadBytes {
		t.Fatalf("test payload is %d bytes", len(p.Payload))
	}
	upsert(t, s, "u", p)
	checkCollections(t, s)
}

func TestUpsertPointsWithCanceledContextWritesNothing(t *testing.T) {
	s := newTestStore(t)
	newCollection(t, s, "c", vec4)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := s.UpsertPoints(ctx, "c", []Point{unnamed(NumPointID(1), 1, "")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("UpsertPoints: %v, want context.Canceled", err)
	}
	if n, _ := s.CountPoints("c"); n != 0 {
		t.Errorf("%d points stored", n)
	}
}

func TestUpdatePayload(t *testing.T) {
	s := newTestStore(t)
	newCollection(t, s, "c", vec4)
	ids := []PointID{NumPointID(1), NumPointID(2), NumPointID(3)}
	reset := func() {
		upsert(t, s, "c", unnamed(ids[0], 1, `{"a": 1, "b": {"x": [1, 2]}, "c": "three"}`),
			unnamed(ids[1], 2, `{"a":1,"a":2}`), unnamed(ids[2], 3, ""))
	}
	payloads := func() []string {
		pts, err := s.GetPoints("c", ids)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, p := range pts {
			if !reflect.DeepEqual(p.Vectors[""], testVector(4, uint64(i+1))) {
				t.Fatalf("point %v: the payload update changed the vector", p.ID)
			}
			out = append(out, string(p.Payload))
		}
		return out
	}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	for _, tt := range []struct {
		name    string
		ids     []PointID
		op      PayloadOp
		changed int
		want    []string
	}{
		{"set merges top-level keys", ids, PayloadOp{Set: map[string]json.RawMessage{"c": raw(`"new"`), "d": raw(` [true, null] `), "a": raw("1")}}, 3,
			[]string{`{"a":1,"b":{"x": [1, 2]},"c":"new","d":[true, null]}`, `{"a":1,"c":"new","d":[true, null]}`, `{"a":1,"c":"new","d":[true, null]}`}},
		{"set with the stored values changes nothing", ids[:1], PayloadOp{Set: map[string]json.RawMessage{"a": raw("1"), "c": raw(`"three"`)}}, 0,
			[]string{`{"a": 1, "b": {"x": [1, 2]}, "c": "three"}`, `{"a":1,"a":2}`, ``}},
		{"empty set changes nothing", ids, PayloadOp{}, 0,
			[]string{`{"a": 1, "b": {"x": [1, 2]}, "c": "three"}`, `{"a":1,"a":2}`, ``}},
		{"overwrite replaces", []PointID{ids[0], ids[2], NumPointID(99)}, PayloadOp{Set: map[string]json.RawMessage{"z": raw("0"), "y": raw(`{"q":1}`)}, Overwrite: true}, 2,
			[]string{`{"y":{"q":1},"z":0}`, `{"a":1,"a":2}`, `{"y":{"q":1},"z":0}`}},
		{"overwrite with nothing empties", ids[:1], PayloadOp{Overwrite: true}, 1,
			[]string{``, `{"a":1,"a":2}`, ``}},
		{"delete keys", ids, PayloadOp{Delete: []string{"b", "a", "missing"}}, 2,
			[]string{`{"c":"three"}`, ``, ``}},
		{"delete missing keys changes nothing", ids, PayloadOp{Delete: []string{"missing"}}, 0,
			[]string{`{"a": 1, "b": {"x": [1, 2]}, "c": "three"}`, `{"a":1,"a":2}`, ``}},
		{"clear", []PointID{ids[0], ids[0], ids[2]}, PayloadOp{Clear: true}, 1,
			[]string{``, `{"a":1,"a":2}`, ``}},
		{"escaped keys stay escaped", ids[2:], PayloadOp{Set: map[string]json.RawMessage{"<\"q\">": raw("1")}}, 1,
			[]string{`{"a": 1, "b": {"x": [1, 2]}, "c": "three"}`, `{"a":1,"a":2}`, `{"<\"q\">":1}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reset()
			g := generation(t, s, "c")
			n, err := s.UpdatePayload(bg, "c", tt.ids, tt.op)
			if err != nil || n != tt.changed {
				t.Fatalf("UpdatePayload = %d, %v; want %d", n, err, tt.changed)
			}
			if got := payloads(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("payloads\n got %q\nwant %q", got, tt.want)
			}
			if moved := generation(t, s, "c") != g; moved != (n > 0) {
				t.Errorf("generation moved: %v, after %d changes", moved, n)
			}
		})
	}

	reset()
	before := payloads()
	// big fits beside point 2's payload but not beside point 1's.
	big := raw(`"` + strings.Repeat("x", MaxPayloadBytes-22) + `"`)
	for _, op := range []PayloadOp{
		{Clear: true, Delete: []string{"a"}},
		{Clear: true, Set: map[string]json.RawMessage{"a": raw("1")}},
		{Clear: true, Overwrite: true},
		{Delete: []string{"a"}, Set: map[string]json.RawMessage{"a": raw("1")}},
		{Delete: []string{"a"}, Overwrite: true},
		{Set: map[string]json.RawMessage{"a": raw("{")}},
		{Set: map[string]json.RawMessage{"a": nil}},
		{Set: map[string]json.RawMessage{"a": raw("1 2")}},
		{Set: map[string]json.RawMessage{"a": big, "b": big}, Overwrite: true},
		// Grows point 1 past the limit after point 2 was changed in the
		// same transaction: the whole update rolls back.
		{Set: map[string]json.RawMessage{"zz": big}},
	} {
		if _, err := s.UpdatePayload(bg, "c", []PointID{ids[1], ids[0]}, op); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdatePayload(%+.60v): %v, want ErrInvalid", op, err)
		}
	}
	if got := payloads(); !reflect.DeepEqual(got, before) {
		t.Errorf("refused updates changed payloads:\n got %q\nwant %q", got, before)
	}
	checkCollections(t, s)
}

func TestPointsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	named := map[string]VectorParams{"a": {Size: 2, Distance: Dot}, "b": {Size: 1, Distance: Cosine}}
	newCollection(t, s, "one", vec4)
	newCollection(t, s, "two", named)
	upsert(t, s, "one", unnamed(NumPointID(1), 1, `{"x":1}`), unnamed(mustPointID(t, "67e55044-10b1-426f-9247-bb680e5fe0c8"), 2, ""))
	upsert(t, s, "two", Point{ID: NumPointID(8), Vectors: map[string][]float32{"a": {1.5, -2}, "b": {math.SmallestNonzeroFloat32}}})
	put(t, s, testDoc("doc", 2, testDims, 1))
	infos, _ := s.Collections()
	var pts [][]Point
	for _, info := range infos {
		p, _, err := s.ScrollPoints(info.Name, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, p)
	}
	s.Close()

	s = openTest(t, path, Options{})
	again, err := s.Collections()
	if err != nil || !reflect.DeepEqual(infos, again) {
		t.Fatalf("after reopen Collections = %+v, %v\nwant %+v", again, err, infos)
	}
	for i, info := range again {
		p, _, err := s.ScrollPoints(info.Name, nil, 100)
		if err != nil || !reflect.DeepEqual(p, pts[i]) {
			t.Fatalf("after reopen %s holds %+v, %v\nwant %+v", info.Name, p, err, pts[i])
		}
	}
	if _, err := s.Get("doc"); err != nil {
		t.Fatal(err)
	}
	checkCollections(t, s)
	checkConsistent(t, s)
}

// TestPointWritesLeaveDocumentsAlone pins that collections and documents
// share only the file: a point write neither moves the store's generation,
// which would make the document index rebuild, nor its counts.
func TestPointWritesLeaveDocumentsAlone(t *testing.T) {
	s := newTestStore(t)
	put(t, s, testDoc("doc", 1, testDims, 1))
	g, _ := s.Generation()
	newCollection(t, s, "c", vec4)
	upsert(t, s, "c", unnamed(NumPointID(1), 1, ""))
	s.UpdatePayload(bg, "c", []PointID{NumPointID(1)}, PayloadOp{Set: map[string]json.RawMessage{"a": json.RawMessage("1")}})
	s.DeletePoints(bg, "c", []PointID{NumPointID(1)})
	s.DeleteCollection(bg, "c")
	if g2, _ := s.Generation(); g2 != g {
		t.Errorf("store generation %d -> %d after point writes", g, g2)
	}
	if d, c, _ := s.Count(); d != 1 || c != 1 {
		t.Errorf("Count = %d, %d", d, c)
	}
}

func TestForEachPointSeesASnapshot(t *testing.T) {
	s := newTestStore(t)
	newCollection(t, s, "c", vec4)
	// Grow the file and free the pages again first, so the writes below
	// fit in free pages: a writer that had to grow the file would wait for
	// the reader (see ForEachPoint).
	var filler []Point
	for i := range 500 {
		filler = append(filler, unnamed(NumPointID(uint64(1000+i)), uint64(i), `{"pad":"`+strings.Repeat("p", 500)+`"}`))
	}
	upsert(t, s, "c", filler...)
	var fillerIDs []PointID
	for _, p := range filler {
		fillerIDs = append(fillerIDs, p.ID)
	}
	if _, err := s.DeletePoints(bg, "c", fillerIDs); err != nil {
		t.Fatal(err)
	}
	var want []Point
	for i := range 10 {
		want = append(want, unnamed(NumPointID(uint64(i)), uint64(i), fmt.Sprintf(`{"i":%d}`, i)))
	}
	upsert(t, s, "c", want...)
	g := generation(t, s, "c")

	first, release := make(chan struct{}), make(chan struct{})
	var got []Point
	var walkGen uint64
	var walkErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		walkGen, walkErr = s.ForEachPoint(bg, "c", func(p Point) error {
			if len(got) == 0 {
				close(first)
				<-release
			}
			got = append(got, p)
			return nil
		})
	})
	<-first
	// While the walk is inside its transaction: delete, add and change.
	if _, err := s.DeletePoints(bg, "c", []PointID{NumPointID(3), NumPointID(9)}); err != nil {
		t.Fatal(err)
	}
	upsert(t, s, "c", unnamed(NumPointID(4), 99, `{"changed":true}`), unnamed(NumPointID(50), 50, ""))
	close(release)
	wg.Wait()
	if walkErr != nil || walkGen != g || !reflect.DeepEqual(got, want) {
		t.Fatalf("ForEachPoint = %d points, generation %d, %v; want the %d points and generation %d as of its start",
			len(got), walkGen, walkErr, len(want), g)
	}

	// fn's error comes back as is; a canceled context stops the walk.
	stop := errors.New("stop")
	if _, err := s.ForEachPoint(bg, "c", func(Point) error { return stop }); err != stop {
		t.Errorf("ForEachPoint returned %v, want fn's error", err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.ForEachPoint(ctx, "c", func(Point) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ForEachPoint with a canceled context: %v", err)
	}
}

func TestUpsertPointsStopsAtTheFileLimitAndLeavesTheCollectionWhole(t *testing.T) {
	const limit = 4 << 20
	lowerFileSizeLimit(t, limit)
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: testModel, Dims: testDims})
	newCollection(t, s, "c", map[string]VectorParams{"": {Size: 1024, Distance: Dot}})
	var err error
	stored := 0
	for ; stored < 100; stored++ { // 100 batches of 16 points of 4 KB are 6.4 MB
		var batch []Point
		for i := range 16 {
			batch = append(batch, Point{ID: NumPointID(uint64(16*stored + i)), Vectors: map[string][]float32{"": testVector(1024, uint64(i))}})
		}
		if err = s.UpsertPoints(bg, "c", batch); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("after %d batches UpsertPoints failed with %v, want ErrNoSpace and ErrTooLarge", stored, err)
	}
	if n, _ := s.CountPoints("c"); n != 16*stored {
		t.Errorf("CountPoints = %d, want the %d stored before the limit", n, 16*stored)
	}
	checkCollections(t, s)
}

// TestOpenMigratesSchema1StoreInPlace opens a store written by the schema-1
// code (testdata/schema1.db, made at commit af790f8 by the program in
// /work/notes/points.md; schema1.json is what that code's Get read back)
// and checks that it becomes schema 2 with every document as it was.
func TestOpenMigratesSchema1StoreInPlace(t *testing.T) {
	golden := readGolden(t, "testdata/schema1.json")
	path := copyFile(t, "testdata/schema1.db")
	if v := fileSchema(t, path); v != 1 {
		t.Fatalf("testdata/schema1.db says schema %d", v)
	}

	s := openTest(t, path, Options{Model: golden.Model, Dims: golden.Dims})
	golden.check(t, s)

	newCollection(t, s, "after", vec4)
	upsert(t, s, "after", unnamed(NumPointID(1), 1, `{"a":1}`))
	put(t, s, testDoc("new", 1, golden.Dims, 1))
	s.Close()
	if v := fileSchema(t, path); v != SchemaVersion {
		t.Fatalf("after Open the file says schema %d, want %d", v, SchemaVersion)
	}
	s = openTest(t, path, Options{})
	if pts, err := s.GetPoints("after", []PointID{NumPointID(1)}); err != nil || len(pts) != 1 {
		t.Fatalf("after reopening the migrated store GetPoints = %v, %v", pts, err)
	}
	checkConsistent(t, s)
	checkCollections(t, s)
	s.Close()

	// A store from a later schema is still refused, and left alone.
	path = copyFile(t, "testdata/schema1.db")
	setFileSchema(t, path, SchemaVersion+1)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("Open of a schema %d store: %v, want ErrSchemaVersion", SchemaVersion+1, err)
	}
	if v := fileSchema(t, path); v != SchemaVersion+1 {
		t.Errorf("the refused file now says schema %d", v)
	}
}

// golden is what the code of an older schema wrote into a test store and
// read back from it (testdata/schemaN.json).
type golden struct {
	Model      string
	Dims       int
	Generation uint64
	Documents  []Document
}

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	var g golden
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// check reads every golden document back from the migrated store s, by
// document and by chunk id, with the counts, and the generation as it was:
// the migration is no write to the documents, so an index built from them
// before it stays current.
func (g golden) check(t *testing.T, s *Store) {
	t.Helper()
	chunks := 0
	for _, want := range g.Documents {
		got, err := s.Get(want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
			t.Errorf("document %q: times %v %v, want %v %v", want.ID, got.Created, got.Updated, want.Created, want.Updated)
		}
		got.Created, got.Updated = want.Created, want.Updated
		if !reflect.DeepEqual(got, want) {
			t.Errorf("document %q after migration:\n got %+v\nwant %+v", want.ID, got, want)
		}
		for _, c := range want.Chunks {
			byID, err := s.ChunkByID(c.ID)
			if err != nil || !reflect.DeepEqual(byID, c) {
				t.Errorf("ChunkByID(%d) = %+v, %v", c.ID, byID, err)
			}
		}
		chunks += len(want.Chunks)
	}
	if d, c, err := s.Count(); d != len(g.Documents) || c != chunks || err != nil {
		t.Errorf("Count = %d, %d, %v; want %d, %d", d, c, err, len(g.Documents), chunks)
	}
	if gen, err := s.Generation(); gen != g.Generation || err != nil {
		t.Errorf("Generation = %d, %v; want %d as before the migration", gen, err, g.Generation)
	}
	checkConsistent(t, s)
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// fileSchema reads the schema number of a closed store file with bbolt
// alone.
func fileSchema(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0 // held open by a Store; see the callers
	}
	defer db.Close()
	var v uint64
	if err := db.View(func(tx *bolt.Tx) error {
		v, err = getU64(tx.Bucket(bucketMeta), metaSchema)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func setFileSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return putU64(tx.Bucket(bucketMeta), metaSchema, v) }); err != nil {
		t.Fatal(err)
	}
}

// pointWriterEnv names the store file when the test binary runs as the
// writer child of TestKillDuringUpsertKeepsAcknowledgedPoints.
const pointWriterEnv = "EDGESEARCH_STORE_KILL_POINT_WRITER"

// TestPointWriterChild is the writer of
// TestKillDuringUpsertKeepsAcknowledgedPoints: it upserts points one at a
// time and prints each id after UpsertPoints returned, until killed. Run
// without the variable it does nothing.
func TestPointWriterChild(t *testing.T) {
	path := os.Getenv(pointWriterEnv)
	if path == "" {
		t.Skip("the writer of TestKillDuringUpsertKeepsAcknowledgedPoints")
	}
	s, err := Open(path, Options{Model: testModel, Dims: testDims})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := s.CreateCollection(bg, "kill", vec4); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := range uint64(1_000_000) {
		if err := s.UpsertPoints(bg, "kill", []Point{killPoint(i)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println(i) // os.Stdout is unbuffered
	}
	os.Exit(0)
}

func killPoint(i uint64) Point {
	return unnamed(NumPointID(i), i, fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", int(i%300))))
}

// TestKillDuringUpsertKeepsAcknowledgedPoints does for points what
// TestKillDuringPutKeepsAcknowledgedDocuments does for documents: a writer
// killed with SIGKILL at several points of a stream of single-point upserts
// leaves a store that opens cleanly and holds every acknowledged point.
func TestKillDuringUpsertKeepsAcknowledgedPoints(t *testing.T) {
	for _, killAfter := range []int{1, 17, 90} {
		t.Run(fmt.Sprintf("after %d acks", killAfter), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kill.db")
			cmd := exec.Command(os.Args[0], "-test.run=^TestPointWriterChild$")
			cmd.Env = append(os.Environ(), pointWriterEnv+"="+path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var acked []uint64
			lines := bufio.NewScanner(out)
			for lines.Scan() {
				i, err := strconv.ParseUint(lines.Text(), 10, 64)
				if err != nil {
					continue // the test framework's own lines
				}
				acked = append(acked, i)
				if len(acked) == killAfter {
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
				}
			}
			err = cmd.Wait()
			if len(acked) < killAfter {
				t.Fatalf("writer stopped after %d acks: %v\n%s", len(acked), err, stderr.String())
			}
			if st := cmd.ProcessState; st.Exited() {
				t.Fatalf("writer exited with %d instead of being killed:\n%s", st.ExitCode(), stderr.String())
			}

			s := openTest(t, path, Options{})
			checkCollections(t, s)
			ids := make([]PointID, len(acked))
			for i, n := range acked {
				if n != uint64(i) {
					t.Fatalf("ack %d is %d", i, n)
				}
				ids[i] = NumPointID(n)
			}
			got, err := s.GetPoints("kill", ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(acked) {
				t.Fatalf("%d of %d acknowledged points read back", len(got), len(acked))
			}
			for i, p := range got {
				if want := killPoint(uint64(i)); !reflect.DeepEqual(p, want) {
					t.Fatalf("point %d read back as %+v, want %+v", i, p, want)
				}
			}
			// At most one upsert can have committed without its ack read.
			if n, _ := s.CountPoints("kill"); n != len(acked) && n != len(acked)+1 {
				t.Errorf("collection holds %d points after %d acks", n, len(acked))
			}
		})
	}
}

// BenchmarkUpsertPoints measures UpsertPoints of 384-d points with a small
// payload: batches of 256 (one fsync each) and single points, with
// sequential integer ids and with random UUIDs (writes spread over the
// B-tree).
func BenchmarkUpsertPoints(b *testing.B) {
	for _, bc := range []struct {
		batch int
		uuids bool
	}{{256, false}, {256, true}, {1, false}} {
		name := fmt.Sprintf("batch=%d/ids=int", bc.batch)
		if bc.uuids {
			name = fmt.Sprintf("batch=%d/ids=uuid", bc.batch)
		}
		b.Run(name, func(b *testing.B) {
			s := openTest(b, filepath.Join(b.TempDir(), "bench.db"), Options{Model: testModel, Dims: testDims})
			newCollection(b, s, "c", map[string]VectorParams{"": {Size: 384, Distance: Cosine}})
			r := rand.New(rand.NewPCG(1, 2))
			batch := make([]Point, bc.batch)
			for i := range batch {
				batch[i] = Point{Vectors: map[string][]float32{"": testVector(384, uint64(i))}, Payload: []byte(`{"source":"bench","n":1}`)}
			}
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i].ID = NumPointID(uint64(n))
					if bc.uuids {
						batch[i].ID = PointID{hi: r.Uint64(), lo: r.Uint64(), uuid: true}
					}
					n++
				}
				if err := s.UpsertPoints(bg, "c", batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// BenchmarkForEachPoint measures the walk an index rebuild makes over
// 20000 points of 384 dims.
func BenchmarkForEachPoint(b *testing.B) {
	const total = 20000
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"), Options{Model: testModel, Dims: testDims})
	newCollection(b, s, "c", map[string]VectorParams{"": {Size: 384, Distance: Cosine}})
	v := testVector(384, 1)
	for start := 0; start < total; start += 1000 {
		batch := make([]Point, 1000)
		for i := range batch {
			batch[i] = Point{ID: NumPointID(uint64(start + i)), Vectors: map[string][]float32{"": v}, Payload: []byte(`{"n":1}`)}
		}
		upsert(b, s, "c", batch...)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := s.ForEachPoint(bg, "c", func(Point) error { n++; return nil }); err != nil || n != total {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "points/s")
}
