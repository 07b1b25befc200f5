"""The query pipeline, run by a search session, with a fake reranker and with the tiny synthetic
model: streaming, order, cancel, cache, lexical fallback."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from local_rerank.errors import InputError
from local_rerank.reranker import Reranker
from local_rerank.search import (
    FolderIndex,
    LexicalResults,
    RerankProgress,
    SearchCancelled,
    SearchEvent,
    SearchFinished,
    SearchRequest,
    SearchSession,
)
from local_rerank.search.hits import document_text
from local_rerank.search.pipeline import batch_spans, lexical_stage, rerank_stage
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker


@pytest.fixture
def harbour(tmp_path: Path) -> FolderIndex:
    """20 files that all match "harbour"; "crane" occurs i % 5 times in file i, against BM25's order."""
    folder = tmp_path / "harbour"
    folder.mkdir()
    for i in range(20):
        text = "harbour " * (20 - i) + "crane " * (i % 5) + f"note {i}"
        (folder / f"n{i:02}.txt").write_text(text + "\n")
    index = FolderIndex.open(folder)
    index.update()
    return index


def search(index: FolderIndex, request: SearchRequest, reranker: Reranker | None) -> list[SearchEvent]:
    """All events of ``request`` in a session over ``reranker`` (left open: tests reuse it)."""
    session = SearchSession(index, (lambda: reranker) if reranker is not None else None,
                            candidates=request.candidates)
    session.load_model()
    return list(session.search(request.query, request.instruction, top_k=request.top_k, rerank=request.rerank))


def test_lexical_then_batches_then_final_order(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    events = list(search(harbour, SearchRequest("harbour", candidates=12, top_k=5), reranker))
    assert isinstance(events[0], LexicalResults)
    lexical = events[0].hits
    assert len(lexical) == 12 and [hit.bm25_rank for hit in lexical] == list(range(1, 13))
    progress = [event for event in events if isinstance(event, RerankProgress)]
    # On a CPU: one passage first (the first reranked score soon on screen), then doubling up to four.
    assert [event.done for event in progress] == [1, 3, 7, 11, 12] and reranker.backend.batches == [1, 2, 4, 4, 1]
    assert all(hit.score is not None for hit in progress[2].hits[:7]) and progress[2].hits[7].score is None
    final = events[-1]
    assert isinstance(final, SearchFinished) and final.reranked and len(final.hits) == 5
    cranes = {hit.path: int(hit.path[1:3]) % 5 for hit in lexical}  # more cranes, higher fake score
    expected = sorted(lexical, key=lambda hit: (-cranes[hit.path], hit.bm25_rank))[:5]
    assert [hit.path for hit in final.hits] == [hit.path for hit in expected]
    assert [hit.bm25_rank for hit in final.hits] == [hit.bm25_rank for hit in expected]
    assert set(final.timings) == {"lexical", "rerank"}


def test_scores_are_the_rerankers_own(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    final = list(search(harbour, SearchRequest("harbour", candidates=6), reranker))[-1]
    direct = reranker.score("harbour", [document_text(hit.path, hit.passage) for hit in final.hits])
    np.testing.assert_array_equal([hit.score for hit in final.hits], direct)


def test_repeating_a_query_is_answered_from_the_cache(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    first = list(search(harbour, SearchRequest("harbour", candidates=10), reranker))[-1]
    reranker.backend.batches.clear()
    again = list(search(harbour, SearchRequest("harbour", candidates=10), reranker))[-1]
    assert reranker.backend.batches == [] and again.cached == 10 and again.hits == first.hits
    wider = list(search(harbour, SearchRequest("harbour", candidates=14), reranker))[-1]
    assert reranker.backend.batches == [1, 2, 1] and wider.cached == 10  # only the 4 new candidates are scored
    other_instruction = list(search(harbour, SearchRequest("harbour", "Find cranes", candidates=10), reranker))[-1]
    assert other_instruction.cached == 0


def test_a_different_model_does_not_share_cached_scores(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    list(search(harbour, SearchRequest("harbour", candidates=5), word_count_reranker(tokenizer, "crane")))
    other = word_count_reranker(tokenizer, "note")
    final = list(search(harbour, SearchRequest("harbour", candidates=5), other))[-1]
    assert final.cached == 0 and other.backend.batches == [1, 2, 2]


def test_cancel_stops_between_batches_and_keeps_what_was_scored(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    gate, cancel = threading.Event(), threading.Event()
    reranker = word_count_reranker(tokenizer, "crane", gate)
    request = SearchRequest("harbour", candidates=20)
    events = rerank_stage(harbour, lexical_stage(harbour, request).hits, request, reranker, cancel, batch_size=4)
    gate.set()
    first = next(events)
    assert isinstance(first, RerankProgress) and first.done == 4
    cancel.set()
    rest = list(events)
    assert len(rest) == 1 and isinstance(rest[0], SearchCancelled)
    assert sum(hit.score is not None for hit in rest[0].hits) == 4 and reranker.backend.batches == [4]


def test_without_a_reranker_or_with_rerank_off_the_order_is_lexical(harbour: FolderIndex,
                                                                      tokenizer: Tokenizer) -> None:
    for reranker, rerank in ((None, True), (word_count_reranker(tokenizer, "crane"), False)):
        events = list(search(harbour, SearchRequest("harbour", candidates=5, rerank=rerank), reranker))
        assert [type(event) for event in events] == [LexicalResults, SearchFinished]
        final = events[-1]
        assert not final.reranked and [hit.bm25_rank for hit in final.hits] == [1, 2, 3, 4, 5]
        assert all(hit.score is None for hit in final.hits)


def test_no_match_finishes_with_no_hits(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    events = list(search(harbour, SearchRequest("zeppelin"), word_count_reranker(tokenizer, "crane")))
    assert isinstance(events[-1], SearchFinished) and events[-1].hits == []


@pytest.mark.slow
def test_tiny_synthetic_model_reranks_like_the_reranker_itself(harbour: FolderIndex, gguf_files: dict) -> None:
    pytest.importorskip("llama_cpp")
    with Reranker.load(gguf_files[("tied", "f32")]) as reranker:
        final = list(search(harbour, SearchRequest("harbour crane", candidates=8), reranker))[-1]
        assert final.reranked and len(final.hits) == 8
        scores = [hit.score for hit in final.hits]
        assert scores == sorted(scores, reverse=True)
        direct = reranker.score("harbour crane", [document_text(hit.path, hit.passage) for hit in final.hits])
        # Batches of 8 are packed differently from one call over all 8: float rounding only.
        np.testing.assert_allclose(scores, direct, atol=1e-5)
        again = list(search(harbour, SearchRequest("harbour crane", candidates=8), reranker))[-1]
        assert again.cached == 8 and again.hits == final.hits



@pytest.fixture
def manuals(tmp_path: Path) -> FolderIndex:
    """a.md: a harbour section, then a crane section that BM25 for "harbour" does not match;
    b.md: one short section with both words."""
    folder = tmp_path / "manuals"
    folder.mkdir()
    (folder / "a.md").write_text("# Intro\n\n" + "harbour " * 12 + "\n\n# Lifting\n\n" + "crane " * 5 + "\n")
    (folder / "b.md").write_text("# Only\n\nharbour crane\n")
    index = FolderIndex.open(folder)
    index.update()
    return index


def test_document_mode_reads_the_rest_of_the_file(manuals: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    session = SearchSession(manuals, lambda: reranker)
    session.load_model()
    passage = list(session.search("harbour"))[-1]
    document = list(session.search("harbour", unit="document"))[-1]
    again = list(session.search("harbour"))[-1]
    assert isinstance(passage, SearchFinished) and isinstance(document, SearchFinished)
    assert [hit.path for hit in passage.hits] == ["b.md", "a.md"]  # a.md's best passage has no crane
    assert [hit.path for hit in document.hits] == ["a.md", "b.md"]  # its whole text has five
    assert "crane" not in document.hits[0].passage.text  # the preview still shows the best passage
    assert again.cached == 2 and [hit.score for hit in again.hits] == [hit.score for hit in passage.hits]
    assert document.cached == 1  # b.md reads the same either way, so its score is reused; a.md is new


def test_document_mode_keeps_to_its_budget(manuals: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    hit = manuals.lexical("harbour", 2)[0]
    assert hit.path == "a.md"
    assert "crane" in manuals.document_text(hit, "harbour", 10_000)
    assert "crane" not in manuals.document_text(hit, "harbour", 1)  # the best passage alone
    request = SearchRequest("harbour", unit="document", document_tokens=1)
    final = list(rerank_stage(manuals, manuals.lexical("harbour", 2), request, reranker))[-1]
    assert [hit.path for hit in final.hits] == ["b.md", "a.md"]


def test_a_request_refuses_an_unknown_unit() -> None:
    with pytest.raises(InputError, match="unit must be one of passage, document"):
        SearchRequest("harbour", unit="chapter")
    with pytest.raises(InputError, match="document tokens"):
        SearchRequest("harbour", unit="document", document_tokens=0)


def test_a_cancel_is_honoured_while_files_are_packed(manuals: FolderIndex, tokenizer: Tokenizer) -> None:
    cancel = threading.Event()

    class CancelledWhilePacking(FolderIndex):
        packed = 0

        def document_text(self, hit, query, budget):
            self.packed += 1
            cancel.set()  # the user types a new query while the first file is packed
            return super().document_text(hit, query, budget)

    index = CancelledWhilePacking(manuals.folder, manuals.database)
    reranker = word_count_reranker(tokenizer, "crane")
    request = SearchRequest("harbour", unit="document")
    events = list(rerank_stage(index, index.lexical("harbour", 2), request, reranker, cancel=cancel))
    assert [type(event) for event in events] == [SearchCancelled] and index.packed == 1
    assert reranker.backend.batches == []


def test_a_packed_file_always_holds_the_passage_that_was_found(manuals: FolderIndex) -> None:
    # As when a rewritten query found the file: its passage need not match the query it is packed for.
    hit = next(hit for hit in manuals.lexical("crane", 2) if hit.path == "a.md")
    assert "crane" in manuals.document_text(hit, "harbour", 1)


@pytest.mark.parametrize(("count", "most", "first", "spans"), [
    (12, 4, 1, [(0, 1), (1, 3), (3, 7), (7, 11), (11, 12)]),
    (2, 4, 1, [(0, 1), (1, 2)]),
    (130, 64, 64, [(0, 64), (64, 128), (128, 130)]),
    (5, 4, 8, [(0, 4), (4, 5)]),
    (0, 4, 1, []),
    (3, 0, 0, [(0, 1), (1, 2), (2, 3)]),  # never an empty batch, however it is asked
])
def test_batches_start_small_and_double_up_to_the_most(count: int, most: int, first: int, spans) -> None:
    assert list(batch_spans(count, most, first)) == spans
