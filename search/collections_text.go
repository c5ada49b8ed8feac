package search

import (
	"slices"

	"github.com/edgesearch/edgesearch/store"
)

// A collection's keyword index: BM25 over each point's text, the first of
// TextFields that its payload holds as a string, so that the points of a
// collection filled by LangChain (page_content), LlamaIndex's readers or a
// program of one's own (text) can be searched by their words and by
// meaning together, as the documents are. Points without such a field are
// simply not in it.

// TextFields are the payload keys whose string value is a point's text, in
// the order they are looked for.
var TextFields = []string{"text", "page_content", "content", "document", "body"}

// PointText returns a point's text: the value of the first of TextFields
// that its payload holds as a non-empty string, and that key; "" and ""
// when there is none.
func PointText(payload map[string]any) (text, field string) {
	for _, k := range TextFields {
		if s, ok := payload[k].(string); ok && s != "" {
			return s, k
		}
	}
	return "", ""
}

// indexText puts the text of the point in slot nid, if it has one, in the
// keyword index, replacing what was there. Called with Collections.writeMu
// held.
func (col *pointIndex) indexText(nid uint64, payload map[string]any) error {
	text, _ := PointText(payload)
	if text == "" {
		col.text.Delete(nid)
		return nil
	}
	return col.text.Add(nid, text)
}

// keywordSearch returns the k points whose text best matches query by
// BM25 that pass f, best first.
func (col *pointIndex) keywordSearch(query string, k int, f *Filter) ([]scoredID, error) {
	col.mu.RLock()
	defer col.mu.RUnlock()
	slots := col.slots
	hits, err := col.text.SearchFunc(query, k, func(nid uint64) bool {
		if nid >= uint64(len(slots)) || !slots[nid].live {
			return false
		}
		return f == nil || f.Match(slots[nid].id, slots[nid].payload.obj())
	})
	if err != nil {
		return nil, err
	}
	out := make([]scoredID, len(hits))
	for i, h := range hits {
		out[i] = scoredID{slots[h.ID].id, h.Score}
	}
	return out, nil
}

// fuseScored merges ranked lists of points by reciprocal rank fusion, as
// Fuse does for ids: best first, ties by point id.
func fuseScored(lists ...[]scoredID) []scoredID {
	score := map[store.PointID]float64{}
	var order []store.PointID
	for _, list := range lists {
		for rank, h := range list {
			if _, ok := score[h.id]; !ok {
				order = append(order, h.id)
			}
			score[h.id] += 1 / float64(RRFConstant+rank+1)
		}
	}
	out := make([]scoredID, len(order))
	for i, id := range order {
		out[i] = scoredID{id, float32(score[id])}
	}
	slices.SortFunc(out, func(a, b scoredID) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return a.id.Compare(b.id)
	})
	return out
}

// textQuery answers a PointQuery whose Text has searchable words over a
// collection whose points have text: keyword search alone without a
// vector, else both rankings fused. k counts the offset in.
func (col *pointIndex) textQuery(q PointQuery, k int) ([]scoredID, error) {
	if len(q.Vector) == 0 {
		return col.keywordSearch(q.Text, k, q.Filter)
	}
	depth := hybridDepth(k)
	sem, err := col.search(q.Using, q.Vector, depth, q.Filter, q.Exact)
	if err != nil {
		return nil, err
	}
	kw, err := col.keywordSearch(q.Text, depth, q.Filter)
	if err != nil {
		return nil, err
	}
	out := fuseScored(sem, kw)
	return out[:min(k, len(out))], nil
}
