# hone: two commands do everything on a fresh Debian 12 machine.
#   make run   install dependencies, build, run hone's main job (`hone demo`) on the shipped demo models
#   make test  install dependencies, build, run every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build run test zoo peers bench clean asan fuzz

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# hone's main job on the trained demo models (models/README.md): every quantization variant measured
# for quality, latency and size; the variants and report.html land in $(BUILD)/hone-demo.
# Builds only the CLI (not the tests and benchmarks), so that a fresh clone gets there quickly.
run: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target hone
	$(BUILD)/hone demo --out $(BUILD)/hone-demo

# docs/performance.md's demo table, regenerated from one `hone demo --json` run (tools/demo_table.py).
.PHONY: demo-table
demo-table: build
	$(BUILD)/hone demo --json --out $(BUILD)/hone-demo > $(BUILD)/demo.json
	/usr/bin/python3 tools/demo_table.py $(BUILD)/demo.json --update docs/performance.md

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Address + UndefinedBehavior sanitizers over the unit, malformed and conformance tests.
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHONE_SANITIZE=ON -DHONE_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L 'unit|malformed|conformance'

# libFuzzer targets (clang-16): the ONNX loader, the .npy parser, and load+run of mutated models.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps --fuzz
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHONE_FUZZ=ON -DHONE_BUILD_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzz_onnx_load fuzz_npy fuzz_model_run fuzz_rules
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run_fuzzers.sh build-fuzz

# The benchmark model zoo (needs python3-torch; the tests do not).
zoo:
	@scripts/install-deps --peers
	/usr/bin/python3 tools/zoo/make_zoo.py "$${HONE_ZOO:-$$HOME/.cache/hone/zoo}"

# The peers `make bench` compares hone with: ONNX Runtime 1.30 (npm onnxruntime-node, run by Debian's
# node) in ${HONE_PEERS:-~/.cache/hone/peers}, and Debian's PyTorch. Not part of `make test`.
# --ignore-scripts: the package's post-install step fetches GPU binaries from a host we cannot reach;
# the CPU build ships in the package itself.
peers:
	@scripts/install-deps --peers
	@dir="$${HONE_PEERS:-$$HOME/.cache/hone/peers}"; mkdir -p "$$dir" && cd "$$dir" && \
	  { [ -f package.json ] || npm init -y >/dev/null; } && \
	  npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0

# hone against ONNX Runtime and PyTorch on every zoo model (needs `make zoo` and `make peers`).
bench: build
	/usr/bin/python3 bench/models/run.py --hone $(BUILD)/hone

# docs/ops.md, generated: the runtime's op registrations (tools/list_ops) and one run of the ONNX
# conformance tests with per-case results (a failing case is documented, not fatal here).
.PHONY: ops-doc
ops-doc: build
	rm -rf $(BUILD)/conformance_results
	-HONE_CONFORMANCE_RESULTS=$(abspath $(BUILD))/conformance_results $(BUILD)/tests/hone_conformance_tests --gtest_brief=1 >/dev/null
	/usr/bin/python3 tools/gen_ops_doc.py --results $(BUILD)/conformance_results --list-ops $(BUILD)/hone_list_ops

clean:
	rm -rf $(BUILD) build-asan build-fuzz
