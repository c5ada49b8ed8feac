package main

import (
	"bufio"
	"fmt"
	"os"
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
const smallMemoryLimit = 128 << 20

// smallHNSW are the vector graph's parameters in the small profile: fewer
// links per node and a shorter candidate list, so building the graph on a
// slow core takes about half as long and its links take less memory.
// Changing profile rebuilds the graph once (it is derived from the store).
var smallHNSW = search.Params{M: 12, EfConstruction: 64, EfSearch: 64}

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
	// A model the user named is theirs; only the default one changes.
	cfg.QuantizedModel = isDefault("model")
}

// defaultModelFor is where `model pull` puts the profile's default model
// (the environment's model, if any, was read with the other settings).
func defaultModelFor(quantized bool) string { return model.CachedPath(quantized) }

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
