"""Metrics and model comparison against values computed by hand."""

from __future__ import annotations

import math

import pytest

from local_rerank.eval.compare import compare_scores, kendall, spearman
from local_rerank.eval.metrics import hit_at_1, mean_metrics, mrr_at, ndcg_at, query_metrics, recall_at

RANKED = ["a", "b", "c", "d"]
GRADES = {"b": 1, "d": 2, "z": 1}  # z was never retrieved


def test_ranking_metrics_match_hand_computed_values() -> None:
    assert mrr_at(RANKED, GRADES) == 0.5
    assert mrr_at(RANKED, GRADES, k=1) == 0.0
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(RANKED, GRADES) == pytest.approx(dcg / ideal)
    assert recall_at(RANKED, GRADES, 2) == pytest.approx(1 / 3) and recall_at(RANKED, GRADES, 4) == pytest.approx(2 / 3)
    assert hit_at_1(RANKED, GRADES) == 0.0 and hit_at_1(["d"], GRADES) == 1.0


def test_a_query_without_relevant_documents_scores_zero_and_means_average() -> None:
    assert query_metrics(RANKED, {}, 4) == {"MRR@10": 0.0, "nDCG@10": 0.0, "Recall@4": 0.0, "hit@1": 0.0}
    assert mean_metrics([{"m": 1.0}, {"m": 0.0}, {"m": 0.5}]) == {"m": 0.5}


def test_rank_correlations_match_hand_computed_values() -> None:
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)  # ranks 1, 2.5, 2.5 against 1, 2, 3


def test_score_comparison_reports_deltas_and_top_k_agreement() -> None:
    row = compare_scores([0.9, 0.5, 0.2, 0.1], [0.6, 0.7, 0.2, 0.1])
    assert row["max |Δp|"] == pytest.approx(0.3) and row["mean |Δp|"] == pytest.approx(0.125)
    assert row["top-1 agreement"] == 0.0 and row["top-3 agreement"] == 1.0
