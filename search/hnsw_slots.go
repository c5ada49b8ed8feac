package search

// idSlots maps a graph's ids to their slots. The engine and the collections
// give their graphs dense internal ids (from 0, reused after deletes), so
// most ids live in a slice indexed by id; any other id goes to a map. At a
// million points the map's probes were a third of an exact search over a
// filter's matches (one lookup per match) and it held ~30 MB; the slice
// costs 4 bytes an id and one memory access a lookup.
type idSlots struct {
	dense  []uint32          // id → slot+1, 0 where absent
	sparse map[uint64]uint32 // ids beyond dense
	n      int               // ids mapped
}

// denseSlack lets the slice reach past twice the mapped ids by this much
// before a large id goes to the map instead: the slice never holds more
// than about two entries per id.
const denseSlack = 1024

func (t *idSlots) get(id uint64) (uint32, bool) {
	if id < uint64(len(t.dense)) {
		s := t.dense[id]
		return s - 1, s != 0
	}
	s, ok := t.sparse[id]
	return s, ok
}

func (t *idSlots) set(id uint64, s uint32) {
	if id >= uint64(len(t.dense)) && id < uint64(2*(t.n+1)+denseSlack) && id < 1<<32 {
		t.grow(id)
	}
	if id < uint64(len(t.dense)) {
		if t.dense[id] == 0 {
			t.n++
		}
		t.dense[id] = s + 1
		return
	}
	if t.sparse == nil {
		t.sparse = map[uint64]uint32{}
	}
	if _, ok := t.sparse[id]; !ok {
		t.n++
	}
	t.sparse[id] = s
}

// grow extends the slice to hold id (doubling, within the bound set's
// caller checked) and moves the map's ids it now covers into it.
func (t *idSlots) grow(id uint64) {
	size := max(uint64(2*len(t.dense)), id+1, 64)
	size = min(size, max(id+1, uint64(2*(t.n+1)+denseSlack)))
	t.dense = append(t.dense, make([]uint32, size-uint64(len(t.dense)))...)
	for sid, s := range t.sparse {
		if sid < size {
			t.dense[sid] = s + 1
			delete(t.sparse, sid)
		}
	}
}

func (t *idSlots) del(id uint64) {
	if id < uint64(len(t.dense)) {
		if t.dense[id] != 0 {
			t.dense[id] = 0
			t.n--
		}
		return
	}
	if _, ok := t.sparse[id]; ok {
		delete(t.sparse, id)
		t.n--
	}
}

func (t *idSlots) len() int { return t.n }

// each calls fn for every id and its slot, dense ids in order first.
func (t *idSlots) each(fn func(id uint64, s uint32)) {
	for id, s := range t.dense {
		if s != 0 {
			fn(uint64(id), s-1)
		}
	}
	for id, s := range t.sparse {
		fn(id, s)
	}
}
