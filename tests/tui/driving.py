"""What the TUI tests share: the notes folder (a fixture, in conftest.py), an app over a fake
reranker with a ticking clock, and waiting for its workers."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from local_rerank.reranker import Reranker
from local_rerank.search import FolderIndex
from tui.app import NO_MODEL_BANNER, RerankApp, make_app

SIZE = (120, 34)


def notes_folder(tmp_path: Path) -> FolderIndex:
    """Ten notes that all mention the harbour; crane counts (i % 4) disagree with BM25's order."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(10):
        body = "\n".join(["# Harbour note", "", "The harbour " * (10 - i), "", "crane " * (i % 4), f"item {i}"])
        (folder / f"note{i}.md").write_text(body + "\n")
    return FolderIndex.open(folder)


def _clock() -> Callable[[], float]:
    ticks = itertools.count()
    lock = threading.Lock()

    def clock() -> float:
        with lock:
            return next(ticks) * 0.004

    return clock


def tui_app(index: FolderIndex, reranker: Reranker | None) -> RerankApp:
    """The app over ``index``, reranking with ``reranker`` (None: the BM25 order and its banner)."""
    loader = (lambda: reranker) if reranker is not None else None
    return make_app(index, loader, None if reranker else NO_MODEL_BANNER, folder_label="notes", clock=_clock())


async def settle(pilot: Pilot) -> None:
    """Wait for indexing, loading and searching (not for the folder watch, which runs until the app ends)."""
    for _ in range(3):
        busy = [worker for worker in pilot.app.workers if worker.group != "watch"]
        if busy:  # an empty list would mean "all workers"
            await pilot.app.workers.wait_for_complete(busy)
        await pilot.pause()


async def ask(pilot: Pilot, query: str) -> None:
    """Type ``query``, press Enter, and wait for the search to end."""
    await settle(pilot)
    pilot.app.query_one("#query", Input).value = query
    await pilot.press("enter")
    await settle(pilot)
