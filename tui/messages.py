"""Small messages that workers post to the app; each carries the search or task it belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from local_rerank.reranker import Reranker
from local_rerank.search import IndexProgress, IndexReport, SearchEvent


@dataclass
class IndexAdvanced(Message):
    """The indexer looked at another file."""

    progress: IndexProgress


@dataclass
class IndexReady(Message):
    """The index is up to date."""

    report: IndexReport


@dataclass
class FolderChanged(Message):
    """Files of the folder changed on disk (``paths`` of them; 0: maybe, check): the index should follow."""

    paths: int


@dataclass
class IndexFailed(Message):
    """Indexing stopped (a locked or unwritable cache); what the index holds stays searchable."""

    error: str


@dataclass
class ModelLoaded(Message):
    """The reranker is ready (None: there is none), or could not start (``error``); ``warnings``
    were raised while loading (a GPU fallback)."""

    reranker: Reranker | None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SearchAdvanced(Message):
    """A pipeline event of search number ``search_id``."""

    search_id: int
    event: SearchEvent


@dataclass
class SearchFailed(Message):
    """Search number ``search_id`` stopped with an error the user can act on."""

    search_id: int
    error: str
