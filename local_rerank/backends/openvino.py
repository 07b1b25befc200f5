"""OpenVINO models exported by ``local-rerank convert --format openvino``, run on the CPU.

Like the ONNX export, the graph ends in the yes-minus-no logit at each sequence's last real
token, so a batch is one inference and the score is its sigmoid; batches are padded on the
right. The CPU plugin computes in float32 (never its bf16 default, which would loosen an
fp32 export's exactness); an int8 export's matrix products then run on 8-bit activations
quantized per group of ``ACTIVATION_GROUP`` values on CPUs with VNNI (OpenVINO's dynamic
quantization): integer dot products, as GGUF Q8_0 does. OpenVINO has no CUDA device; its
GPU plugin is for Intel GPUs and is not used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from local_rerank.backends.base import Backend, BackendOptions, available_cores
from local_rerank.backends.export_folder import (PAD_TOKEN, checked_tokenizer, find_export_folder, padded_batch,
                                                 probabilities)
from local_rerank.errors import BackendUnavailableError, ModelError
from local_rerank.recipe import DEFAULT_MAX_LENGTH

MODEL_FILE = "model.xml"
DEFAULT_BATCH_TOKENS = 4096  # padded tokens per inference
MAX_SEQUENCES = 32
# Values per group of the 8-bit activations: the export's weight group (the plugin needs one to
# divide the other; larger activation groups fell back to float32 products with 32-value weight
# groups, half the speed, on the 0.6B twin).
ACTIVATION_GROUP = 32


def model_folder(path: Path) -> Path | None:
    """The export folder for ``path`` (the folder or its model.xml), or None if it is not one."""
    return find_export_folder(path, MODEL_FILE)


class OpenVinoBackend(Backend):
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
    pads_batches = True

    def __init__(self, path: Path, options: BackendOptions = BackendOptions(), *,
                 max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__()
        folder = model_folder(path)
        if folder is None:
            raise ModelError(f"{path} is not an OpenVINO export folder (no {MODEL_FILE})")
        if options.device == "cuda":
            raise BackendUnavailableError("--device cuda: OpenVINO models run on the CPU only; "
                                          "use a GGUF or ONNX model on a CUDA GPU")
        openvino = _openvino()
        self.tokenizer = checked_tokenizer(folder)
        self.model_name = folder.name
        self.device = "cpu"
        self.max_batch_tokens = max(options.max_batch_tokens or DEFAULT_BATCH_TOKENS, max_length)
        self.max_batch_sequences = MAX_SEQUENCES
        self.threads = options.threads or available_cores()
        self._pad_id = self.tokenizer.token_id(PAD_TOKEN)
        self._compiled = _compiled(openvino, folder / MODEL_FILE, self.threads)
        self._request = self._compiled.create_infer_request()

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        result = self._request.infer(padded_batch(sequences, self._pad_id))
        return probabilities(result[self._compiled.output("logits")])

    def _release(self) -> None:
        """Drop the compiled model."""
        self._request = self._compiled = None


def _openvino() -> Any:
    try:
        import openvino
    except ImportError as e:
        raise BackendUnavailableError(
            "the OpenVINO backend needs openvino: pip install 'local-rerank[openvino]'"
        ) from e
    return openvino


def _compiled(openvino: Any, model: Path, threads: int) -> Any:
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": ACTIVATION_GROUP}
    try:
        compiled = openvino.Core().compile_model(str(model), "CPU", config)
        inputs = [port.get_names() for port in compiled.inputs]
        outputs = [port.get_names() for port in compiled.outputs]
        fits = (len(inputs) == 2 and {"input_ids", "attention_mask"} <= set().union(*inputs) and len(outputs) == 1
                and "logits" in outputs[0] and str(compiled.outputs[0].get_partial_shape()[-1]) == "1")
    except Exception as e:  # OpenVINO raises RuntimeError subclasses of its own for bad XML, weights and shapes
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"OpenVINO cannot load {model}: {reason}") from e
    if not fits:
        raise ModelError(f"{model.parent}: the graph does not end in one relevance logit (outputs "
                         f"{[sorted(names) for names in outputs]}); "
                         "export it with `local-rerank convert --format openvino`")
    return compiled
