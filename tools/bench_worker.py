"""One benchmark row scored in this process (a worker of tools.benchmark and tools.builds_benchmark):
timings, scores and peak memory. Each row runs in a process of its own, so the runtimes are
imported here, per row, and never share a process."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

from tools.bench_documents import QUERY


def run_worker(row: str, model: Path, documents: list[str], threads: int) -> dict:
    """Score in this process and report timings, scores and peak memory."""
    torch_threads = None
    started = time.perf_counter()
    score: Callable[..., list[float]]
    if row == "reference":
        import torch

        from local_rerank.convert.reference import ReferenceScorer

        torch.set_num_threads(threads)
        torch_threads = torch.get_num_threads()
        scorer = ReferenceScorer(model)
        score, tokens = scorer.score, sum(len(ids) for ids in scorer.input_ids(QUERY, documents))
    else:
        from local_rerank import BackendOptions, Reranker
        from local_rerank.backends.base import Backend
        from local_rerank.backends.gguf import GgufBackend
        from local_rerank.backends.onnx import OnnxBackend
        from local_rerank.backends.openvino import OpenVinoBackend

        options = BackendOptions(threads=threads)
        backend: Backend
        if row.startswith("onnx"):
            backend = OnnxBackend(model, options)
        elif row.startswith("openvino"):
            backend = OpenVinoBackend(model, options)
        else:
            backend = GgufBackend(model, options, scoring_path="rank" if row.endswith("-rank") else "causal",
                                  share_prefix=not row.endswith("-unshared"))
        reranker = Reranker(backend)
        score = reranker.score
        tokens = sum(len(p.ids) for p in reranker.prepare(QUERY, documents))
    loaded = time.perf_counter()
    score(QUERY, documents[:1])  # warm-up
    warm = time.perf_counter()
    scores = score(QUERY, documents)
    done = time.perf_counter()
    return {
        "row": row, "load_s": loaded - started, "score_s": done - warm, "prompt_tokens": tokens,
        "tokens_per_s": tokens / (done - warm), "peak_rss_mib": _peak_rss_mib(),
        "scores": list(map(float, scores)), "torch_threads": torch_threads,
    }


def _peak_rss_mib() -> float:
    """This process's peak resident memory. Linux carries ru_maxrss across exec, so a
    worker would inherit its parent's peak; VmHWM belongs to the new address space."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
