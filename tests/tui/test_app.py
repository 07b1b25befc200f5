"""The terminal UI, driven by Textual's Pilot: state and messages first, one snapshot last."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from local_rerank.recipe import INSTRUCTION_PRESETS
from local_rerank.reranker import Reranker
from local_rerank.search import FolderIndex
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker
from tui.app import NO_MODEL_BANNER, RerankApp, editor_command, make_app
from tui.help_screen import HelpScreen
from tui.results_table import ResultsTable, score_bar

SIZE = (120, 34)


@pytest.fixture
def notes(tmp_path: Path) -> FolderIndex:
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


def _app(index: FolderIndex, reranker: Reranker | None) -> RerankApp:
    loader = (lambda: reranker) if reranker is not None else None
    return make_app(index, loader, None if reranker else NO_MODEL_BANNER, folder_label="notes", clock=_clock())


async def _settle(pilot: Pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def _ask(pilot: Pilot, query: str) -> None:
    await _settle(pilot)
    pilot.app.query_one("#query", Input).value = query
    await pilot.press("enter")
    await _settle(pilot)


async def test_a_query_shows_reranked_results_and_status(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    app = _app(notes, reranker)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "harbour")
        table = app.query_one(ResultsTable)
        assert table.row_count == 10
        assert [hit.path for hit in app.hits][:2] in (["note3.md", "note7.md"], ["note7.md", "note3.md"])
        assert all(a.score >= b.score for a, b in zip(app.hits, app.hits[1:]))
        status = app.status.status
        assert status.model == "fake-crane (fake, cpu)" and status.index == "10 files"
        assert status.work == "reranked" and status.timings.startswith("lexical ") and "rerank" in status.timings
        moved = [(hit.bm25_rank, position) for position, hit in enumerate(app.hits, start=1)]
        assert any(rank != position for rank, position in moved), "reranking moved something"


async def test_moving_through_results_moves_the_preview(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = _app(notes, word_count_reranker(tokenizer, "crane"))
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "harbour")
        await pilot.press("tab", "tab", "tab")
        assert app.focused is app.query_one(ResultsTable)
        await pilot.press("down")
        await pilot.pause()
        second = app.hits[1]
        shown = str(app.query_one("#preview-text", Static).render())
        assert app.query_one(ResultsTable).highlighted == second
        assert f"item {second.path[4]}" in shown and "crane" in shown


async def test_escape_cancels_reranking_and_keeps_the_lexical_order(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    gate = threading.Event()
    reranker = word_count_reranker(tokenizer, "crane", gate)
    app = _app(notes, reranker)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        app.query_one("#query", Input).value = "harbour"
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.hits:
                break
        assert [hit.bm25_rank for hit in app.hits] == list(range(1, 11))  # BM25 order is on screen already
        await pilot.press("escape")
        gate.set()
        await _settle(pilot)
        assert app.status.status.work == "cancelled"
        assert len(reranker.backend.batches) <= 1, "no batch starts after the cancel"


async def test_a_new_query_replaces_the_one_in_flight(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    gate = threading.Event()
    app = _app(notes, word_count_reranker(tokenizer, "crane", gate))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        app.query_one("#query", Input).value = "harbour"
        await pilot.press("enter")
        app.query_one("#query", Input).value = "item 3"
        await pilot.press("enter")
        gate.set()
        await _settle(pilot)
        assert app.query_text == "item 3" and app.hits[0].path == "note3.md"
        assert app.query_one("#query").history == ["harbour", "item 3"]
        await pilot.press("up")
        assert app.query_one("#query", Input).value == "item 3"
        await pilot.press("up")
        assert app.query_one("#query", Input).value == "harbour"


async def test_changing_the_instruction_reranks_with_it(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    app = _app(notes, reranker)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "harbour")
        batches = len(reranker.backend.batches)
        app.query_one("#preset", Select).value = "code"
        await _settle(pilot)
        assert app.query_one("#instruction", Input).value == INSTRUCTION_PRESETS["code"]
        assert len(reranker.backend.batches) > batches, "a new instruction is not answered from the cache"
        assert app.status.status.work == "reranked"


async def test_without_a_model_a_banner_and_the_bm25_order(notes: FolderIndex) -> None:
    app = _app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "crane")
        assert "models pull" in str(app.query_one("#banner", Static).render())
        assert app.status.status.work == "BM25 order"
        assert [hit.bm25_rank for hit in app.hits] == list(range(1, len(app.hits) + 1))
        assert all(hit.score is None for hit in app.hits)


async def test_a_query_without_words_says_so(notes: FolderIndex) -> None:
    app = _app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "?!")
        assert app.status.status.work == "the query has no words to search for"


async def test_f1_shows_the_keys_and_escape_closes_them(notes: FolderIndex) -> None:
    app = _app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def test_editor_command_opens_at_the_passage(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    assert editor_command({"EDITOR": "nvim -p"}, path, 12) == ["nvim", "-p", "+12", str(path)]
    assert editor_command({"VISUAL": "code", "EDITOR": "vi"}, path, 3) == ["code", "--goto", f"{path}:3"]
    assert editor_command({}, path, 1) == ["vi", "+1", str(path)]


def test_score_bar_fills_in_eighths() -> None:
    assert score_bar(0.0) == "··········" and score_bar(1.0) == "██████████"
    assert score_bar(0.55) == "█████▌····"


def test_main_screen_snapshot(notes: FolderIndex, tokenizer: Tokenizer, snap_compare: Callable) -> None:
    app = _app(notes, word_count_reranker(tokenizer, "crane"))

    async def ask(pilot: Pilot) -> None:
        await _ask(pilot, "harbour")

    assert snap_compare(app, terminal_size=SIZE, run_before=ask)

