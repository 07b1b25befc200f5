"""The terminal UI, driven by Textual's Pilot: state and messages first, one snapshot last."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Select, Static

from local_rerank.errors import ModelError
from local_rerank.recipe import INSTRUCTION_PRESETS
from local_rerank.reranker import Reranker
from local_rerank.search import FolderIndex
from local_rerank.search.passage_list import PassageList
from local_rerank.search.pipeline import CPU_BATCH, batch_spans
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import SlowBackend, slow_reranker, word_count_reranker
from tests.tui.driving import SIZE, ask, settle, tui_app
from tui.app import make_app
from tui.help_screen import HelpScreen
from tui.histogram_screen import HistogramScreen, score_histogram
from tui.preview import Preview
from tui.results_table import ResultsTable, score_bar
from tui.side_by_side import OrderTable, SideBySide


async def test_a_query_shows_reranked_results_and_status(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    app = tui_app(notes, reranker)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
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
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
        await pilot.press("tab", "tab", "tab")
        assert app.focused is app.query_one(ResultsTable)
        await pilot.press("down")
        await pilot.pause()
        second = app.hits[1]
        shown = app.query_one(Preview).shown
        assert app.query_one(ResultsTable).highlighted == second
        assert f"item {second.path[4]}" in shown and "crane" in shown


async def test_escape_cancels_reranking_and_keeps_the_lexical_order(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    gate = threading.Event()
    reranker = word_count_reranker(tokenizer, "crane", gate)
    app = tui_app(notes, reranker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one("#query", Input).value = "harbour"
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.hits:
                break
        assert [hit.bm25_rank for hit in app.hits] == list(range(1, 11))  # BM25 order is on screen already
        await pilot.press("escape")
        gate.set()
        await settle(pilot)
        assert app.status.status.work == "cancelled"
        assert len(reranker.backend.batches) <= 1, "no batch starts after the cancel"


async def test_a_new_query_replaces_the_one_in_flight(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    gate = threading.Event()
    app = tui_app(notes, word_count_reranker(tokenizer, "crane", gate))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one("#query", Input).value = "harbour"
        await pilot.press("enter")
        app.query_one("#query", Input).value = "item 3"
        await pilot.press("enter")
        gate.set()
        await settle(pilot)
        assert app.query_text == "item 3" and app.hits[0].path == "note3.md"
        assert app.query_one("#query").history == ["harbour", "item 3"]
        await pilot.press("up")
        assert app.query_one("#query", Input).value == "item 3"
        await pilot.press("up")
        assert app.query_one("#query", Input).value == "harbour"


async def test_changing_the_instruction_reranks_with_it(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    app = tui_app(notes, reranker)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
        batches = len(reranker.backend.batches)
        app.query_one("#preset", Select).value = "code"
        await settle(pilot)
        assert app.query_one("#instruction", Input).value == INSTRUCTION_PRESETS["code"]
        assert len(reranker.backend.batches) > batches, "a new instruction is not answered from the cache"
        assert app.status.status.work == "reranked"


async def test_without_a_model_a_banner_and_the_bm25_order(notes: FolderIndex) -> None:
    app = tui_app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "crane")
        assert "models pull" in str(app.query_one("#banner", Static).render())
        assert app.status.status.work == "BM25 order"
        assert [hit.bm25_rank for hit in app.hits] == list(range(1, len(app.hits) + 1))
        assert all(hit.score is None for hit in app.hits)


async def test_a_query_without_words_says_so(notes: FolderIndex) -> None:
    app = tui_app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "?!")
        assert app.status.status.work == "the query has no words to search for"


async def test_f1_shows_the_keys_and_escape_closes_them(notes: FolderIndex) -> None:
    app = tui_app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_model_that_fails_to_start_leaves_bm25_and_says_why(notes: FolderIndex) -> None:
    def broken_model() -> Reranker:
        raise ModelError("model.gguf is corrupt or truncated: the header runs past the end of the file")

    app = make_app(notes, broken_model, None, folder_label="notes")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.status.status.model == "model failed to start (BM25 order)"
        await ask(pilot, "harbour")
        assert app.hits and all(hit.score is None for hit in app.hits)


BATCH_S = 0.15  # a slow fake batch: the real 0.6B model takes seconds, so keys arrive mid-batch


async def _mid_batch(pilot: Pilot, query: str) -> SlowBackend:
    """Submit ``query`` and return once a reranking batch is inside the (slow) model."""
    backend = pilot.app.reranker.backend
    pilot.app.query_one("#query", Input).value = query
    await pilot.press("enter")
    for _ in range(1000):  # 10 s: a loaded 2-core machine (a parallel build, CI) starts workers late
        if backend.inside:
            return backend
        await pilot.pause(0.01)
    raise AssertionError("no batch started")


async def test_a_new_query_mid_batch_replaces_the_old_one(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = tui_app(notes, slow_reranker(tokenizer, "crane", BATCH_S))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        backend = await _mid_batch(pilot, "harbour")
        app.query_one("#query", Input).value = ""
        await pilot.press(*"item 3", "enter")
        await settle(pilot)
        assert app.query_text == "item 3" and app.hits[0].path == "note3.md"
        assert app.status.status.work == "reranked" and all(hit.score is not None for hit in app.hits)
        assert backend.overlaps == 0
    assert backend.released and backend.after_release == 0


async def test_the_bar_pulses_until_the_first_batch_is_scored(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = tui_app(notes, slow_reranker(tokenizer, "crane", 4 * BATCH_S))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.query_one("#progress", ProgressBar)
        assert bar.percentage == 1, "the index is ready"
        backend = await _mid_batch(pilot, "harbour")
        await pilot.pause()
        assert not backend.entries and bar.total is None, "no batch scored yet: no count to show, not 100%"
        await settle(pilot)
        assert app.status.status.work == "reranked" and bar.percentage == 1
        await ask(pilot, "harbour")  # every score cached now: no batch, no progress event
        assert app.status.status.timings.endswith("cached)") and bar.percentage == 1
        backend = await _mid_batch(pilot, "crane")
        await pilot.press("escape")
        await settle(pilot)
        assert app.status.status.work == "cancelled" and bar.total is not None, "cancelled: the bar stops pulsing"


async def test_an_instruction_change_mid_batch_reranks_with_it(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = tui_app(notes, slow_reranker(tokenizer, "crane", BATCH_S))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        backend = await _mid_batch(pilot, "harbour")
        app.query_one("#preset", Select).value = "legal"
        await settle(pilot)
        assert app.query_one("#instruction", Input).value == INSTRUCTION_PRESETS["legal"]
        assert app.status.status.work == "reranked" and len(app.hits) == 10
        assert backend.overlaps == 0


async def test_escape_mid_batch_then_again_after_the_search(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = tui_app(notes, slow_reranker(tokenizer, "crane", 4 * BATCH_S))  # Esc must land before the last batch
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        backend = await _mid_batch(pilot, "harbour")
        await pilot.press("escape")
        await settle(pilot)
        assert app.status.status.work == "cancelled"
        batches = len(backend.entries)
        assert batches < len(list(batch_spans(10, CPU_BATCH, 1)))
        assert sum(hit.score is not None for hit in app.hits) == sum(backend.batches)
        await pilot.press("escape")
        assert app.status.status.work == "cancelled", "nothing in flight: nothing to cancel"
        assert backend.overlaps == 0 and len(backend.entries) == batches


async def test_quitting_mid_batch_waits_for_the_batch_then_frees_the_model(notes: FolderIndex,
                                                                            tokenizer: Tokenizer) -> None:
    app = tui_app(notes, slow_reranker(tokenizer, "crane", BATCH_S))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        backend = await _mid_batch(pilot, "harbour")
        await pilot.press("ctrl+q")
    assert backend.released and backend.after_release == 0 and backend.overlaps == 0
    assert backend.inside == 0


async def test_many_rapid_queries_show_the_last_ones_results(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = tui_app(notes, slow_reranker(tokenizer, "crane", BATCH_S))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        backend = await _mid_batch(pilot, "harbour")
        for i in range(10):
            app.query_one("#query", Input).value = f"item {i}"
            await pilot.press("enter")
            await pilot.pause(0.02)
        await settle(pilot)
        assert app.query_text == "item 9" and app.status.status.work == "reranked"
        by_bm25 = {hit.bm25_rank: hit.path for hit in app.hits}
        assert by_bm25[1] == "note9.md" and all(hit.score is not None for hit in app.hits)
        assert backend.overlaps == 0 and len(backend.entries) <= 1 + 10 * 3


async def test_the_help_fits_a_small_terminal(notes: FolderIndex) -> None:
    app = tui_app(notes, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        help_box = app.screen.query_one("#help")
        assert help_box.region.width <= 80 and help_box.region.height <= 24
        assert help_box.region.x >= 0 and help_box.region.right <= 80
        assert help_box.max_scroll_y > 0, "what does not fit scrolls"


@pytest.fixture
def awkward(tmp_path: Path) -> FolderIndex:
    """A long path, a name with a terminal escape and markup brackets, and a passage far below
    lines long enough to wrap."""
    folder = tmp_path / "awkward"
    deep = folder / ("a-rather-long-folder-name-" * 3) / "and-another-level"
    deep.mkdir(parents=True)
    (deep / "quarterly-harbour-report-with-a-very-long-file-name.md").write_text("# Harbour\n\nharbour crane\n")
    (folder / "\x1b]0;pwned\x07 [bold]x.md").write_text("harbour escape\n")
    long_lines = "\n".join(f"line {i} " + "filler words that wrap " * 20 for i in range(40))
    (folder / "wrapped.md").write_text(f"# Wrapped\n\n{long_lines}\n\n## Zeppelin\n\nThe zeppelin passage.\n")
    return FolderIndex.open(folder)


async def test_long_and_hostile_file_names_keep_the_table_readable(awkward: FolderIndex) -> None:
    app = tui_app(awkward, None)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
        table = app.query_one(ResultsTable)
        file_column, passage_column = table.columns["file"], table.columns["passage"]
        assert file_column.width <= passage_column.width, "a long path takes at most half the room"
        cells = [str(table.get_cell_at((row, 3))) for row in range(table.row_count)]
        assert any(cell.startswith("…") and cell.endswith("file-name.md") for cell in cells), cells
        assert any(cell.endswith("\\x07 [bold]x.md") for cell in cells), cells
        assert not any("\x1b" in cell or "\x07" in cell for cell in cells)


async def test_the_preview_scrolls_to_a_passage_below_wrapped_lines(awkward: FolderIndex) -> None:
    app = tui_app(awkward, None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "zeppelin")
        await pilot.pause(0.1)
        preview = app.query_one(Preview)
        passage = app.query_one("#preview-text", Static)
        assert "The zeppelin passage" in str(passage.render())
        above = app.query_one("#preview-above", Static).virtual_region.height
        assert above > 2 * 40, "the lines above the passage wrap"
        top, bottom = preview.scroll_offset.y, preview.scroll_offset.y + preview.scrollable_content_region.height
        assert top <= passage.virtual_region.y and passage.virtual_region.bottom <= bottom


async def test_side_by_side_shows_both_orders_and_follows_the_cursor(notes: FolderIndex,
                                                                     tokenizer: Tokenizer) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, "harbour")
        await pilot.press("f3")
        first_stage, reranked = app.query_one("#first-stage", OrderTable), app.query_one("#reranked", OrderTable)
        assert app.query_one(SideBySide).display and not app.query_one(ResultsTable).display
        assert [hit.bm25_rank for hit in first_stage.hits] == list(range(1, 11))
        assert reranked.hits == app.hits
        marks = [str(first_stage.get_cell_at((row, 2))) for row in range(10)]
        assert marks == [f"→{app.hits.index(hit) + 1}" for hit in first_stage.hits]
        reranked.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        third = app.hits[2]
        assert reranked.highlighted == third and first_stage.highlighted == third
        assert f"item {third.path[4]}" in app.query_one(Preview).shown
        await pilot.press("f3")
        assert app.query_one(ResultsTable).display and app.focused is app.query_one(ResultsTable)


def test_wide_terminal_snapshot(notes: FolderIndex, tokenizer: Tokenizer, snap_compare: Callable) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))

    async def before(pilot: Pilot) -> None:
        pilot.app.query_one("#query", Input).cursor_blink = False  # a blinking cursor makes the picture flaky
        await ask(pilot, "harbour")

    assert snap_compare(app, terminal_size=(160, 45), run_before=before)


def test_side_by_side_snapshot(notes: FolderIndex, tokenizer: Tokenizer, snap_compare: Callable) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))

    async def before(pilot: Pilot) -> None:
        pilot.app.query_one("#query", Input).cursor_blink = False  # a blinking cursor makes the picture flaky
        await ask(pilot, "harbour")
        await pilot.press("f3")

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


async def test_ctrl_s_saves_the_results_and_never_overwrites(notes: FolderIndex, tokenizer: Tokenizer,
                                                              tmp_path: Path) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))
    target = tmp_path / "out.json"
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        saved = json.loads(target.read_text())
        assert saved["query"] == "harbour" and saved["model"] == "fake-crane"
        assert [r["path"] for r in saved["results"]] == [hit.path for hit in app.hits]
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert "exists" in str(app.screen.query_one("#export-error").render())
        await pilot.press("escape")
        assert json.loads(target.read_text()) == saved


async def test_a_list_of_passages_is_ranked_whole_and_streamed(tokenizer: Tokenizer) -> None:
    texts = [f"passage {i}: " + "crane " * (i % 4) + "harbour" for i in range(60)]
    reranker = slow_reranker(tokenizer, "crane", 0.01)
    app = tui_app(PassageList(texts, "candidates.jsonl"), reranker)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "which passage mentions cranes")
        assert len(app.hits) == 60 and app.status.status.work == "reranked"
        assert app.status.status.index == "60 passages"
        direct = reranker.score("which passage mentions cranes", texts)
        assert [hit.score for hit in app.hits] == sorted(direct, reverse=True)
        assert app.hits[0].path == "#4" and "passage 3: crane crane crane" in app.query_one(Preview).shown
        assert reranker.backend.overlaps == 0


async def test_f5_ranks_pasted_passages_or_a_file_instead_of_the_folder(notes: FolderIndex, tokenizer: Tokenizer,
                                                                        tmp_path: Path) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
        assert app.hits[0].path.endswith(".md")
        await pilot.press("f5")
        await pilot.pause()
        app.screen.query_one("#passages-text").text = "no cranes here\ncrane crane crane\none crane\n"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert [hit.path for hit in app.hits] == ["#2", "#3", "#1"] and app.sub_title == "pasted passages"
        listed = tmp_path / "list.jsonl"
        listed.write_text('{"text": "crane"}\n{"text": "crane crane"}\n')
        await pilot.press("f5")
        await pilot.pause()
        await pilot.press("enter")  # nothing typed yet
        await pilot.pause()
        assert "type the path of a file" in str(app.screen.query_one("#passages-error").render())
        app.screen.query_one("#passages-file", Input).value = str(tmp_path / "missing.txt")
        await pilot.press("enter")
        await pilot.pause()
        assert "cannot read" in str(app.screen.query_one("#passages-error").render())
        app.screen.query_one("#passages-file", Input).value = str(listed)
        await pilot.press("enter")
        await settle(pilot)
        assert [hit.path for hit in app.hits] == ["#2", "#1"] and app.status.status.index == "2 passages"


async def test_a_file_written_during_the_session_is_found(notes: FolderIndex) -> None:
    app = tui_app(notes, None)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "zeppelin")
        assert app.hits == []
        (notes.folder / "airships.md").write_text("# Airships\n\nThe zeppelin landed at the harbour.\n")
        for _ in range(100):
            await pilot.pause(0.1)
            if app.hits:
                break
        assert [hit.path for hit in app.hits] == ["airships.md"] and app.status.status.index == "11 files"
        (notes.folder / "airships.md").unlink()
        for _ in range(100):
            await pilot.pause(0.1)
            if not app.hits:
                break
        assert app.hits == [] and app.status.status.index == "10 files"


async def test_f4_opens_the_score_histogram(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, "harbour")
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, HistogramScreen)
        shown = str(app.screen.query_one("#histogram-bars").render())
        assert "10 of 10 candidates scored" in shown and "← best" in shown
        assert app.screen.query_one("#histogram").region.right <= 80
        await pilot.press("escape")
        assert not isinstance(app.screen, HistogramScreen)


def test_score_histogram_counts_each_step() -> None:
    assert score_histogram([0.0, 0.05, 0.5, 0.99, 1.0], bins=10) == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]


async def test_f6_rewrites_the_query_and_shows_what_else_was_searched(tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "method.md").write_text("# Method\n\nWe fine-tune with Low-Rank Adaptation (LoRA) on one GPU.\n")
    (folder / "results.md").write_text("# Results\n\nLow-rank adaptation matches full fine-tuning.\n")
    app = tui_app(FolderIndex.open(folder), None)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "LoRA")
        assert [hit.path for hit in app.hits] == ["method.md"] and not app.query_one("#variants").display
        await pilot.press("f6")
        await settle(pilot)
        shown = str(app.query_one("#variants", Static).render())
        assert app.query_one("#variants").display and "Low-Rank Adaptation" in shown
        assert {hit.path for hit in app.hits} == {"method.md", "results.md"}
        await pilot.press("f6")
        await settle(pilot)
        assert not app.query_one("#variants").display and [hit.path for hit in app.hits] == ["method.md"]


async def test_f7_reranks_whole_files(tmp_path: Path, tokenizer: Tokenizer) -> None:
    folder = tmp_path / "manuals"
    folder.mkdir()
    (folder / "a.md").write_text("# Intro\n\n" + "harbour " * 12 + "\n\n# Lifting\n\n" + "crane " * 5 + "\n")
    (folder / "b.md").write_text("# Only\n\nharbour crane\n")
    app = tui_app(FolderIndex.open(folder), word_count_reranker(tokenizer, "crane"))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "harbour")
        assert [hit.path for hit in app.hits] == ["b.md", "a.md"]  # a.md's best passage has no crane
        await pilot.press("f7")
        await settle(pilot)
        assert app.unit == "document" and [hit.path for hit in app.hits] == ["a.md", "b.md"]
        assert app.status.status.work == "reranked whole files"
        await pilot.press("f7")
        await settle(pilot)
        assert app.unit == "passage" and [hit.path for hit in app.hits] == ["b.md", "a.md"]


def test_score_bar_fills_in_eighths() -> None:
    assert score_bar(0.0) == "··········" and score_bar(1.0) == "██████████"
    assert score_bar(0.55) == "█████▌····"


def test_main_screen_snapshot(notes: FolderIndex, tokenizer: Tokenizer, snap_compare: Callable) -> None:
    app = tui_app(notes, word_count_reranker(tokenizer, "crane"))

    async def before(pilot: Pilot) -> None:
        pilot.app.query_one("#query", Input).cursor_blink = False  # a blinking cursor makes the picture flaky
        await ask(pilot, "harbour")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)

