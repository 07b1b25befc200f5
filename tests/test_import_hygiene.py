"""Importing the library or the CLI must not load heavy or UI dependencies."""

from __future__ import annotations

import importlib.metadata
import importlib.util
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


def test_probing_the_hardware_never_imports_onnxruntime() -> None:
    """onnxruntime imported beside llama.cpp's CUDA backend crashed a process on an H100 machine;
    the probe reads the installed distributions instead."""
    code = ("import sys; from local_rerank.hardware import probe_hardware; probe = probe_hardware(); "
            "print('onnxruntime' in sys.modules, probe.onnxruntime_installed, probe.onnxruntime_cuda)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, installed, cuda = result.stdout.split()
    assert imported == "False"
    assert installed == str(importlib.util.find_spec("onnxruntime") is not None)
    assert cuda == str(_distribution_installed("onnxruntime-gpu"))


def _distribution_installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
