"""Latency on a CUDA GPU, per format, on a shape twin of Qwen3-Reranker (issue 11, part 6).

One query against N documents of about T tokens each (default 100 x 256) on the 0.6B shape
twin; each row loads its model on the GPU, scores all N once to warm up, then times R more
full passes and reports the median (the time a caller waits for N scores):

  gguf-q8_0, gguf-f16, gguf-bf16   our GGUF backend on llama.cpp's CUDA backend, at each
                                   decode size in --batch-tokens (tokens per llama_decode)
  onnx-fp16, onnx-int8             our ONNX backend on onnxruntime's CUDA provider

A row whose runtime has no CUDA here is listed as skipped, with the reason. Errors are
against the reference (transformers, float32, the official recipe) on the same documents:
max |p - p_ref| and how many of the N x (N - 1) / 2 pairs are ordered differently.
Prints a table and writes JSON.

    python -m tools.gpu_benchmark [--shape 0.6b] [--docs 100] [--doc-tokens 256]
        [--batch-tokens 512,2048,8192] [--reference-scores FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from local_rerank.files import sha256_file
from tools.bench_documents import QUERY, make_documents
from tools.bench_report import write_report
from tools.twins import twin_checkpoint, twin_gguf, twin_onnx

GGUF_TYPES = ("q8_0", "f16", "bf16")
ONNX_TYPES = ("fp16", "int8")


def _gpu_name() -> str | None:
    from local_rerank.hardware import probe_hardware

    gpus = probe_hardware().gpus
    return gpus[0].name if gpus else None


def reference_scores(checkpoint: Path, documents: list[str]) -> list[float]:
    """The official recipe in float32 (transformers, on the CPU)."""
    from local_rerank.convert.reference import ReferenceScorer

    return list(map(float, ReferenceScorer(checkpoint).score(QUERY, documents)))


def gpu_memory_used_mib() -> int | None:
    """Memory in use on the first GPU, from the hardware probe's nvidia-smi reading (None without one)."""
    from local_rerank.hardware import probe_hardware

    gpus = probe_hardware().gpus
    return gpus[0].total_mib - gpus[0].free_mib if gpus else None


def time_row(backend_factory, documents: list[str], repeats: int) -> dict:
    """Load, warm up, then time ``repeats`` full passes over ``documents``."""
    from local_rerank import Reranker

    before = gpu_memory_used_mib()
    started = time.perf_counter()
    with Reranker(backend_factory()) as reranker:
        loaded = time.perf_counter()
        if reranker.info.device != "cuda":
            raise RuntimeError(f"the backend runs on {reranker.info.device}, not cuda")
        tokens = sum(len(p.ids) for p in reranker.prepare(QUERY, documents))
        scores = reranker.score(QUERY, documents)  # warm-up (and the scores compared)
        used = gpu_memory_used_mib()
        passes = []
        for _ in range(repeats):
            start = time.perf_counter()
            again = reranker.score(QUERY, documents)
            passes.append(time.perf_counter() - start)
    median = statistics.median(passes)
    return {
        "load_s": loaded - started, "median_ms": median * 1000, "best_ms": min(passes) * 1000,
        "prompt_tokens": tokens, "tokens_per_s": tokens / median, "scores": list(map(float, scores)),
        "repeat_max_abs_change": float(np.max(np.abs(np.subtract(again, scores)))),
        "gpu_mib": used - before if used is not None and before is not None else None,
    }


def swapped_pairs(scores: list[float], reference: list[float]) -> int:
    """How many document pairs the two score lists order differently (ties count as agreeing)."""
    a, b = np.asarray(scores), np.asarray(reference)
    upper = np.triu_indices(len(a), k=1)
    da, db = np.subtract.outer(a, a)[upper], np.subtract.outer(b, b)[upper]
    return int(np.sum(da * db < 0))


def rows(shape: str, batch_tokens: list[int], wanted: set[str]):
    """(name, decode tokens, factory or the reason it is skipped) for each row."""
    from local_rerank import BackendOptions
    from local_rerank.errors import LocalRerankError
    from local_rerank.hardware import probe_hardware

    probe = probe_hardware()  # never imports onnxruntime: beside llama.cpp's CUDA backend that crashed a process
    gguf_reason = (None if probe.llama_cpp_cuda else "llama-cpp-python built without CUDA" if probe.llama_cpp_installed
                   else "llama-cpp-python is not installed")
    for quant in GGUF_TYPES:
        if f"gguf-{quant}" not in wanted:
            continue
        if gguf_reason:
            yield f"gguf-{quant}", None, gguf_reason
            continue
        path = twin_gguf(shape, quant)
        for tokens in batch_tokens:
            def gguf_factory(path=path, tokens=tokens):
                from local_rerank.backends.gguf import GgufBackend

                return GgufBackend(path, BackendOptions(device="cuda", max_batch_tokens=tokens))
            yield f"gguf-{quant}", tokens, gguf_factory
    onnx_reason = (None if probe.onnxruntime_cuda else "onnxruntime has no CUDA provider (onnxruntime-gpu is not "
                   "installed)" if probe.onnxruntime_installed else "onnxruntime is not installed")
    for quant in ONNX_TYPES:
        if f"onnx-{quant}" not in wanted:
            continue
        if not onnx_reason:
            try:
                path = twin_onnx(shape, quant)
            except LocalRerankError as e:
                onnx_reason = f"no ONNX export: {e}"
        if onnx_reason:
            yield f"onnx-{quant}", None, onnx_reason
            continue

        def onnx_factory(path=path):
            from local_rerank.backends.onnx import OnnxBackend

            return OnnxBackend(path, BackendOptions(device="cuda"))
        yield f"onnx-{quant}", None, onnx_factory


def _table(results: list[dict]) -> str:
    header = (f"{'row':<12}{'decode':>8}{'load s':>8}{'median ms':>11}{'best ms':>9}{'tokens/s':>10}"
              f"{'GPU MiB':>9}{'max |err|':>11}{'swapped':>9}")
    lines = [header, "-" * len(header)]
    for r in results:
        if "skipped" in r:
            lines.append(f"{r['row']:<12}  skipped: {r['skipped']}")
            continue
        error = f"{r['max_abs_error']:.2e}" if r.get("max_abs_error") is not None else "-"
        swapped = str(r["swapped_pairs"]) if r.get("swapped_pairs") is not None else "-"
        memory = str(r["gpu_mib"]) if r["gpu_mib"] is not None else "-"
        lines.append(f"{r['row']:<12}{r['batch_tokens'] or '-':>8}{r['load_s']:>8.1f}{r['median_ms']:>11.1f}"
                     f"{r['best_ms']:>9.1f}{r['tokens_per_s']:>10.0f}{memory:>9}{error:>11}{swapped:>9}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="GPU latency per format on a shape twin.")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--doc-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-tokens", default="512,2048,8192",
                        help="comma-separated decode sizes for the GGUF rows (tokens per llama_decode)")
    parser.add_argument("--rows",
                        default=",".join([f"gguf-{q}" for q in GGUF_TYPES] + [f"onnx-{q}" for q in ONNX_TYPES]))
    parser.add_argument("--reference-scores", type=Path,
                        help="a JSON report of an earlier run on the same twin and documents: reuse its reference")
    parser.add_argument("--out", type=Path, default=Path("bench-results/gpu.json"))
    args = parser.parse_args(argv)

    checkpoint = twin_checkpoint(args.shape)
    documents = make_documents(checkpoint / "tokenizer.json", args.docs, args.doc_tokens)
    digest = sha256_file(checkpoint / "model.safetensors")
    planned = list(rows(args.shape, [int(t) for t in args.batch_tokens.split(",")], set(args.rows.split(","))))
    runnable = any(not isinstance(factory, str) for _, _, factory in planned)
    reference = None
    if args.reference_scores and runnable:
        earlier = json.loads(args.reference_scores.read_text())
        if earlier.get("documents_text") == documents and earlier.get("checkpoint_sha256") == digest:
            reference = earlier["reference_scores"]
        else:
            print("the reference file was made for another twin or other documents: computing the reference",
                  file=sys.stderr)
    if reference is None and runnable:  # nothing to compare when every row is skipped
        print("computing the reference (transformers, float32, CPU) ...", file=sys.stderr)
        reference = reference_scores(checkpoint, documents)
    report = {"shape": args.shape, "documents": args.docs, "doc_tokens": args.doc_tokens, "repeats": args.repeats,
              "gpu": _gpu_name(), "checkpoint_sha256": digest, "reference_scores": reference,
              "documents_text": documents, "results": []}
    results = report["results"]
    for name, tokens, factory in planned:
        if isinstance(factory, str):
            results.append({"row": name, "skipped": factory})
            continue
        assert reference is not None  # computed above whenever a row can run
        print(f"running {name} {tokens or ''} ...", file=sys.stderr)
        try:
            result = time_row(factory, documents, args.repeats)
        except Exception as e:  # a row that fails is reported, the others still run
            results.append({"row": name, "batch_tokens": tokens, "skipped": f"failed: {type(e).__name__}: {e}"})
            continue
        result.update(row=name, batch_tokens=tokens,
                      max_abs_error=float(np.max(np.abs(np.subtract(result["scores"], reference)))),
                      swapped_pairs=swapped_pairs(result["scores"], reference))
        results.append(result)
        write_report(args.out, report)  # after each row: what was measured survives a crash
    write_report(args.out, report)
    print(f"{args.shape} shape twin on {report['gpu'] or 'no GPU'}: 1 query x {args.docs} documents of "
          f"~{args.doc_tokens} tokens, median of {args.repeats} passes")
    print(_table(results))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
