"""Document mode's packing: which passages of a file the reranker reads, and how they are joined."""

from __future__ import annotations

from local_rerank.search.chunking import Passage, estimate_tokens
from local_rerank.search.packing import GAP, choose_passages, default_document_tokens, pack_document


def _passages(count: int, words: int = 30) -> list[Passage]:
    return [Passage(" ".join([f"p{i}"] * words), i * 10 + 1, i * 10 + 9) for i in range(count)]


def test_matched_passages_come_first_best_first_then_their_neighbours() -> None:
    passages = _passages(10)
    cost = estimate_tokens(passages[0].text) + 1
    # Room for three: the two matches, then the nearest unmatched neighbour of either.
    chosen = choose_passages(passages, {7: 2.0, 2: 5.0}, budget=3 * cost)
    assert chosen == [1, 2, 7]  # 1, 3, 6 and 8 are as near; the first wins
    assert choose_passages(passages, {7: 2.0, 2: 5.0}, budget=cost) == [2]  # the best one alone


def test_the_best_passage_is_taken_even_over_the_budget() -> None:
    passages = _passages(3, words=500)
    assert choose_passages(passages, {1: 1.0}, budget=10) == [1]


def test_a_file_that_fits_is_read_whole_in_reading_order() -> None:
    passages = _passages(4)
    assert choose_passages(passages, {3: 1.0, 0: 9.0}, budget=10_000) == [0, 1, 2, 3]
    assert choose_passages(passages, {}, budget=10_000) == [0, 1, 2, 3]
    assert choose_passages([], {}, budget=100) == []


def test_without_a_match_the_start_of_the_file_is_read() -> None:
    passages = _passages(6)
    cost = estimate_tokens(passages[0].text) + 1
    assert choose_passages(passages, {}, budget=2 * cost) == [0, 1]


def test_the_budget_holds_in_any_script() -> None:
    passages = [Passage("租赁合同的期限为三年。" * 20, i + 1, i + 1) for i in range(8)]
    chosen = choose_passages(passages, {4: 3.0, 5: 1.0}, budget=400)
    assert 4 in chosen and sum(estimate_tokens(passages[i].text) + 1 for i in chosen) <= 400


def test_the_packed_text_marks_gaps_and_names_sections_once() -> None:
    passages = [Passage("intro", 1, 1), Passage("alpha", 3, 3, "Setup"), Passage("beta", 5, 5, "Setup"),
                Passage("gamma", 7, 7, "Usage"), Passage("delta", 9, 9, "Usage")]
    text = pack_document("docs/guide.md", passages, [1, 2, 3])
    assert text.splitlines() == ["docs/guide.md", GAP, "Setup", "alpha", "beta", "Usage", "gamma", GAP]
    whole = pack_document("docs/guide.md", passages, [0, 1, 2, 3, 4])
    assert GAP not in whole and whole.count("Usage") == 1


def test_a_gpu_packs_more_than_a_cpu() -> None:
    assert default_document_tokens("cuda") > default_document_tokens("cpu") == default_document_tokens(None)


def test_context_stops_at_the_first_passage_that_does_not_fit() -> None:
    # Headings far away are small enough to fit the leftover budget, but read alone they are noise.
    passages = [Passage("the clause that matched " * 5, 1, 1), Passage("long context " * 300, 2, 2),
                Passage("# Section 2", 3, 3), Passage("# Section 3", 4, 4)]
    assert choose_passages(passages, {0: 1.0}, budget=200) == [0]
    assert choose_passages(passages, {0: 1.0, 3: 0.5}, budget=200) == [0, 2, 3]  # 2 is next to a match


def test_a_large_match_is_skipped_for_a_smaller_one_that_fits() -> None:
    passages = [Passage("small match", 1, 1), Passage("big match " * 400, 2, 2), Passage("another match", 3, 3)]
    assert choose_passages(passages, {0: 3.0, 1: 2.0, 2: 1.0}, budget=60) == [0, 2]
