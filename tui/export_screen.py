"""Save the results on screen: a file name (its suffix picks JSON, CSV or Markdown), never over a file."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from local_rerank.errors import LocalRerankError
from local_rerank.search.export import ResultSet, save_results
from local_rerank.text import printable

SUGGESTED_NAME = "local-rerank-results.md"


class ExportScreen(ModalScreen[Path | None]):
    """Asks where to save ``results`` (``suggestion``: a free name in the working folder); dismisses with
    the path written, and a notice saying so, or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, results: ResultSet, suggestion: Path | None = None) -> None:
        super().__init__()
        self.results = results
        self.suggestion = suggestion or free_name(Path.cwd() / SUGGESTED_NAME)

    def compose(self) -> ComposeResult:
        with Vertical(id="export"):
            yield Label(f"Save {len(self.results.hits)} results as .md, .csv or .json (Enter saves, Esc cancels):")
            yield Input(str(self.suggestion), id="export-path")
            yield Label("", id="export-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            written = save_results(self.results, Path(event.value.strip()).expanduser())
        except LocalRerankError as e:
            self.query_one("#export-error", Label).update(str(e))
            return
        self.notify(f"Saved {len(self.results.hits)} results to {printable(str(written))}", markup=False)
        self.dismiss(written)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def free_name(path: Path) -> Path:
    """``path``, or ``path`` with "-2", "-3", ... before the suffix when it exists."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
