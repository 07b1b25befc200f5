"""The Ray runner on a local Ray runtime of 2 CPUs, with a tiny real model: the same shards,
scores and rejects as the local runner, resuming a killed run, and errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from local_rerank.batch import BatchJob, BatchSummary, LocalRunner, ModelOpener, Runner, prepare, run_job
from local_rerank.batch.manifest import MANIFEST
from local_rerank.errors import InputError
from local_rerank.settings import Settings
from tests.batch.conftest import kill_part_way, pair_rows, read_jsonl_parts, write_jsonl

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("llama_cpp", "ray_runtime")]
SETTINGS = Settings(device="cpu", max_length=1024)


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    """A Ray runtime of this machine for these tests only; shut down after them."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def model(gguf_files) -> Path:
    return gguf_files["tied", "q8_0"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows: list[Any] = pair_rows(4, 3) + [{"query": "lists", "candidates": ["folder", "none"]}, "broken",
                                         {"query": "q", "document": ""}]
    return write_jsonl(tmp_path_factory.mktemp("ray-input") / "in.jsonl", rows)


@pytest.fixture(scope="module")
def local_output(tmp_path_factory: pytest.TempPathFactory, model: Path, source: Path) -> Path:
    """The same job run by the local runner: what Ray must reproduce."""
    out = tmp_path_factory.mktemp("local") / "out"
    run(source, out, model, LocalRunner(ModelOpener(model, replace(SETTINGS, threads=2))))
    return out


def ray_runner(model: Path) -> Runner:
    from local_rerank.batch.ray_runner import RayRunner

    return RayRunner("local", lambda threads: ModelOpener(model, replace(SETTINGS, threads=threads)), "cpu", workers=2)


def run(source: Path, out: Path, model: Path, runner: Runner, **options: Any) -> BatchSummary:
    return run_job(prepare(BatchJob(source, out, model, SETTINGS, **{"shard_rows": 3, **options})), runner)


def test_ray_writes_the_shards_scores_and_rejects_the_local_runner_writes(tmp_path: Path, model: Path, source: Path,
                                                                          local_output: Path) -> None:
    summary = run(source, tmp_path / "out", model, ray_runner(model))
    assert summary.complete and summary.scored == 5
    assert read_jsonl_parts(tmp_path / "out") == read_jsonl_parts(local_output)
    assert _digests(tmp_path / "out") == _digests(local_output)
    rejects = [json.loads(line) for line in summary.rejects()]
    assert [(r["row"], r["reason"]) for r in rejects] == [(14, "not valid JSON (Expecting value)"),
                                                          (15, "'document' is empty")]


def test_ray_resumes_a_killed_run(tmp_path: Path, model: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", pair_rows(10, 10))
    args = ["batch", str(source), str(tmp_path / "out"), "--model", str(model), "--device", "cpu", "--max-length",
            "1024", "--shard-rows", "2"]
    done = kill_part_way(args, tmp_path / "out", shards=5)
    assert 5 <= done < 50, "the run ended before it could be killed: give it more rows"
    resumed = run_job(prepare(BatchJob(source, tmp_path / "out", model, SETTINGS, shard_rows=2)), ray_runner(model))
    assert resumed.skipped in (done - 1, done) and resumed.complete
    whole = run(source, tmp_path / "whole", model, LocalRunner(ModelOpener(model, SETTINGS)), shard_rows=2)
    assert read_jsonl_parts(tmp_path / "out") == read_jsonl_parts(whole.folder)
    assert not list((tmp_path / "out").glob(".*"))


def test_a_shard_error_on_an_actor_reaches_the_driver_as_our_error(tmp_path: Path, model: Path, source: Path) -> None:
    changing = write_jsonl(tmp_path / "in.jsonl", pair_rows(2, 3))
    prepared = prepare(BatchJob(changing, tmp_path / "out", model, SETTINGS, shard_rows=3))
    changing.write_text("")
    with pytest.raises(InputError, match="changed while the job ran"):
        run_job(prepared, ray_runner(model))
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["status"] == "partial"


def _digests(folder: Path) -> list[tuple[str, str]]:
    return [(s["file"], s["sha256"]) for s in json.loads((folder / MANIFEST).read_text())["shards"]]
