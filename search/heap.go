package search

// candidate is a graph node with its distance (1 - cosine) to the query.
type candidate struct {
	dist float32
	slot uint32
}

// candHeap is a binary heap of candidates. With max set the farthest
// candidate is on top (the result set, whose worst member is evicted);
// otherwise the nearest is (the frontier still to expand). It is written
// out rather than built on container/heap because the interface calls
// showed up in search profiles.
type candHeap struct {
	items []candidate
	max   bool
}

func (h *candHeap) less(i, j int) bool {
	if h.max {
		return h.items[i].dist > h.items[j].dist
	}
	return h.items[i].dist < h.items[j].dist
}

func (h *candHeap) len() int { return len(h.items) }

func (h *candHeap) top() candidate { return h.items[0] }

func (h *candHeap) push(c candidate) {
	h.items = append(h.items, c)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *candHeap) pop() candidate {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		c := l
		if r := l + 1; r < last && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
	return top
}

// visitSet marks graph slots seen during one search. Clearing is O(1): the
// epoch advances and only wraps to a real clear every 65535 searches.
type visitSet struct {
	marks []uint16
	epoch uint16
}

func (v *visitSet) reset(n int) {
	if len(v.marks) < n {
		v.marks = make([]uint16, n+n/4)
		v.epoch = 0
	}
	v.epoch++
	if v.epoch == 0 {
		clear(v.marks)
		v.epoch = 1
	}
}

// visit marks s and reports whether it was already marked.
func (v *visitSet) visit(s uint32) bool {
	if v.marks[s] == v.epoch {
		return true
	}
	v.marks[s] = v.epoch
	return false
}
