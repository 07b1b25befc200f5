"""The query line (with history) and the instruction line (presets or free text)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Select

from local_rerank.recipe import DEFAULT_INSTRUCTION, INSTRUCTION_PRESETS


class QueryInput(Input):
    """A one-line query input; Up and Down walk through the queries already asked."""

    BINDINGS = [Binding("up", "history(-1)", "Previous query", show=False),
                Binding("down", "history(1)", "Next query", show=False)]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(placeholder="Ask a question about the files, then Enter", **kwargs)  # type: ignore[arg-type]
        self.history: list[str] = []
        self._position = 0

    def remember(self, query: str) -> None:
        """Add a query to the history (once, most recent last)."""
        if query in self.history:
            self.history.remove(query)
        self.history.append(query)
        self._position = len(self.history)

    def action_history(self, step: int) -> None:
        """Show the previous (-1) or next (+1) query of the history."""
        if not self.history:
            return
        self._position = min(max(self._position + step, 0), len(self.history))
        self.value = self.history[self._position] if self._position < len(self.history) else ""
        self.cursor_position = len(self.value)


class InstructionBar(Horizontal):
    """A preset picker and the instruction text it fills in, which the user may edit."""

    def __init__(self, instruction: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.initial = instruction or DEFAULT_INSTRUCTION

    def compose(self) -> ComposeResult:
        preset = next((name for name, text in INSTRUCTION_PRESETS.items() if text == self.initial), Select.NULL)
        yield Select([(name, name) for name in INSTRUCTION_PRESETS], value=preset, prompt="custom",
                     id="preset", compact=True)
        yield Input(self.initial, id="instruction", compact=True)

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#instruction", Input).value = INSTRUCTION_PRESETS[event.value]

    @property
    def instruction(self) -> str | None:
        """The instruction to use; None means the default."""
        text = self.query_one("#instruction", Input).value.strip()
        return None if not text or text == DEFAULT_INSTRUCTION else text
