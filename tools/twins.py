"""The shape twins the benchmarks run on: a random-weight checkpoint in the exact shape of a
Qwen3-Reranker (tools/synthetic_model.py) and its GGUF, ONNX and OpenVINO conversions, each built once
and cached under the developer cache (``twins/<shape>/``), shared by every benchmark."""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.tokenizer_fixture import dev_cache_dir


def twin_checkpoint(shape: str) -> Path:
    """The shape twin's Hugging Face checkpoint (bf16 weights)."""
    from tools.synthetic_model import build_synthetic_model

    checkpoint = dev_cache_dir() / "twins" / shape / "checkpoint"
    if not (checkpoint / "model.safetensors").is_file():
        build_synthetic_model(checkpoint, shape, dtype="bf16")
    return checkpoint


def twin_gguf(shape: str, quant: str = "q8_0") -> Path:
    """The shape twin as a GGUF file of weight type ``quant``."""
    from local_rerank.convert.gguf_export import export_gguf

    checkpoint = twin_checkpoint(shape)
    path = checkpoint.parent / f"{shape}-{quant}.gguf"
    if not path.is_file():
        export_gguf(checkpoint, path, quant)
    return path


def twin_onnx(shape: str, quant: str) -> Path:
    """The shape twin as an ONNX export folder of variant ``quant`` (optimum and torch needed to build it)."""
    from local_rerank.convert.onnx_export import export_onnx

    checkpoint = twin_checkpoint(shape)
    path = checkpoint.parent / f"{shape}-onnx-{quant}"
    if not (path / "model.onnx").is_file():
        shutil.rmtree(path, ignore_errors=True)
        export_onnx(checkpoint, path, quant)
    return path


def twin_openvino(shape: str, quant: str) -> Path:
    """The shape twin as an OpenVINO export folder of variant ``quant`` (optimum, torch and openvino needed to build it)."""
    from local_rerank.convert.openvino_export import export_openvino

    checkpoint = twin_checkpoint(shape)
    path = checkpoint.parent / f"{shape}-openvino-{quant}"
    if not (path / "model.xml").is_file():
        shutil.rmtree(path, ignore_errors=True)
        export_openvino(checkpoint, path, quant)
    return path
