"""`eval` plumbing on a fake model: collections in each form, metrics per stage, resuming after
an interruption without scoring anything twice, and one-line errors for bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.errors import InputError
from local_rerank.eval.compare import compare_models
from local_rerank.eval.datasets import load_eval_set, unindexed_relevant
from local_rerank.eval.runner import EvalProgress, evaluate
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker

POOLS = [{"query": "harbour crane", "positives": ["the harbour crane lifts crane parts"],
          "candidates": ["the harbour at dawn", "a harbour harbour harbour story", "crane"]},
         {"query": "harbour crane", "positives": ["crane crane crane by the harbour"],
          "candidates": ["harbour harbour harbour harbour", "a quiet harbour"]}]


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_pools_give_bm25_and_reranked_metrics(tmp_path: Path, tokenizer: Tokenizer) -> None:
    eval_set = load_eval_set(_write_jsonl(tmp_path / "pools.jsonl", POOLS), None, tmp_path / "cache")
    results = evaluate(eval_set, word_count_reranker(tokenizer, "crane"), candidates=4)
    assert results["bm25"].metrics["hit@1"] == 0.5  # BM25 puts "harbour harbour..." first in the second pool
    assert results["bm25+rerank"].metrics == {"MRR@10": 1.0, "nDCG@10": 1.0, "Recall@4": 1.0, "hit@1": 1.0}
    assert len(results["bm25+rerank"].relevant) == 2 and len(results["bm25+rerank"].others) == 5
    assert min(results["bm25+rerank"].relevant) > max(results["bm25+rerank"].others)


def test_a_positive_repeated_among_the_candidates_is_still_relevant(tmp_path: Path) -> None:
    lines = [{"query": "when does the lease end", "positives": ["The lease ends on March 31."],
              "candidates": ["The lease ends on March 31.", "Cats are nice.", "Cats are nice.", "A trip to Tokyo."]}]
    eval_set = load_eval_set(_write_jsonl(tmp_path / "pools.jsonl", lines), None, tmp_path / "cache")
    pool = eval_set.queries[0].corpus
    assert [hit.passage.text for hit in pool.hits] == ["Cats are nice.", "A trip to Tokyo.",
                                                       "The lease ends on March 31."]
    metrics = evaluate(eval_set, None, 16)["bm25"].metrics
    assert metrics["hit@1"] == 1.0


def test_an_interrupted_run_resumes_without_scoring_twice(tmp_path: Path, tokenizer: Tokenizer) -> None:
    eval_set = load_eval_set(_write_jsonl(tmp_path / "pools.jsonl", POOLS), None, tmp_path / "cache")

    def stop_after_first(update: EvalProgress) -> None:
        if update.done == 1:
            raise KeyboardInterrupt

    first = word_count_reranker(tokenizer, "crane")
    with pytest.raises(KeyboardInterrupt):
        evaluate(eval_set, first, candidates=4, progress=stop_after_first)
    assert sum(first.backend.batches) == 4  # the first pool
    again = word_count_reranker(tokenizer, "crane")
    eval_set = load_eval_set(tmp_path / "pools.jsonl", None, tmp_path / "cache")
    evaluate(eval_set, again, candidates=4)
    assert sum(again.backend.batches) == 3  # only the second pool was left


def test_a_beir_folder_and_a_folder_with_queries_are_read(tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    _write_jsonl(beir / "corpus.jsonl", [{"_id": "d1", "title": "Lease", "text": "The lease ends in March."},
                                         {"_id": "d/2", "text": "Garden notes about roses."}])
    _write_jsonl(beir / "queries.jsonl", [{"_id": "q1", "text": "when does the lease end"}])
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    eval_set = load_eval_set(beir, None, tmp_path / "cache")
    for index in eval_set.indexes:
        index.update()
    assert evaluate(eval_set, None, candidates=2)["bm25"].metrics["MRR@10"] == 1.0
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "lease.md").write_text("The lease ends in March.")
    (folder / "roses.md").write_text("Roses need pruning in March.")
    queries = _write_jsonl(tmp_path / "q.jsonl", [{"query": "pruning roses", "relevant": "roses.md"}])
    eval_set = load_eval_set(folder, queries, tmp_path / "cache")
    eval_set.indexes[0].update()
    assert evaluate(eval_set, None, candidates=2)["bm25"].metrics["hit@1"] == 1.0
    assert unindexed_relevant(eval_set) == []


def test_relevant_paths_the_index_lacks_are_named_in_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "lease.md").write_text("The lease ends in March.")
    queries = _write_jsonl(tmp_path / "q.jsonl", [{"query": "lease end", "relevant": ["lease.md", "leases.md"]}])
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml",
                   "LOCAL_RERANK_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "local_rerank", "eval", str(folder), "--queries", str(queries),
                             "--no-rerank"], capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    assert "warning: the index holds no file leases.md, named as relevant: it scores as a miss" in result.stderr
    assert "lease.md," not in result.stderr


def test_comparing_a_model_with_itself_agrees_fully(tmp_path: Path, tokenizer: Tokenizer) -> None:
    eval_set = load_eval_set(_write_jsonl(tmp_path / "pools.jsonl", POOLS), None, tmp_path / "cache")
    summary = compare_models(eval_set, word_count_reranker(tokenizer, "crane"),
                             word_count_reranker(tokenizer, "harbour"), candidates=4)
    assert summary["queries"] == 2 and summary["max |Δp|"] > 0 and summary["Spearman"] < 1
    same = compare_models(eval_set, word_count_reranker(tokenizer, "crane"),
                          word_count_reranker(tokenizer, "crane"), candidates=4)
    assert same["max |Δp|"] == 0 and same["Kendall"] == 1 and same["top-3 agreement"] == 1


@pytest.mark.parametrize("lines, message", [
    ('{"query": "a", "positives": ["x"]}\nnot json\n', r"pools.jsonl:2: not JSON"),
    ('{"query": "a", "candidates": ["x"]}\n', r'pools.jsonl:1: "positives" is missing or empty'),
    ('{"positives": ["x"]}\n', r'pools.jsonl:1: "query" is missing or empty'),
    ("\n", r"pools.jsonl holds no queries"),
])
def test_bad_files_are_refused_with_the_line_at_fault(tmp_path: Path, lines: str, message: str) -> None:
    (tmp_path / "pools.jsonl").write_text(lines)
    with pytest.raises(InputError, match=message):
        load_eval_set(tmp_path / "pools.jsonl", None, tmp_path / "cache")


def test_the_command_prints_a_table_json_and_one_line_errors(tmp_path: Path) -> None:
    pools = _write_jsonl(tmp_path / "pools.jsonl", POOLS)
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml",
                   "LOCAL_RERANK_CACHE": str(tmp_path / "cache")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "local_rerank", "eval", *args], capture_output=True, text=True,
                              timeout=120, env=environment)

    table = run(str(pools), "--no-rerank", "--candidates", "4")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0] == "pools.jsonl: 2 queries, at most 4 candidates each"
    assert table.stdout.splitlines()[1].split() == ["stage", "MRR@10", "nDCG@10", "Recall@4", "hit@1", "ms/query"]
    record = json.loads(run(str(pools), "--no-rerank", "--json").stdout)
    assert record["queries"] == 2 and record["stages"]["bm25"]["hit@1"] == 0.5
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    failed = run(str(tmp_path / "bad.jsonl"), "--no-rerank")
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "bad.jsonl:1: not JSON" in failed.stderr


def test_rewriting_adds_its_stages(tmp_path: Path, tokenizer: Tokenizer) -> None:
    eval_set = load_eval_set(_write_jsonl(tmp_path / "pools.jsonl", POOLS), None, tmp_path / "cache")
    results = evaluate(eval_set, word_count_reranker(tokenizer, "crane"), candidates=4, rewrite=True, fuse="mean")
    assert list(results) == ["bm25", "bm25+rerank", "rewrite", "rewrite+feedback", "rewrite+rerank"]
    assert results["rewrite+rerank"].metrics == results["bm25+rerank"].metrics  # no variant: the same ranking


def test_progress_counts_queries_and_estimates_the_time_left(tmp_path: Path) -> None:
    eval_set = load_eval_set(_write_jsonl(tmp_path / "pools.jsonl", POOLS * 2), None, tmp_path / "cache")
    ticks = iter(range(1000))
    updates: list[EvalProgress] = []
    evaluate(eval_set, None, candidates=4, progress=updates.append, clock=lambda: float(next(ticks)))
    assert [(update.done, update.total) for update in updates] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert updates[0].eta == 9.0 and updates[-1].eta == 0.0  # 3 ticks per query: 3 s so far, 3 queries left


def test_both_units_are_measured_side_by_side_on_a_folder(tmp_path: Path, tokenizer: Tokenizer) -> None:
    folder = tmp_path / "manuals"
    folder.mkdir()
    # The relevant file's best passage for "harbour" has no crane; the rest of the file does.
    (folder / "a.md").write_text("# Intro\n\n" + "harbour " * 12 + "\n\n# Lifting\n\n" + "crane " * 5 + "\n")
    (folder / "b.md").write_text("# Only\n\nharbour crane\n")
    queries = _write_jsonl(tmp_path / "q.jsonl", [{"query": "harbour", "relevant": "a.md"}])
    eval_set = load_eval_set(folder, queries, tmp_path / "cache")
    eval_set.indexes[0].update()
    results = evaluate(eval_set, word_count_reranker(tokenizer, "crane"), candidates=2, units=("passage", "document"))
    assert list(results) == ["bm25", "bm25+rerank", "bm25+rerank[document]"]
    assert results["bm25+rerank"].metrics["hit@1"] == 0.0 and results["bm25+rerank[document]"].metrics["hit@1"] == 1.0
    assert len(results["bm25+rerank[document]"].relevant) == 1  # its scores feed the chart too
