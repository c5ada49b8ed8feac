#!/usr/bin/env bash
# .ci/qemu.sh (make test-arm): proves the Raspberry Pi builds on every run,
# under Debian's qemu-user-static called directly, so no binfmt_misc
# registration is needed.
#
#   arm64, where wazero compiles the guest to native code: the tests of
#     store, search, embedder and indexer, cross-compiled and run on an
#     emulated Cortex-A72 (a Pi 4: ARMv8.0, no LSE atomics).
#   armv7, where wazero interprets the guest: edgesearch built for GOARM=7 on
#     an emulated Cortex-A7 (a Pi 2) embeds texts as the native binary does,
#     and imports a folder, searches, and searches again in a new process
#     (the graph reloaded from disk), finding the ids the native binary finds,
#     as it does in the data directory the native binary wrote.
#
# Every step runs even when one before it failed; the last line counts them
# and the exit status is 1 when any failed. The model is $EDGESEARCH_MODEL
# (make sets it) or the default in ~/.cache/edgesearch, with its Hugging Face
# folder beside it (make model-source). `bash .ci/qemu.sh arm64` (or armv7)
# runs one half.
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
MODEL=${EDGESEARCH_MODEL:-$HOME/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf}
QEMU_ARM64=qemu-aarch64-static CPU_ARM64=cortex-a72
QEMU_ARM=qemu-arm-static CPU_ARM=cortex-a7
part=${1:-all}
case $part in
all | arm64 | armv7) ;;
*) echo "usage: bash .ci/qemu.sh [arm64|armv7]" >&2 && exit 2 ;;
esac
start=$SECONDS
passed=0
failed=()

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM # so the EXIT trap cleans up

if ! command -v "$QEMU_ARM64" >/dev/null || ! command -v "$QEMU_ARM" >/dev/null; then
	echo "==> installing qemu-user-static (apt)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null ||
		{ echo "qemu.sh: couldn't install qemu-user-static" >&2 && exit 1; }
fi
echo "==> $($QEMU_ARM64 --version | head -1)"
if [ ! -f "$MODEL" ]; then
	echo "qemu.sh: model $MODEL is missing: run 'make model' or set EDGESEARCH_MODEL" >&2
	exit 1
fi

# step NAME CMD...: runs CMD, counts it passed or failed by its status, and
# prints its wall and CPU time (the CPU time says more on a shared machine).
step() {
	local name=$1 took status
	shift
	exec 3>&1 4>&2
	took=$({ TIMEFORMAT='%1R s, %1U s CPU' && time "$@" >&3 2>&4; } 2>&1)
	status=$?
	exec 3>&- 4>&-
	if [ $status -eq 0 ]; then
		passed=$((passed + 1))
		echo "    ok    $name ($took)"
	else
		failed+=("$name")
		echo "    FAIL  $name ($took)" >&2
	fi
}

# arm64_tests PKG [TEST FLAGS...]: builds PKG's test binary for linux/arm64
# and runs it under qemu from the package directory, where its testdata is.
arm64_tests() {
	local pkg=$1 bin=$tmp/arm64/${1//\//_}.test
	shift
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $GO test -c -o "$bin" "./$pkg" || return 1
	# A test that runs its own binary again (store's kill -9 test) execs
	# os.Args[0]: -0 makes that this script, which starts qemu again.
	printf '#!/bin/sh\nexec %q -cpu %q -0 "$0" %q "$@"\n' "$QEMU_ARM64" "$CPU_ARM64" "$bin" >"$bin.sh"
	chmod +x "$bin.sh"
	(cd "$pkg" && EDGESEARCH_MODEL=$MODEL "$bin.sh" -test.count=1 -test.timeout=15m "$@")
}

arm64_part() {
	echo "==> arm64 (wazero compiler): package tests under $QEMU_ARM64 -cpu $CPU_ARM64"
	mkdir -p "$tmp/arm64"
	step "arm64 store" arm64_tests store
	# search, less its two longest tests (together about 4 of the arm part's
	# 16 minutes): HNSW recall on 20,000 synthetic vectors and relevance on a
	# corpus embedded with the real model. The other engine tests still run
	# the same float code (which Go fuses into FMAs on arm64) on real vectors.
	step "arm64 search" arm64_tests search -test.skip 'TestHNSWRecall|TestEngineRelevance'
	# The embedder: the bit-identity test (tiny f32, f16 and q8_0 models and
	# MiniLM, batched and stepped, against bits written on amd64), the
	# sentence-transformers, llama.cpp and tokenizers oracles, the pool's
	# API tests and the fuzz seeds. Left out, to keep this part near ten
	# minutes: tests that wait on timing emulation stretches to minutes
	# (lanes_test.go; worker growth, whose 30 s deadline emulation misses;
	# tokenize beside 24 long texts; concurrent callers, whose races qemu's
	# memory model would not show anyway), and tests whose vectors others
	# here already check (the ST-only oracle, which the llama.cpp one repeats;
	# other weight types and the llama.cpp converter, which the bits cover;
	# the WASI CLI under wazero, and under wasmtime, which is host-native).
	local skip=(TestInteractiveEmbed TestCancelledBulk TestFullBulkQueue TestCloseWithBothLanes
		TestAdmitBulk TestBulkKeepsItsShare TestRateMeter TestEmbedRefusesPastTheInflightLimit
		TestExtraWorkersStartUnderLoad TestTokenizeDoesNotWaitBehindQueuedEmbeddings
		TestConcurrentCallersGetTheirOwnVectors TestF16VectorsMatchSentenceTransformers
		TestOtherWeightTypesMatchSentenceTransformers TestLlamaCppConverterOutputRebuilt
		TestWASICLIUnderWazero TestWASICLIUnderWasmtime)
	step "arm64 hostkernels" arm64_tests embedder/hostkernels
	step "arm64 embedder" arm64_tests embedder -test.skip "$(IFS='|' && echo "${skip[*]}")"
	# The indexer, less the four tests that embed whole trees with the real
	# model (about a minute natively, most of an hour emulated); its parsers,
	# chunker and the imports that embed a few texts run.
	skip=(TestImportStoresGoodFilesListsFailuresAndSkipsUnchanged TestIngestStoresParsedDocumentsAndRejectsBadOnes
		TestReindexAfterModelChangeRestoresWhatIngestStored TestReindexStoppedHalfWayFinishesOnTheNextRun)
	step "arm64 indexer" arm64_tests indexer -test.skip "$(IFS='|' && echo "${skip[*]}")"
}

armv7() { "$QEMU_ARM" -cpu "$CPU_ARM" "$tmp/edgesearch-armv7" "$@"; }
native() { "$tmp/edgesearch-native" "$@"; }

build_armv7() {
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $GO build -trimpath -o "$tmp/edgesearch-armv7" ./cmd/edgesearch &&
		CGO_ENABLED=0 $GO build -trimpath -o "$tmp/edgesearch-native" ./cmd/edgesearch &&
		$GO build -o "$tmp/pi" ./bench/pi
}

# The armv7 checks use the q8_0 model on both binaries: the armv7 binary's
# automatic profile (small on 32-bit arm) picks it on a Pi, and the
# interpreter under qemu runs it about twice as fast as the f16 one (the arm64
# tests cover f16 and q8_0 against the oracles).
Q8=$tmp/all-MiniLM-L6-v2-q8_0.gguf
q8_model() {
	local hf
	hf=$(native model pull --source --model "$MODEL" | sed -n 1p) &&
		native model convert "$hf" "$Q8" --type q8_0 >/dev/null
}

texts=("Hello world" "Check the hive for varroa mites in late summer." "Ünïcödé and ASCII: 32-bit arm, one static binary")
embed_same() {
	native embed --model "$Q8" "${texts[@]}" >"$tmp/native.jsonl" &&
		armv7 embed --model "$Q8" "${texts[@]}" >"$tmp/armv7.jsonl" &&
		"$tmp/pi" cosine -min 0.9999 "$tmp/native.jsonl" "$tmp/armv7.jsonl"
}

query="parasites of honeybees"
write_docs() {
	mkdir -p "$tmp/docs"
	printf 'Keeping bees\n\nCheck the hive for varroa mites in late summer and treat the colony before winter.\n' >"$tmp/docs/bees.txt"
	printf '# Sourdough bread\n\nFeed the starter the night before, then mix flour, water and salt and let the dough rise slowly.\n' >"$tmp/docs/bread.md"
	printf 'Fixing a flat tyre\n\nTake the wheel off, find the puncture, patch the inner tube and pump it up again.\n' >"$tmp/docs/bike.txt"
	printf '# Growing tomatoes\n\nPlant them in full sun, water deeply at the base and tie the stems to stakes as they grow.\n' >"$tmp/docs/tomatoes.md"
}

# import_search NAME RUNNER: imports the folder into a fresh data directory
# with RUNNER (native or armv7) and searches it twice, each time in a new
# process: the first builds the vector graph and saves it, the second must
# load it (the saved file stays as it was).
import_search() {
	local name=$1 run=$2 data=$tmp/data-$1 before after
	$run import "$tmp/docs" --data "$data" --model "$Q8" >"$tmp/import-$name.log" 2>&1 ||
		{ cat "$tmp/import-$name.log" >&2 && return 1; }
	$run search "$query" --json -k 3 --data "$data" --model "$Q8" >"$tmp/search-$name-1.json" 2>"$tmp/search-$name-1.log" ||
		{ cat "$tmp/search-$name-1.log" >&2 && return 1; }
	before=$(stat -c %y "$data/hnsw.graph") ||
		{ echo "$name: the first search saved no vector graph in $data" >&2 && return 1; }
	$run search "$query" --json -k 3 --data "$data" --model "$Q8" >"$tmp/search-$name-2.json" 2>"$tmp/search-$name-2.log" ||
		{ cat "$tmp/search-$name-2.log" >&2 && return 1; }
	after=$(stat -c %y "$data/hnsw.graph")
	if [ "$before" != "$after" ]; then
		echo "$name: the second search rebuilt the vector graph instead of loading it:" >&2
		cat "$tmp/search-$name-2.log" >&2
		return 1
	fi
}

# The armv7 binary also searches the data directory the native one wrote, as
# after importing on a PC and copying the directory to a Pi: it must load the
# graph the native binary saved, not rebuild it.
import_search_same() {
	local before after
	write_docs && import_search native native && import_search armv7 armv7 || return 1
	before=$(stat -c %y "$tmp/data-native/hnsw.graph")
	armv7 search "$query" --json -k 3 --data "$tmp/data-native" --model "$Q8" \
		>"$tmp/search-copied.json" 2>"$tmp/search-copied.log" || { cat "$tmp/search-copied.log" >&2 && return 1; }
	after=$(stat -c %y "$tmp/data-native/hnsw.graph")
	if [ "$before" != "$after" ]; then
		echo "armv7 rebuilt the vector graph the native binary saved instead of loading it:" >&2
		cat "$tmp/search-copied.log" >&2
		return 1
	fi
	"$tmp/pi" sameids "$tmp/search-native-1.json" "$tmp/search-armv7-1.json" "$tmp/search-armv7-2.json" "$tmp/search-copied.json"
}

armv7_part() {
	echo "==> armv7 (wazero interpreter): edgesearch under $QEMU_ARM -cpu $CPU_ARM beside the native binary"
	step "armv7 build" build_armv7
	step "q8_0 model" q8_model
	step "armv7 embed = native embed" embed_same
	step "armv7 import, search, new process, search = native; native data dir" import_search_same
}

[ "$part" = armv7 ] || arm64_part
[ "$part" = arm64 ] || armv7_part

echo "==> qemu: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
	printf '    failed: %s\n' "${failed[@]}" >&2
fi
echo "qemu: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
