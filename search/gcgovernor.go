package search

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The Go collector by default lets the heap grow to twice what was live
// after the last collection (GOGC=100). For a process whose heap is mostly
// a loaded index that is a poor trade: serving 1M 384-d points the live
// heap is ~690 MiB and the process grew to ~1.28 GB for no benefit, while
// the garbage a search makes is a few kilobytes. HeapGovernor instead keeps
// the room above the live heap near a fixed share of it, with a floor, so
// small heaps collect as they always did and large ones stay close to what
// they hold.

// Heap headroom bounds. The room the collector leaves above the live heap
// is max(HeapHeadroomFloor, live/HeapHeadroomShare), and never more than
// the runtime's default (the live heap itself).
const (
	HeapHeadroomFloor = 64 << 20
	HeapHeadroomShare = 4
	// minGCPercent bounds how hard the collector may be made to work: at 25
	// a collection runs after every quarter of the live heap allocated.
	minGCPercent = 25
)

// gcPercentFor is the GOGC value that leaves the headroom above for a live
// heap of live bytes: 100 (the runtime default) up to 64 MiB, falling to
// 25 at 256 MiB and above.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	room := max(uint64(HeapHeadroomFloor), live/HeapHeadroomShare)
	p := int(room * 100 / live)
	return max(minGCPercent, min(100, p))
}

// HeapGovernor tunes the collector's GOGC to the live heap every interval
// until ctx ends (a server calls it once, in its own goroutine). It does
// nothing when the user chose for themselves with GOGC or GOMEMLIMIT in the
// environment; a soft memory limit set with debug.SetMemoryLimit still
// applies on top. set reports each change (nil for none).
func HeapGovernor(ctx context.Context, interval time.Duration, set func(live uint64, percent int)) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live := sample[0].Value.Uint64()
			if p := gcPercentFor(live); p != current {
				debug.SetGCPercent(p)
				current = p
				if set != nil {
					set(live, p)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
