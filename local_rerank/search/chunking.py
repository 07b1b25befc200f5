"""Pack a file's blocks into passages that fit a token budget and respect its structure.

A heading always opens a new passage and names the passages under it; a top-level definition
in source code opens one once the current passage is a third full; blocks are never split
unless one alone exceeds the budget, and then only at line ends (a single huge line at
character boundaries). Passages are produced one at a time, as the blocks arrive. Token counts
are estimated without a tokenizer (UTF-8 bytes / 3, a digit counting as three bytes: one token per
Chinese, Japanese, Korean or Thai character and per digit, which Qwen's tokenizer splits one by one,
a third of one per other ASCII character), so indexing needs no model and every passage
fits the reranker's prompt untruncated. Measured with Qwen3's tokenizer, real tokens per UTF-8
byte / 3 are 0.63 for Chinese news, 0.80 for Japanese, 0.87 for Korean, 0.52 for Thai and 0.87
for English prose; counting digits as tokens keeps short texts full of numbers under it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from local_rerank.search.blocks import SOFT_BREAK, Block
from local_rerank.search.text_blocks import split_lines

PASSAGE_TOKENS = 384


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of a file to index and rerank: its text, 1-based line span, heading trail and PDF page."""

    text: str
    start_line: int
    end_line: int
    heading: str = ""
    page: int | None = None


def estimate_tokens(text: str) -> int:
    """An upper estimate of Qwen3 tokens in ``text``, in any script (see the module docstring)."""
    return _cost(text) // 3 + 1


def _cost(text: str) -> int:
    """UTF-8 bytes of ``text``, each digit counted as three."""
    return len(text.encode("utf-8")) + 2 * sum(character.isdigit() for character in text)


def passages(blocks: Iterable[Block], budget: int = PASSAGE_TOKENS) -> Iterator[Passage]:
    """The blocks packed into passages of at most ``budget`` estimated tokens."""
    trail: dict[int, str] = {}
    current: list[Block] = []
    size = 0
    for block in _fitting(blocks, budget):
        cost = estimate_tokens(block.text) + 1
        is_heading = 0 < block.heading < SOFT_BREAK
        soft_break = block.heading == SOFT_BREAK and size * 3 >= budget
        if current and (is_heading or soft_break or size + cost > budget):
            yield _passage(current, trail)
            current, size = [], 0
        if is_heading:
            trail = {level: text for level, text in trail.items() if level < block.heading}
            trail[block.heading] = _heading_text(block.text)
        current.append(block)
        size += cost
    if current:
        yield _passage(current, trail)


def _passage(blocks: list[Block], trail: dict[int, str]) -> Passage:
    opened_by_heading = 0 < blocks[0].heading < SOFT_BREAK
    names = [trail[level] for level in sorted(trail) if not (opened_by_heading and level == blocks[0].heading)]
    return Passage("\n\n".join(block.text for block in blocks), blocks[0].start_line, blocks[-1].end_line,
                   " › ".join(names), blocks[0].page)


def _heading_text(text: str) -> str:
    return text.splitlines()[0].lstrip("#").strip()


def _fitting(blocks: Iterable[Block], budget: int) -> Iterator[Block]:
    """The blocks, with any block over the budget cut at line ends into pieces that fit."""
    for block in blocks:
        if estimate_tokens(block.text) <= budget:
            yield block
            continue
        piece: list[str] = []
        first = last = size = 0  # size: _cost of the piece's lines, each with its "\n"
        for offset, line in _short_lines(block.text, budget):
            line_size = _cost(line)
            if piece and (size + line_size) // 3 + 1 > budget:  # estimate_tokens("\n".join(piece + [line]))
                yield Block("\n".join(piece), block.start_line + first, block.start_line + last, page=block.page)
                piece, first, size = [], offset, 0
            piece.append(line)
            last, size = offset, size + line_size + 1
        if piece:
            yield Block("\n".join(piece), block.start_line + first, block.start_line + last, page=block.page)


def _short_lines(text: str, budget: int) -> Iterator[tuple[int, str]]:
    """(line offset, text) of each line, long lines cut into pieces of at most ``budget`` tokens."""
    width = budget * 3 // 4  # characters: safe even when every character costs four bytes (emoji)
    for offset, line in enumerate(split_lines(text)):
        for piece in _cut_at_spaces(line, width):
            yield offset, piece


def _cut_at_spaces(line: str, width: int) -> Iterator[str]:
    """``line`` in pieces of at most ``width`` characters, cut after a space where one lies in the
    second half of a piece (so words stay whole), else at the width (text without spaces)."""
    begin = 0
    while len(line) - begin > width:
        space = line.rfind(" ", begin + width // 2, begin + width)
        end = space + 1 if space >= 0 else begin + width
        yield line[begin:end]
        begin = end
    yield line[begin:]
