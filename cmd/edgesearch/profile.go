package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/search"
)

// Profiles: what edgesearch sets by default for the machine it runs on.
const (
	profileAuto     = "auto"
	profileStandard = "standard"
	profileSmall    = "small"
)

// smallMemory is the total memory below which auto picks the small profile:
// a 512 MB or 1 GB board, where the standard profile's model copy per core
// and the f16 weights leave too little for the page cache and the OS.
const smallMemory = 1536 << 20

// smallMemoryLimit is the Go runtime's soft memory limit in the small
// profile (debug.SetMemoryLimit; GOMEMLIMIT in the environment wins): the
// collector works harder as the heap nears it instead of letting it double.
// Once the index is loaded it is raised to 1.5× the live heap if that is
// more (raiseMemoryLimit).
const smallMemoryLimit = 128 << 20

// smallHNSW are the vector graph's parameters in the small profile: fewer
// links per node and a shorter construction list, so building the graph on
// a slow core takes about half as long and its links take less memory.
// Changing profile rebuilds the graph once (it is derived from the store).
// EfSearch stays at 128: with 64, recall@10 at 100k chunks was 0.95 (0.99
// with 128, for 0.04 ms more per search and no memory).
var smallHNSW = search.Params{M: 12, EfConstruction: 64, EfSearch: 128}

// chooseProfile resolves --profile: standard and small are taken as they
// are; auto picks small on 32-bit arm (wazero interprets the guest there, at
// a fraction of the compiled speed) and on machines with less than
// smallMemory of memory, else standard. why says which and why, for the
// startup log.
func chooseProfile(asked, goarch string, memTotal int64) (profile, why string, err error) {
	switch asked {
	case profileStandard, profileSmall:
		return asked, "asked for", nil
	case profileAuto, "":
	default:
		return "", "", fmt.Errorf("%q: want auto, standard or small", asked)
	}
	switch {
	case goarch == "arm":
		return profileSmall, "32-bit arm: wazero interprets the guest here (it compiles only on amd64 and arm64), so the smaller q8_0 model and one worker", nil
	case memTotal > 0 && memTotal < smallMemory:
		return profileSmall, fmt.Sprintf("this machine has %d MiB of memory (under %d MiB)", memTotal>>20, smallMemory>>20), nil
	}
	return profileStandard, "a 64-bit machine with enough memory", nil
}

// applyProfile sets, in the small profile, what the user left at its
// default: one worker, shorter queues, the q8_0 model, smaller graph
// parameters and a soft memory limit. from names each setting's source.
func applyProfile(cfg *config, from map[string]string) {
	if cfg.Profile != profileSmall {
		return
	}
	isDefault := func(name string) bool { return from[name] == "default" }
	if isDefault("threads") {
		cfg.Threads = 1
	}
	if isDefault("queue") {
		cfg.Queue = 256
	}
	if isDefault("bulk-queue") {
		cfg.BulkQueue = 64
	}
	cfg.HNSW = smallHNSW
	cfg.MemoryLimit = smallMemoryLimit
	// Half the bytes per vector on disk, and so half the writes to an SD
	// card for them; the search graph holds half precision anyway.
	cfg.StoreFloat16 = true
	// A model the user named is theirs; only the default one changes.
	cfg.QuantizedModel = isDefault("model")
}

// defaultModelFor is where `model pull` puts the profile's default model
// (the environment's model, if any, was read with the other settings).
func defaultModelFor(quantized bool) string { return model.CachedPath(quantized) }

// raiseMemoryLimit, once the index is loaded, lifts a soft memory limit
// the live heap already nears to 1.5× that heap: a limit below what the
// index needs makes the collector run without end (559 collections over
// 500 searches at 100k chunks with 128 MiB, against 28 without). It reports
// the limit and whether it changed.
func raiseMemoryLimit(limit int64) (int64, bool) {
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return limit, false
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if need := int64(ms.HeapAlloc) * 3 / 2; need > limit {
		debug.SetMemoryLimit(need)
		return need, true
	}
	return limit, false
}

// setMemoryLimit applies cfg.MemoryLimit unless GOMEMLIMIT is set.
func setMemoryLimit(limit int64) {
	if limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// memTotal is the machine's memory from /proc/meminfo, 0 where there is
// none (macOS): auto then goes by the architecture alone.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
