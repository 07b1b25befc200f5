"""ONNX models exported by ``local-rerank convert --format onnx``, run by onnxruntime.

The graph already ends in the yes-minus-no logit at each sequence's last real token
(see :mod:`local_rerank.convert.onnx_export`), so a batch is one ``session.run`` and the
score is its sigmoid. Batches are padded on the right with the model's pad token.
The CUDA provider is used when onnxruntime-gpu is installed and a GPU is usable; the
providers a session really got are checked, so a fallback to the CPU is never silent.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from local_rerank.backends.base import BackendOptions
from local_rerank.backends.export_folder import ExportFolderBackend, find_export_folder
from local_rerank.errors import BackendUnavailableError, DeviceFallbackWarning, ModelError
from local_rerank.recipe import DEFAULT_MAX_LENGTH

MODEL_FILE = "model.onnx"
_CUDA, _CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def model_folder(path: Path) -> Path | None:
    """The export folder for ``path`` (the folder or its model.onnx), or None if it is not one."""
    return find_export_folder(path, MODEL_FILE)


class OnnxBackend(ExportFolderBackend):
    """A Qwen3-Reranker ONNX export scored by onnxruntime on the CPU or a CUDA GPU.

    Args:
        path: the export folder (or its model.onnx), with tokenizer.json beside the model.
        options: device, threads, and the padded-token limit of one run.
        max_length: the longest prompt it must take; a run holds at least one such prompt.

    Raises:
        ModelError: not an export folder, a corrupt graph, a graph that does not end in one
            logit, or a tokenizer other than the one the model was exported with.
        BackendUnavailableError: onnxruntime is missing, or CUDA was asked for and is not usable.
    """

    name = "onnx"
    model_file = MODEL_FILE
    label = "ONNX"

    def __init__(self, path: Path, options: BackendOptions = BackendOptions(), *,
                 max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__()
        folder = self._folder(path)
        ort = _onnxruntime()
        self._read_folder(folder, options, max_length)
        self._session = _session(ort, folder / MODEL_FILE, options.device, self.threads)
        self.device = "cuda" if self._session.get_providers()[0] == _CUDA else "cpu"
        _check_graph(self._session, folder)

    def _logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        (logits,) = self._session.run(["logits"], inputs)
        return logits

    def _release(self) -> None:
        """Drop the session."""
        self._session = None


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise BackendUnavailableError(
            "the ONNX backend needs onnxruntime: pip install 'local-rerank[onnx]' "
            "(or 'local-rerank[onnx-gpu]' for CUDA)"
        ) from e
    return onnxruntime


def _session(ort: Any, model: Path, device: str, threads: int) -> Any:
    cuda_available = _CUDA in ort.get_available_providers()
    if device == "cuda" and not cuda_available:
        raise BackendUnavailableError(
            "--device cuda: this onnxruntime has no CUDA provider; install onnxruntime-gpu "
            "instead of onnxruntime (pip install 'local-rerank[onnx-gpu]')"
        )
    wanted = [_CUDA, _CPU] if cuda_available and device != "cpu" else [_CPU]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model), options, providers=wanted)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        raise ModelError(f"onnxruntime cannot load {model}: {str(e).splitlines()[0]}") from e
    if wanted[0] == _CUDA and session.get_providers()[0] != _CUDA:
        if device == "cuda":
            raise BackendUnavailableError("--device cuda: onnxruntime could not start its CUDA provider")
        warnings.warn("onnxruntime could not use the GPU; running on the CPU", DeviceFallbackWarning, stacklevel=3)
    return session


def _check_graph(session: Any, folder: Path) -> None:
    inputs = {i.name for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if inputs != {"input_ids", "attention_mask"} or list(outputs) != ["logits"] or outputs["logits"][-1] != 1:
        raise ModelError(
            f"{folder}: the graph does not end in one relevance logit (outputs {outputs}); "
            "export it with `local-rerank convert --format onnx`"
        )
