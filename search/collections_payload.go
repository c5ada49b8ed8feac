package search

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"reflect"

	"github.com/edgesearch/edgesearch/store"
)

// Payloads are decoded once per distinct payload, not once per point:
// points whose stored payloads have the same bytes share one decoded map.
// A decoded map costs some 300-450 bytes even for two small fields, more
// than the point's graph links, and payloads often repeat (a tenant, a
// category, a language, a tag); a million points with a few hundred
// distinct payloads then hold a few hundred maps instead of a million.
// Points with unique payloads pay one table entry more (about 50 bytes).
//
// Sharing also makes a filter's pass over every point cheap: a filter
// that does not test ids answers the same for the same payload, so the
// exact plan tests each distinct payload once (matchMemo).

// sharedPayload is a decoded payload and how many slots hold it. The map
// is never changed once shared: an update decodes a new one.
type sharedPayload struct {
	m    map[string]any
	sum  uint64 // hash of the payload's bytes, its key in payloadTable
	seq  uint64 // order of creation, for matchMemo
	refs int
}

// obj is the payload as Filter.Match takes it; nil for none.
func (p *sharedPayload) obj() map[string]any {
	if p == nil {
		return nil
	}
	return p.m
}

// payloadTable interns a collection's decoded payloads by their bytes.
// Guarded by Collections.writeMu (it is only touched by writers, and by
// OpenCollections before the collection is shared).
type payloadTable struct {
	seed   maphash.Seed
	bySum  map[uint64]*sharedPayload
	nextSq uint64
}

func newPayloadTable() payloadTable {
	return payloadTable{seed: maphash.MakeSeed(), bySum: map[uint64]*sharedPayload{}}
}

// intern returns the shared payload for raw, whose decoded form is m (nil
// for none, which is not shared), with one more reference. Two payloads
// with equal hashes but other contents are both kept, the second not
// shared.
func (t *payloadTable) intern(raw []byte, m map[string]any) *sharedPayload {
	if m == nil {
		return nil
	}
	sum := maphash.Bytes(t.seed, bytes.TrimSpace(raw))
	if p := t.bySum[sum]; p != nil && reflect.DeepEqual(p.m, m) {
		p.refs++
		return p
	}
	t.nextSq++
	p := &sharedPayload{m: m, sum: sum, seq: t.nextSq, refs: 1}
	if t.bySum[sum] == nil {
		t.bySum[sum] = p
	}
	return p
}

// release drops one reference to p (nil is none), forgetting it with the
// last.
func (t *payloadTable) release(p *sharedPayload) {
	if p == nil {
		return
	}
	if p.refs--; p.refs == 0 && t.bySum[p.sum] == p {
		delete(t.bySum, p.sum)
	}
}

// matchMemo remembers a filter's answer for recently seen shared
// payloads, in a direct-mapped table indexed by their creation order, so
// a pass over all points tests each distinct payload about once when
// there are few, and costs one extra comparison a point when there are
// many. Only for filters whose answer does not depend on the point id.
type matchMemo struct {
	keys [memoSize]*sharedPayload
	hit  [memoSize]bool
}

const memoSize = 512

// match is f.Match(id, p) through the memo.
func (mm *matchMemo) match(f *Filter, id store.PointID, p *sharedPayload) bool {
	if p == nil {
		return f.Match(id, nil)
	}
	i := p.seq % memoSize
	if mm.keys[i] == p {
		return mm.hit[i]
	}
	h := f.Match(id, p.m)
	mm.keys[i], mm.hit[i] = p, h
	return h
}

// idFree reports whether f's answer depends on the payload alone: it has
// no has_id condition anywhere. The filter's JSON names every condition
// in Qdrant's words, so a has_id at any depth shows as that key; a payload
// key or value that merely contains the word makes this false, which only
// costs the memo.
func idFree(f *Filter) bool {
	b, err := json.Marshal(f)
	return err == nil && !bytes.Contains(b, []byte(`"has_id"`))
}
