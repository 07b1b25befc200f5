"""Document mode: a file's best passages packed into one text for the reranker.

In passage mode the reranker reads a file's best passage (~384 tokens). In document mode it
reads as much of the file as a token budget allows, chosen by relevance: the passages that
BM25 matched, best first, then their neighbours, nearest first; what is chosen is put back in
reading order, with a gap mark where passages were left out, so the reranker sees the file as
it reads. A file that fits the budget is read whole.
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

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
    matched. Matched passages are taken best first, then the others nearest a matched one
    first, while the estimated tokens stay within ``budget``; the best passage is always taken.
    """
    if not passages:
        return []
    matched = sorted(relevance, key=lambda i: (-relevance[i], i))
    anchors = matched or [0]
    rest = sorted((i for i in range(len(passages)) if i not in relevance),
                  key=lambda i: (min(abs(i - a) for a in anchors), i))
    chosen: list[int] = []
    used = 0
    for i in [*matched, *rest]:
        cost = estimate_tokens(passages[i].text) + 1
        if chosen and used + cost > budget:
            continue
        chosen.append(i)
        used += cost
    return sorted(chosen)


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
