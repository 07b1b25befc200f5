"""Scoring a shard's rows with one reranker, one :meth:`Reranker.rank` call per group.

Pair rows that share a query and instruction form one group (scored together, as
``local-rerank rank`` scores that query's documents); each candidates row is a group of its
own. So a candidates row gets exactly the scores ``rank`` gives its candidates, and pair
rows exactly those ``rank`` gives their query with the same documents. Scored with other
companions, a document's score moves only within the backend's batch tolerance (GGUF on a
CPU: below 1e-4), as it does in ``rank`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from local_rerank.batch.rows import Request
from local_rerank.reranker import Reranker


@dataclass
class _Group:
    """Documents of one (query, instruction), and which request and document each came from."""

    query: str
    instruction: str | None
    documents: list[str] = field(default_factory=list)
    owners: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class ShardScores:
    """Per request, its score (a pair) or its scores (candidates), and how many documents were cut."""

    scores: list[float | list[float]]
    truncated: int


class ShardScorer:
    """Scores requests with one reranker, in the calling thread."""

    def __init__(self, reranker: Reranker) -> None:
        self.reranker = reranker

    def score(self, requests: Sequence[Request], progress: Callable[[int], None] | None = None) -> ShardScores:
        """Scores in request order; ``progress(rows)`` is called as each group is done.

        Raises:
            LocalRerankError: the backend failed.
        """
        results: list[list[float]] = [[0.0] * len(r.documents) for r in requests]
        truncated = 0
        for group in group_requests(requests):
            for result in self.reranker.rank(group.query, group.documents, group.instruction):
                position, index = group.owners[result.index]
                results[position][index] = result.score
                truncated += result.truncated
            if progress is not None:
                progress(len({position for position, _ in group.owners}))
        scores = [values if r.candidates else values[0] for r, values in zip(requests, results)]
        return ShardScores(scores, truncated)

    def close(self) -> None:
        """Release the model."""
        self.reranker.close()


def group_requests(requests: Sequence[Request]) -> list[_Group]:
    """Pair requests grouped by (query, instruction) in order of first appearance; one group per candidates request."""
    groups: list[_Group] = []
    pairs: dict[tuple[str, str | None], _Group] = {}
    for position, request in enumerate(requests):
        key = (request.query, request.instruction)
        if request.candidates or key not in pairs:
            groups.append(_Group(request.query, request.instruction))
            if not request.candidates:
                pairs[key] = groups[-1]
        group = groups[-1] if request.candidates else pairs[key]
        for index, document in enumerate(request.documents):
            group.documents.append(document)
            group.owners.append((position, index))
    return groups
