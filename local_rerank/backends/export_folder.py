"""What the graph-export backends (ONNX, OpenVINO) share: :class:`ExportFolderBackend`, which
finds the export folder, reads the tokenizer kept beside the graph (checked against the
export's manifest), and scores right-padded batches through the subclass's runtime.

Both graphs end in the yes-minus-no logit at each sequence's last real token; padding goes on
the right with ``<|endoftext|>`` (which no prompt built by the recipe contains), so every real
token keeps its position and its score.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from local_rerank.backends.base import Backend, BackendOptions
from local_rerank.errors import ModelError
from local_rerank.files import sha256_file
from local_rerank.hardware import available_cores
from local_rerank.manifest import manifest_path, read_manifest
from local_rerank.tokenizer import Tokenizer

PAD_TOKEN = "<|endoftext|>"
DEFAULT_BATCH_TOKENS = 4096  # padded tokens per run
MAX_SEQUENCES = 32


class ExportFolderBackend(Backend):
    """A graph export folder run by some runtime: subclasses set ``model_file`` (the graph's file
    name) and ``label`` (the format's name in messages), call :meth:`_folder` and then, once
    their runtime is imported, :meth:`_read_folder` in ``__init__``, and implement :meth:`_logits`."""

    pads_batches = True
    model_file: ClassVar[str]
    label: ClassVar[str]

    def _folder(self, path: Path) -> Path:
        """The export folder for ``path`` (the folder or its graph file).

        Raises:
            ModelError: ``path`` is neither.
        """
        folder = find_export_folder(path, self.model_file)
        if folder is None:
            raise ModelError(f"{path} is not an {self.label} export folder (no {self.model_file})")
        return folder

    def _read_folder(self, folder: Path, options: BackendOptions, max_length: int) -> None:
        """Take the tokenizer, name and batch limits from the folder and options (a run holds at
        least one prompt of ``max_length``)."""
        self.tokenizer = checked_tokenizer(folder)
        self.model_name = folder.name
        self.max_batch_tokens = max(options.max_batch_tokens or DEFAULT_BATCH_TOKENS, max_length)
        self.max_batch_sequences = MAX_SEQUENCES
        self.threads = options.threads or available_cores()
        self._pad_id = self.tokenizer.token_id(PAD_TOKEN)

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        return _probabilities(self._logits(_padded_batch(sequences, self._pad_id)))

    @abstractmethod
    def _logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's ``logits`` output (one column) for ``input_ids`` and ``attention_mask``."""


def find_export_folder(path: Path, model_file: str) -> Path | None:
    """The export folder for ``path`` (the folder, or a file of ``model_file``'s kind in it), or None
    if the folder holds no ``model_file``."""
    path = Path(path)
    folder = path.parent if path.is_file() and path.suffix == Path(model_file).suffix else path
    return folder if (folder / model_file).is_file() else None


def checked_tokenizer(folder: Path) -> Tokenizer:
    """The export's tokenizer.json, refused when the manifest records another one.

    Raises:
        ModelError: no tokenizer.json, an unreadable manifest, or a tokenizer that is not
            the one the model was exported with.
    """
    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelError(f"{folder} has no tokenizer.json")
    manifest = manifest_path(folder)
    if manifest.is_file():
        expected = _recorded_sha256(read_manifest(manifest), "tokenizer.json")
        if expected and expected != sha256_file(tokenizer_file):
            raise ModelError(f"{folder}: tokenizer.json is not the one this model was exported with")
    return Tokenizer.from_file(tokenizer_file)


def _recorded_sha256(manifest: dict[str, Any], name: str) -> str | None:
    """The sha256 the manifest records for file ``name``, None where it records none."""
    files = manifest.get("files")
    entry = files.get(name) if isinstance(files, dict) else None
    sha256 = entry.get("sha256") if isinstance(entry, dict) else None
    return sha256 if isinstance(sha256, str) else None


def _padded_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, np.ndarray]:
    """The graph's inputs for one batch: ``input_ids`` padded on the right and ``attention_mask``."""
    width = max(len(s) for s in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _probabilities(logits: np.ndarray) -> np.ndarray:
    """p("yes") from the yes-minus-no logits (one column), as float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits)[:, 0].astype(np.float64)))
