"""``local-rerank eval``: what the first stage and the reranker achieve on a labelled collection."""
