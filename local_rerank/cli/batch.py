"""``local-rerank batch``: score a corpus of (query, document) rows into a folder of shards."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from local_rerank.backends import detect_format
from local_rerank.batch import (
    DEFAULT_SHARD_ROWS,
    BatchJob,
    BatchSummary,
    LocalRunner,
    ModelOpener,
    Prepared,
    Runner,
    prepare,
    run_job,
)
from local_rerank.batch.ray_runner import RayRunner
from local_rerank.batch.resources import local_shape
from local_rerank.cli.model_options import MODEL_FILE, engine_options, instruction_option, model_option, named_model
from local_rerank.doctor import model_candidate
from local_rerank.hardware import available_cores, probe_hardware
from local_rerank.loading import choices_for
from local_rerank.settings import Settings, resolve_settings
from local_rerank.store import resolve_model, store_dir
from local_rerank.text import printable

_ADDRESS = re.compile(r"^(local|auto|ray://\S+|[\w.-]+:\d+)$")
_REPORT_EVERY_S = 10.0  # progress lines when stderr is not a terminal
_SHOWN_REJECTS = 5


def _checked_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A bare ``--ray`` before INPUT would take INPUT as its address: say so, before "missing OUTPUT"."""
    if value is not None and not _ADDRESS.match(value):
        raise click.UsageError(f"--ray {value!r} is not an address (auto, ray://host:10001, host:port); "
                               "write INPUT and OUTPUT before a bare --ray", ctx)
    return value


@click.command("batch")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("output", metavar="OUTPUT", type=click.Path(path_type=Path))
@model_option(f"{MODEL_FILE}.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", metavar="[ADDRESS]", callback=_checked_address,
              help="Run on Ray: alone, a local Ray runtime; 'auto' or ray://host:10001, an existing cluster.")
@click.option("--workers", type=click.IntRange(1, 4096),
              help="Models at once (default: one per GPU, else one per 4 cores that memory allows).")
@instruction_option("Task instruction for rows without an 'instruction' field.")
@click.option("--shard-rows", type=click.IntRange(1, None), default=DEFAULT_SHARD_ROWS, show_default=True,
              help="Rows per output shard: the unit of work and of resuming.")
@click.option("--max-shards", type=click.IntRange(1, None), help="Score at most N shards in this run.")
@click.option("--force", is_flag=True, help="Replace an OUTPUT that holds another job.")
@engine_options(threads_help="CPU threads per worker (default: shared out).")
def batch(input_path: Path, output: Path, model_path: str | None, ray_address: str | None, workers: int | None,
          instruction: str | None, shard_rows: int, max_shards: int | None, force: bool, max_length: int | None,
          backend: str | None, device: str | None, threads: int | None) -> None:
    """Score every row of INPUT (Parquet or JSONL, a file or a folder) into the OUTPUT folder.

    A row is a pair (query, document) or a query with a list of candidates, each with an
    optional instruction; OUTPUT gets the same rows with score (or scores) in shards, a
    _manifest.json and a _rejects.jsonl of rows that could not be scored. Running the same
    command again resumes: shards already written and verified are skipped.
    """
    settings = resolve_settings({"model": model_path, "backend": backend, "device": device, "threads": threads,
                                 "max_length": max_length})
    model = _model(settings)
    runner, how = _runner(model, settings, ray_address, workers)
    prepared = prepare(BatchJob(input_path, output, model, settings, instruction, shard_rows, force, max_shards))
    click.echo(f"{len(prepared.pending)} shard(s) to score {how}; {len(prepared.done)} done before", err=True)
    with _progress(prepared) as on_rows:
        summary = run_job(prepared, runner, on_rows)
    _report(summary)


def _model(settings: Settings) -> Path:
    """The model's absolute path, once its header says it is a model (errors come now, not in a worker)."""
    model = resolve_model(named_model(settings), store_dir()).resolve()
    return model_candidate(model).path.resolve()  # an export folder, not its graph file: the job's hash covers all


def _runner(model: Path, settings: Settings, ray_address: str | None, workers: int | None) -> tuple[Runner, str]:
    """The Ray runner (each node's selector picks its device), or local workers shaped by this
    machine's selector choice (which fails now, for example on --device cuda without a GPU);
    and how it runs, in words."""
    if ray_address is not None:
        opener = lambda threads: ModelOpener(model, replace(settings, threads=threads))  # noqa: E731
        return RayRunner(ray_address, opener, settings.device, workers, settings.threads), f"on Ray ({ray_address})"
    on_gpu = choices_for(model, settings)[0].device == "cuda"
    size_mib = sum(p.stat().st_size for p in ([model] if model.is_file() else model.rglob("*"))) / 2**20
    private = detect_format(model) == "openvino"  # it repacks its weights in each process
    shape = local_shape(available_cores(), probe_hardware().free_ram_mib, size_mib, on_gpu, workers, settings.threads,
                        private_weights=private)
    runner = LocalRunner(ModelOpener(model, replace(settings, threads=shape.threads)), shape.workers)
    return runner, f"with {shape.workers} worker(s) x {shape.threads} thread(s)"


@contextmanager
def _progress(prepared: Prepared) -> Iterator[Callable[[int], None]]:
    """A row counter: a bar with rate and ETA on a terminal, a line every few seconds otherwise."""
    total, lock = prepared.pending_rows, threading.Lock()
    if sys.stderr.isatty():
        with click.progressbar(length=total, label="scoring rows", file=sys.stderr, show_eta=True) as bar:
            started = time.monotonic()

            def advance(rows: int) -> None:
                with lock:
                    bar.update(rows)
                    bar.label = f"scoring rows ({bar.pos / max(time.monotonic() - started, 1e-6):.1f}/s)"

            yield advance
        return
    state = {"done": 0, "started": time.monotonic(), "shown": time.monotonic()}

    def count(rows: int) -> None:
        with lock:
            state["done"] += rows
            now = time.monotonic()
            if now - state["shown"] >= _REPORT_EVERY_S or state["done"] == total:
                state["shown"] = now
                click.echo(_line(int(state["done"]), total, now - state["started"]), err=True)

    yield count


def _line(done: int, total: int, seconds: float) -> str:
    rate = done / max(seconds, 1e-6)
    eta = f", ETA {_duration((total - done) / rate)}" if rate and done < total else ""
    return f"{done}/{total} rows, {rate:.1f} rows/s{eta}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _report(summary: BatchSummary) -> None:
    counts = summary.manifest["counts"]
    folder = printable(str(summary.folder))
    click.echo(f"{summary.scored} shard(s) scored now, {summary.skipped} done before; "
               f"{counts['shards_done']}/{counts['shards']} shards, {counts['rows_scored']} rows scored, "
               f"{counts['rows_rejected']} rejected, in {folder}")
    if counts["truncated"]:
        click.echo(f"note: {counts['truncated']} document(s) were cut to the token budget", err=True)
    if not summary.complete:
        click.echo("not finished: run the same command again to score the remaining shards", err=True)
        return
    rejects = summary.rejects()
    for line in rejects[:_SHOWN_REJECTS]:
        reject = json.loads(line)
        click.echo(printable(f"rejected: {reject['file']} row {reject['row']}: {reject['reason']}"), err=True)
    if len(rejects) > _SHOWN_REJECTS:
        click.echo(f"... and {len(rejects) - _SHOWN_REJECTS} more in {folder}/_rejects.jsonl", err=True)
