"""Where the time goes: one scoring run on a shape twin, timed per operation by the runtime itself.

    python -m tools.profile_ops [--rows openvino-int8,openvino-bf16,openvino-fp32] [--shape 0.6b]
                                [--docs 16] [--doc-tokens 256] [--threads N] [--out bench-results/profile.json]

Each row runs our OpenVINO backend, compiled as it always is plus the CPU plugin's performance
counters (``PERF_COUNT``), over the benchmark's query and documents (tools/bench_documents.py);
every inference's counters are summed by operation type and by the kernel that ran it (its
``exec_type``: ``brgemm_avx512_amx`` where AMX multiplied, ``jit_avx2`` ..., with the precision it
ran in). The table groups them into the matrix products (FullyConnected, on the stored weights),
attention (the products of queries and keys and of weights and values, their softmax, and the
masks around them), and the rest, with each group's share of the run; the JSON keeps every kernel.
Each row runs in a process of its own, after a warm-up run on the same documents.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from local_rerank import BackendOptions, Reranker
from local_rerank.backends.openvino import OpenVinoBackend
from local_rerank.recipe import DEFAULT_MAX_LENGTH
from tools.bench_documents import QUERY, make_documents
from tools.bench_report import write_report
from tools.twins import twin_checkpoint, twin_openvino

ROWS = ("openvino-int8", "openvino-bf16", "openvino-fp32")
MATRIX_PRODUCTS = frozenset({"FullyConnected", "FullyConnectedCompressed"})
ATTENTION = frozenset({"ScaledDotProductAttention", "MatMul", "Softmax", "SoftMax"})
GROUPS = ("matrix products", "attention", "other")


def group_of(op_type: str) -> str:
    """Which part of the model an operation type belongs to (see the module's docstring)."""
    if op_type in MATRIX_PRODUCTS:
        return "matrix products"
    return "attention" if op_type in ATTENTION else "other"


class CountedOpenVino(OpenVinoBackend):
    """Our OpenVINO backend with the CPU plugin's performance counters, summed over every inference
    while ``counting``: seconds and runs by (operation type, kernel), and the inferences counted."""

    plugin_config: ClassVar[dict[str, Any]] = {"PERF_COUNT": True}

    def __init__(self, path: Path, options: BackendOptions, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(path, options, max_length=max_length)
        self.counting = False
        self.inferences = 0
        self.totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])

    def _logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        logits = super()._logits(inputs)
        if self.counting:
            self.inferences += 1
            for op in self._request.profiling_info:
                if op.status.name == "EXECUTED":
                    entry = self.totals[op.node_type, op.exec_type]
                    entry[0] += op.real_time.total_seconds()
                    entry[1] += 1
        return logits


def run_row(row: str, documents: list[str], threads: int, shape: str) -> dict[str, Any]:
    """Score ``documents`` with the row's export of the shape twin, counting each operation's time."""
    backend = CountedOpenVino(twin_openvino(shape, row.removeprefix("openvino-")), BackendOptions(threads=threads))
    with Reranker(backend) as reranker:
        # Warm-up on the same documents: the counters of an inference whose shapes differ from the
        # last one's miss part of its time (19 of 36 s measured on the 0.6B twin), though its wall
        # time is the same.
        reranker.score(QUERY, documents)
        backend.counting = True
        started = time.perf_counter()
        reranker.score(QUERY, documents)
        wall = time.perf_counter() - started
        tokens = sum(len(p.ids) for p in reranker.prepare(QUERY, documents))
    kernels: list[dict[str, Any]] = [
        {"op_type": op_type, "exec_type": exec_type, "group": group_of(op_type), "seconds": seconds, "runs": runs}
        for (op_type, exec_type), (seconds, runs) in backend.totals.items()]
    kernels.sort(key=lambda k: -k["seconds"])
    return {"row": row, "wall_s": wall, "prompt_tokens": tokens, "tokens_per_s": tokens / wall,
            "inferences": backend.inferences, "kernels": kernels}


def table(result: dict[str, Any], top: int = 8) -> str:
    """The row's groups and its slowest kernels, as shares of the time the counters saw."""
    counted = sum(k["seconds"] for k in result["kernels"]) or 1.0
    lines = [f"{result['row']}: {result['wall_s']:.2f} s wall, {result['tokens_per_s']:.0f} tokens/s, "
             f"{counted:.2f} s counted",
             "| part | seconds | share |", "|---|---|---|"]
    for group in GROUPS:
        seconds = sum(k["seconds"] for k in result["kernels"] if k["group"] == group)
        lines.append(f"| {group} | {seconds:.3f} | {seconds / counted:.0%} |")
    lines += ["", "| operation | kernel | runs | seconds | share |", "|---|---|---|---|---|"]
    for k in result["kernels"][:top]:
        lines.append(f"| {k['op_type']} | {k['exec_type']} | {k['runs']} | {k['seconds']:.3f} | "
                     f"{k['seconds'] / counted:.0%} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--doc-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=Path("bench-results/profile.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    documents = make_documents(twin_checkpoint(args.shape) / "tokenizer.json", args.docs, args.doc_tokens)
    if args.worker:
        print(json.dumps(run_row(args.worker, documents, args.threads, args.shape)))
        return
    results = []
    for row in args.rows.split(","):
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; choose from {', '.join(ROWS)}")
        print(f"profiling {row} ...", file=sys.stderr)
        twin_openvino(args.shape, row.removeprefix("openvino-"))  # built here, once, not inside the timed worker
        command = [sys.executable, "-m", "tools.profile_ops", "--worker", row, "--shape", args.shape,
                   "--docs", str(args.docs), "--doc-tokens", str(args.doc_tokens), "--threads", str(args.threads)]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise SystemExit(f"{row} failed:\n{finished.stderr[-2000:]}")
        results.append(json.loads(finished.stdout.strip().splitlines()[-1]))
    write_report(args.out, {"shape": args.shape, "documents": args.docs, "doc_tokens": args.doc_tokens,
                            "threads": args.threads, "results": results})
    print(f"{args.shape} shape twin, 1 query x {args.docs} documents of ~{args.doc_tokens} tokens, "
          f"{args.threads} threads")
    for result in results:
        print()
        print(table(result))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
