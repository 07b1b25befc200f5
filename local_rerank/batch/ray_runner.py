"""Shards on a Ray cluster, through Ray Data (``pip install 'local-rerank[ray]'``).

The shards to do become a dataset of shard descriptions, one per block; ``map_batches``
hands them one at a time to a fixed pool of actors of :class:`RayShardScorer`, each of
which opens the model once (the selector choosing backend and device on its own node) and
writes its shards' files into OUTPUT itself, exactly as a local worker does; the driver
only collects the shard records. Ray schedules the actors by their ``num_cpus`` and
``num_gpus`` (and, by Ray Data's defaults for actor pools, restarts an actor that dies).

Every node reads INPUT, the model and OUTPUT at the same paths: on one machine that is
given; on a cluster they live on shared storage (NFS, a mounted bucket).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from local_rerank import errors
from local_rerank.batch.resources import WorkerShape, ray_shape
from local_rerank.batch.shard_spec import ShardSpec
from local_rerank.batch.shards import Opener, OutputLayout, ShardRecord, ShardWorker
from local_rerank.errors import LocalRerankError

LOCAL = "local"  # --ray without an address: start a Ray runtime on this machine
_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt)\b.*: ")


class RayShardScorer:
    """A Ray Data callable class: one model per actor (opened on its first shard), one shard per call.

    Our own errors (a model that does not open on this node, an input that changed) come
    back as data, ``{"error": class name, "message": ...}``, so the driver can raise them as
    they are: Ray would pass them on only as text inside its own exception.
    """

    def __init__(self, opener: Opener, layout: OutputLayout) -> None:
        self.opener = opener
        self.layout = layout
        self.worker: ShardWorker | None = None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        """Score the shards described in ``batch["spec"]``; their records (or our error) as JSON."""
        return {"record": [self._run(json.loads(text)) for text in batch["spec"]]}

    def _run(self, spec: dict[str, Any]) -> str:
        try:
            if self.worker is None:
                self.worker = ShardWorker(self.opener, self.layout)
            return self.worker.run(ShardSpec(**spec)).to_json(self.layout.job)
        except LocalRerankError as e:
            return json.dumps({"error": type(e).__name__, "message": str(e)})


@dataclass(frozen=True)
class RayRunner:
    """Runs shards on the cluster at ``address`` ("local", "auto", "ray://host:10001", host:port).

    ``make_opener(threads)`` builds each actor's model opener for ``threads`` CPU threads.
    """

    address: str
    make_opener: Callable[[int], Opener]
    device: str
    workers: int | None = None
    threads: int | None = None

    def __call__(self, shards: Sequence[ShardSpec], layout: OutputLayout, on_rows: Callable[[int], None],
                 on_shard: Callable[[ShardRecord], None]) -> None:
        """Score ``shards``; each record reaches ``on_shard`` (and its rows ``on_rows``) when done.

        Raises:
            LocalRerankError: Ray is missing or unreachable, or a shard failed.
        """
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            _connect(ray, self.address)
        try:
            shape = self.shape(ray)
            for record in _records(ray, shards, self.make_opener(shape.threads), layout, shape):
                on_shard(record)
                on_rows(record.rows_in)
        except ray.exceptions.RayError as e:
            raise _translate(e) from e
        finally:
            if started_here:
                ray.shutdown()

    def shape(self, ray: Any) -> WorkerShape:
        """Actors, CPUs and GPUs each, from what the cluster has."""
        resources = ray.cluster_resources()
        node_cpus = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=1)
        return ray_shape(resources.get("CPU", 1), node_cpus, resources.get("GPU", 0), self.device, self.workers,
                         self.threads)


def _records(ray: Any, shards: Sequence[ShardSpec], opener: Opener, layout: OutputLayout,
             shape: WorkerShape) -> Any:
    """The shards' records, in the order they finish."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command line draws its own
    rows = [{"spec": json.dumps(asdict(spec))} for spec in shards]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        RayShardScorer, fn_constructor_args=(opener, layout), batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(shape.workers, len(rows))),
        num_cpus=shape.threads, num_gpus=shape.gpus or None)
    for row in dataset.iter_rows():
        yield _record(row["record"])


def _record(text: str) -> ShardRecord:
    """A shard's record, or the error an actor sent instead, raised here: as its own class where
    that is one of :mod:`local_rerank.errors` (which all take a message), else as the root."""
    data = json.loads(text)
    if "error" not in data:
        return ShardRecord.from_json(text)[1]
    kind = getattr(errors, data["error"], None)
    if not (isinstance(kind, type) and issubclass(kind, LocalRerankError)):
        kind = LocalRerankError
    raise kind(data["message"])


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise LocalRerankError("--ray needs Ray Data: pip install 'local-rerank[ray]'") from e
    return ray


def _connect(ray: Any, address: str) -> None:
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        if address == LOCAL:
            ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise LocalRerankError(f"cannot reach the Ray cluster at {address}: {e}") from e


def _translate(error: BaseException) -> LocalRerankError:
    """Ray's failure in one line: the exception line of the remote traceback where there is one."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return LocalRerankError(f"the Ray job failed: {(raised or lines or [type(error).__name__])[-1]}")


