"""The preview: the highlighted file around its passage, the passage shaded and the query's words marked."""

from __future__ import annotations

import re
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from local_rerank.search import SearchHit

CONTEXT_LINES = 200


def render_passage(lines: list[str], hit: SearchHit, query: str) -> tuple[Text, int]:
    """The file's lines near the passage, numbered, and the row where the passage starts."""
    first = max(hit.passage.start_line - CONTEXT_LINES, 1)
    last = min(hit.passage.end_line + CONTEXT_LINES, len(lines))
    width = len(str(last))
    text = Text(no_wrap=False)
    for number in range(first, last + 1):
        inside = hit.passage.start_line <= number <= hit.passage.end_line
        text.append(f"{number:>{width}} ", style="bold yellow" if inside else "dim")
        text.append(lines[number - 1] + "\n", style="on #1f3347" if inside else "")
    words = [re.escape(word) for word in re.findall(r"\w{3,}", query)]
    if words:
        text.highlight_regex(re.compile(r"\b(?:" + "|".join(words) + r")", re.IGNORECASE), "bold magenta")
    return text, hit.passage.start_line - first


class Preview(VerticalScroll):
    """Shows one hit in its file."""

    def compose(self) -> ComposeResult:
        yield Static("Results appear here; the highlighted one is previewed.", id="preview-text")

    def show(self, lines: list[str] | None, hit: SearchHit, query: str) -> None:
        """Show ``hit`` within ``lines`` (its file now), or the passage alone when the file has no lines
        to show (a PDF) or is gone."""
        static = self.query_one("#preview-text", Static)
        if lines is None or hit.passage.end_line > len(lines):
            where = f" (page {hit.passage.page})" if hit.passage.page else ""
            static.update(Text(f"{hit.path}{where}\n\n", style="bold") + render_passage(
                hit.passage.text.splitlines(), _whole(hit), query)[0])
            self.scroll_home(animate=False)
            return
        text, row = render_passage(lines, hit, query)
        static.update(text)
        self.call_after_refresh(self.scroll_to, y=max(row - 2, 0), animate=False)

    def clear(self) -> None:
        """Show nothing."""
        self.query_one("#preview-text", Static).update("")


def _whole(hit: SearchHit) -> SearchHit:
    count = max(len(hit.passage.text.splitlines()), 1)
    return replace(hit, passage=replace(hit.passage, start_line=1, end_line=count))
