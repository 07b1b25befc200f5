"""A batch job from start to finish: plan, claim OUTPUT, skip what is done, run, write the manifest.

    job = BatchJob(Path("pairs.parquet"), Path("scored"), model, settings)
    prepared = prepare(job)                       # reads the input once; refuses a foreign OUTPUT
    summary = run_job(prepared, LocalRunner(ModelOpener(model, settings), workers=2))

The runner (:class:`LocalRunner`, or :class:`~local_rerank.batch.ray_runner.RayRunner`)
only scores shards; what is done is known from the shard records in OUTPUT, so a job
can stop anywhere (``max_shards``, Ctrl-C, a kill) and be resumed by any runner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from local_rerank.batch.inputs import InputPlan, plan_input
from local_rerank.batch.local import run_local
from local_rerank.batch.manifest import (
    REJECTS,
    JobIdentity,
    claim_output,
    identity_of,
    model_sha256,
    remove_temporaries,
    verified_records,
    write_manifest,
)
from local_rerank.batch.shard_spec import ShardSpec
from local_rerank.batch.shards import Opener, OutputLayout, ShardRecord
from local_rerank.errors import InputError
from local_rerank.loading import open_reranker
from local_rerank.reranker import Reranker
from local_rerank.settings import Settings
from local_rerank.text import has_surrogates

DEFAULT_SHARD_ROWS = 1000


@dataclass(frozen=True)
class BatchJob:
    """What to score, where to put it, and with what.

    Attributes:
        instruction: for rows without an ``instruction`` field (None: the model's default).
        shard_rows: rows per shard: the unit of work, of resume and of output files.
        force: replace an OUTPUT that holds another job.
        max_shards: score at most this many shards in this run (the rest on a later run).
    """

    input: Path
    output: Path
    model: Path
    settings: Settings
    instruction: str | None = None
    shard_rows: int = DEFAULT_SHARD_ROWS
    force: bool = False
    max_shards: int | None = None


@dataclass(frozen=True)
class ModelOpener:
    """Opens ``model`` with ``settings`` through the selector, wherever it is called (a worker
    process, a Ray actor on another node): picklable, and it opens nothing until called."""

    model: Path
    settings: Settings

    def __call__(self) -> Reranker:
        return open_reranker(self.model, self.settings)


class Runner(Protocol):
    """Scores shards into ``layout``; reports rows done and each finished shard's record."""

    def __call__(self, shards: Sequence[ShardSpec], layout: OutputLayout, on_rows: Callable[[int], None],
                 on_shard: Callable[[ShardRecord], None]) -> None: ...


@dataclass(frozen=True)
class LocalRunner:
    """Shards on this machine: ``workers`` processes (this one alone when 1)."""

    opener: Opener
    workers: int = 1

    def __call__(self, shards: Sequence[ShardSpec], layout: OutputLayout, on_rows: Callable[[int], None],
                 on_shard: Callable[[ShardRecord], None]) -> None:
        """See :func:`~local_rerank.batch.local.run_local`."""
        run_local(shards, self.opener, layout, self.workers, on_rows, on_shard)


@dataclass(frozen=True)
class Prepared:
    """A job ready to run: its plan, identity, OUTPUT layout, shards done and shards to do now."""

    job: BatchJob
    plan: InputPlan
    identity: JobIdentity
    layout: OutputLayout
    done: dict[int, ShardRecord]
    pending: list[ShardSpec]

    @property
    def pending_rows(self) -> int:
        """Rows this run will score (or reject)."""
        return sum(spec.rows for spec in self.pending)


@dataclass(frozen=True)
class BatchSummary:
    """What a run did: shards skipped (done before) and scored now, and the final manifest."""

    skipped: int
    scored: int
    manifest: dict[str, Any]
    folder: Path

    @property
    def complete(self) -> bool:
        """Whether every shard is done."""
        return self.manifest["status"] == "complete"

    def rejects(self) -> list[str]:
        """The rejects file's lines (empty until the job is complete)."""
        return (self.folder / REJECTS).read_text(encoding="utf-8").splitlines() if self.complete else []


def prepare(job: BatchJob) -> Prepared:
    """Plan the input, claim OUTPUT (resuming this job's own), find the shards to score.

    Raises:
        InputError: bad input, a bad instruction, or an OUTPUT that holds something else.
    """
    _check_instruction(job.instruction)
    plan = plan_input(job.input, job.shard_rows)
    identity = identity_of(plan, model_sha256(job.model), job.settings.max_length, job.instruction, job.shard_rows)
    resuming = claim_output(job.output, identity, job.force)
    layout = OutputLayout(job.output.resolve(), identity.key, plan.fmt, job.instruction)
    remove_temporaries(layout.folder)
    done = verified_records(layout, plan.shards) if resuming else {}
    write_manifest(layout, identity, plan, job.model, done)
    pending = [spec for spec in plan.shards if spec.index not in done][:job.max_shards]
    return Prepared(job, plan, identity, layout, done, pending)


def run_job(prepared: Prepared, runner: Runner, on_rows: Callable[[int], None] = lambda rows: None) -> BatchSummary:
    """Score the pending shards with ``runner``; the manifest is rewritten at the end, even a failed one."""
    records = dict(prepared.done)

    def on_shard(record: ShardRecord) -> None:
        records[record.index] = record

    try:
        if prepared.pending:
            runner(prepared.pending, prepared.layout, on_rows, on_shard)
    finally:
        manifest = write_manifest(prepared.layout, prepared.identity, prepared.plan, prepared.job.model, records)
    return BatchSummary(len(prepared.done), len(records) - len(prepared.done), manifest, prepared.layout.folder)


def _check_instruction(instruction: str | None) -> None:
    if instruction is not None and not instruction.strip():
        raise InputError("the instruction is empty (leave it out to use the default)")
    if instruction is not None and has_surrogates(instruction):
        raise InputError("the instruction is not valid text (invalid UTF-8, or a lone surrogate escape)")

