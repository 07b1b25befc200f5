"""Document mode: a file's best passages packed into one text for the reranker.

In passage mode the reranker reads a file's best passage (~384 tokens). In document mode it
reads as much of the file as a token budget allows, chosen by relevance: the passages that
BM25 matched, best first, then their neighbours, nearest first; what is chosen is put back in
reading order, with a gap mark where passages were left out, so the reranker sees the file as
it reads. A file that fits the budget is read whole.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Literal

from local_rerank.search.chunking import Passage, estimate_tokens

Unit = Literal["passage", "document"]
UNITS: tuple[Unit, ...] = ("passage", "document")
GAP = "[…]"
# Estimated tokens of a packed document, by device: on a GPU a file's best 8k tokens cost about
# what 20 passages do; on a CPU every token counts (0.6B Q8_0 on two cores: ~300 tokens/s).
GPU_DOCUMENT_TOKENS = 8192
CPU_DOCUMENT_TOKENS = 2048


def default_document_tokens(device: str | None) -> int:
    """The packing budget for a device ("cuda", "cpu" or None)."""
    return GPU_DOCUMENT_TOKENS if device == "cuda" else CPU_DOCUMENT_TOKENS


def choose_passages(passages: Sequence[Passage], relevance: Mapping[int, float], budget: int) -> list[int]:
    """Indexes into ``passages`` (reading order) to pack, in reading order.

    ``relevance`` maps an index to its BM25 score (higher is better) for the passages that
    matched. Matched passages are taken best first while they fit ``budget`` (estimated tokens),
    then the others nearest a taken one first, each only next to one already taken, so that the
    text grows around what matched instead of gathering far-off fragments; the best passage is
    always taken.
    """
    if not passages:
        return []
    matched = sorted(relevance, key=lambda i: (-relevance[i], i))
    chosen: list[int] = []
    used = 0
    for i in matched:  # a relevant passage too large for what is left is skipped, a smaller one may fit
        cost = estimate_tokens(passages[i].text) + 1
        if not chosen or used + cost <= budget:
            chosen.append(i)
            used += cost
    anchors = sorted(chosen)
    rest = sorted((i for i in range(len(passages)) if i not in relevance), key=lambda i: (_distance(i, anchors), i))
    taken = set(chosen)
    for i in rest:  # context, nearest first, each next to what is taken (no scattered fragments)
        cost = estimate_tokens(passages[i].text) + 1
        if taken and (used + cost > budget or not {i - 1, i + 1} & taken):
            continue
        taken.add(i)
        used += cost
    return sorted(taken)


def _distance(i: int, anchors: list[int]) -> int:
    """How far passage ``i`` is from the nearest of the sorted ``anchors`` (from the start without any)."""
    if not anchors:
        return i
    at = bisect.bisect_left(anchors, i)
    return min(abs(i - anchors[k]) for k in (at - 1, at) if 0 <= k < len(anchors))


def pack_document(path: str, passages: Sequence[Passage], chosen: Sequence[int]) -> str:
    """The text the reranker reads for a file in document mode: its path, then the chosen passages
    in reading order, each section's heading where it changes, and a gap mark where passages were
    left out."""
    lines = [path]
    heading = ""
    previous = -1
    for i in chosen:
        passage = passages[i]
        if i > previous + 1:  # passages left out before this one
            lines.append(GAP)
        if passage.heading and passage.heading != heading:
            lines.append(passage.heading)
            heading = passage.heading
        lines.append(passage.text)
        previous = i
    if chosen and chosen[-1] < len(passages) - 1:
        lines.append(GAP)
    return "\n".join(lines)
