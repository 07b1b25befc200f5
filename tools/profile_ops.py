"""Where the time goes: one scoring run on a shape twin, timed per operation by the runtime itself.

    python -m tools.profile_ops [--rows openvino-int8,openvino-bf16,openvino-fp32,gguf-q8_0,gguf-bf16]
                                [--shape 0.6b] [--docs 16] [--doc-tokens 256] [--threads N]
                                [--out bench-results/profile.json]

Each row runs one of our backends over the benchmark's query and documents (tools/bench_documents.py).
OpenVINO rows compile as they always do plus the CPU plugin's performance counters (``PERF_COUNT``):
every inference's counters are summed by operation type and by the kernel that ran it (its
``exec_type``: ``brgemm_avx512_amx`` where AMX multiplied, ``jit_avx2`` ..., with the precision it
ran in). GGUF rows give llama.cpp an evaluation callback that asks to see every node of the graph,
so the scheduler computes them one at a time and the time between two callbacks is one node's
(the kernel column is then the node's name without its layer: ``ffn_up``, ``kq`` ...; the graph's
building lands on each decode's first node). The
table groups them into the matrix products on the stored weights, attention (the products of
queries and keys and of weights and values, their softmax, and the masks around them), and the
rest, with each group's share of the run; the JSON keeps every kernel. Each row runs in a process
of its own, after a warm-up run on the same documents.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from local_rerank import BackendOptions, Reranker
from local_rerank.backends.gguf import GgufBackend
from local_rerank.backends.llama_kernels import _loaded_library
from local_rerank.backends.openvino import OpenVinoBackend
from local_rerank.recipe import DEFAULT_MAX_LENGTH
from tools.bench_documents import QUERY, make_documents
from tools.bench_report import write_report
from tools.twins import twin_checkpoint, twin_gguf, twin_openvino

ROWS = ("openvino-int8", "openvino-bf16", "openvino-fp32", "gguf-q8_0", "gguf-bf16")
# OpenVINO's operation types; for llama.cpp, MUL_MAT is a matrix product on the weights except the
# products of queries and keys (kq) and of their weights and values (kqv), which are attention's.
MATRIX_PRODUCTS = frozenset({"FullyConnected", "FullyConnectedCompressed"})
ATTENTION = frozenset({"ScaledDotProductAttention", "MatMul", "Softmax", "SoftMax", "SOFT_MAX", "FLASH_ATTN_EXT"})
GROUPS = ("matrix products", "attention", "other")


def group_of(op_type: str, kernel: str = "") -> str:
    """Which part of the model an operation belongs to (see the module's docstring)."""
    if op_type in MATRIX_PRODUCTS or (op_type == "MUL_MAT" and not kernel.startswith("kq")):
        return "matrix products"
    return "attention" if op_type in ATTENTION or op_type == "MUL_MAT" else "other"


class OpTimes:
    """Seconds and runs by (operation, kernel), summed while ``counting``, and the inferences counted."""

    def __init__(self) -> None:
        self.counting = False
        self.inferences = 0
        self.totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])

    def add(self, operation: str, kernel: str, seconds: float) -> None:
        entry = self.totals[operation, kernel]
        entry[0] += seconds
        entry[1] += 1


class CountedOpenVino(OpenVinoBackend):
    """Our OpenVINO backend with the CPU plugin's performance counters, summed over every inference
    into ``times`` by (operation type, kernel)."""

    plugin_config: ClassVar[Mapping[str, Any]] = MappingProxyType({"PERF_COUNT": True})

    def __init__(self, path: Path, options: BackendOptions, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(path, options, max_length=max_length)
        self.times = OpTimes()

    def _logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        logits = super()._logits(inputs)
        if self.times.counting:
            self.times.inferences += 1
            for op in self._request.profiling_info:
                if op.status.name == "EXECUTED":
                    self.times.add(op.node_type, op.exec_type, op.real_time.total_seconds())
        return logits


class CountedGguf(GgufBackend):
    """Our GGUF backend with llama.cpp's evaluation callback on every node: each node's time (since
    the last callback) summed into ``times`` by (operation, tensor name without its layer)."""

    def __init__(self, path: Path, options: BackendOptions, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        import llama_cpp

        self.times = OpTimes()
        self._last = time.perf_counter()
        # The ggml that libllama loaded, not a second copy of it (llama_kernels._loaded_library).
        ggml = ctypes.CDLL(str(_loaded_library(Path(llama_cpp.__file__).parent / "lib", "libggml-base")))
        for function in (ggml.ggml_op_desc, ggml.ggml_get_name):
            function.restype, function.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        self._ggml = ggml
        self._callback = llama_cpp.ggml_backend_sched_eval_callback(self._observe)  # kept: llama.cpp calls it
        super().__init__(path, options, max_length=max_length)

    def _tune_context(self, params: Any) -> None:
        params.cb_eval = self._callback

    def _observe(self, tensor: int, ask: bool, _user_data: int) -> bool:
        if ask or not self.times.counting:
            return True  # every node is computed on its own, so each callback follows one node
        now = time.perf_counter()
        name = re.sub(r"[-_]\d+$", "", self._ggml.ggml_get_name(tensor).decode())  # "ffn_up-7": the layer's ffn_up
        self.times.add(self._ggml.ggml_op_desc(tensor).decode(), name, now - self._last)
        self._last = now
        return True

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        if self.times.counting:
            self.times.inferences += 1
        return super()._score_batch(sequences)

    def _decode(self, parts: Sequence[Any], outputs: bool) -> list[int]:
        self._last = time.perf_counter()  # the batch's preparation is not the first node's time
        return super()._decode(parts, outputs)


def run_row(row: str, documents: list[str], threads: int, shape: str) -> dict[str, Any]:
    """Score ``documents`` with the row's model of the shape twin, counting each operation's time."""
    fmt, quant = row.split("-", 1)
    options = BackendOptions(threads=threads)
    backend: CountedOpenVino | CountedGguf = (CountedOpenVino(twin_openvino(shape, quant), options)
                                              if fmt == "openvino" else CountedGguf(twin_gguf(shape, quant), options))
    with Reranker(backend) as reranker:
        # Warm-up on the same documents: the counters of an inference whose shapes differ from the
        # last one's miss part of its time (19 of 36 s measured on the 0.6B twin), though its wall
        # time is the same.
        reranker.score(QUERY, documents)
        backend.times.counting = True
        started = time.perf_counter()
        reranker.score(QUERY, documents)
        wall = time.perf_counter() - started
        tokens = sum(len(p.ids) for p in reranker.prepare(QUERY, documents))
    kernels: list[dict[str, Any]] = [
        {"op_type": op_type, "exec_type": exec_type, "group": group_of(op_type, exec_type), "seconds": seconds,
         "runs": runs}
        for (op_type, exec_type), (seconds, runs) in backend.times.totals.items()]
    kernels.sort(key=lambda k: -k["seconds"])
    return {"row": row, "wall_s": wall, "prompt_tokens": tokens, "tokens_per_s": tokens / wall,
            "inferences": backend.times.inferences, "kernels": kernels}


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
        fmt, quant = row.split("-", 1)  # built here, once, not inside the timed worker
        twin_openvino(args.shape, quant) if fmt == "openvino" else twin_gguf(args.shape, quant)
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
