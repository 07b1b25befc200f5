"""``local-rerank convert``: export a Hugging Face checkpoint to a GGUF file or an ONNX or OpenVINO folder."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from local_rerank.convert.pipeline import convert_checkpoint
from local_rerank.manifest import manifest_path
from local_rerank.text import printable


@click.command("convert")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["gguf", "onnx", "openvino"]), default="gguf", show_default=True)
@click.option("--quant", help="GGUF: q8_0 (INT8, default), f32, f16, bf16, or a llama.cpp type such as q4_k_m, "
                              "q6_k. ONNX: int8 (8-bit weights, default), int8-a8 (and 8-bit activations), fp32, fp16, "
                              "int8-dynamic, int4. OpenVINO: int8 (8-bit weights in groups of 32, "
                              "8-bit activations on VNNI CPUs; "
                              "default), bf16 (bf16 weights; bf16 products on AVX512-BF16/AMX CPUs), fp32.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="The file (GGUF) or folder (ONNX, OpenVINO) to write.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--no-parity", is_flag=True, help="Skip the parity check against the float32 reference.")
def convert(checkpoint: Path, fmt: str, quant: str | None, out: Path, force: bool, no_parity: bool) -> None:
    """Export a Hugging Face Qwen3-Reranker CHECKPOINT folder to a model file."""
    with _progress_bar(f"converting to {fmt}") as progress:
        manifest = convert_checkpoint(checkpoint, out, fmt=fmt, quant=quant, force=force,
                                      check_parity=not no_parity, progress=progress)
    click.echo(_written(out, manifest))
    click.echo(f"{_parity_verdict(manifest['parity'])}; manifest {printable(str(manifest_path(out)))}")


def _parity_verdict(parity: dict[str, Any]) -> str:
    """The parity report of a conversion that was kept, in one line."""
    if "skipped" in parity:
        return f"parity: skipped ({parity['skipped']})"
    if parity.get("faithful", True):
        return f"parity: max error {parity['max_abs_error']:.4f} <= {parity['tolerance']:.3g}, no rank inversions"
    return (f"parity: max error {parity['max_abs_error']:.4f}, within {parity['tolerance']:.3g} (this format reaches "
            f"{parity['format_reach']:.4f} on this model) but beyond its fidelity bar {parity['fidelity_bar']:.3g}: "
            "faithful models are chosen before it")


def _written(out: Path, manifest: dict[str, Any]) -> str:
    """What ``convert`` wrote: a GGUF file with its sha256, or an export folder with its file count."""
    size = f"{manifest['size_bytes'] / 2**20:.1f} MiB"
    if manifest["sha256"] is None:  # a folder: each file's sha256 is in the manifest
        return f"wrote {printable(str(out))}/ ({size} in {len(manifest['files'])} files)"
    return f"wrote {printable(str(out))} ({size}, sha256 {manifest['sha256'][:16]}…)"


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing a bar on an interactive stderr; None otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        def progress(name: str, done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        yield progress
