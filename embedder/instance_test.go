package embedder

import "testing"

func TestTokenizeLayoutRefusesATextItsBufferCannotHold(t *testing.T) {
	// The buffer is about 13 bytes a text byte: computed in an int, a text
	// of 330,382,100 bytes made it 4 bytes on a 32-bit host, and the
	// guest would have written its answer past the end.
	most := (maxGuestBuffer - 3 - 12*16) / 13
	for _, n := range []int{0, 1, 1000, most} {
		capacity, offIDs, offOffs, size, err := tokenizeLayout(n)
		if err != nil {
			t.Fatalf("tokenizeLayout(%d): %v", n, err)
		}
		if capacity < n || offIDs < n || offOffs < offIDs+4*capacity || size < offOffs+8*capacity || size > maxGuestBuffer {
			t.Errorf("tokenizeLayout(%d) = %d, %d, %d, %d", n, capacity, offIDs, offOffs, size)
		}
	}
	for _, n := range []int{-1, most + 1, 330_382_100} {
		if _, _, _, _, err := tokenizeLayout(n); err == nil {
			t.Errorf("tokenizeLayout(%d) accepted", n)
		}
	}
}
