"""Folder search: index a folder's files (walk, extract, chunk, BM25) and rank them for a query.

    index = FolderIndex.open("~/notes")
    index.update()
    with SearchSession(index, load_reranker) as session:
        session.load_model()
        for event in session.search("when does the lease end"):
            ...
"""

from local_rerank.cache import cache_root
from local_rerank.search.hits import IndexProgress, IndexReport, SearchHit
from local_rerank.search.index import FolderIndex
from local_rerank.search.pipeline import (
    LexicalResults,
    RerankProgress,
    SearchCancelled,
    SearchEvent,
    SearchFinished,
    SearchRequest,
    default_candidates,
)
from local_rerank.search.session import Search, SearchSession

__all__ = ["FolderIndex", "IndexProgress", "IndexReport", "LexicalResults", "RerankProgress", "Search",
           "SearchCancelled", "SearchEvent", "SearchFinished", "SearchHit", "SearchRequest", "SearchSession",
           "cache_root", "default_candidates"]
