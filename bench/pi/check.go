package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// embedLine is one line of `edgesearch embed`.
type embedLine struct {
	NEmbedding int       `json:"n_embedding"`
	Embedding  []float32 `json:"embedding"`
}

// runCosine compares two `edgesearch embed` outputs line by line and fails
// when they differ in length, in dimensions, or in any pair's cosine below
// -min. It prints the worst cosine either way.
func runCosine(args []string) error {
	fs := flag.NewFlagSet("cosine", flag.ContinueOnError)
	minCos := fs.Float64("min", 0.9999, "smallest cosine accepted between the two vectors of a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("cosine takes two files: WANT.jsonl GOT.jsonl")
	}
	want, err := readEmbeddings(fs.Arg(0))
	if err != nil {
		return err
	}
	got, err := readEmbeddings(fs.Arg(1))
	if err != nil {
		return err
	}
	if len(want) == 0 || len(want) != len(got) {
		return fmt.Errorf("%s has %d vectors, %s has %d", fs.Arg(0), len(want), fs.Arg(1), len(got))
	}
	worst, at, same := 2.0, 0, 0
	for i := range want {
		if len(want[i]) != len(got[i]) {
			return fmt.Errorf("vector %d: %d dimensions in %s, %d in %s", i+1, len(want[i]), fs.Arg(0), len(got[i]), fs.Arg(1))
		}
		if c := cosine(want[i], got[i]); c < worst {
			worst, at = c, i+1
		}
		if slices.Equal(want[i], got[i]) {
			same++
		}
	}
	if worst < *minCos {
		return fmt.Errorf("vector %d: cosine %.6f between %s and %s, want ≥ %g", at, worst, fs.Arg(0), fs.Arg(1), *minCos)
	}
	fmt.Printf("    %d vectors of %d dimensions agree, %d of them bit for bit: worst cosine %.7f (vector %d)\n", len(want), len(want[0]), same, worst, at)
	return nil
}

// readEmbeddings reads one vector a line, checking n_embedding against
// the vector's length.
func readEmbeddings(path string) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]float32
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l embedLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, len(out)+1, err)
		}
		if l.NEmbedding == 0 || l.NEmbedding != len(l.Embedding) {
			return nil, fmt.Errorf("%s line %d: n_embedding %d with %d values", path, len(out)+1, l.NEmbedding, len(l.Embedding))
		}
		out = append(out, l.Embedding)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// cosine is computed in float64 so the check measures the vectors, not
// the sum's rounding; a zero vector has cosine 0 with anything.
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// searchAnswer is the part of `edgesearch search --json` compared.
type searchAnswer struct {
	Results []struct {
		ID    string  `json:"id"`
		Score float32 `json:"score"`
	} `json:"results"`
}

// runSameIDs fails unless every answer lists the same document ids, in the
// same order, as the first one, and at least one id.
func runSameIDs(args []string) error {
	if len(args) < 2 {
		return errors.New("sameids takes two or more files: WANT.json GOT.json...")
	}
	want, err := readIDs(args[0])
	if err != nil {
		return err
	}
	if len(want) == 0 {
		return fmt.Errorf("%s: no results", args[0])
	}
	for _, path := range args[1:] {
		got, err := readIDs(path)
		if err != nil {
			return err
		}
		if !slices.Equal(want, got) {
			return fmt.Errorf("%s found %v, %s found %v", args[0], want, path, got)
		}
	}
	fmt.Printf("    %d answers list the same %d ids: %s\n", len(args), len(want), strings.Join(want, " "))
	return nil
}

func readIDs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var a searchAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ids := make([]string, len(a.Results))
	for i, r := range a.Results {
		ids[i] = r.ID
	}
	return ids, nil
}
