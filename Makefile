# local-rerank: `make run` sets up .venv on first use and ranks example documents;
# `make test` sets up on first use and runs the whole test suite.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL ?= models/qwen3-reranker-0.6b-q8_0.gguf
DEMO_MODEL := models/demo/synthetic-tiny-q8_0.gguf
QUERY ?= how do I copy a folder with all its files?
DOCS ?= examples/candidates.jsonl

.PHONY: setup run test bench demo-model clean

setup: $(STAMP)

# llama-cpp-python builds from source (about 8 minutes on 2 cores; pip caches the wheel).
# For an NVIDIA GPU: CMAKE_ARGS="-DGGML_CUDA=on" make setup
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# MODEL is a path or the name of an installed model (models/NAME).
run: setup
	@if [ -e "$(MODEL)" ] || [ -d "models/$(MODEL)" ]; then \
		$(VENV)/bin/local-rerank rank --model "$(MODEL)" --query "$(QUERY)" --docs-file "$(DOCS)"; \
	else \
		echo "No model at $(MODEL). Get one, then run make run MODEL=<name or path>:" >&2; \
		echo "  $(VENV)/bin/local-rerank models pull qwen3-reranker-0.6b-q8_0-gguf   (needs network)" >&2; \
		echo "  $(VENV)/bin/local-rerank convert ./Qwen3-Reranker-0.6B --out $(MODEL)   (from a checkpoint)" >&2; \
		echo "Meanwhile, a DEMO model with random weights shows the pipeline (its scores mean nothing):" >&2; \
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

clean:
	rm -rf $(VENV) models/demo .pytest_cache
