"""The shape twins the benchmarks run on: a random-weight checkpoint in the exact shape of a
Qwen3-Reranker (tools/synthetic_model.py) and its GGUF, ONNX and OpenVINO conversions, each built once
and cached under the developer cache (``twins/<shape>/``), shared by every benchmark."""

from __future__ import annotations

import shutil
from collections.abc import Callable
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

    return _twin_folder(shape, f"onnx-{quant}", "model.onnx",
                        lambda checkpoint, path: export_onnx(checkpoint, path, quant))


def twin_openvino(shape: str, quant: str) -> Path:
    """The shape twin as an OpenVINO export folder of variant ``quant`` (optimum, torch and openvino
    needed to build it)."""
    from local_rerank.convert.openvino_export import export_openvino

    return _twin_folder(shape, f"openvino-{quant}", "model.xml",
                        lambda checkpoint, path: export_openvino(checkpoint, path, quant))


def _twin_folder(shape: str, variant: str, model_file: str, export: Callable[[Path, Path], None]) -> Path:
    """The export folder ``<shape>-<variant>`` beside the twin's checkpoint, exported unless it holds ``model_file``."""
    checkpoint = twin_checkpoint(shape)
    path = checkpoint.parent / f"{shape}-{variant}"
    if not (path / model_file).is_file():
        shutil.rmtree(path, ignore_errors=True)
        export(checkpoint, path)
    return path
