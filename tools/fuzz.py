"""Coverage-guided fuzzing (atheris, libFuzzer for Python) of the parsers of files users bring from
anywhere: our GGUF header reader and the model validation behind it, and the Office, EPUB, RTF,
e-mail and HTML readers.

Each target starts from seed files made here (a small GGUF with every kind of metadata; the
documents the tests write) and mutates them for ``--runs`` executions. A target may refuse its
input only with its documented errors (``ValueError``/``OSError``/``ModelError`` for GGUF,
``NotIndexable`` for documents); anything else is a crash: atheris stops, and the input is
written to ``--crashes`` to become a regression test. Prints a table and writes JSON.

    python -m tools.fuzz [--targets gguf,docx,...] [--runs 2000] [--out bench-results/fuzz.json]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tools.bench_report import write_report

TARGETS = ("gguf", "docx", "pptx", "xlsx", "odt", "epub", "rtf", "eml", "html")


def gguf_seed(path: Path) -> Path:
    """A small GGUF holding every metadata type the format has (nested arrays too) and two tensors."""
    import gguf

    writer = gguf.GGUFWriter(path, "qwen3")
    writer.add_name("seed")
    writer.add_uint32("qwen3.block_count", 2)
    writer.add_float32("qwen3.rope.freq_base", 1e6)
    writer.add_bool("seed.flag", True)
    writer.add_int64("seed.big", -2**40)
    writer.add_array("tokenizer.ggml.tokens", ["yes", "no", "<|im_start|>"])
    writer.add_array("seed.nested", [[1, 2], [3]])
    writer.add_tensor("token_embd.weight", np.ones((3, 32), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def document_seeds(folder: Path) -> dict[str, Path]:
    """One document of each kind, as the tests write them (python-docx and python-pptx needed)."""
    from tests.search import office_files

    seeds = {}
    for kind in ("docx", "pptx", "xlsx", "odt", "epub", "eml"):
        seeds[kind] = folder / f"seed.{kind}"
        getattr(office_files, f"write_{kind}")(seeds[kind])
    seeds["rtf"] = folder / "seed.rtf"
    seeds["rtf"].write_text(r"{\rtf1\ansi{\fonttbl\f0 Arial;}\f0\b Garden\b0\par Tomatoes need {\i sun}.\par}")
    seeds["html"] = folder / "seed.html"
    seeds["html"].write_text("<html><head><title>t</title><script>x<y</script></head><body><h1>Garden</h1>"
                             "<p>Tomatoes &amp; sun<br>water</p><!-- c --><pre>a\n b</pre></body></html>")
    return seeds


def check_gguf(data: bytes, scratch: Path) -> None:
    """Read the header and validate the model as `rank` does; only the documented errors may escape."""
    from local_rerank.errors import ModelError
    from local_rerank.gguf_file import read_gguf_model
    from local_rerank.gguf_reader import read_header

    path = scratch / "input.gguf"
    path.write_bytes(data)
    try:
        read_header(path)
    except (ValueError, OSError):
        return
    try:
        read_gguf_model(path)
    except ModelError:
        pass


def check_document(kind: str, data: bytes) -> None:
    """Extract a document's blocks; only NotIndexable may escape."""
    from local_rerank.search.blocks import NotIndexable
    from local_rerank.search.extract import extract

    try:
        for block in extract(f"input.{kind}", data).blocks:
            assert block.start_line >= 1 and block.end_line >= block.start_line, block
    except NotIndexable:
        pass


def run_target(target: str, seed: Path, runs: int, crashes: Path) -> None:
    """Fuzz one target in this process (atheris takes over the process: run it in a child)."""
    import atheris

    with atheris.instrument_imports():
        import local_rerank.gguf_file  # noqa: F401
        import local_rerank.gguf_reader  # noqa: F401
        import local_rerank.search.extract  # noqa: F401
        import local_rerank.search.office  # noqa: F401
    scratch = Path(tempfile.mkdtemp(prefix="fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # atheris ends the process with exit()
    one: Callable[[bytes], None] = ((lambda data: check_gguf(data, scratch)) if target == "gguf"
                                    else (lambda data: check_document(target, data)))
    corpus = scratch / "corpus"
    corpus.mkdir()
    (corpus / seed.name).write_bytes(seed.read_bytes())
    crashes.mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-artifact_prefix={crashes}/{target}-", "-max_len=65536",
                   "-rss_limit_mb=4096", "-timeout=20", str(corpus)], one)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fuzz the file parsers with atheris.")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--runs", type=int, default=2000, help="executions per target")
    parser.add_argument("--crashes", type=Path, default=Path("bench-results/fuzz-crashes"))
    parser.add_argument("--out", type=Path, default=Path("bench-results/fuzz.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_target(args.worker, args.seed, args.runs, args.crashes)
        return
    targets = args.targets.split(",")
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {', '.join(sorted(unknown))}; from {', '.join(TARGETS)}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        seeds = document_seeds(Path(folder))
        seeds["gguf"] = gguf_seed(Path(folder) / "seed.gguf")
        for target in targets:
            started = time.perf_counter()
            command = [sys.executable, "-m", "tools.fuzz", "--worker", target, "--seed", str(seeds[target]),
                       "--runs", str(args.runs), "--crashes", str(args.crashes)]
            result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
            seconds = time.perf_counter() - started
            done = [line for line in result.stderr.splitlines() if line.startswith("Done ")]
            executions = int(done[-1].split()[1]) if done else 0
            rows.append({"target": target, "executions": executions, "seconds": round(seconds, 1),
                         "crashed": result.returncode != 0,
                         "detail": "" if result.returncode == 0 else result.stderr[-1500:]})
            print(f"{target:<6}{executions:>9} runs {seconds:>7.1f} s  {'CRASH' if result.returncode else 'ok'}",
                  file=sys.stderr)
    write_report(args.out, {"runs_per_target": args.runs, "rows": rows})
    print(f"{'target':<8}{'executions':>11}{'seconds':>9}  result")
    for row in rows:
        print(f"{row['target']:<8}{row['executions']:>11}{row['seconds']:>9}  {'CRASH' if row['crashed'] else 'ok'}")
    crashed = [row for row in rows if row["crashed"]]
    for row in crashed:
        print(f"\n{row['target']} crashed:\n{row['detail']}", file=sys.stderr)
    raise SystemExit(1 if crashed else 0)


if __name__ == "__main__":
    main()
