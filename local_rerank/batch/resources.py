"""How many models to run at once, and the CPU threads and GPU share of each. Pure functions.

On a CPU, llama.cpp and onnxruntime use a few threads well and many threads less well
(a batch has parallel work only within each matrix product), while separate processes
scale until the cores run out; each process costs its own KV cache and buffers (GGUF and
ONNX weights are memory-mapped, so processes share them; OpenVINO repacks its weights in
each process, so there each worker also costs the model's size). So CPU workers get
:data:`THREADS_PER_WORKER` threads each, as many as the cores and free memory allow. A
GPU is best fed by one model per GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from local_rerank.errors import BackendUnavailableError
from local_rerank.selector import CPU_HEADROOM_MIB

THREADS_PER_WORKER = 4


@dataclass(frozen=True)
class WorkerShape:
    """``workers`` models, each with ``threads`` CPU threads (its Ray ``num_cpus``) and
    ``gpus`` GPUs (its Ray ``num_gpus``; 0 on the CPU, a fraction when workers share one)."""

    workers: int
    threads: int
    gpus: float = 0.0


def local_shape(cores: int, free_ram_mib: int, model_mib: float, on_gpu: bool, workers: int | None,
                threads: int | None, private_weights: bool = False) -> WorkerShape:
    """Workers for this machine: given, else one per GPU or one per :data:`THREADS_PER_WORKER`
    cores (at most what free memory holds: ``private_weights`` when each worker holds its own
    copy of the weights); the cores shared out among them unless ``threads``."""
    if workers is None:
        room = int(free_ram_mib // (CPU_HEADROOM_MIB + model_mib) if private_weights
                   else max(free_ram_mib - model_mib, 0) // CPU_HEADROOM_MIB)
        workers = 1 if on_gpu else max(1, min(cores // THREADS_PER_WORKER, room))
    return WorkerShape(workers, threads or max(1, cores // workers))


def ray_shape(cluster_cpus: float, node_cpus: float, cluster_gpus: float, device: str, workers: int | None,
              threads: int | None) -> WorkerShape:
    """Actors for a Ray cluster: given, else one per GPU (unless ``device`` is "cpu") or one per
    :data:`THREADS_PER_WORKER` CPUs; CPUs per actor never more than the largest node has.

    Raises:
        BackendUnavailableError: ``device`` is "cuda" and the cluster has no GPU.
    """
    use_gpus = device != "cpu" and cluster_gpus > 0
    if device == "cuda" and not use_gpus:
        raise BackendUnavailableError("--device cuda: the Ray cluster has no GPU")
    if workers is None:
        workers = max(1, int(cluster_gpus) if use_gpus else int(cluster_cpus) // THREADS_PER_WORKER)
    cpus = threads or max(1, min(int(node_cpus), int(cluster_cpus) // workers))
    return WorkerShape(workers, cpus, min(1.0, cluster_gpus / workers) if use_gpus else 0.0)
