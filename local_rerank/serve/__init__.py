"""``local-rerank serve``: the reranker behind the rerank APIs other programs already speak.

Needs the ``serve`` extra (FastAPI and uvicorn). :func:`local_rerank.serve.app.create_app`
builds the ASGI app over a :class:`local_rerank.scoring_queue.ScoringQueue`;
:mod:`local_rerank.serve.runner` binds and runs it. Importing this package imports neither.
"""
