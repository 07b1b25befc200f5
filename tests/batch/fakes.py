"""A picklable opener of the fake word-count reranker, for worker processes started by the tests.

Worker processes (``spawn``) import this module by name and build their own reranker, as
they would open a model file: the fake backend is a real :class:`Backend` subclass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from local_rerank.reranker import Reranker
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import WordCountBackend


@dataclass(frozen=True)
class WordCountOpener:
    """Opens a reranker whose p("yes") grows with how often ``word`` occurs."""

    tokenizer_json: Path
    word: str = "folder"

    def __call__(self) -> Reranker:
        return Reranker(WordCountBackend(_tokenizer(self.tokenizer_json), self.word), max_length=1024)


@lru_cache(maxsize=1)
def _tokenizer(path: Path) -> Tokenizer:
    """Loaded once per process: reading Qwen3's tokenizer.json takes about a second."""
    return Tokenizer.from_file(path)
