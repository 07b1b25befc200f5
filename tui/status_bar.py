"""The status line: model, backend and device; what the index holds; where the last search's time went."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class Status:
    """Everything the status line shows."""

    model: str = "no model (BM25 order)"
    index: str = "indexing…"
    work: str = ""
    timings: str = ""


class StatusBar(Static):
    """One line, redrawn whenever part of the status changes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.status = Status()

    def change(self, **parts: str) -> None:
        """Replace some parts of the status."""
        self.status = replace(self.status, **parts)
        shown = [self.status.model, self.status.index, self.status.work, self.status.timings]
        self.update(Text("  │  ".join(part for part in shown if part)))  # no markup: errors quote paths


def format_timings(timings: dict[str, float], cached: int = 0) -> str:
    """"lexical 12 ms · rerank 3.41 s (5 cached)" from the pipeline's timings."""
    parts = [f"{stage} {_duration(seconds)}" for stage, seconds in timings.items()]
    return " · ".join(parts) + (f" ({cached} cached)" if cached else "")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
