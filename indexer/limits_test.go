package indexer

import (
	"context"
	"math"
	"strings"
	"testing"
)

func TestLimitsRefuseAFileSizeASliceCannotHold(t *testing.T) {
	// Parse reads a file whole into one []byte of up to MaxFileBytes+1
	// bytes: MaxInt64 wrapped that bound negative, so a file read as
	// empty, and on a 32-bit build a limit past 2 GiB promised files no
	// slice can hold.
	for _, n := range []int64{math.MaxInt64, math.MaxInt, math.MaxInt32 + 1} {
		err := Limits{MaxFileBytes: n}.Check()
		if fits := n < math.MaxInt; (err == nil) != fits {
			t.Errorf("MaxFileBytes %d: Check = %v, want an error: %v", n, err, !fits)
		}
		if err != nil && !strings.Contains(err.Error(), "MaxFileBytes") {
			t.Errorf("MaxFileBytes %d: error %q does not name the limit", n, err)
		}
	}
	if err := (Limits{MaxFileBytes: math.MaxInt - 1}).Check(); err != nil {
		t.Errorf("MaxFileBytes MaxInt-1: %v", err)
	}
	_, _, err := Parse(context.Background(), "a.txt", strings.NewReader("Some text to index."), Limits{MaxFileBytes: math.MaxInt64})
	if err == nil || !strings.Contains(err.Error(), "MaxFileBytes") {
		t.Errorf("Parse with MaxFileBytes MaxInt64: %v, want the limit refused", err)
	}
}
