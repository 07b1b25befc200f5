"""Speed and memory of the scoring paths, side by side, on a shape twin of Qwen3-Reranker.

One query against N documents of about T tokens each (default 32 x 256) on the 0.6B
shape twin (random weights, real architecture and tokenizer: it costs what the real model
costs). Each row runs in its own process so that its peak memory is its own:

  reference         transformers, float32 (the official recipe)
  gguf-q8_0         our GGUF backend, Q8_0, logits at each sequence's last token only
  gguf-q8_0-rank    the same file through llama.cpp's rank pooling (what llama-server does)
  gguf-f16          our GGUF backend, f16 weights
  onnx-fp32         our ONNX backend (onnxruntime), float32
  onnx-int8         the same, 8-bit weight-only MatMulNBits (the ONNX default)
  onnx-int8-dynamic the same, dynamic W8A8 INT8 (CPU-only operators)

Prints a table (with speed ratios against the reference) and writes JSON.

    python -m tools.benchmark [--shape 0.6b] [--docs 32] [--doc-tokens 256] [--out FILE]

Folder search (indexing and query latency on 10,000 generated files) is its own table:

    python -m tools.benchmark search --help
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tools.tokenizer_fixture import dev_cache_dir

ROWS = ("reference", "gguf-q8_0", "gguf-q8_0-rank", "gguf-f16", "onnx-fp32", "onnx-int8", "onnx-int8-dynamic")
ONNX_VARIANTS = ("fp32", "int8", "int8-dynamic")
QUERY = "how do I copy a folder with all its files to another disk?"
SENTENCES = (
    "Use cp -r to copy a directory and everything inside it.",
    "rsync -a keeps permissions, timestamps and symbolic links while copying.",
    "The robocopy command on Windows copies folder trees and can mirror them.",
    "Bananas grow in clusters and are rich in potassium.",
    "The museum opens at nine and closes at five on weekdays.",
    "shutil.copytree copies an entire directory tree in Python.",
    "A backup should be verified by restoring a few files from it.",
    "External disks formatted as exFAT work on Windows, macOS and Linux.",
    "Large copies are faster when many small files are archived first with tar.",
    "The recipe calls for two cups of flour and a pinch of salt.",
)


def make_documents(tokenizer_json: Path, count: int, tokens: int, seed: int = 0) -> list[str]:
    """``count`` documents of about ``tokens`` tokens, drawn from a fixed pool of sentences."""
    from local_rerank.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_json)
    rng = np.random.default_rng(seed)
    documents = []
    for _ in range(count):
        sentences: list[str] = []
        while len(tokenizer.encode_plain([" ".join(sentences)])[0]) < tokens:
            sentences.append(SENTENCES[rng.integers(len(SENTENCES))])
        documents.append(" ".join(sentences))
    return documents


def prepare_models(shape: str) -> tuple[Path, dict[str, Path]]:
    """The shape twin's checkpoint and each row's model, built once and cached."""
    from local_rerank.convert.gguf_export import export_gguf
    from local_rerank.convert.onnx_export import export_onnx
    from tools.synthetic_model import build_synthetic_model

    folder = dev_cache_dir() / "twins" / shape
    checkpoint = folder / "checkpoint"
    if not (checkpoint / "model.safetensors").is_file():
        build_synthetic_model(checkpoint, shape, dtype="bf16")
    files = {"reference": checkpoint}
    for quant in ("q8_0", "f16"):
        files[f"gguf-{quant}"] = folder / f"{shape}-{quant}.gguf"
        if not files[f"gguf-{quant}"].is_file():
            export_gguf(checkpoint, files[f"gguf-{quant}"], quant)
    files["gguf-q8_0-rank"] = files["gguf-q8_0"]
    for quant in ONNX_VARIANTS:
        files[f"onnx-{quant}"] = folder / f"{shape}-onnx-{quant}"
        if not (files[f"onnx-{quant}"] / "model.onnx").is_file():
            shutil.rmtree(files[f"onnx-{quant}"], ignore_errors=True)
            export_onnx(checkpoint, files[f"onnx-{quant}"], quant)
    return checkpoint, files


def run_worker(row: str, model: Path, documents: list[str], threads: int) -> dict:
    """Score in this process and report timings, scores and peak memory."""
    torch_threads = None
    started = time.perf_counter()
    if row == "reference":
        import torch

        from local_rerank.convert.reference import ReferenceScorer

        torch.set_num_threads(threads)
        torch_threads = torch.get_num_threads()
        scorer = ReferenceScorer(model)
        score, tokens = scorer.score, sum(len(ids) for ids in scorer.input_ids(QUERY, documents))
    else:
        from local_rerank import BackendOptions, Reranker
        from local_rerank.backends.gguf import GgufBackend
        from local_rerank.backends.onnx import OnnxBackend

        options = BackendOptions(threads=threads)
        if row.startswith("onnx"):
            backend = OnnxBackend(model, options)
        else:
            backend = GgufBackend(model, options, scoring_path="rank" if row.endswith("-rank") else "causal")
        reranker = Reranker(backend)
        score = reranker.score
        tokens = sum(len(p.ids) for p in reranker.encoder.encode(QUERY, documents))
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


def _run_row(row: str, model: Path, documents_file: Path, threads: int) -> dict:
    command = [sys.executable, "-m", "tools.benchmark", "--worker", row, "--model", str(model),
               "--documents", str(documents_file), "--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{row} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _size_mib(path: Path) -> float:
    files = [p for p in path.iterdir() if p.suffix in (".onnx", ".data", ".safetensors")] if path.is_dir() else [path]
    return sum(p.stat().st_size for p in files) / 2**20


def _table(results: list[dict]) -> str:
    reference = next((r for r in results if r["row"] == "reference"), None)
    header = (f"{'row':<18}{'model MiB':>10}{'load s':>8}{'score s':>9}{'tokens/s':>10}{'x ref':>7}"
              f"{'peak MiB':>10}{'max |err|':>11}")
    lines = [header, "-" * len(header)]
    for r in results:
        speedup = f"{r['tokens_per_s'] / reference['tokens_per_s']:.2f}" if reference else "-"
        error = f"{r['max_abs_error']:.2e}" if r.get("max_abs_error") is not None else "-"
        lines.append(f"{r['row']:<18}{r['model_mib']:>10.0f}{r['load_s']:>8.1f}{r['score_s']:>9.1f}{r['tokens_per_s']:>10.0f}"
                     f"{speedup:>7}{r['peak_rss_mib']:>10.0f}{error:>11}")
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["search"]:
        from tools.search_benchmark import main as search_main

        search_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description="Benchmark the scoring paths on a shape twin.")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--docs", type=int, default=32)
    parser.add_argument("--doc-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--out", type=Path, default=Path("bench-results/benchmark.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--documents", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
    results = []
    for row in args.rows.split(","):
        print(f"running {row} ...", file=sys.stderr)
        results.append(_run_row(row, files[row], documents_file, args.threads))
    reference = next((r for r in results if r["row"] == "reference"), None)
    for r in results:
        r["model_mib"] = sizes[r["row"]]
        r["max_abs_error"] = (float(np.max(np.abs(np.subtract(r["scores"], reference["scores"]))))
                              if reference and r is not reference else None)
    report = {
        "shape": args.shape, "documents": args.docs, "doc_tokens": args.doc_tokens, "threads": args.threads,
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor(), "python": platform.python_version()},
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{args.shape} shape twin, 1 query x {args.docs} documents of ~{args.doc_tokens} tokens, {args.threads} threads")
    print(_table(results))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
