"""Backends score prompt token ids with one model format; :func:`open_backend` picks by file."""

from __future__ import annotations

from pathlib import Path

from local_rerank.backends import onnx, openvino
from local_rerank.backends.base import Backend, BackendOptions
from local_rerank.backends.gguf import GgufBackend
from local_rerank.backends.onnx import OnnxBackend
from local_rerank.backends.openvino import OpenVinoBackend
from local_rerank.errors import ModelError
from local_rerank.formats import FORMAT_NAMES
from local_rerank.gguf_file import is_gguf

BACKENDS = FORMAT_NAMES  # one backend per format


class UnknownFormat(ModelError):
    """The path is a file or folder, but of no format a backend runs."""


def detect_format(path: Path) -> str:
    """The backend name for a model path, from its content (never from its name).

    Raises:
        ModelError: nothing there, something that is neither a regular file nor a folder (a
            FIFO would block the read), or neither a GGUF file nor an ONNX or OpenVINO export folder.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model not found: {path}")
    if not (path.is_file() or path.is_dir()):
        raise ModelError(f"{path} is neither a regular file nor a folder, so it is not a model")
    if is_gguf(path):
        return "gguf"
    if onnx.model_folder(path) is not None:
        return "onnx"
    if openvino.model_folder(path) is not None:
        return "openvino"
    raise UnknownFormat(f"{path} is not a model local-rerank can run "
                        "(expected a GGUF file, or an ONNX or OpenVINO export folder)")


def open_backend(path: Path, backend: str | None = None, options: BackendOptions = BackendOptions(),
                 *, max_length: int) -> Backend:
    """Load the model at ``path`` with the named backend, or the one its format needs."""
    name = backend or detect_format(path)
    if name == "gguf":
        return GgufBackend(Path(path), options, max_length=max_length)
    if name == "onnx":
        return OnnxBackend(Path(path), options, max_length=max_length)
    if name == "openvino":
        return OpenVinoBackend(Path(path), options, max_length=max_length)
    raise ModelError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "BackendOptions", "detect_format", "open_backend"]
