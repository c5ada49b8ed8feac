package search

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFollowsTheLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{10 << 20, 100},
		{64 << 20, 100},
		{128 << 20, 50},
		{256 << 20, 25},
		{690 << 20, 25},
		{4 << 30, 25},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// TestHeapGovernorTightensALargeHeap holds 300 MiB live and checks the
// governor lowers GOGC to its floor, and leaves GOGC alone when the user
// set it.
func TestHeapGovernorTightensALargeHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	held := make([]byte, 300<<20)
	for i := range held {
		held[i] = byte(i)
	}
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	changed := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		HeapGovernor(ctx, 10*time.Millisecond, func(live uint64, p int) {
			select {
			case changed <- p:
			default:
			}
		})
		close(done)
	}()
	p := <-changed
	cancel()
	<-done
	runtime.KeepAlive(held)
	if p != minGCPercent {
		t.Fatalf("GOGC set to %d with 300 MiB live, want %d", p, minGCPercent)
	}
	if now := debug.SetGCPercent(100); now != minGCPercent {
		t.Fatalf("runtime GOGC is %d after the governor, want %d", now, minGCPercent)
	}

	t.Setenv("GOGC", "100")
	returned := make(chan struct{})
	go func() {
		HeapGovernor(context.Background(), time.Millisecond, func(uint64, int) { t.Error("governor changed GOGC that the user set") })
		close(returned)
	}()
	<-returned
}
