"""Folder search speed: indexing throughput and query latency on a generated folder.

A folder of N files (default 10,000: Markdown, text, Python and HTML, 100 to 1,500 words of
real English drawn from the Python standard library's docstrings with their own word
frequencies) is indexed cold, again unchanged, and again after 1% of the files changed. Then
queries (four words taken from a random file) run through the lexical stage (target: under
150 ms, so results are on screen within 150 ms of Enter), and a few through reranking on a
shape twin (random weights, real architecture: it costs what the real model costs), first
scored, then repeated from the score cache.

    python -m tools.benchmark search [--files 10000] [--shape 0.6b] [--rerank-queries 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import statistics
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from local_rerank.search import FolderIndex, SearchFinished, SearchRequest
from local_rerank.search.pipeline import CPU_CANDIDATES, RerankProgress, lexical_stage, rerank_stage
from tools.bench_report import write_report
from tools.twins import twin_gguf

LEXICAL_TARGET_MS = 150.0


def english_vocabulary() -> tuple[list[str], np.ndarray]:
    """Words of the standard library's docstrings and their relative frequencies."""
    counts: Counter[str] = Counter()
    for source in Path(sysconfig.get_paths()["stdlib"]).glob("*.py"):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
                counts.update(re.findall(r"[a-z]{2,}", ast.get_docstring(node).lower()))  # type: ignore[union-attr]
    words = sorted(counts)
    frequencies = np.array([counts[w] for w in words], dtype=np.float64)
    return words, frequencies / frequencies.sum()


def generate_folder(folder: Path, count: int, seed: int = 0) -> int:
    """Write ``count`` files of mixed kinds into ``folder``; returns the bytes written."""
    words, p = english_vocabulary()
    vocabulary, cumulative = np.array(words), np.cumsum(p)
    rng = np.random.default_rng(seed)

    def draw(size: int) -> str:
        return " ".join(vocabulary[np.minimum(np.searchsorted(cumulative, rng.random(size)), len(words) - 1)])

    written = 0
    for i in range(count):
        paragraphs = [draw(int(rng.integers(20, 90))) for _ in range(rng.integers(2, 18))]
        title = draw(4)
        kind = ("md", "txt", "py", "html")[int(rng.choice(4, p=[0.4, 0.3, 0.2, 0.1]))]
        text = _render(kind, title, paragraphs)
        path = folder / f"d{i // 500:02}" / f"file{i:05}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += len(text.encode())
    return written


def _render(kind: str, title: str, paragraphs: list[str]) -> str:
    if kind == "md":
        return f"# {title}\n\n" + "\n\n".join(
            (f"## {p.split()[0]}\n\n{p}" if j % 3 == 2 else p) for j, p in enumerate(paragraphs)) + "\n"
    if kind == "py":
        return "\n\n".join(f'def {title.split()[0]}_{j}(value):\n    """{p}"""\n    return value'
                           for j, p in enumerate(paragraphs)) + "\n"
    if kind == "html":
        return f"<html><body><h1>{title}</h1>\n" + "\n".join(f"<p>{p}</p>" for p in paragraphs) + "\n</body></html>\n"
    return f"{title}\n\n" + "\n\n".join(paragraphs) + "\n"


def sample_queries(folder: Path, count: int, seed: int = 1) -> list[str]:
    """Four consecutive words from random files."""
    rng = np.random.default_rng(seed)
    files = sorted(folder.rglob("*.*"))
    queries = []
    for _ in range(count):
        found = re.findall(r"[a-z]{2,}", files[rng.integers(len(files))].read_text().lower())
        start = int(rng.integers(max(len(found) - 4, 1)))
        queries.append(" ".join(found[start:start + 4]))
    return queries


def measure_indexing(folder: Path, cache: Path) -> tuple[FolderIndex, dict]:
    index = FolderIndex.open(folder, cache=cache)
    size_mib = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    cold = index.update()
    unchanged = index.update()
    changed = sorted(folder.rglob("*.md"))[: max(cold.files // 100, 1)]
    for path in changed:
        path.write_text(path.read_text() + "\nOne more line about the harbour crane.\n")
    after_change = index.update()
    return index, {
        "files": cold.files, "passages": cold.passages, "size_mib": round(size_mib, 1),
        "cold_s": cold.seconds, "files_per_s": cold.files / cold.seconds, "mib_per_s": size_mib / cold.seconds,
        "unchanged_s": unchanged.seconds, "changed_files": len(changed), "changed_s": after_change.seconds,
        "database_mib": index.database.stat().st_size / 2**20,
    }


def measure_lexical(index: FolderIndex, queries: list[str], candidates: int) -> dict:
    lexical_stage(index, SearchRequest(queries[0], candidates=candidates))  # warm the page cache
    times = [lexical_stage(index, SearchRequest(q, candidates=candidates)).seconds * 1000 for q in queries]
    ordered = sorted(times)
    return {"candidates": candidates, "queries": len(queries), "p50_ms": statistics.median(times),
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))], "max_ms": ordered[-1]}


def measure_rerank(index: FolderIndex, queries: list[str], model: Path, threads: int) -> dict:
    from local_rerank.backends import BackendOptions
    from local_rerank.reranker import Reranker

    first_batch, total, cached = [], [], []
    with Reranker.load(model, options=BackendOptions(device="cpu", threads=threads)) as reranker:
        for query in queries:
            request = SearchRequest(query, candidates=CPU_CANDIDATES)
            hits = lexical_stage(index, request).hits
            started = time.perf_counter()
            events = rerank_stage(index, hits, request, reranker)
            next(event for event in events if isinstance(event, RerankProgress))
            first_batch.append(time.perf_counter() - started)
            list(events)  # the remaining batches
            total.append(time.perf_counter() - started)
            started = time.perf_counter()
            final = list(rerank_stage(index, hits, request, reranker))[-1]
            assert isinstance(final, SearchFinished) and final.cached == len(hits)
            cached.append(time.perf_counter() - started)
    return {"model": str(model), "candidates": CPU_CANDIDATES, "queries": len(queries),
            "first_batch_s": statistics.median(first_batch), "all_s": statistics.median(total),
            "cached_ms": statistics.median(cached) * 1000}


def table(report: dict) -> str:
    i, lx, rr = report["indexing"], report["lexical"], report.get("rerank")
    rows = [
        ("index, cold", f"{i['cold_s']:.1f} s", f"{i['files_per_s']:.0f} files/s, {i['mib_per_s']:.1f} MiB/s"),
        ("index, unchanged", f"{i['unchanged_s']:.2f} s", f"{i['cold_s'] / i['unchanged_s']:.0f}x faster than cold"),
        (f"index, {i['changed_files']} changed", f"{i['changed_s']:.2f} s",
         f"{i['cold_s'] / i['changed_s']:.0f}x faster than cold"),
    ]
    for lexical in lx:
        rows.append((f"lexical, {lexical['candidates']} candidates", f"p50 {lexical['p50_ms']:.0f} ms",
                     f"p95 {lexical['p95_ms']:.0f} ms = {lexical['p95_ms'] / LEXICAL_TARGET_MS:.2f}x the "
                     f"{LEXICAL_TARGET_MS:.0f} ms target"))
    if rr:
        rows.append((f"rerank {rr['candidates']} ({report['shape']} {report['quant']} twin)", f"{rr['all_s']:.1f} s",
                     f"first batch {rr['first_batch_s']:.1f} s; repeat from cache {rr['cached_ms']:.0f} ms"))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:>12}  {note}" for name, value, note in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.benchmark search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--shape", default="0.6b", help="shape twin for reranking: tiny, 0.6b, 4b, 8b")
    parser.add_argument("--quant", default="q8_0", choices=("q8_0", "bf16", "f16"), help="GGUF weight type of the twin")
    parser.add_argument("--rerank-queries", type=int, default=3, help="0 skips reranking")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=Path("bench-results/search.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="search-bench-") as scratch:
        folder, cache = Path(scratch) / "folder", Path(scratch) / "cache"
        folder.mkdir()
        print(f"generating {args.files} files ...", flush=True)
        generate_folder(folder, args.files)
        index, indexing = measure_indexing(folder, cache)
        queries = sample_queries(folder, args.queries)
        lexical = [measure_lexical(index, queries, n) for n in (CPU_CANDIDATES, 100)]
        rerank = (measure_rerank(index, queries[:args.rerank_queries], twin_gguf(args.shape, args.quant), args.threads)
                  if args.rerank_queries else None)
    report = {"files": args.files, "shape": args.shape, "quant": args.quant, "threads": args.threads,
              "indexing": indexing, "lexical": lexical, "rerank": rerank}
    write_report(args.out, report)
    print(f"{args.files} generated files ({indexing['size_mib']} MiB, {indexing['passages']} passages), "
          f"{args.threads} threads")
    print(table(report))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
