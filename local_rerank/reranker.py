"""The scoring engine and public entry point: ``Reranker.load(path).rank(query, documents)``.

Every caller that scores (``rank``, folder search, ``serve``'s queue, ``batch``, ``eval``,
calibration, the benchmarks) goes through a :class:`Reranker`: it checks and encodes the inputs
(:meth:`Reranker.prepare`, the recipe's prompt and truncation), scores prompts with an optional
stop check (:meth:`Reranker.score_prompts`), and says what it runs (:attr:`Reranker.info`, its
batch limits, :attr:`Reranker.identity`). No other module touches a backend or the encoder.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from local_rerank.backends import Backend, BackendOptions, open_backend
from local_rerank.errors import BackendUnavailableError, DeviceFallbackWarning, InputError
from local_rerank.recipe import DEFAULT_MAX_LENGTH, EncodedPrompt, PromptEncoder, cap_documents, check_max_length
from local_rerank.selector import Choice
from local_rerank.text import has_surrogates


@dataclass(frozen=True)
class RankResult:
    """One ranked document: its position in the input, p("yes"), its text, and whether
    it was cut to fit the token budget."""

    index: int
    score: float
    text: str
    truncated: bool = False


@dataclass(frozen=True)
class EngineInfo:
    """What a reranker runs: the model's name, the backend, the device it really runs on
    ("cpu" or "cuda") and the token budget of one prompt."""

    model: str
    backend: str
    device: str
    max_length: int

    def to_json(self) -> dict[str, Any]:
        """{"model", "backend", "device"}: what ``rank --json``, ``batch`` and MCP report."""
        return {"model": self.model, "backend": self.backend, "device": self.device}


class Reranker:
    """Scores documents against a query with a Qwen3-Reranker model (the scoring engine).

    Args:
        backend: a loaded backend; it brings the model's own tokenizer.
        max_length: the token budget of one prompt; longer documents are cut at the end.
    """

    def __init__(self, backend: Backend, max_length: int = DEFAULT_MAX_LENGTH, source: Path | None = None) -> None:
        self.backend = backend
        self.encoder = PromptEncoder(backend.tokenizer, max_length)
        self.source = source

    @property
    def info(self) -> EngineInfo:
        """The model, backend, device and token budget."""
        return EngineInfo(self.backend.model_name, self.backend.name, self.backend.device, self.encoder.max_length)

    @property
    def max_batch_tokens(self) -> int:
        """The most tokens the backend scores in one batch."""
        return self.backend.max_batch_tokens

    @property
    def max_batch_sequences(self) -> int:
        """The most prompts the backend scores in one batch."""
        return self.backend.max_batch_sequences

    @property
    def identity(self) -> str:
        """What determines this reranker's scores: backend, device, budget and the model file's
        path, size and modification time (a changed file is a different model)."""
        info = self.info
        parts = [info.backend, info.model, info.device, str(info.max_length)]
        if self.source is not None:
            stat = self.source.stat()
            parts += [str(self.source.resolve()), str(stat.st_size), str(stat.st_mtime_ns)]
        return "|".join(parts)

    @classmethod
    def load(cls, path: str | Path, *, backend: str | None = None, options: BackendOptions = BackendOptions(),
             max_length: int = DEFAULT_MAX_LENGTH) -> Reranker:
        """Open a model file; the backend follows the file's format unless named.

        Raises:
            ModelError: the file is missing, corrupt, or not a Qwen3-Reranker.
            BackendUnavailableError: the backend's library or the requested device is missing.
            InputError: ``max_length`` is out of range.
        """
        check_max_length(max_length)
        return cls(open_backend(Path(path), backend, options, max_length=max_length), max_length, Path(path))

    @classmethod
    def from_choices(cls, choices: Sequence[Choice], *, max_length: int = DEFAULT_MAX_LENGTH) -> Reranker:
        """Open the first of the selector's choices that starts; a GPU choice that fails to
        start gives way to the next one with a :class:`DeviceFallbackWarning`."""
        for position, choice in enumerate(choices):
            options = BackendOptions(device=choice.device, threads=choice.threads)  # type: ignore[arg-type]
            try:
                return cls.load(choice.model.path, backend=choice.backend, options=options, max_length=max_length)
            except BackendUnavailableError as e:
                if choice.device != "cuda" or position == len(choices) - 1:
                    raise
                warnings.warn(f"{choice.backend} could not start on the GPU ({e}); falling back to the next choice",
                              DeviceFallbackWarning, stacklevel=2)
        raise BackendUnavailableError("the selector offered no way to run this model")

    def prepare(self, query: str, documents: Sequence[str], instruction: str | None = None, *,
                max_document_tokens: int | None = None) -> list[EncodedPrompt]:
        """Check the inputs and encode one prompt per document (cut to the token budget, and to
        ``max_document_tokens`` of document when given), in input order.

        Raises:
            InputError: empty query, no documents, a document that is not a string, or a
                ``max_document_tokens`` under 1.
        """
        check_inputs(query, documents, instruction)
        prompts = self.encoder.encode(query, documents, instruction)
        if max_document_tokens is not None:
            prompts = cap_documents(self.encoder, prompts, query, instruction, max_document_tokens)
        return prompts

    def score_prompts(self, prompts: Sequence[EncodedPrompt], stop: Callable[[], bool] | None = None) -> np.ndarray:
        """p("yes") for each prepared prompt, in input order; ``stop`` is asked before each batch.

        Raises:
            ScoringStopped: ``stop`` answered True.
        """
        return self.backend.score([prompt.ids for prompt in prompts], stop=stop)

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None,
              stop: Callable[[], bool] | None = None) -> list[float]:
        """p("yes") for each document, in input order; ``stop`` is asked before each batch.

        Raises:
            InputError: empty query, no documents, or a document that is not a string.
            ScoringStopped: ``stop`` answered True.
        """
        return [result.score for result in self._score(query, documents, instruction, stop)]

    def rank(self, query: str, documents: Sequence[str], instruction: str | None = None,
             top_k: int | None = None) -> list[RankResult]:
        """Documents sorted by score, best first (ties keep input order), at most ``top_k``."""
        if top_k is not None and top_k < 1:
            raise InputError(f"top-k must be at least 1, got {top_k}")
        results = self._score(query, documents, instruction)
        return sorted(results, key=lambda result: -result.score)[:top_k]

    def _score(self, query: str, documents: Sequence[str], instruction: str | None,
               stop: Callable[[], bool] | None = None) -> list[RankResult]:
        prompts = self.prepare(query, documents, instruction)
        scores = self.score_prompts(prompts, stop)
        return [RankResult(i, float(scores[i]), documents[i], prompts[i].truncated) for i in range(len(documents))]

    def close(self) -> None:
        """Release the model."""
        self.backend.close()

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_inputs(query: str, documents: Sequence[str], instruction: str | None) -> None:
    """Refuse what cannot be scored (an :class:`InputError` naming the problem). Surrogate code points are not text
    (the tokenizer cannot encode them): they come from invalid UTF-8 in a command-line argument or a ``\\ud800``
    escape in JSON; the CLI replaces them in documents, and a library caller should too."""
    if not isinstance(query, str) or not query.strip():
        raise InputError("the query is empty")
    if has_surrogates(query):
        raise InputError("the query is not valid text (invalid UTF-8, or a lone surrogate escape)")
    if instruction is not None and not instruction.strip():
        raise InputError("the instruction is empty (leave it out to use the default)")
    if instruction is not None and has_surrogates(instruction):
        raise InputError("the instruction is not valid text (invalid UTF-8, or a lone surrogate escape)")
    if isinstance(documents, str):
        raise InputError("documents must be a list of strings, not one string")
    if len(documents) == 0:
        raise InputError("there are no documents to rank")
    for i, document in enumerate(documents):
        if not isinstance(document, str):
            raise InputError(f"document {i} is {type(document).__name__}, not text")
        if has_surrogates(document):
            raise InputError(f"document {i} is not valid text (it holds a surrogate code point); "
                             "replace those with U+FFFD")
