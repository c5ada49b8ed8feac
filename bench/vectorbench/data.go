package main

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The data set: n clustered unit vectors, each point's payload a group
// (i % groups) and a tag ("t" + i % 2), and held-out queries, each a vector
// drawn from the same clusters (never inserted) with a little noise added.
// Everything follows from the seed, so the peers read the same bytes.
const (
	groups    = 100 // group == q % groups matches 1% of the points
	k         = 10
	centres   = 1000
	spread    = 0.6 // noise norm around a centre, as search's clustered data
	queryNois = 0.1 // norm of the noise added to a held-out query
)

// Filters measured, in order: none, tag == "t0" (50%), group == q%100 (1%).
var filterNames = []string{"none", "50%", "1%"}

// matches reports whether point i passes filter f for query q.
func matches(f, q, i int) bool {
	switch f {
	case 1:
		return i%2 == 0
	case 2:
		return i%groups == q%groups
	}
	return true
}

// payload is point i's payload as the client sends it.
func payload(i int) []byte {
	return []byte(`{"group":` + strconv.Itoa(i%groups) + `,"tag":"t` + strconv.Itoa(i%2) + `"}`)
}

// dataFiles names the files of one data set in dir.
type dataFiles struct{ vectors, queries, truth string }

func filesFor(dir string, n, nq int, seed uint64) dataFiles {
	stem := filepath.Join(dir, fmt.Sprintf("n%d-q%d-s%d", n, nq, seed))
	return dataFiles{stem + "-vectors.npy", stem + "-queries.npy", stem + "-truth.json"}
}

// truth is the exact answer, by float64 brute force over cosine, for each
// filter and query: the ids of the k best points, best first.
type truth struct {
	N       int       `json:"n"`
	Dims    int       `json:"dims"`
	K       int       `json:"k"`
	Groups  int       `json:"groups"`
	Filters []string  `json:"filters"`
	IDs     [][][]int `json:"ids"` // [filter][query][rank]
}

// generate writes the vectors and queries of a data set (unless they are
// there already, from the same seed) and the ground truth.
func generate(f dataFiles, n, nq, dims int, seed uint64, logw io.Writer) error {
	if exists(f.vectors) && exists(f.queries) && exists(f.truth) {
		fmt.Fprintf(logw, "data set %s already made\n", filepath.Base(f.vectors))
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	cs := make([][]float64, centres)
	for i := range cs {
		c := make([]float64, dims)
		for j := range c {
			c[j] = r.NormFloat64()
		}
		unit64(c)
		cs[i] = c
	}
	sd := spread / math.Sqrt(float64(dims))
	tmp := make([]float64, dims)
	draw := func(v []float32, noise float64) {
		c := cs[r.IntN(centres)]
		for j := range tmp {
			tmp[j] = c[j] + sd*r.NormFloat64()
		}
		unit64(tmp)
		if noise > 0 {
			nsd := noise / math.Sqrt(float64(dims))
			for j := range tmp {
				tmp[j] += nsd * r.NormFloat64()
			}
			unit64(tmp)
		}
		for j := range v {
			v[j] = float32(tmp[j])
		}
	}
	fmt.Fprintf(logw, "writing %d vectors and %d queries (%d-d)\n", n, nq, dims)
	if err := writeNpy(f.vectors, n, dims, func(v []float32) { draw(v, 0) }); err != nil {
		return err
	}
	if err := writeNpy(f.queries, nq, dims, func(v []float32) { draw(v, queryNois) }); err != nil {
		return err
	}
	fmt.Fprintf(logw, "exact top-%d of %d queries over %d points, 3 filters (float64)\n", k, nq, n)
	t, err := bruteForce(f, n, nq, dims)
	if err != nil {
		return err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return os.WriteFile(f.truth, b, 0o644)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func unit64(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = 1 / math.Sqrt(s)
	for j := range v {
		v[j] *= s
	}
}

// writeNpy writes a NumPy .npy file (format 1.0) of rows × dims
// little-endian float32, filling each row with fill.
func writeNpy(path string, rows, dims int, fill func([]float32)) error {
	tmp := path + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, dims)
	// magic (6) + version (2) + header length (2) + dict + padding + "\n"
	// is a multiple of 64, as the format asks.
	pad := 64 - (10+len(dict)+1)%64
	hdr := dict + strings.Repeat(" ", pad%64) + "\n"
	w.WriteString("\x93NUMPY\x01\x00")
	binary.Write(w, binary.LittleEndian, uint16(len(hdr)))
	w.WriteString(hdr)
	v := make([]float32, dims)
	buf := make([]byte, 4*dims)
	for range rows {
		fill(v)
		for j, x := range v {
			binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
		}
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// npy reads a file writeNpy wrote, a block of rows at a time.
type npy struct {
	fh         *os.File
	r          *bufio.Reader
	rows, dims int
	buf        []byte
}

func openNpy(path string) (*npy, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(fh, 1<<20)
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil || string(pre[:8]) != "\x93NUMPY\x01\x00" {
		fh.Close()
		return nil, fmt.Errorf("%s: not a version 1.0 .npy file", path)
	}
	hdr := make([]byte, binary.LittleEndian.Uint16(pre[8:]))
	if _, err := io.ReadFull(r, hdr); err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rows, dims int
	s := string(hdr)
	i := strings.Index(s, "'shape': (")
	if i < 0 || !strings.Contains(s, "'<f4'") {
		fh.Close()
		return nil, fmt.Errorf("%s: want float32 rows, header %q", path, s)
	}
	if _, err := fmt.Sscanf(s[i+len("'shape': ("):], "%d, %d)", &rows, &dims); err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: shape in %q: %w", path, s, err)
	}
	return &npy{fh: fh, r: r, rows: rows, dims: dims, buf: make([]byte, 4*dims)}, nil
}

// next reads the next row into v.
func (f *npy) next(v []float32) error {
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return err
	}
	for j := range v {
		v[j] = math.Float32frombits(binary.LittleEndian.Uint32(f.buf[4*j:]))
	}
	return nil
}

func (f *npy) Close() error { return f.fh.Close() }

// readAll reads a whole (small) .npy file.
func readAll(path string) ([][]float32, error) {
	f, err := openNpy(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([][]float32, f.rows)
	for i := range out {
		out[i] = make([]float32, f.dims)
		if err := f.next(out[i]); err != nil {
			return nil, fmt.Errorf("%s row %d: %w", path, i, err)
		}
	}
	return out, nil
}

// bruteForce computes the truth in one pass over the vectors: each block of
// points, in float64, against every query, split between the cores.
func bruteForce(f dataFiles, n, nq, dims int) (*truth, error) {
	qs, err := readAll(f.queries)
	if err != nil {
		return nil, err
	}
	q64 := make([][]float64, nq)
	for i, q := range qs {
		q64[i] = make([]float64, dims)
		for j, x := range q {
			q64[i][j] = float64(x)
		}
		unit64(q64[i])
	}
	vf, err := openNpy(f.vectors)
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	if vf.rows != n || vf.dims != dims {
		return nil, fmt.Errorf("%s holds %d × %d, want %d × %d", f.vectors, vf.rows, vf.dims, n, dims)
	}
	heaps := make([][]*topK, len(filterNames))
	for fi := range heaps {
		heaps[fi] = make([]*topK, nq)
		for q := range heaps[fi] {
			heaps[fi][q] = &topK{}
		}
	}
	const block = 2048
	v32 := make([]float32, dims)
	blk := make([][]float64, block)
	for i := range blk {
		blk[i] = make([]float64, dims)
	}
	workers := runtime.GOMAXPROCS(0)
	for lo := 0; lo < n; lo += block {
		m := min(block, n-lo)
		for i := range m {
			if err := vf.next(v32); err != nil {
				return nil, fmt.Errorf("%s row %d: %w", f.vectors, lo+i, err)
			}
			for j, x := range v32 {
				blk[i][j] = float64(x)
			}
			unit64(blk[i])
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for q := w; q < nq; q += workers {
					for i := range m {
						s := dot64(q64[q], blk[i])
						id := lo + i
						for fi := range filterNames {
							if matches(fi, q, id) {
								heaps[fi][q].offer(id, s)
							}
						}
					}
				}
			}()
		}
		wg.Wait()
	}
	t := &truth{N: n, Dims: dims, K: k, Groups: groups, Filters: filterNames, IDs: make([][][]int, len(filterNames))}
	for fi := range heaps {
		t.IDs[fi] = make([][]int, nq)
		for q, h := range heaps[fi] {
			t.IDs[fi][q] = h.best()
		}
	}
	return t, nil
}

func dot64(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// topK keeps the k highest scores offered: a min-heap on score, ties to
// the lower id.
type topK struct {
	ids []int
	s   []float64
}

func (h *topK) Len() int { return len(h.ids) }
func (h *topK) Less(i, j int) bool {
	if h.s[i] != h.s[j] {
		return h.s[i] < h.s[j]
	}
	return h.ids[i] > h.ids[j]
}
func (h *topK) Swap(i, j int) {
	h.ids[i], h.ids[j] = h.ids[j], h.ids[i]
	h.s[i], h.s[j] = h.s[j], h.s[i]
}
func (h *topK) Push(x any) {
	p := x.([2]float64)
	h.ids = append(h.ids, int(p[0]))
	h.s = append(h.s, p[1])
}
func (h *topK) Pop() any {
	n := len(h.ids) - 1
	p := [2]float64{float64(h.ids[n]), h.s[n]}
	h.ids, h.s = h.ids[:n], h.s[:n]
	return p
}

func (h *topK) offer(id int, s float64) {
	if len(h.ids) < k {
		heap.Push(h, [2]float64{float64(id), s})
		return
	}
	if s > h.s[0] || (s == h.s[0] && id < h.ids[0]) {
		h.ids[0], h.s[0] = id, s
		heap.Fix(h, 0)
	}
}

// best returns the ids, best first.
func (h *topK) best() []int {
	out := make([]int, len(h.ids))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = int(heap.Pop(h).([2]float64)[0])
	}
	return out
}

func readTruth(path string) (*truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(t.IDs) != len(filterNames) {
		return nil, errors.New(path + ": want one answer list per filter")
	}
	return &t, nil
}

// recall is the share of the true top k found in got, over all queries.
func recall(want [][]int, got [][]uint64) float64 {
	hit, total := 0, 0
	for q := range want {
		set := make(map[uint64]bool, len(got[q]))
		for _, id := range got[q] {
			set[id] = true
		}
		for _, id := range want[q] {
			total++
			if set[uint64(id)] {
				hit++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return float64(hit) / float64(total)
}
