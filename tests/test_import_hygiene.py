"""Importing the library or the CLI must not load heavy or UI dependencies."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("torch", "transformers", "optimum", "textual", "llama_cpp", "onnxruntime",
             "fastapi", "starlette", "uvicorn", "mcp",  # these four: only `serve` and `mcp` load them
             "ray", "pyarrow", "pandas")  # only `batch`, for --ray or a Parquet file


@pytest.mark.parametrize("module", ["local_rerank", "local_rerank.cli", "local_rerank.search",
                                    "local_rerank.scoring_queue", "local_rerank.serve", "local_rerank.batch",
                                    "local_rerank.batch.ray_runner", "local_rerank.batch.parquet"])
def test_import_loads_no_heavy_dependency(module: str) -> None:
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
