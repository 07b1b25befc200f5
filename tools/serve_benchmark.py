"""Throughput and latency of `local-rerank serve` with 1, 8 and 32 concurrent clients.

The same requests (each one query against D documents of about T tokens) are sent by one
client one by one, then by 8 and by 32 clients at once, to a server in its own process over
the 0.6B shape twin (random weights, real architecture and tokenizer: it costs what the real
model costs). A last row sends them from 32 clients to a server whose queue never packs two
requests together: the difference from the row above is the gain from cross-request batching.

    python -m tools.serve_benchmark [--shape 0.6b | --model FILE] [--requests 32] [--docs 4]
                                    [--doc-tokens 64] [--out bench-results/serve.json]

Prints a table and writes JSON. llama-server is not compared: llama-cpp-python's bundled server
has no rerank endpoint, and no llama-server binary can be installed here.
"""

from __future__ import annotations

import argparse
import os
import queue as queues
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from tools.bench_documents import QUERY, make_documents
from tools.bench_report import write_report
from tools.tokenizer_fixture import qwen3_tokenizer_dir
from tools.twins import twin_gguf

ROWS = (("one by one", 1, True), ("8 clients", 8, True), ("32 clients", 32, True),
        ("32 clients, no packing", 32, False))


@dataclass(frozen=True)
class Row:
    """One measured row: who sent, how fast it went."""

    name: str
    clients: int
    packing: bool
    requests: int
    seconds: float
    requests_per_s: float
    documents_per_s: float
    p50_ms: float
    p95_ms: float


def serve_worker(model: Path, packing: bool, threads: int) -> None:
    """Serve ``model`` on a free port of 127.0.0.1 (this process); prints ``ready URL`` when listening."""
    from local_rerank import BackendOptions, Reranker
    from local_rerank.scoring_queue import ScoringQueue
    from local_rerank.serve.app import create_app
    from local_rerank.serve.runner import address, bind, serve

    sock = bind("127.0.0.1", 0)
    with Reranker.load(model, options=BackendOptions(device="cpu", threads=threads)) as reranker:
        pack = {} if packing else {"pack_tokens": 1, "pack_sequences": 1}  # one request per backend call
        with ScoringQueue(reranker, **pack) as scoring:  # type: ignore[arg-type]
            print(f"ready {address(sock)}", flush=True)
            serve(create_app(scoring), sock)


def _start_server(model: Path, packing: bool, threads: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "tools.serve_benchmark", "--serve", str(model), "--threads", str(threads)]
    process = subprocess.Popen(command + ([] if packing else ["--no-packing"]), stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("ready "):
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, line.split()[1]


def _run(url: str, requests: list[dict[str, Any]], clients: int) -> tuple[float, list[float]]:
    """Send every request from ``clients`` threads; the wall time and each request's latency."""
    work: queues.Queue[dict[str, Any]] = queues.Queue()
    for request in requests:
        work.put(request)
    latencies: list[float] = []

    def client() -> None:
        with httpx.Client(base_url=url, timeout=3600) as http:
            while True:
                try:
                    request = work.get_nowait()
                except queues.Empty:
                    return
                started = time.perf_counter()
                http.post("/v1/rerank", json=request).raise_for_status()
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def _row(name: str, clients: int, packing: bool, requests: list[dict[str, Any]], seconds: float,
         latencies: list[float]) -> Row:
    documents = sum(len(request["documents"]) for request in requests)
    cuts = statistics.quantiles(latencies, n=20, method="inclusive")
    return Row(name, clients, packing, len(requests), seconds, len(requests) / seconds, documents / seconds,
               statistics.median(latencies) * 1000, cuts[18] * 1000)


def _table(rows: list[Row]) -> str:
    header = f"{'row':<24}{'req/s':>8}{'docs/s':>8}{'x 1 by 1':>9}{'p50 ms':>9}{'p95 ms':>9}{'total s':>9}"
    lines = [header, "-" * len(header)]
    for row in rows:
        gain = row.requests_per_s / rows[0].requests_per_s
        lines.append(f"{row.name:<24}{row.requests_per_s:>8.2f}{row.documents_per_s:>8.1f}{gain:>9.2f}"
                     f"{row.p50_ms:>9.0f}{row.p95_ms:>9.0f}{row.seconds:>9.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark `local-rerank serve` under concurrent clients.")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--model", type=Path, help="A Q8_0 GGUF to use instead of the shape twin.")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--docs", type=int, default=4)
    parser.add_argument("--doc-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=Path("bench-results/serve.json"))
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-packing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_worker(args.serve, not args.no_packing, args.threads)
        return

    model = args.model or twin_gguf(args.shape)
    pool = make_documents(qwen3_tokenizer_dir() / "tokenizer.json", args.requests + args.docs, args.doc_tokens)
    requests: list[dict[str, Any]] = [{"query": f"{QUERY} ({n})", "documents": pool[n:n + args.docs]}
                                         for n in range(args.requests)]
    rows = []
    for packing in (True, False):
        process, url = _start_server(model, packing, args.threads)
        try:
            httpx.post(f"{url}/v1/rerank", json=requests[0], timeout=3600).raise_for_status()  # warm-up
            for name, clients, packs in ROWS:
                if packs == packing:
                    print(f"running {name} ...", file=sys.stderr)
                    rows.append(_row(name, clients, packing, requests, *_run(url, requests, clients)))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    report = {"model": str(model), "shape": None if args.model else args.shape, "requests": args.requests,
              "docs": args.docs, "doc_tokens": args.doc_tokens, "threads": args.threads,
              "rows": [asdict(row) for row in rows]}
    write_report(args.out, report)
    print(f"{model.name}: {args.requests} requests of 1 query x {args.docs} documents of ~{args.doc_tokens} tokens, "
          f"{args.threads} threads")
    print(_table(rows))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
