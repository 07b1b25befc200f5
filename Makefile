# local-rerank: `make run` sets up .venv on first use and opens the search TUI on FOLDER;
# `make test` sets up on first use and runs the whole test suite.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FOLDER ?= .
DEFAULT_MODEL := qwen3-reranker-0.6b-q8_0-gguf
MODEL ?=
DEMO_MODEL := models/demo/synthetic-tiny-q8_0.gguf
QUERY ?= how do I copy a folder with all its files?
DOCS ?= examples/candidates.jsonl

.PHONY: setup run rank-demo test bench bench-search demo-model clean wheelhouse test-tools

setup: $(STAMP)

# llama-cpp-python is built from source once, into a wheel (BUILD_CACHE), for every x86-64 CPU:
# the library uses no instruction newer than x86-64, and ggml's CPU kernels are built once per
# CPU generation (x64 ... haswell, skylakex, icelake, zen4, alderlake ...) as modules beside it;
# local_rerank/backends/llama_kernels.py loads the best one for the CPU it runs on. A native
# (-march=native) build died with SIGILL on a CPU older than the one that built it.
# About 22 minutes on 2 cores, once. For an NVIDIA GPU: CMAKE_ARGS="-DGGML_CUDA=on" make setup
# The version pyproject.toml pins, built with the arguments below.
LLAMA_CPP_PYTHON := $(strip $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml))
PORTABLE_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON \
	-DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DCMAKE_INSTALL_LIBDIR=llama_cpp/lib -DLLAVA_BUILD=OFF
# The wheel is kept outside the checkout (as pip keeps its cache), so a new clone reuses it; one
# folder per version and build arguments (CMAKE_ARGS="-DGGML_CUDA=on" is another build).
BUILD_CACHE ?= $(or $(XDG_CACHE_HOME),$(if $(HOME),$(HOME)/.cache,.cache))/local-rerank-build
LLAMA_WHEELS := $(BUILD_CACHE)/$(subst ==,-,$(LLAMA_CPP_PYTHON))-$(shell printf '%s' '$(PORTABLE_CMAKE_ARGS) $(CMAKE_ARGS)' | sha1sum | cut -c1-8)
LLAMA_WHEEL := $(LLAMA_WHEELS)/.built

$(LLAMA_WHEEL):
	@echo "Building llama-cpp-python for every x86-64 CPU (about 22 minutes on 2 cores, once)..." >&2
	rm -rf $(LLAMA_WHEELS)
	CMAKE_ARGS="$(PORTABLE_CMAKE_ARGS) $(CMAKE_ARGS)" $(PYTHON) -m pip wheel --quiet --no-deps --no-cache-dir \
		--no-binary llama-cpp-python --wheel-dir $(LLAMA_WHEELS) "$(LLAMA_CPP_PYTHON)"
	touch $@

$(STAMP): pyproject.toml $(LLAMA_WHEEL)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(LLAMA_WHEELS)/*.whl
	$(PY) -m pip install --quiet --find-links $(LLAMA_WHEELS) -e ".[dev]"
	touch $@

# Everything the CLI and the TUI need, as wheels for a machine with no network (same Python
# version and OS): `pip install --no-index --find-links wheelhouse 'local-rerank[gguf]'` there.
# EXTRAS adds optional parts, e.g. `make wheelhouse EXTRAS=gguf,openvino,office`.
WHEELHOUSE ?= dist/wheelhouse
EXTRAS ?= gguf
wheelhouse: setup
	mkdir -p $(WHEELHOUSE)
	cp $(LLAMA_WHEELS)/*.whl $(WHEELHOUSE)/
	$(PY) -m pip wheel --quiet --find-links $(WHEELHOUSE) --wheel-dir $(WHEELHOUSE) ".[$(EXTRAS)]"
	@echo "$(WHEELHOUSE): $$(ls $(WHEELHOUSE) | wc -l) wheels, $$(du -sh $(WHEELHOUSE) | cut -f1)" >&2

# qemu-user runs the tests' emulated CPUs (an AVX2-only laptop); installed where apt-get can.
test-tools:
	@command -v qemu-x86_64 >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get update -qq && apt-get install -y -qq qemu-user >/dev/null; } || \
		echo "qemu-user is missing: the emulated-CPU tests will be skipped" >&2; }

# Search FOLDER (default: this checkout) in the TUI. MODEL is a path or an installed name; by
# default the default model, downloaded on first use. Offline (or OFFLINE=1), the TUI opens in
# BM25 (keyword) mode with a banner saying how to get a model.
run: setup
	@if [ -z "$(MODEL)" ] && [ -z "$(OFFLINE)" ] && ! $(PY) -c "import sys; from local_rerank.store import find, \
			store_dir; sys.exit(find(store_dir(), '$(DEFAULT_MODEL)') is None)"; then \
		echo "Downloading the default model $(DEFAULT_MODEL) (about 640 MB, once)..." >&2; \
		$(VENV)/bin/local-rerank models pull $(DEFAULT_MODEL) \
			|| echo "No download possible: the TUI opens in BM25 (keyword) mode. Offline, run \`make run OFFLINE=1\`" \
				"to skip this attempt, or install a model with \`local-rerank models import\`." >&2; \
	fi
	$(VENV)/bin/local-rerank tui "$(FOLDER)" $(if $(MODEL),--model "$(MODEL)")

# Rank the example passages with MODEL, or with a random-weight demo model (scores mean nothing).
rank-demo: setup
	@if [ -n "$(MODEL)" ]; then \
		$(VENV)/bin/local-rerank rank --model "$(MODEL)" --query "$(QUERY)" --docs-file "$(DOCS)"; \
	else \
		$(MAKE) --no-print-directory demo-model && \
		$(VENV)/bin/local-rerank rank --model "$(DEMO_MODEL)" --query "$(QUERY)" --docs-file "$(DOCS)"; \
	fi

demo-model: setup
	@[ -f "$(DEMO_MODEL)" ] || { \
		$(PY) -m tools.synthetic_model models/demo/synthetic-tiny --shape tiny >/dev/null 2>&1 && \
		$(VENV)/bin/local-rerank convert models/demo/synthetic-tiny --out "$(DEMO_MODEL)" >/dev/null; }

test: setup test-tools
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (style, imports, bugs) and mypy (types), as configured in pyproject.toml; .ci/run runs it.
.PHONY: lint
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

# The parsers' property tests with many more examples than `make test` runs (20,000 each), then a
# coverage-guided run (atheris) of the GGUF reader and the document readers (bench-results/fuzz.json).
FUZZ_RUNS ?= 20000
.PHONY: fuzz
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/search/test_properties.py -q
	$(PY) -m tools.fuzz --runs $(FUZZ_RUNS)

bench: setup
	$(PY) -m tools.benchmark

bench-search: setup
	$(PY) -m tools.benchmark search

# Latency per format on a CUDA GPU: 100 documents x 256 tokens on the 0.6B shape twin (bench-results/gpu.json).
# Needs llama-cpp-python built with CUDA (CMAKE_ARGS="-DGGML_CUDA=on") and/or onnxruntime-gpu.
.PHONY: bench-gpu
bench-gpu: setup
	$(PY) -m tools.gpu_benchmark

# `local-rerank serve` with 1, 8 and 32 concurrent clients on the 0.6B shape twin (bench-results/serve.json).
.PHONY: bench-serve
bench-serve: setup
	$(PY) -m tools.serve_benchmark

# `local-rerank batch` with 1 and 2 workers, locally and on a local Ray runtime, on the 0.6B shape twin
# (or MODEL, a Q8_0 GGUF) (bench-results/batch.json).
.PHONY: bench-batch
bench-batch: setup
	$(PY) -m tools.batch_benchmark $(if $(MODEL),--model "$(MODEL)")

clean:
	rm -rf $(VENV) models/demo .pytest_cache  # the llama.cpp build in BUILD_CACHE is kept
