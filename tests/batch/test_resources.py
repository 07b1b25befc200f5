"""How many workers, with how many threads and how much of a GPU each."""

from __future__ import annotations

import pytest

from local_rerank.batch.resources import WorkerShape, local_shape, ray_shape
from local_rerank.errors import BackendUnavailableError


@pytest.mark.parametrize(("cores", "ram", "on_gpu", "workers", "threads", "shape"), [
    (2, 16000, False, None, None, WorkerShape(1, 2)),          # a laptop: one model, both cores
    (16, 64000, False, None, None, WorkerShape(4, 4)),         # one model per 4 cores
    (16, 4000, False, None, None, WorkerShape(2, 8)),          # memory for two
    (16, 64000, True, None, None, WorkerShape(1, 16)),         # a GPU: one model feeds it
    (2, 16000, False, 2, None, WorkerShape(2, 1)),             # asked for two: the cores are shared
    (8, 16000, False, 3, 4, WorkerShape(3, 4)),                # threads given: taken as they are
])
def test_local_shape(cores: int, ram: int, on_gpu: bool, workers: int | None, threads: int | None,
                     shape: WorkerShape) -> None:
    assert local_shape(cores, ram, 640, on_gpu, workers, threads) == shape


def test_weights_held_per_worker_count_once_per_worker() -> None:
    """OpenVINO repacks its weights in each process: 16 cores and 8 GB hold 4 workers of a shared
    640 MiB model but only 3 of a private one."""
    assert local_shape(16, 8000, 640, False, None, None) == WorkerShape(4, 4)
    assert local_shape(16, 8000, 640, False, None, None, private_weights=True) == WorkerShape(3, 5)


@pytest.mark.parametrize(("cpus", "node", "gpus", "device", "workers", "shape"), [
    (2, 2, 0, "auto", None, WorkerShape(1, 2)),
    (64, 16, 0, "auto", None, WorkerShape(16, 4)),             # 4 nodes of 16 CPUs
    (64, 16, 0, "auto", 2, WorkerShape(2, 16)),                # never more CPUs than one node has
    (64, 16, 4, "auto", None, WorkerShape(4, 16, 1.0)),        # one actor per GPU
    (64, 16, 2, "auto", 4, WorkerShape(4, 16, 0.5)),           # more actors than GPUs: they share
    (64, 16, 4, "cpu", None, WorkerShape(16, 4)),              # --device cpu leaves the GPUs alone
])
def test_ray_shape(cpus: float, node: float, gpus: float, device: str, workers: int | None,
                   shape: WorkerShape) -> None:
    assert ray_shape(cpus, node, gpus, device, workers, None) == shape


def test_cuda_on_a_cluster_without_gpus_is_refused() -> None:
    with pytest.raises(BackendUnavailableError, match="no GPU"):
        ray_shape(8, 8, 0, "cuda", None, None)
