"""What the graph-export backends (ONNX, OpenVINO) share: the tokenizer kept beside the graph,
checked against the export's manifest, and right-padded batches.

Both graphs end in the yes-minus-no logit at each sequence's last real token; padding goes on
the right with ``<|endoftext|>`` (which no prompt built by the recipe contains), so every real
token keeps its position and its score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from local_rerank.convert.manifest import manifest_path, read_manifest
from local_rerank.errors import ModelError
from local_rerank.files import sha256_file
from local_rerank.tokenizer import Tokenizer

PAD_TOKEN = "<|endoftext|>"


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


def padded_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, np.ndarray]:
    """The graph's inputs for one batch: ``input_ids`` padded on the right and ``attention_mask``."""
    width = max(len(s) for s in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def probabilities(logits: np.ndarray) -> np.ndarray:
    """p("yes") from the yes-minus-no logits (one column), as float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits)[:, 0].astype(np.float64)))
