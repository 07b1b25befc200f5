"""The preview: the highlighted file around its passage, the passage shaded and the query's words marked.

The lines above the passage, the passage and the lines below are three widgets, so that the
preview can scroll the passage itself into view however the lines above it wrap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from rich.style import Style, StyleType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from local_rerank.search import SearchHit
from local_rerank.search.cjk import is_gram, marked_words
from local_rerank.text import printable

CONTEXT_LINES = 200
PASSAGE_STYLE = "on #1f3347"
PLAIN_STYLES: Mapping[str, StyleType] = {"passage": PASSAGE_STYLE, "number": "bold yellow", "context": "dim",
                                         "match": "bold magenta"}
"""The preview's styles outside a themed widget; the ``preview--*`` component classes colour the
passage's shade, its line numbers, the other lines' numbers and the query's words (see app.tcss)."""


def render_passage(lines: list[str], hit: SearchHit, query: str,
                   styles: Mapping[str, StyleType] = PLAIN_STYLES) -> tuple[Text, Text, Text]:
    """The file's lines near the passage, numbered: those above it, the passage, those below."""
    first = max(hit.passage.start_line - CONTEXT_LINES, 1)
    last = min(hit.passage.end_line + CONTEXT_LINES, len(lines))
    width = len(str(last))
    spans = ((first, hit.passage.start_line - 1), (hit.passage.start_line, hit.passage.end_line),
             (hit.passage.end_line + 1, last))
    above, passage, below = (_numbered(lines, start, end, width, inside=part == 1, query=query, styles=styles)
                             for part, (start, end) in enumerate(spans))
    return above, passage, below


def _numbered(lines: list[str], start: int, end: int, width: int, inside: bool, query: str,
              styles: Mapping[str, StyleType]) -> Text:
    text = Text(no_wrap=False)
    for number in range(start, end + 1):
        text.append(f"{number:>{width}} ", style=styles["number"] if inside else styles["context"])
        text.append(printable(lines[number - 1].expandtabs(4)) + ("\n" if number < end else ""),
                    style=styles["passage"] if inside else "")
    words = [re.escape(word) if is_gram(word) else rf"\b{re.escape(word)}" for word in marked_words(query)]
    if words:  # grams of Chinese, Japanese, Korean or Thai are marked wherever they occur
        text.highlight_regex(re.compile("|".join(words), re.IGNORECASE), styles["match"])
    return text


class Preview(VerticalScroll):
    """Shows one hit in its file."""

    COMPONENT_CLASSES = {"preview--passage", "preview--number", "preview--context", "preview--match"}
    _shown: tuple[list[str] | None, SearchHit, str] | None = None  # what show() was last given

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._recolour, init=False)

    def _recolour(self) -> None:
        """Show the hit again in the new theme's colours once its styles are in place."""
        if self._shown is not None:
            self.app.call_next(self.show, *self._shown)

    def compose(self) -> ComposeResult:
        yield Static(id="preview-above")
        yield Static("Results appear here; the highlighted one is previewed.", id="preview-text")
        yield Static(id="preview-below")

    def show(self, lines: list[str] | None, hit: SearchHit, query: str) -> None:
        """Show ``hit`` within ``lines`` (its file now), or the passage alone when the file has no lines
        to show (a PDF) or is gone."""
        self._shown = (lines, hit, query)
        if lines is None or hit.passage.end_line > len(lines):
            where = f" (page {hit.passage.page})" if hit.passage.page else ""
            title = Text(f"{printable(hit.path)}{where}", style="bold")
            self._update(title, render_passage(hit.passage.text.splitlines(), _whole(hit), query, self._styles())[1],
                         Text())
        else:
            self._update(*render_passage(lines, hit, query, self._styles()))
        self.call_after_refresh(self._scroll_to_passage)

    @property
    def shown(self) -> str:
        """The plain text on show, above, passage and below."""
        return "\n".join(str(static.render()) for static in self.query(Static))

    def _styles(self) -> dict[str, Style]:
        """The component classes' colours in the current theme: the passage's background, the others' text."""
        get = self.get_component_rich_style
        passage = get("preview--passage")
        styles = {name: Style(color=get(f"preview--{name}").color, bold=get(f"preview--{name}").bold)
                  for name in ("number", "context", "match")}
        return {"passage": Style(bgcolor=passage.bgcolor), **styles}

    def clear(self) -> None:
        """Show nothing."""
        self._shown = None
        self._update(Text(), Text(), Text())

    def _update(self, above: Text, passage: Text, below: Text) -> None:
        for name, text in (("above", above), ("text", passage), ("below", below)):
            static = self.query_one(f"#preview-{name}", Static)
            static.update(text)
            static.display = bool(text.plain) or name == "text"

    def _scroll_to_passage(self) -> None:
        passage = self.query_one("#preview-text", Static)
        self.scroll_to(y=max(passage.virtual_region.y - 2, 0), animate=False)


def _whole(hit: SearchHit) -> SearchHit:
    count = max(len(hit.passage.text.splitlines()), 1)
    return replace(hit, passage=replace(hit.passage, start_line=1, end_line=count))
