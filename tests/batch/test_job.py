"""Batch jobs end to end with the fake reranker: scores, rejects, Parquet, resume, OUTPUT guarding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from local_rerank.batch import BatchJob, BatchSummary, LocalRunner, prepare, run_job
from local_rerank.batch.manifest import MANIFEST, REJECTS
from local_rerank.batch.rows import Request
from local_rerank.batch.scoring import group_requests
from local_rerank.errors import InputError
from local_rerank.settings import Settings
from tests.batch.conftest import pair_rows, read_jsonl_parts, write_jsonl
from tests.batch.fakes import WordCountOpener

Run = Callable[..., BatchSummary]


def test_every_good_row_comes_back_in_order_with_the_score_the_reranker_gives(
        tmp_path: Path, run_batch: Run, opener: WordCountOpener) -> None:
    rows = pair_rows(3, 4) + [{"id": "c", "query": "lists", "candidates": ["a folder", "no", "folder folder"]}]
    summary = run_batch(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out", shard_rows=5)
    out = read_jsonl_parts(tmp_path / "out")
    assert [row["id"] for row in out] == [row["id"] for row in rows]
    with opener() as reranker:
        for row, scored in zip(rows[:-1], out):
            assert scored == {**row, "score": reranker.score(row["query"], [row["document"]])[0]}
        assert out[-1]["scores"] == reranker.score("lists", rows[-1]["candidates"])
    assert summary.complete and summary.scored == 3 and summary.manifest["counts"]["pairs"] == 15


def test_bad_rows_go_to_the_rejects_file_with_row_numbers_and_the_job_finishes(tmp_path: Path, run_batch: Run) -> None:
    good = pair_rows(1, 2)
    lines = [good[0], {"id": "empty", "query": "q", "document": " "}, "not json", "", {"query": "q"}, good[1]]
    summary = run_batch(write_jsonl(tmp_path / "in.jsonl", lines), tmp_path / "out", shard_rows=2)
    rejects = [json.loads(line) for line in (tmp_path / "out" / REJECTS).read_text().splitlines()]
    assert [(r["row"], r["reason"]) for r in rejects] == [(2, "'document' is empty"),
                                                          (3, "not valid JSON (Expecting value)"),
                                                          (5, "missing field 'document' (or 'candidates')")]
    assert rejects[0]["record"] == {"id": "empty", "query": "q", "document": " "} and rejects[1]["record"] == "not json"
    assert [row["id"] for row in read_jsonl_parts(tmp_path / "out")] == ["0-0", "0-1"]
    assert summary.complete and summary.manifest["counts"] | {} == {
        "rows": 5, "shards": 3, "shards_done": 3, "rows_scored": 2, "rows_rejected": 3, "pairs": 2, "truncated": 0}


def test_the_instruction_option_applies_to_rows_without_one(tmp_path: Path, run_batch: Run,
                                                             opener: WordCountOpener) -> None:
    rows = [{"query": "q", "document": "a folder"}, {"query": "q", "document": "a folder", "instruction": "own"}]
    run_batch(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out", instruction="find folders")
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["instruction"] == "find folders"
    with opener() as reranker:
        expected = [reranker.score("q", ["a folder"], "find folders")[0], reranker.score("q", ["a folder"], "own")[0]]
    assert [row["score"] for row in read_jsonl_parts(tmp_path / "out")] == expected


def test_parquet_output_keeps_every_column_and_its_type(tmp_path: Path, run_batch: Run) -> None:
    pa = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    rows = [{**row, "label": i % 2} for i, row in enumerate(pair_rows(2, 3))]
    table = pa.Table.from_pylist(rows)
    documents = table.column("document").combine_chunks()
    broken = pa.concat_arrays([documents.slice(0, 5), pa.array([b"\xff"], pa.binary()).view(pa.string())])
    parquet.write_table(table.set_column(2, "document", broken), tmp_path / "in.parquet")
    summary = run_batch(tmp_path / "in.parquet", tmp_path / "out", shard_rows=4)
    out = parquet.read_table(tmp_path / "out")  # pyarrow skips _manifest.json, _rejects.jsonl and _shards/
    assert out.column_names == ["id", "query", "document", "label", "score"]
    assert out.schema.field("label").type == pa.int64() and out.schema.field("score").type == pa.float64()
    assert out.column("id").to_pylist() == [row["id"] for row in rows[:5]]
    (reject,) = summary.rejects()
    assert json.loads(reject)["row"] == 6 and "not valid UTF-8" in json.loads(reject)["reason"]


def test_parquet_candidates_get_a_list_of_scores(tmp_path: Path, run_batch: Run, opener: WordCountOpener) -> None:
    pa = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    rows = [{"query": "q", "candidates": ["folder", "none", "folder folder"]}, {"query": "r", "candidates": ["x"]}]
    parquet.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    run_batch(tmp_path / "in.parquet", tmp_path / "out")
    out = parquet.read_table(tmp_path / "out")
    with opener() as reranker:
        assert out.column("scores").to_pylist() == [reranker.score("q", rows[0]["candidates"]),
                                                     reranker.score("r", ["x"])]


def test_a_stopped_job_resumes_where_it_stopped_and_ends_as_a_whole_run_would(tmp_path: Path, run_batch: Run) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(4, 5))
    first = run_batch(source, tmp_path / "out", shard_rows=3, max_shards=2)
    assert not first.complete and first.manifest["counts"]["shards_done"] == 2 and not first.rejects()
    second = run_batch(source, tmp_path / "out", shard_rows=3)
    assert (second.skipped, second.scored, second.complete) == (2, 5, True)
    run_batch(source, tmp_path / "whole", shard_rows=3)
    assert read_jsonl_parts(tmp_path / "out") == read_jsonl_parts(tmp_path / "whole")
    assert _shard_digests(tmp_path / "out") == _shard_digests(tmp_path / "whole")


def test_a_finished_job_run_again_scores_nothing(tmp_path: Path, run_batch: Run) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(2, 2))
    first = run_batch(source, tmp_path / "out", 2, shard_rows=2)
    again = run_batch(source, tmp_path / "out", 2, shard_rows=2)
    assert (again.skipped, again.scored, again.complete) == (2, 0, True) and again.manifest == first.manifest


def test_what_a_kill_leaves_is_cleaned_up_or_scored_again(tmp_path: Path, run_batch: Run) -> None:
    source, out = write_jsonl(tmp_path / "in.jsonl", pair_rows(3, 3)), tmp_path / "out"
    run_batch(source, out, shard_rows=3)
    whole = read_jsonl_parts(out)
    (out / "_shards" / "part-00001.json").unlink()  # killed between the part file and its record
    (out / "part-00002.jsonl").write_text('{"tampered": true}\n')  # changed since its record was written
    (out / ".part-00000.jsonl.0123456789ab.tmp").write_text("half a shard")  # killed mid-write
    again = run_batch(source, out, shard_rows=3)
    assert (again.skipped, again.scored) == (1, 2)
    assert read_jsonl_parts(out) == whole and not list(out.glob(".*.tmp"))


def test_an_output_of_another_job_is_refused_unless_forced(tmp_path: Path, run_batch: Run) -> None:
    out = tmp_path / "out"
    run_batch(write_jsonl(tmp_path / "a.jsonl", pair_rows(1, 2)), out)
    other = write_jsonl(tmp_path / "b.jsonl", pair_rows(2, 2))
    with pytest.raises(InputError, match="holds another job \\(another input, or the input changed\\)"):
        run_batch(other, out)
    with pytest.raises(InputError, match="other settings"):
        run_batch(tmp_path / "a.jsonl", out, shard_rows=7)
    assert run_batch(other, out, force=True).manifest["counts"]["rows_scored"] == 4
    assert len(read_jsonl_parts(out)) == 4


def test_a_folder_that_is_not_a_batch_output_is_never_touched(tmp_path: Path, run_batch: Run) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match="is not a batch output"):
        run_batch(write_jsonl(tmp_path / "in.jsonl", pair_rows(1, 1)), out, force=True)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_a_different_model_file_is_a_different_job(tmp_path: Path, opener: WordCountOpener, model_file: Path) -> None:
    source, out = write_jsonl(tmp_path / "in.jsonl", pair_rows(1, 2)), tmp_path / "out"
    run_job(prepare(BatchJob(source, out, model_file, Settings())), LocalRunner(opener))
    model_file.write_bytes(b"another model")
    with pytest.raises(InputError, match="another model, sha256"):
        prepare(BatchJob(source, out, model_file, Settings()))


def test_an_input_that_changes_mid_job_fails_it_and_keeps_the_shards_done(tmp_path: Path, opener: WordCountOpener,
                                                                          model_file: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(2, 3))
    prepared = prepare(BatchJob(source, tmp_path / "out", model_file, Settings(), shard_rows=2))
    source.write_text(source.read_text().splitlines(keepends=True)[0] * 4)  # now shorter than planned
    with pytest.raises(InputError, match="changed while the job ran"):
        run_job(prepared, LocalRunner(opener))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["status"] == "partial" and manifest["counts"]["shards_done"] == 2


def test_worker_processes_write_what_one_process_writes(tmp_path: Path, run_batch: Run) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(4, 4) + ["broken"])
    one, two = run_batch(source, tmp_path / "one", shard_rows=3), run_batch(source, tmp_path / "two", 2, shard_rows=3)
    assert read_jsonl_parts(tmp_path / "one") == read_jsonl_parts(tmp_path / "two")
    assert _shard_digests(tmp_path / "one") == _shard_digests(tmp_path / "two")
    assert one.rejects() == two.rejects() and len(two.rejects()) == 1


def test_pairs_sharing_a_query_are_scored_together_and_candidates_alone() -> None:
    requests = [Request("a", ("1",), None, False), Request("b", ("2",), None, False), Request("a", ("3",), None, False),
                Request("a", ("4", "5"), None, True), Request("a", ("6",), "other", False)]
    groups = group_requests(requests)
    assert [(g.query, g.instruction, g.documents) for g in groups] == [
        ("a", None, ["1", "3"]), ("b", None, ["2"]), ("a", None, ["4", "5"]), ("a", "other", ["6"])]
    assert groups[0].owners == [(0, 0), (2, 0)] and groups[2].owners == [(3, 0), (3, 1)]


def _shard_digests(folder: Path) -> list[tuple[str, str]]:
    shards = json.loads((folder / MANIFEST).read_text())["shards"]
    return [(shard["file"], shard["sha256"]) for shard in shards]
