"""One shard, from input rows to a verified output file: the unit of work, retry and resume.

OUTPUT is a folder. Shard ``i`` becomes ``part-0000i.<jsonl|parquet>`` (the kept rows, in
input order, with their scores) and then ``_shards/part-0000i.json``, its record: size and
sha256 of the part file, row counts, the rows rejected and why, the model that scored it.
Both are written to a hidden temporary name and renamed, the record last, so a shard with
a record is whole; a killed run leaves at most temporary files, which the next run removes.
Readers such as pandas and pyarrow skip names that start with ``_`` or ``.``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local_rerank.batch.inputs import read_shard
from local_rerank.batch.rows import BadRow, Reject, Request, parse_row
from local_rerank.batch.scoring import ShardScorer
from local_rerank.batch.shard_spec import ShardSpec
from local_rerank.files import sha256_file
from local_rerank.reranker import Reranker

RECORDS = "_shards"


@dataclass(frozen=True)
class OutputLayout:
    """Where a job's files go; ``job`` is the job's key (see :mod:`local_rerank.batch.manifest`)."""

    folder: Path
    job: str
    fmt: str
    instruction: str | None

    def part(self, index: int) -> Path:
        """The output file of shard ``index``."""
        return self.folder / f"part-{index:05d}.{self.fmt}"

    def record(self, index: int) -> Path:
        """The record of shard ``index``."""
        return self.folder / RECORDS / f"part-{index:05d}.json"


@dataclass(frozen=True)
class ShardRecord:
    """What a finished shard holds, and how to check that its file is the one written."""

    index: int
    file: str
    size_bytes: int
    sha256: str
    rows_in: int
    rows_out: int
    pairs: int
    truncated: int
    model: str
    backend: str
    device: str
    seconds: float
    rejects: tuple[str, ...]  # lines of the rejects file

    def to_json(self, job: str) -> str:
        """The record file's text."""
        return json.dumps({"job": job, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> tuple[str, ShardRecord]:
        """(job key, record) from a record file's text.

        Raises:
            ValueError: not a record (bad JSON, missing or extra fields).
        """
        data = json.loads(text)
        job = data.pop("job")
        data["rejects"] = tuple(data["rejects"])
        return job, cls(**data)


Opener = Callable[[], Reranker]


class ShardWorker:
    """Scores whole shards with one reranker (one per worker process or Ray actor)."""

    def __init__(self, opener: Opener, layout: OutputLayout) -> None:
        self.layout = layout
        self.scorer = ShardScorer(opener())

    def run(self, spec: ShardSpec, progress: Callable[[int], None] | None = None) -> ShardRecord:
        """Read, check, score and write shard ``spec``; ``progress(rows)`` as rows are done.

        Raises:
            LocalRerankError: the input cannot be read, or the model failed.
        """
        started = time.perf_counter()
        data = read_shard(spec)
        kept, requests, rejects = _parse(spec, data.numbers, data.fields, data.record, self.layout.instruction)
        if progress is not None and rejects:
            progress(len(rejects))
        scored = self.scorer.score(requests, progress)
        part = self.layout.part(spec.index)
        size, digest = _write_atomically(part, lambda path: data.write(path, kept, scored.scores))
        info = self.scorer.reranker.info
        record = ShardRecord(spec.index, part.name, size, digest, spec.rows, len(kept),
                             sum(len(r.documents) for r in requests), scored.truncated, info.model,
                             info.backend, info.device, round(time.perf_counter() - started, 3),
                             tuple(reject.to_json() for reject in rejects))
        _write_atomically(self.layout.record(spec.index), lambda path: path.write_text(record.to_json(self.layout.job)))
        return record

    def close(self) -> None:
        """Release the model."""
        self.scorer.close()


def _parse(spec: ShardSpec, numbers: list[int], fields: list[Any], record: Callable[[int], Any],
           instruction: str | None) -> tuple[list[int], list[Request], list[Reject]]:
    """The positions and requests of good rows, and the rejects of bad ones."""
    kept: list[int] = []
    requests: list[Request] = []
    rejects: list[Reject] = []
    for position, (number, row) in enumerate(zip(numbers, fields)):
        try:
            if isinstance(row, BadRow):
                raise row
            requests.append(parse_row(row, instruction))
            kept.append(position)
        except BadRow as e:
            rejects.append(Reject(Path(spec.path).name, number, str(e), record(position)))
    return kept, requests, rejects


def _write_atomically(target: Path, write: Callable[[Path], Any]) -> tuple[int, str]:
    """Write through a hidden temporary file, then rename; the file's size and sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(temporary)
        size, digest = temporary.stat().st_size, sha256_file(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return size, digest
