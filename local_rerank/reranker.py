"""The public entry point: ``Reranker.load(path).rank(query, documents)``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from local_rerank.backends import Backend, BackendOptions, open_backend
from local_rerank.errors import BackendUnavailableError, DeviceFallbackWarning, InputError
from local_rerank.recipe import DEFAULT_MAX_LENGTH, PromptEncoder, check_max_length
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


class Reranker:
    """Scores documents against a query with a Qwen3-Reranker model.

    Args:
        backend: a loaded backend; it brings the model's own tokenizer.
        max_length: the token budget of one prompt; longer documents are cut at the end.
    """

    def __init__(self, backend: Backend, max_length: int = DEFAULT_MAX_LENGTH, source: Path | None = None) -> None:
        self.backend = backend
        self.encoder = PromptEncoder(backend.tokenizer, max_length)
        self.source = source

    @property
    def identity(self) -> str:
        """What determines this reranker's scores: backend, device, budget and the model file's
        path, size and modification time (a changed file is a different model)."""
        backend = self.backend
        parts = [backend.name, backend.model_name, backend.device, str(self.encoder.max_length)]
        if self.source is not None:
            info = self.source.stat()
            parts += [str(self.source.resolve()), str(info.st_size), str(info.st_mtime_ns)]
        return "|".join(parts)

    @classmethod
    def load(cls, path: str | Path, *, backend: str | None = None, options: BackendOptions = BackendOptions(),
             max_length: int = DEFAULT_MAX_LENGTH) -> "Reranker":
        """Open a model file; the backend follows the file's format unless named.

        Raises:
            ModelError: the file is missing, corrupt, or not a Qwen3-Reranker.
            BackendUnavailableError: the backend's library or the requested device is missing.
            InputError: ``max_length`` is out of range.
        """
        check_max_length(max_length)
        return cls(open_backend(Path(path), backend, options, max_length=max_length), max_length, Path(path))

    @classmethod
    def from_choices(cls, choices: Sequence[Choice], *, max_length: int = DEFAULT_MAX_LENGTH) -> "Reranker":
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

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[float]:
        """p("yes") for each document, in input order.

        Raises:
            InputError: empty query, no documents, or a document that is not a string.
        """
        return [result.score for result in self._score(query, documents, instruction)]

    def rank(self, query: str, documents: Sequence[str], instruction: str | None = None,
             top_k: int | None = None) -> list[RankResult]:
        """Documents sorted by score, best first (ties keep input order), at most ``top_k``."""
        if top_k is not None and top_k < 1:
            raise InputError(f"top-k must be at least 1, got {top_k}")
        results = self._score(query, documents, instruction)
        return sorted(results, key=lambda result: -result.score)[:top_k]

    def _score(self, query: str, documents: Sequence[str], instruction: str | None) -> list[RankResult]:
        check_inputs(query, documents, instruction)
        prompts = self.encoder.encode(query, documents, instruction)
        scores = self.backend.score([p.ids for p in prompts])
        return [RankResult(i, float(scores[i]), documents[i], prompts[i].truncated) for i in range(len(documents))]

    def close(self) -> None:
        """Release the model."""
        self.backend.close()

    def __enter__(self) -> "Reranker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_inputs(query: str, documents: Sequence[str], instruction: str | None) -> None:
    """Refuse what cannot be scored (an :class:`InputError` naming the problem). Surrogate code points are not text (the tokenizer cannot
    encode them): they come from invalid UTF-8 in a command-line argument or a ``\\ud800``
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
