"""Bring a list of passages to rank: a file (.txt one per line, .jsonl with a "text" field) or pasted text."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, TextArea

from local_rerank.documents import read_documents
from local_rerank.errors import LocalRerankError
from local_rerank.search.passage_list import PassageList


class PassagesScreen(ModalScreen[PassageList | None]):
    """Dismisses with the passages loaded or pasted, or None (Esc) to keep what is searched now."""

    BINDINGS = [Binding("escape", "dismiss_none", "Back"),
                Binding("ctrl+r", "rank_pasted", "Rank pasted", priority=True)]

    def compose(self) -> ComposeResult:
        with Vertical(id="passages"):
            yield Label("A file of passages (.txt: one per line; .jsonl: objects with \"text\"), then Enter:")
            yield Input(placeholder="~/candidates.jsonl", id="passages-file")
            yield Label("Or paste passages below, one per line, then Ctrl+R:")
            yield TextArea(id="passages-text", soft_wrap=True)
            yield Label("", id="passages-error")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self._error("type the path of a file of passages first (or paste passages below)")
            return
        path = Path(event.value.strip()).expanduser()
        try:
            with open(path, "rb") as stream:
                passages = PassageList(read_documents(stream, str(path)), str(path))
        except OSError as e:
            self._error(f"cannot read {path}: {e.strerror}")
        except LocalRerankError as e:
            self._error(str(e))
        else:
            self.dismiss(passages)

    def action_rank_pasted(self) -> None:
        try:
            self.dismiss(PassageList.from_text(self.query_one("#passages-text", TextArea).text, "pasted passages"))
        except LocalRerankError as e:
            self._error(str(e))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#passages-error", Label).update(message)
