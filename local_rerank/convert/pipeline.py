"""``local-rerank convert``: export, parity check, manifest, and a safe move into place.

The new file (GGUF) or folder (ONNX, OpenVINO) is written beside its destination under a temporary
name, checked against the float32 reference when torch and transformers are installed,
and only then moved to the destination. A model that fails its parity check is kept as
``<out>.rejected`` (with its manifest) for inspection, and the conversion raises. Nothing
is replaced without ``force``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from local_rerank.convert.gguf_export import Progress, export_gguf
from local_rerank.convert.onnx_export import export_onnx
from local_rerank.convert.openvino_export import export_openvino
from local_rerank.convert.parity import check_parity
from local_rerank.errors import ConversionError
from local_rerank.files import move_into_place, remove_path
from local_rerank.formats import FORMATS
from local_rerank.manifest import MANIFEST_SUFFIX, build_manifest, manifest_path, write_manifest


def reference_available() -> bool:
    """Whether the float32 reference (torch + transformers) can run here."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


def convert_checkpoint(checkpoint: Path, out: Path, *, fmt: str = "gguf", quant: str | None = None,
                       force: bool = False, check_parity: bool = True,
                       progress: Progress | None = None) -> dict[str, Any]:
    """Convert and return the manifest written with ``out``.

    Raises:
        ConversionError: bad checkpoint, the destination (or a GGUF's manifest beside it)
            exists without ``force``, is the checkpoint, holds it or is one of its files, the
            destination cannot be written, or parity failed.
    """
    checkpoint, out = Path(checkpoint), Path(out)
    if fmt not in FORMATS:
        raise ConversionError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    quant = (quant or FORMATS[fmt].default_quant).lower()  # llama.cpp writes Q8_0; every name here is lower case
    if not checkpoint.is_dir():
        raise ConversionError(f"checkpoint folder not found: {checkpoint}")
    if checkpoint.resolve().is_relative_to(out.resolve()) or _reads(checkpoint, out):  # --force would delete the source
        raise ConversionError(f"{out} is the checkpoint {checkpoint}, holds it or is one of its files: "
                              "write the model elsewhere")
    taken = [path for path in _outputs(out, fmt) if path.exists() or path.is_symlink()]
    if taken and not force:
        raise ConversionError(f"{taken[0]} already exists; pass --force to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConversionError(f"cannot create the folder {out.parent}: {e.strerror}") from e
    partial = out.with_name(f".{out.name}.partial")
    remove_path(partial)
    try:
        _export(fmt, checkpoint, partial, quant, progress)
        parity = _parity(fmt, partial, checkpoint, quant, check_parity)
    except OSError as e:  # a checkpoint file that cannot be read, a folder that cannot be written, a full disk
        remove_path(partial)
        raise ConversionError(f"conversion to {out} failed: {e}") from e
    except BaseException:
        remove_path(partial)
        raise
    final = out if parity.get("passed", True) else out.with_name(out.name + ".rejected")
    move_into_place(partial, final)
    manifest = build_manifest(model=final, fmt=fmt, quantization=quant, parity=parity,
                              source={"path": str(checkpoint.resolve()), "name": checkpoint.name},
                              libraries=FORMATS[fmt].converter_libraries)
    write_manifest(manifest_path(final), manifest)
    if final != out:
        raise ConversionError(f"parity check failed: {_failure(parity)}; the model was kept as {final}")
    return manifest


def _failure(parity: dict[str, Any]) -> str:
    """What a failed parity check found: swapped pairs first (rankings are the product), then the error."""
    reach = parity.get("format_reach")
    error = (f"max error {parity['max_abs_error']:.4f} (tolerance {parity['tolerance']:.3g}"
             f"{'' if reach is None else f'; this format reaches {reach:.4f} on this model'})")
    inversions = parity["rank_inversions"]
    return f"{inversions} pair{'s' if inversions > 1 else ''} of documents swapped, {error}" if inversions else error


def _reads(checkpoint: Path, out: Path) -> bool:
    """Whether ``out`` is one of the files a conversion of ``checkpoint`` reads."""
    name = out.name
    return out.resolve().parent == checkpoint.resolve() and (
        name in ("config.json", "tokenizer.json", "tokenizer_config.json")
        or name.endswith((".safetensors", ".safetensors.index.json")))


def _outputs(out: Path, fmt: str) -> list[Path]:
    """What a conversion to ``out`` writes: the model, and beside a GGUF file its manifest
    (an export folder holds its own)."""
    return [out, out.with_name(out.name + MANIFEST_SUFFIX)] if FORMATS[fmt].layout == "file" else [out]


def _export(fmt: str, checkpoint: Path, target: Path, quant: str, progress: Progress | None) -> None:
    if fmt == "gguf":
        export_gguf(checkpoint, target, quant, progress)
    elif fmt == "onnx":
        export_onnx(checkpoint, target, quant)
    else:
        export_openvino(checkpoint, target, quant)


def _parity(fmt: str, model: Path, checkpoint: Path, quant: str, wanted: bool) -> dict[str, Any]:
    if not wanted:
        return {"skipped": "disabled with --no-parity"}
    if not reference_available():
        return {"skipped": "torch and transformers are not installed (pip install 'local-rerank[reference]')"}

    return check_parity(model, checkpoint, quant, backend=fmt)
