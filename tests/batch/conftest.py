"""Fixtures for batch jobs: input files, a stand-in model file, and running a job with the fake reranker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_rerank.batch import BatchJob, BatchSummary, LocalRunner, prepare, run_job
from local_rerank.settings import Settings
from tests.batch.fakes import WordCountOpener

Rows = list[dict[str, Any]]


def pair_rows(queries: int = 3, documents: int = 4) -> Rows:
    """``queries`` x ``documents`` pair rows with ids; documents mention "folder" 0..n times."""
    return [{"id": f"{q}-{d}", "query": f"where is folder {q}?", "document": f"doc {d}: " + "folder " * d}
            for q in range(queries) for d in range(documents)]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Rows as JSONL; a str row is written as it is (a raw line)."""
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def read_jsonl_parts(folder: Path) -> Rows:
    """Every output row, shards in order."""
    return [json.loads(line) for part in sorted(folder.glob("part-*.jsonl"))
            for line in part.read_text(encoding="utf-8").splitlines()]


def kill_part_way(args: list[str], output: Path, shards: int) -> int:
    """Run `local-rerank ARGS`, SIGKILL it (and its workers) once ``shards`` shards are done;
    how many were done by then."""
    process = subprocess.Popen([sys.executable, "-m", "local_rerank", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml"})
    records = output / "_shards"
    while process.poll() is None and len(list(records.glob("*.json")) if records.is_dir() else []) < shards:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return len(list(records.glob("*.json")))


@pytest.fixture
def opener(tokenizer_dir: Path) -> WordCountOpener:
    return WordCountOpener(tokenizer_dir / "tokenizer.json")


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A stand-in for the model file: the job hashes it into its identity."""
    path = tmp_path / "fake-model.gguf"
    path.write_bytes(b"not a real model, the fake opener ignores it")
    return path


@pytest.fixture
def run_batch(opener: WordCountOpener, model_file: Path) -> Callable[..., BatchSummary]:
    """Prepare and run a job with the fake reranker; keyword arguments go to :class:`BatchJob`."""

    def run(source: Path, output: Path, workers: int = 1, **options: Any) -> BatchSummary:
        job = BatchJob(source, output, model_file, Settings(max_length=1024), **options)
        return run_job(prepare(job), LocalRunner(opener, workers))

    return run
