"""Speed and memory of the scoring paths, side by side, on a shape twin of Qwen3-Reranker.

One query against N documents of about T tokens each (default 16 x 256, as in issue 11) on the 0.6B
shape twin (random weights, real architecture and tokenizer: it costs what the real model
costs). Each row runs in its own process so that its peak memory is its own:

  reference           transformers, float32 (the official recipe)
  gguf-q8_0           our GGUF backend, Q8_0, logits at each sequence's last token only,
                      each query's shared prefix decoded once
  gguf-q8_0-unshared  the same without the shared prefix (every prompt decoded whole)
  gguf-q8_0-rank      the same file through llama.cpp's rank pooling (what llama-server does)
  gguf-bf16           our GGUF backend, bf16 weights (the released checkpoints' own precision)
  gguf-f16            our GGUF backend, f16 weights
  onnx-fp32           our ONNX backend (onnxruntime), float32
  onnx-int8           the same, 8-bit weight-only MatMulNBits (the ONNX default; fp32 compute)
  onnx-int8-a8        the same weights with 8-bit activations (accuracy_level=4: int8 compute)
  onnx-int8-dynamic   the same, dynamic W8A8 INT8 (CPU-only operators)
  openvino-int8       our OpenVINO backend: 8-bit weights in groups of 32, 8-bit activations per
                      group of 32 at run time (VNNI), float32 head
  openvino-bf16       the same backend, bf16 weights; bf16 products where the CPU has AVX512-BF16
                      or AMX (elsewhere float32 products on the bf16-rounded weights)

It also measures this machine's own matrix-multiply peak with the same threads (fp32 with
numpy, bf16 and int8 with torch's CPU kernels; best of several 2048-cube products) and
prints each row's achieved rate as a share of the peak of the arithmetic it runs on.
Prints a table (with speed ratios against the reference) and writes JSON.

    python -m tools.benchmark [--shape 0.6b] [--docs 16] [--doc-tokens 256] [--out FILE]

Folder search (indexing and query latency on 10,000 generated files) is its own table, and so are
llama.cpp builds side by side (the portable build against a native one):

    python -m tools.benchmark search --help
    python -m tools.benchmark builds --help
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tools.bench_documents import make_documents
from tools.bench_report import write_report
from tools.bench_worker import run_worker
from tools.twins import twin_checkpoint, twin_gguf, twin_onnx, twin_openvino

ROWS = ("reference", "gguf-q8_0", "gguf-q8_0-unshared", "gguf-q8_0-rank", "gguf-bf16", "gguf-f16", "onnx-fp32",
        "onnx-int8", "onnx-int8-a8", "onnx-int8-dynamic", "openvino-int8", "openvino-bf16")
ONNX_VARIANTS = ("fp32", "int8", "int8-a8", "int8-dynamic")
GGUF_TYPES = ("q8_0", "bf16", "f16")
# The arithmetic each row's matrix products run on (for its share of the machine's peak).
KERNELS = {"reference": "fp32", "gguf-q8_0": "int8", "gguf-q8_0-unshared": "int8", "gguf-q8_0-rank": "int8",
           "gguf-bf16": "bf16", "gguf-f16": "fp32", "onnx-fp32": "fp32", "onnx-int8": "fp32",
           "onnx-int8-a8": "int8", "onnx-int8-dynamic": "int8", "openvino-int8": "int8", "openvino-bf16": "bf16"}
PEAK_SIZE = 2048
def prepare_models(shape: str) -> tuple[Path, dict[str, Path]]:
    """The shape twin's checkpoint and each row's model, built once and cached (:mod:`tools.twins`)."""
    checkpoint = twin_checkpoint(shape)
    files = {"reference": checkpoint}
    for quant in GGUF_TYPES:
        files[f"gguf-{quant}"] = twin_gguf(shape, quant)
    files["gguf-q8_0-rank"] = files["gguf-q8_0-unshared"] = files["gguf-q8_0"]
    for quant in ONNX_VARIANTS:
        files[f"onnx-{quant}"] = twin_onnx(shape, quant)
    for quant in ("int8", "bf16"):
        files[f"openvino-{quant}"] = twin_openvino(shape, quant)
    return checkpoint, files


def effective_peaks(measured: dict[str, float]) -> dict[str, float]:
    """Each arithmetic's peak, at least float32's: on a CPU without native bf16 or int8 products
    (an AVX2 Zen 3: torch's bf16 0.3 and int8 2 G/s beside fp32's 180) the runtimes still reach
    float32's speed on such weights, so a share of the lower figure would read in thousands of %."""
    return {kind: max(rate, measured["fp32"]) for kind, rate in measured.items()}


def measure_peaks(threads: int) -> dict[str, float]:
    """This machine's matrix-multiply peak in operations per second: fp32 (numpy), bf16 and int8 (torch)."""
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    fp32 = rng.standard_normal((PEAK_SIZE, PEAK_SIZE), dtype=np.float32)
    bf16 = torch.from_numpy(fp32).bfloat16()
    int8 = torch.from_numpy(rng.integers(-127, 128, (PEAK_SIZE, PEAK_SIZE), dtype=np.int8))
    return {"fp32": _best_rate(lambda: np.matmul(fp32, fp32)), "bf16": _best_rate(lambda: torch.matmul(bf16, bf16)),
            "int8": _best_rate(lambda: torch._int_mm(int8, int8))}


def _best_rate(product: Callable[[], object], rounds: int = 7) -> float:
    product()  # warm-up: first-call allocation and kernel selection
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - started)
    return 2 * PEAK_SIZE**3 / best


def matmul_flops_per_token(checkpoint: Path) -> float:
    """2 x the weights of the linear layers: the matrix-product work per prompt token
    (attention scores and the 2-row head left out; about 5% more at 350-token prompts)."""
    config = json.loads((checkpoint / "config.json").read_text())
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    head_dim = config.get("head_dim") or hidden // config["num_attention_heads"]
    attention = hidden * head_dim * (2 * config["num_attention_heads"] + 2 * config["num_key_value_heads"])
    return 2.0 * config["num_hidden_layers"] * (attention + 3 * hidden * inner)


def _run_row(row: str, model: Path, documents_file: Path, threads: int) -> dict:
    command = [sys.executable, "-m", "tools.benchmark", "--worker", row, "--model", str(model),
               "--documents", str(documents_file), "--threads", str(threads)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)} if row == "peaks" else None  # numpy's BLAS
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{row} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _size_mib(path: Path) -> float:
    files = ([p for p in path.iterdir() if p.suffix in (".onnx", ".data", ".safetensors", ".bin")]
             if path.is_dir() else [path])
    return sum(p.stat().st_size for p in files) / 2**20


def _table(results: list[dict]) -> str:
    reference = next((r for r in results if r["row"] == "reference"), None)
    header = (f"{'row':<20}{'model MiB':>10}{'load s':>8}{'score s':>9}{'tokens/s':>10}{'x ref':>7}"
              f"{'peak MiB':>10}{'max |err|':>11}{'of peak':>13}")
    lines = [header, "-" * len(header)]
    for r in results:
        speedup = f"{r['tokens_per_s'] / reference['tokens_per_s']:.2f}" if reference else "-"
        error = f"{r['max_abs_error']:.2e}" if r.get("max_abs_error") is not None else "-"
        share = f"{r['share_of_peak']:.0%} {r['kernel']}"
        lines.append(f"{r['row']:<20}{r['model_mib']:>10.0f}{r['load_s']:>8.1f}{r['score_s']:>9.1f}"
                     f"{r['tokens_per_s']:>10.0f}{speedup:>7}{r['peak_rss_mib']:>10.0f}{error:>11}{share:>13}")
    return "\n".join(lines)


def _peaks_line(peaks: dict[str, float], measured: dict[str, float], flops_per_token: float) -> str:
    rates = ", ".join(f"{kind} {rate / 1e9:.0f} G/s" + (f" (measured {measured[kind] / 1e9:.1f}: fp32's used)"
                                                      if measured[kind] < rate else "")
                      for kind, rate in peaks.items())
    return (f"matrix-multiply peak here: {rates}; {flops_per_token / 1e9:.2f} GFLOP per prompt token "
            f"(at best {peaks['int8'] / flops_per_token:.0f} tokens/s in int8)")


def main() -> None:
    if sys.argv[1:2] == ["search"]:
        from tools.search_benchmark import main as search_main

        search_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["builds"]:
        from tools.builds_benchmark import main as builds_main

        builds_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description="Benchmark the scoring paths on a shape twin.")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--doc-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--out", type=Path, default=Path("bench-results/benchmark.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--documents", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "peaks":
        print(json.dumps(measure_peaks(args.threads)))
        return
    if args.worker:
        documents = json.loads(args.documents.read_text())
        print(json.dumps(run_worker(args.worker, args.model, documents, args.threads)))
        return

    checkpoint, files = prepare_models(args.shape)
    sizes = {row: _size_mib(path) for row, path in files.items()}
    documents = make_documents(checkpoint / "tokenizer.json", args.docs, args.doc_tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    documents_file = args.out.with_suffix(".documents.json")
    documents_file.write_text(json.dumps(documents))
    print("measuring the matrix-multiply peak ...", file=sys.stderr)
    measured_peaks = _run_row("peaks", checkpoint, documents_file, args.threads)
    peaks = effective_peaks(measured_peaks)
    flops_per_token = matmul_flops_per_token(checkpoint)
    results = []
    for row in args.rows.split(","):
        print(f"running {row} ...", file=sys.stderr)
        results.append(_run_row(row, files[row], documents_file, args.threads))
    reference = next((r for r in results if r["row"] == "reference"), None)
    for r in results:
        r["model_mib"] = sizes[r["row"]]
        r["kernel"] = KERNELS[r["row"]]
        r["share_of_peak"] = r["tokens_per_s"] * flops_per_token / peaks[r["kernel"]]
        r["max_abs_error"] = (float(np.max(np.abs(np.subtract(r["scores"], reference["scores"]))))
                              if reference and r is not reference else None)
    report = {
        "shape": args.shape, "documents": args.docs, "doc_tokens": args.doc_tokens, "threads": args.threads,
        "peaks_ops_per_s": peaks, "measured_peaks_ops_per_s": measured_peaks, "matmul_flops_per_token": flops_per_token,
        "results": results,
    }
    write_report(args.out, report)
    print(f"{args.shape} shape twin, 1 query x {args.docs} documents of ~{args.doc_tokens} tokens, "
          f"{args.threads} threads")
    print(_peaks_line(peaks, measured_peaks, flops_per_token))
    print(_table(results))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
