"""`local-rerank batch` as a user runs it, with a tiny real model: the scores of `rank`, a
killed run resumed, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.batch.conftest import kill_part_way, pair_rows, read_jsonl_parts, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("llama_cpp")]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml"}
    return subprocess.run([sys.executable, "-m", "local_rerank", *args], capture_output=True, text=True, timeout=300,
                          env=environment)


@pytest.fixture(scope="module")
def model(gguf_files) -> Path:
    return gguf_files["tied", "q8_0"]


def test_batch_gives_the_scores_rank_gives_for_the_same_pairs(model: Path, tmp_path: Path) -> None:
    """Bit for bit: each query's rows are one shard here, so batch scores them together as `rank` does."""
    rows = pair_rows(3, 3) + [{"query": "where is folder 1?", "candidates": ["doc x", "folder folder", "zz"]}]
    result = run("batch", str(write_jsonl(tmp_path / "in.jsonl", rows)), str(tmp_path / "out"), "--model", str(model),
                 "--workers", "2", "--shard-rows", "3")
    assert result.returncode == 0, result.stderr
    out = read_jsonl_parts(tmp_path / "out")
    for query in sorted({row["query"] for row in rows if "document" in row}):
        documents = [row["document"] for row in rows if row["query"] == query and "document" in row]
        assert ([row["score"] for row in out if row["query"] == query and "score" in row]
                == _rank(model, query, documents))
    assert out[-1]["scores"] == _rank(model, rows[-1]["query"], rows[-1]["candidates"])


def test_a_killed_run_is_resumed_and_ends_as_a_whole_run_would(model: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(15, 20))
    args = ["batch", str(source), str(tmp_path / "out"), "--model", str(model), "--shard-rows", "2", "--workers", "1"]
    done = kill_part_way(args, tmp_path / "out", shards=5)
    assert 5 <= done < 150, "the run ended before it could be killed: give it more rows"
    resumed = run(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done} done before" in resumed.stderr or f"{done - 1} done before" in resumed.stderr
    whole = run("batch", str(source), str(tmp_path / "whole"), "--model", str(model), "--shard-rows", "2")
    assert whole.returncode == 0, whole.stderr
    assert read_jsonl_parts(tmp_path / "out") == read_jsonl_parts(tmp_path / "whole")
    assert not list((tmp_path / "out").glob(".*"))


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "error: {tmp}/missing.jsonl does not exist"),
    ("other job", "error: {tmp}/out holds another job (another input, or the input changed); pass --force"),
    ("bare ray", "error: --ray '{tmp}/in.jsonl' is not an address"),
    ("output under a file", "error: cannot create the OUTPUT folder {tmp}/in.jsonl/out: Not a directory"),
])
def test_mistakes_get_one_line_and_a_nonzero_exit(model: Path, tmp_path: Path, case: str, message: str) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(1, 2))
    assert run("batch", str(source), str(tmp_path / "out"), "--model", str(model)).returncode == 0
    args = {"missing": [str(tmp_path / "missing.jsonl"), str(tmp_path / "out")],
            "other job": [str(write_jsonl(tmp_path / "b.jsonl", pair_rows(2, 1))), str(tmp_path / "out")],
            "bare ray": ["--ray", str(source), str(tmp_path / "out2")],
            "output under a file": [str(source), str(source / "out")]}[case]
    result = run("batch", *args, "--model", str(model))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(message.format(tmp=tmp_path))


def _rank(model: Path, query: str, documents: list[str]) -> list[float]:
    """Scores from `local-rerank rank --json`, in document order."""
    result = run("rank", "--model", str(model), "-q", query, "--json", *documents)
    assert result.returncode == 0, result.stderr
    scores = {entry["index"]: entry["relevance_score"] for entry in json.loads(result.stdout)["results"]}
    return [scores[i] for i in range(len(documents))]
