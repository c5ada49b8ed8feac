package embedder

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

var updateBits = flag.Bool("update-bits", false, "rewrite testdata/vector_bits.txt from the guest's current output")

// bitsBatches is a varied set of batches: empty, one-token, multilingual,
// truncated texts, and enough long texts that a batch spans several
// forward passes of up to 1,024 tokens (guest/src/abi.c, TOKEN_BUDGET).
func bitsBatches(tiny bool) [][]string {
	if tiny {
		// The tiny model keeps 12 tokens a text: 100 texts make two passes.
		words := []string{"hello", "world", "the", "edges", "東", "hello world !", "", "lo , lo"}
		var b []string
		for i := range 100 {
			b = append(b, strings.Repeat(words[i%len(words)]+" ", i%5+1))
		}
		return [][]string{{"hello"}, b, b[:33]}
	}
	long := strings.Repeat("Edge devices search documents by meaning, offline and fast. ", 40)
	var many []string
	for i := range 6 {
		many = append(many, long[i*11:]) // each past 256 tokens: truncated
	}
	many = append(many, "", "a short one", "café naïve 東京 🙂 Ünïcödé ЖЖЖ ελληνικά", long[:300])
	return [][]string{
		{""},
		{"how do vaccines train the immune system"},
		{"a", "The cat sits on the mat.", long[:700], "東京は日本の首都です。", strings.Repeat("x", 300)},
		many,
	}
}

// vectorBits hashes the tokens and the bits of every vector.
func vectorBits(embs [][]Embedding) string {
	h := sha256.New()
	for _, batch := range embs {
		for _, e := range batch {
			var b []byte
			b = binary.LittleEndian.AppendUint32(b, uint32(e.Tokens))
			for _, v := range e.Vector {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bitsInstances are the models the bit-for-bit tests run: the real f16
// MiniLM and the tiny BERT in every weight type (F32 weights are used in
// place, F16 ones widened and packed, Q8_0 ones take the integer kernels),
// on the guest's kernels and, named "host:" and the rest, on the host's.
func bitsInstances(t *testing.T) map[string]*instance {
	t.Helper()
	ins := map[string]*instance{}
	m, err := openModel(modelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, kernels := range allKernels {
		prefix := ""
		if kernels == KernelsHost {
			prefix = "host:"
		}
		for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0} {
			in := fuzzInstanceOf(t, kernels)
			if err := in.loadModel(context.Background(), modelBytes(tinyBERT(t, typ))); err != nil {
				t.Fatal(err)
			}
			in.dims = 32
			ins[prefix+"tiny-"+typ.String()] = in
		}
		in, err := newInstance(context.Background(), fuzzRuntimeOf(t, kernels), m, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.close(context.Background()) })
		ins[prefix+"minilm-f16"] = in
	}
	return ins
}

// TestSteppedJobsEqualOneCallAndTheOldPass checks that a batch embedded a
// step at a time, with another job's steps in between, gives the bits
// es_embed_batch gives, and the bits the single-call forward pass gave
// before it was cut into steps (testdata/vector_bits.txt, written by that
// pass at commit ee33004).
func TestSteppedJobsEqualOneCallAndTheOldPass(t *testing.T) {
	ctx := context.Background()
	want := readVectorBits(t)
	got := map[string]string{}
	for name, in := range bitsInstances(t) {
		batches := bitsBatches(strings.Contains(name, "tiny"))
		var all [][]Embedding
		for bi, texts := range batches {
			one, err := in.embedOneCall(ctx, texts)
			if err != nil {
				t.Fatalf("%s batch %d: %v", name, bi, err)
			}
			// Step this batch and a query's job in turn: each job's state
			// must survive the other's steps.
			job, err := in.startJob(ctx, texts)
			if err != nil {
				t.Fatal(err)
			}
			other, err := in.startJob(ctx, []string{"an interleaved query"})
			if err != nil {
				t.Fatal(err)
			}
			steps := 0
			for done, otherDone := false, false; !done; steps++ {
				if done, err = in.step(ctx, job); err != nil {
					t.Fatal(err)
				}
				if !otherDone {
					if otherDone, err = in.step(ctx, other); err != nil {
						t.Fatal(err)
					}
				}
			}
			stepped, err := in.finishJob(ctx, job)
			if err != nil {
				t.Fatal(err)
			}
			in.cancelJob(ctx, other)
			for i := range texts {
				if !slices.Equal(stepped[i].Vector, one[i].Vector) || stepped[i].Tokens != one[i].Tokens ||
					stepped[i].Truncated != one[i].Truncated {
					t.Errorf("%s batch %d text %d: stepped (%d steps) differs from es_embed_batch", name, bi, i, steps)
				}
			}
			all = append(all, stepped)
		}
		if strings.HasPrefix(name, "host:") {
			// The old pass ran the guest's kernels: only stepped against
			// one call holds for the host's.
			continue
		}
		got[name] = vectorBits(all)
		if *updateBits {
			continue
		}
		if w, ok := want[name]; !ok {
			t.Errorf("%s: no entry in testdata/vector_bits.txt (run with -update-bits)", name)
		} else if w != got[name] {
			t.Errorf("%s: vectors hash to %s, the single-call pass gave %s", name, got[name], w)
		}
	}
	if *updateBits {
		writeVectorBits(t, got)
	}
}

func readVectorBits(t *testing.T) map[string]string {
	m := map[string]string{}
	f, err := os.Open(filepath.Join("testdata", "vector_bits.txt"))
	if err != nil {
		if *updateBits {
			return m
		}
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			name, sum, _ := strings.Cut(line, " ")
			m[name] = sum
		}
	}
	return m
}

func writeVectorBits(t *testing.T, m map[string]string) {
	var b strings.Builder
	b.WriteString("# SHA-256 of tokens and vector bits of bitsBatches (job_test.go), per model.\n")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s %s\n", name, m[name])
	}
	if err := os.WriteFile(filepath.Join("testdata", "vector_bits.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestJobHandlesAreChecked(t *testing.T) {
	ctx := context.Background()
	in := fuzzInstance(t)
	if err := in.loadModel(ctx, modelBytes(tinyBERT(t, gguf.F16))); err != nil {
		t.Fatal(err)
	}
	in.dims = 32
	bad := &embedJob{handle: 12345, tokens: make([]int32, 2)}
	if _, err := in.step(ctx, bad); err == nil || isTrap(err) || !strings.Contains(err.Error(), "no job 12345") {
		t.Errorf("step of an unknown job: %v", err)
	}
	j, err := in.startJob(ctx, []string{"hello world"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.finishJob(ctx, j); err == nil || !strings.Contains(err.Error(), "not done") {
		t.Errorf("finish before done: %v", err)
	}
	in.cancelJob(ctx, j)
	if _, err := in.step(ctx, j); err == nil || isTrap(err) {
		t.Errorf("step after cancel: %v", err)
	}
	// A host that never finishes its jobs gets an error, not a full guest.
	var errAt int
	for i := range 100 {
		if _, err := in.startJob(ctx, []string{"x"}); err != nil {
			if isTrap(err) || !strings.Contains(err.Error(), "jobs are live") {
				t.Fatalf("job %d: %v", i, err)
			}
			errAt = i
			break
		}
	}
	if errAt != 64 {
		t.Errorf("the 65th live job should be refused; refused job %d", errAt)
	}
}
