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

.PHONY: setup run rank-demo test bench bench-search demo-model clean

setup: $(STAMP)

# llama-cpp-python builds from source (about 8 minutes on 2 cores; pip caches the wheel).
# For an NVIDIA GPU: CMAKE_ARGS="-DGGML_CUDA=on" make setup
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

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

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

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
	rm -rf $(VENV) models/demo .pytest_cache
