"""Shards on this machine: worker processes, each with its own model, or this process alone.

Each worker process (started with ``spawn``: a clean interpreter, no copied native state)
opens the model once and scores whole shards, writing their files itself; this process
hands out shards, counts rows as workers report them and gathers the shard records. With
one worker everything runs here, without the cost of starting a process.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from local_rerank.batch.shard_spec import ShardSpec
from local_rerank.batch.shards import Opener, OutputLayout, ShardRecord, ShardWorker
from local_rerank.errors import LocalRerankError

RowsDone = Callable[[int], None]
ShardDone = Callable[[ShardRecord], None]

_worker: ShardWorker | None = None  # in a worker process: its model, opened on the first shard
_setup: tuple[Opener, OutputLayout, Any] = None  # type: ignore[assignment]


def run_local(shards: Sequence[ShardSpec], opener: Opener, layout: OutputLayout, workers: int,
              on_rows: RowsDone, on_shard: ShardDone) -> None:
    """Score ``shards`` with ``workers`` models; ``on_shard`` gets each record as its shard is done.

    Raises:
        LocalRerankError: a shard failed (the shards already done stay done), or a worker died.
    """
    if workers == 1:
        _run_here(shards, opener, layout, on_rows, on_shard)
    else:
        _run_in_processes(shards, opener, layout, min(workers, len(shards)), on_rows, on_shard)


def _run_here(shards: Sequence[ShardSpec], opener: Opener, layout: OutputLayout, on_rows: RowsDone,
              on_shard: ShardDone) -> None:
    worker = ShardWorker(opener, layout)
    try:
        for spec in shards:
            on_shard(worker.run(spec, on_rows))
    finally:
        worker.close()


def _run_in_processes(shards: Sequence[ShardSpec], opener: Opener, layout: OutputLayout, workers: int,
                      on_rows: RowsDone, on_shard: ShardDone) -> None:
    context = multiprocessing.get_context("spawn")
    reports, stop = context.Queue(), threading.Event()
    relay = threading.Thread(target=_relay, args=(reports, on_rows, stop), name="batch-progress", daemon=True)
    relay.start()
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(opener, layout, reports))
    try:
        for future in as_completed([pool.submit(_run_shard, spec) for spec in shards]):
            on_shard(future.result())
    except BrokenProcessPool as e:
        raise LocalRerankError("a worker process died (out of memory?); the shards done are kept: "
                               "run the same command again to resume") from e
    except BaseException:  # a failed shard, Ctrl-C: stop the shards in flight too
        pool.shutdown(wait=False, cancel_futures=True)
        for process in set(multiprocessing.active_children()) - before:
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True)
        stop.set()
        relay.join()


def _relay(reports: Any, on_rows: RowsDone, stop: threading.Event) -> None:
    """Pass the workers' row counts on, in this process, until ``stop`` (then what is left)."""
    while not stop.is_set() or not reports.empty():
        try:
            on_rows(reports.get(timeout=0.1))
        except queue.Empty:
            continue


def _start_worker(opener: Opener, layout: OutputLayout, reports: Any) -> None:
    """In a worker process: ignore Ctrl-C (the parent stops the workers), keep what the shards need."""
    global _setup
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _setup = (opener, layout, reports)


def _run_shard(spec: ShardSpec) -> ShardRecord:
    """In a worker process: score one shard, opening the model on the first (its errors then
    reach the parent as this shard's error)."""
    global _worker
    opener, layout, reports = _setup
    if _worker is None:
        _worker = ShardWorker(opener, layout)
    return _worker.run(spec, reports.put)
