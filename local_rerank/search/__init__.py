"""Folder search: index a folder's files (walk, extract, chunk, BM25) and rank them for a query.

    index = FolderIndex.open("~/notes")
    index.update()
    for event in search(index, SearchRequest("when does the lease end"), reranker):
        ...
"""

from local_rerank.search.index import FolderIndex, IndexProgress, IndexReport, cache_root
from local_rerank.search.pipeline import (LexicalResults, RerankProgress, SearchCancelled, SearchEvent,
                                          SearchFinished, SearchHit, SearchRequest, default_candidates, search)

__all__ = ["FolderIndex", "IndexProgress", "IndexReport", "LexicalResults", "RerankProgress", "SearchCancelled",
           "SearchEvent", "SearchFinished", "SearchHit", "SearchRequest", "cache_root", "default_candidates",
           "search"]
