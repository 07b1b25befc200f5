"""Reading and validating a GGUF file before llama.cpp sees it.

llama.cpp will happily run a GGUF whose head has nothing to do with yes/no and return
garbage, or abort the process on a truncated file. This module reads the header (see
:mod:`local_rerank.gguf_reader`) and decides, from metadata and tensors, whether and how
the file can be scored: ``"causal"`` (logits of yes/no at the last position, needs a full output matrix)
or ``"rank"`` (llama.cpp's rank pooling over the 2-row yes/no classifier head).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from local_rerank.errors import ModelError
from local_rerank.gguf_reader import GgufHeader, read_header
from local_rerank.recipe import NO_TOKEN, YES_TOKEN, answer_ids
from local_rerank.tokenizer import Tokenizer

GGUF_MAGIC = b"GGUF"
POOLING_RANK = 4  # llama.cpp's LLAMA_POOLING_TYPE_RANK
CLASSIFIER_TENSOR = "cls.output.weight"
OUTPUT_TENSOR = "output.weight"
EMBEDDING_TENSOR = "token_embd.weight"
ScoringPath = Literal["causal", "rank"]


@dataclass(frozen=True)
class GgufModel:
    """What a validated GGUF reranker is and how it is scored."""

    path: Path
    name: str
    context_length: int
    scoring_paths: tuple[ScoringPath, ...]  # the first is the fastest one that is valid
    tokenizer: Tokenizer
    file_type: str


def is_gguf(path: Path) -> bool:
    """True when ``path`` is a regular file that starts with the GGUF magic bytes (a FIFO is
    never opened: that would wait for a writer)."""
    try:
        if not Path(path).is_file():
            return False
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def read_gguf_model(path: Path) -> GgufModel:
    """Validate ``path`` as a Qwen3-Reranker GGUF.

    Raises:
        ModelError: missing, not GGUF, corrupt or truncated, not Qwen3, or a head that
            is not the yes/no head (community GGUFs without it score garbage).
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"{path} is not a regular file, so it is not a GGUF model")
    if not is_gguf(path):
        raise ModelError(f"{path} is not a GGUF file (no GGUF magic bytes)")
    header = _read_header(path)
    fields = header.fields

    arch = _field(fields, "general.architecture")
    if arch != "qwen3":
        raise ModelError(f"{path.name}: architecture {arch!r} is not Qwen3; only Qwen3-Reranker models are supported")
    if _field(fields, "tokenizer.ggml.model") != "gpt2":
        raise ModelError(f"{path.name}: tokenizer model is not byte-level BPE; not a Qwen3 vocabulary")
    tokenizer = Tokenizer.from_gguf_vocab(
        _field(fields, "tokenizer.ggml.tokens", kind=list),
        _field(fields, "tokenizer.ggml.token_type", kind=list),
        _field(fields, "tokenizer.ggml.merges", kind=list),
        _field(fields, "tokenizer.ggml.pre", kind=str),
    )
    return GgufModel(
        path=path,
        name=str(_field(fields, "general.name", default=path.stem)),
        context_length=_field(fields, "qwen3.context_length", kind=int),
        scoring_paths=_scoring_paths(header, tokenizer),
        tokenizer=tokenizer,
        file_type=file_type_name(_field(fields, "general.file_type", default=None, kind=int)),
    )


def _read_header(path: Path) -> GgufHeader:
    try:
        header = read_header(path)
    except (ValueError, OSError) as e:
        raise ModelError(f"{path.name} is corrupt or truncated: {e}") from e
    size = path.stat().st_size
    end = max((t.offset + t.nbytes for t in header.tensors.values()), default=0)
    if end > size:
        raise ModelError(f"{path.name} is truncated: its tensors need {end} bytes, the file has {size}")
    return header


def _field(fields: dict[str, Any], key: str, default: Any = ..., kind: type = object) -> Any:
    """The metadata value ``key``, of type ``kind``; ``default`` when absent (``...``: required)."""
    if key not in fields:
        if default is ...:
            raise ModelError(f"GGUF metadata lacks {key!r}: not a complete Qwen3 model file")
        return default
    value = fields[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelError(f"GGUF metadata {key!r} is {type(value).__name__}, not {kind.__name__}: a corrupt model file")
    return value


def _scoring_paths(header: GgufHeader, tokenizer: Tokenizer) -> tuple[ScoringPath, ...]:
    filename, fields, tensors = header.path.name, header.fields, header.tensors
    pooling = _field(fields, "qwen3.pooling_type", default=None, kind=int)
    labels = _field(fields, "qwen3.classifier.output_labels", default=None, kind=list)
    head = tensors.get(CLASSIFIER_TENSOR)
    embedding = tensors.get(EMBEDDING_TENSOR)
    if embedding is None or len(embedding.shape) != 2 or embedding.shape[0] <= max(answer_ids(tokenizer)):
        raise ModelError(f"{filename}: no {EMBEDDING_TENSOR} with a row for every token: "
                         "not a complete Qwen3 model file")

    if pooling is None and head is None and labels is None:
        return ("causal",)  # a plain Qwen3 causal LM file: yes/no logits at the last position
    if pooling != POOLING_RANK:
        raise ModelError(f"{filename}: pooling type {pooling} is not rank pooling; this is not a reranker GGUF")
    if head is None or labels != [YES_TOKEN, NO_TOKEN] or head.shape != (2, embedding.shape[1]):
        raise ModelError(
            f"{filename}: rank GGUF without the yes/no classifier head (labels {labels}); "
            "it would score garbage. Convert the model with `local-rerank convert`."
        )
    if OUTPUT_TENSOR in tensors or _head_is_tied(header, tokenizer):
        return ("causal", "rank")
    return ("rank",)  # llama.cpp's converter drops the untied output matrix


def _head_is_tied(header: GgufHeader, tokenizer: Tokenizer) -> bool:
    """Whether the yes/no head equals the embedding rows of yes and no (a tied output matrix).

    Compared by cosine similarity, so that quantization noise does not matter: unrelated
    rows of a trained or random model are nearly orthogonal.
    """
    embedded = header.rows(EMBEDDING_TENSOR, list(answer_ids(tokenizer)))
    classifier = header.rows(CLASSIFIER_TENSOR, [0, 1])
    cosine = np.sum(embedded * classifier, axis=1) / (
        np.linalg.norm(embedded, axis=1) * np.linalg.norm(classifier, axis=1) + 1e-12
    )
    return bool(np.all(cosine > 0.9))


def file_type_name(file_type: int | None) -> str:
    """llama.cpp's file type as a short name: q8_0, f16, q4_k_m..."""
    if file_type is None:
        return "unknown"
    from gguf import LlamaFileType

    try:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
    except ValueError:
        return f"type-{file_type}"
