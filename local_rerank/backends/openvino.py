"""OpenVINO models exported by ``local-rerank convert --format openvino``, run on the CPU.

Like the ONNX export, the graph ends in the yes-minus-no logit at each sequence's last real
token, so a batch is one inference and the score is its sigmoid; batches are padded on the
right. The CPU plugin computes in float32 (never its bf16 default, which would loosen an
fp32 export's exactness), except for a bf16 export on a CPU that multiplies bf16 natively
(AVX512-BF16 or AMX; :func:`inference_precision`, decided by the export's manifest). An int8
export's matrix products run on 8-bit activations quantized per group of ``ACTIVATION_GROUP``
values on CPUs with VNNI (OpenVINO's dynamic quantization): integer dot products, as GGUF
Q8_0 does. OpenVINO has no CUDA device; its GPU plugin is for Intel GPUs and is not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from local_rerank.backends.base import BackendOptions
from local_rerank.backends.export_folder import ExportFolderBackend, find_export_folder
from local_rerank.errors import BackendUnavailableError, ModelError
from local_rerank.hardware import BF16_FEATURES, VNNI_FEATURES, probe_cpu
from local_rerank.manifest import manifest_path, read_manifest
from local_rerank.recipe import DEFAULT_MAX_LENGTH

MODEL_FILE = "model.xml"
# Values per group of the 8-bit activations: the export's weight group (the plugin needs one to
# divide the other; larger activation groups fell back to float32 products with 32-value weight
# groups, half the speed, on the 0.6B twin).
ACTIVATION_GROUP = 32


def model_folder(path: Path) -> Path | None:
    """The export folder for ``path`` (the folder or its model.xml), or None if it is not one."""
    return find_export_folder(path, MODEL_FILE)


class OpenVinoBackend(ExportFolderBackend):
    """A Qwen3-Reranker OpenVINO export scored by OpenVINO's CPU plugin.

    Args:
        path: the export folder (or its model.xml), with tokenizer.json beside the model.
        options: threads and the padded-token limit of one inference; device "cuda" is refused.
        max_length: the longest prompt it must take; an inference holds at least one such prompt.

    Raises:
        ModelError: not an export folder, a corrupt graph, a graph that does not end in one
            logit, or a tokenizer other than the one the model was exported with.
        BackendUnavailableError: openvino is missing, or CUDA was asked for.
    """

    name = "openvino"
    model_file = MODEL_FILE
    label = "OpenVINO"
    # More CPU plugin properties to compile with (tools/profile_ops.py asks for PERF_COUNT).
    plugin_config: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    def __init__(self, path: Path, options: BackendOptions = BackendOptions(), *,
                 max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__()
        folder = self._folder(path)
        if options.device == "cuda":
            raise BackendUnavailableError("--device cuda: OpenVINO models run on the CPU only; "
                                          "use a GGUF or ONNX model on a CUDA GPU")
        openvino = _openvino()
        self._read_folder(folder, options, max_length)
        self.device = "cpu"
        precision = inference_precision(_quantization(folder), probe_cpu()[1])
        config = {**_compile_config(self.threads, precision), **self.plugin_config}
        self._compiled = _compiled(openvino, folder / MODEL_FILE, config)
        self._request = self._compiled.create_infer_request()

    def _logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._request.infer(inputs)[self._compiled.output("logits")]

    def _release(self) -> None:
        """Drop the compiled model."""
        self._request = self._compiled = None


def error_reason(error: Exception) -> str:
    """The line of an OpenVINO error that says what is wrong: its last one (the lines before it
    name the C++ sources the exception passed through)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def inference_precision(quantization: str | None, cpu_features: frozenset[str]) -> str:
    """The CPU plugin's INFERENCE_PRECISION_HINT for a model of this weight type on a CPU with these
    features: "bf16" for a bf16 export where the CPU multiplies bf16 natively, else "f32"."""
    return "bf16" if quantization == "bf16" and cpu_features & BF16_FEATURES else "f32"


def _quantization(folder: Path) -> str | None:
    """The export's weight type as its manifest records it. Without a manifest (a folder the
    export gate is checking, or one copied without it), "bf16" where the graph holds bfloat16
    weights, else None."""
    manifest = manifest_path(folder)
    if manifest.is_file():
        quantization = read_manifest(manifest).get("quantization")
        return quantization if isinstance(quantization, str) else None
    try:
        with open(folder / MODEL_FILE, encoding="utf-8", errors="replace") as graph:
            return "bf16" if any('element_type="bf16"' in line for line in graph) else None
    except OSError:
        return None


def bf16_products_here() -> bool:
    """Whether OpenVINO multiplies a bf16 model's products in bf16 on this CPU (AVX512-BF16 or AMX)."""
    return inference_precision("bf16", probe_cpu()[1]) == "bf16"


def eight_bit_activations_here() -> bool:
    """Whether OpenVINO quantizes an int8 model's activations on this CPU (it does where it has VNNI)."""
    return bool(probe_cpu()[1] & VNNI_FEATURES)


def _openvino() -> Any:
    try:
        import openvino
    except ImportError as e:
        raise BackendUnavailableError(
            "the OpenVINO backend needs openvino: pip install 'local-rerank[openvino]'"
        ) from e
    return openvino


def _compile_config(threads: int, precision: str) -> dict[str, Any]:
    """The CPU plugin's properties a model is compiled with: ``threads`` threads, one stream (one
    batch at a time, latency first), ``precision`` (:func:`inference_precision`), 8-bit activation
    groups of ``ACTIVATION_GROUP``."""
    return {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision,
            "DYNAMIC_QUANTIZATION_GROUP_SIZE": ACTIVATION_GROUP}


def _compiled(openvino: Any, model: Path, config: dict[str, Any]) -> Any:
    try:
        compiled = openvino.Core().compile_model(str(model), "CPU", config)
        inputs = [port.get_names() for port in compiled.inputs]
        outputs = [port.get_names() for port in compiled.outputs]
        fits = (len(inputs) == 2 and {"input_ids", "attention_mask"} <= set().union(*inputs) and len(outputs) == 1
                and "logits" in outputs[0] and str(compiled.outputs[0].get_partial_shape()[-1]) == "1")
    except Exception as e:  # OpenVINO raises RuntimeError subclasses of its own for bad XML, weights and shapes
        raise ModelError(f"OpenVINO cannot load {model}: {error_reason(e)}") from e
    if not fits:
        raise ModelError(f"{model.parent}: the graph does not end in one relevance logit (outputs "
                         f"{[sorted(names) for names in outputs]}); "
                         "export it with `local-rerank convert --format openvino`")
    return compiled
