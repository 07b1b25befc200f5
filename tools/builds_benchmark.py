"""llama.cpp builds side by side: the portable build `make setup` makes against a native one.

Each build is a llama-cpp-python wheel, unpacked into a folder of its own and put first on the
path of a benchmark worker (:func:`tools.bench_worker.run_worker`: our GGUF backend, one query x N
documents on a shape twin). Rows alternate A B A B for ``--rounds`` rounds and the medians are
compared as ratios to the first build. ``portable, repacks off`` is the portable build with
llama.cpp's repacked weight buffers off (``use_extra_bufts``: what a build with AMX needs on an
AMX CPU, see local_rerank/backends/llama_kernels.py), to show what that costs here.

    python -m tools.benchmark builds --build native=A.whl --build portable=B.whl [--repacks-off] [--types q8_0,bf16]

(`make setup` keeps its portable wheel in ~/.cache/local-rerank-build/.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tools.bench_documents import make_documents
from tools.bench_report import write_report
from tools.bench_worker import run_worker as benchmark_worker
from tools.twins import twin_checkpoint, twin_gguf

REPACKS_OFF = "repacks off"


def unpack(wheel: Path, folder: Path) -> Path:
    """The wheel's files under ``folder`` (an importable site folder)."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    for library in folder.rglob("*.so"):
        library.chmod(0o755)
    return folder


def run_worker(quant: str, model: Path, documents: list[str], threads: int, repack: bool) -> dict:
    """Score with whatever llama_cpp is first on the path; report speed and the kernels it ran."""
    from local_rerank.backends import gguf

    gguf._llama_cpp()
    if not repack:  # the switch a build with AMX gets on an AMX CPU
        from dataclasses import replace

        gguf._kernels = replace(gguf._kernels, repack=False) if gguf._kernels else None
    result = benchmark_worker(f"gguf-{quant}", model, documents, threads)
    result["kernels"] = gguf._kernels.describe() if gguf._kernels else "unknown"
    return result


def _run(site: Path, quant: str, model: Path, documents_file: Path, threads: int, repack: bool) -> dict:
    command = [sys.executable, "-m", "tools.builds_benchmark", "--worker", quant, "--model", str(model),
               "--documents", str(documents_file), "--threads", str(threads), *([] if repack else ["--no-repack"])]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(root)])}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{site.name} {quant} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    header = f"{'build':<26}{'type':<7}{'tokens/s':>10}{'x first':>9}  kernels"
    lines = [header, "-" * 100]
    for row in rows:
        lines.append(f"{row['build']:<26}{row['type']:<7}{row['tokens_per_s']:>10.0f}{row['ratio']:>9.2f}  "
                     f"{row['kernels']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compare llama-cpp-python builds side by side.")
    parser.add_argument("--build", action="append", default=[], metavar="NAME=WHEEL",
                        help="a build to compare (repeat; the first is the baseline)")
    parser.add_argument("--repacks-off", action="store_true",
                        help="also run the last build with repacked weight buffers off")
    parser.add_argument("--shape", default="0.6b")
    parser.add_argument("--types", default="q8_0,bf16")
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--doc-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results/builds.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--documents", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-repack", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        documents = json.loads(args.documents.read_text())
        print(json.dumps(run_worker(args.worker, args.model, documents, args.threads, not args.no_repack)))
        return
    builds = [entry.split("=", 1) for entry in args.build]
    if not builds or any(len(entry) != 2 or not Path(entry[1]).is_file() for entry in builds):
        parser.error("give each build as NAME=WHEEL, an existing llama-cpp-python wheel")

    checkpoint = twin_checkpoint(args.shape)
    documents = make_documents(checkpoint / "tokenizer.json", args.docs, args.doc_tokens)
    models = {quant: twin_gguf(args.shape, quant) for quant in args.types.split(",")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    documents_file = args.out.with_suffix(".documents.json")
    documents_file.write_text(json.dumps(documents))
    with tempfile.TemporaryDirectory() as scratch:
        sites = {name: unpack(Path(wheel), Path(scratch) / name) for name, wheel in builds}
        plan = [(name, True) for name in sites]
        if args.repacks_off:
            plan.append((builds[-1][0], False))
        speeds: dict[tuple[str, bool, str], list[float]] = {}
        kernels: dict[tuple[str, bool, str], str] = {}
        for round_ in range(args.rounds):
            for quant, model in models.items():
                for name, repack in plan:
                    print(f"round {round_ + 1}: {name}{'' if repack else ', ' + REPACKS_OFF} {quant} ...",
                          file=sys.stderr)
                    result = _run(sites[name], quant, model, documents_file, args.threads, repack)
                    speeds.setdefault((name, repack, quant), []).append(result["tokens_per_s"])
                    kernels[name, repack, quant] = result["kernels"]
    rows = []
    for quant in models:
        first = statistics.median(speeds[plan[0][0], True, quant])
        for name, repack in plan:
            median = statistics.median(speeds[name, repack, quant])
            rows.append({"build": name + ("" if repack else f", {REPACKS_OFF}"), "type": quant,
                         "tokens_per_s": median, "runs": speeds[name, repack, quant], "ratio": median / first,
                         "kernels": kernels[name, repack, quant]})
    report = {"shape": args.shape, "documents": args.docs, "doc_tokens": args.doc_tokens, "threads": args.threads,
              "rounds": args.rounds, "builds": dict(builds), "rows": rows}
    write_report(args.out, report)
    print(f"{args.shape} shape twin, 1 query x {args.docs} documents of ~{args.doc_tokens} tokens, "
          f"{args.threads} threads, median of {args.rounds} alternating rounds")
    print(_table(rows))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
