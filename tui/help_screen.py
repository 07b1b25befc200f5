"""The keys, on a screen of their own."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

KEYS = """\
# local-rerank: keys

| key | what it does |
|---|---|
| Enter (in the query) | search: BM25 results at once, then reranked as scores arrive |
| Up / Down (in the query) | earlier / later queries |
| Esc | cancel the search in flight (a new query cancels it too) |
| Tab / Shift+Tab | move between query, instruction, results |
| Up / Down (in the results) | move through the results; the preview follows |
| Enter (in the results) | open the file in $EDITOR at the passage |
| F2 | pick an instruction preset (general, code, legal, scientific), or edit the text beside it |
| F3 | the results table, or the BM25 order and the reranked order side by side |
| F4 | the distribution of the scores, large |
| Ctrl+S | save the results as Markdown, CSV or JSON (the file name's suffix chooses) |
| F5 | rank a list of passages instead: a file (.txt, .jsonl) or pasted text |
| F6 | query rewriting on or off: also search abbreviations spelled out, a follow-up completed from the last query |
| F7 | whole files on or off: rerank each file's best passages packed together (slower) instead of its best passage |
| / | back to the query |
| F1 | this help (Esc or F1 closes it) |
| Ctrl+Q | quit |

The **move** column says how far reranking moved a file from its BM25 (keyword) rank:
↑ up, ↓ down, = unchanged, · not reranked yet. Side by side, the BM25 order says where each
file went (→3: now third).
"""


class HelpScreen(ModalScreen[None]):
    """The keys and what the columns mean."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):  # scrolls where the terminal is smaller than the help
            yield Markdown(KEYS)
