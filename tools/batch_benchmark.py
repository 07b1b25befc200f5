"""Throughput of `local-rerank batch`: 1 and 2 workers, locally and on a local Ray runtime.

Each row runs the command as a user would (a new process: start-up, model load and, with
--ray, starting Ray included) on a small and a large job of (query, document) pairs of
about T tokens each, 8 documents per query, with the 0.6B shape twin (random weights, real
architecture and tokenizer: it costs what the real model costs). From the two wall times:

  rate      (large - small pairs) / (large - small seconds): pairs/s once running
  overhead  small seconds - small pairs / rate: the fixed cost of a run (start-up, load, Ray)
  x 1       rate / the same runner's 1-worker rate: the scaling ratio

    python -m tools.batch_benchmark [--shape 0.6b | --model FILE] [--small 8] [--large 64]
                                    [--doc-tokens 128] [--out bench-results/batch.json]

Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.bench_documents import QUERY, make_documents
from tools.bench_report import write_report
from tools.tokenizer_fixture import qwen3_tokenizer_dir
from tools.twins import twin_gguf

ROWS = (("local", 1), ("local", 2), ("ray", 1), ("ray", 2))
DOCS_PER_QUERY = 8


@dataclass(frozen=True)
class Row:
    """One runner and worker count: wall times of both jobs, and what follows from them."""

    runner: str
    workers: int
    small_s: float
    large_s: float
    rate: float
    overhead_s: float
    end_to_end: float


def write_pairs(path: Path, count: int, doc_tokens: int) -> Path:
    """``count`` pair rows as JSONL, ``DOCS_PER_QUERY`` documents per query."""
    documents = make_documents(qwen3_tokenizer_dir() / "tokenizer.json", count, doc_tokens)
    rows = [{"id": i, "query": f"{QUERY} ({i // DOCS_PER_QUERY})", "document": document}
            for i, document in enumerate(documents)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def timed_run(source: Path, output: Path, model: Path, runner: str, workers: int, shard_rows: int) -> float:
    """Wall seconds of one `local-rerank batch` run."""
    command = [sys.executable, "-m", "local_rerank", "batch", str(source), str(output), "--model", str(model),
               "--device", "cpu", "--workers", str(workers), "--shard-rows", str(shard_rows)]
    started = time.perf_counter()
    result = subprocess.run(command + (["--ray"] if runner == "ray" else []), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{runner} x{workers} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def measure(folder: Path, model: Path, small: int, large: int, doc_tokens: int) -> list[Row]:
    """Every row of :data:`ROWS`, each on the small job and then the large one."""
    jobs = {size: write_pairs(folder / f"pairs-{size}.jsonl", size, doc_tokens) for size in (small, large)}
    rows: list[Row] = []
    for runner, workers in ROWS:
        print(f"running {runner} x{workers} ...", file=sys.stderr)
        seconds = {size: timed_run(source, folder / f"out-{runner}-{workers}-{size}", model, runner, workers,
                                   max(1, size // 8)) for size, source in jobs.items()}
        rate = (large - small) / max(seconds[large] - seconds[small], 1e-6)
        rows.append(Row(runner, workers, seconds[small], seconds[large], rate, seconds[small] - small / rate,
                        large / seconds[large]))
    return rows


def table(rows: list[Row], small: int, large: int) -> str:
    """The rows as text, with each runner's scaling ratio against its own 1-worker row."""
    header = (f"{'runner':<8}{'workers':>8}{f'{small} pairs s':>15}{f'{large} pairs s':>15}{'pairs/s':>9}"
              f"{'x 1':>6}{'overhead s':>12}{'end-to-end/s':>14}")
    lines = [header, "-" * len(header)]
    for row in rows:
        one = next(r for r in rows if r.runner == row.runner and r.workers == 1)
        lines.append(f"{row.runner:<8}{row.workers:>8}{row.small_s:>15.1f}{row.large_s:>15.1f}{row.rate:>9.2f}"
                     f"{row.rate / one.rate:>6.2f}{row.overhead_s:>12.1f}{row.end_to_end:>14.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark `local-rerank batch`, locally and on Ray.")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--model", type=Path, help="A Q8_0 GGUF to use instead of building the shape twin.")
    parser.add_argument("--small", type=int, default=8)
    parser.add_argument("--large", type=int, default=64)
    parser.add_argument("--doc-tokens", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("bench-results/batch.json"))
    args = parser.parse_args()
    model = args.model or twin_gguf(args.shape)
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as folder:
        rows = measure(Path(folder), model, args.small, args.large, args.doc_tokens)
    cores = len(os.sched_getaffinity(0))
    report = {"model": str(model), "small": args.small, "large": args.large, "doc_tokens": args.doc_tokens,
              "docs_per_query": DOCS_PER_QUERY, "cores": cores, "rows": [asdict(row) for row in rows]}
    write_report(args.out, report)
    print(f"{model.name}, pairs of ~{args.doc_tokens}-token documents, {DOCS_PER_QUERY} per query, {cores} cores")
    print(table(rows, args.small, args.large))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
