"""``local-rerank convert``: export, parity check, manifest, and a safe move into place.

The new file is written beside its destination under a temporary name, checked against
the float32 reference when torch and transformers are installed, and only then renamed
to the destination. A file that fails its parity check is kept as ``<out>.rejected`` (with
its manifest) for inspection, and the conversion raises. Nothing is overwritten without
``force``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from local_rerank.convert.gguf_export import Progress, export_gguf
from local_rerank.convert.manifest import build_manifest, manifest_path, write_manifest
from local_rerank.errors import ConversionError

FORMATS = ("gguf",)
_LIBRARIES = ("gguf", "numpy", "llama_cpp_python", "tokenizers", "torch", "transformers")


def reference_available() -> bool:
    """Whether the float32 reference (torch + transformers) can run here."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


def convert_checkpoint(checkpoint: Path, out: Path, *, fmt: str = "gguf", quant: str = "q8_0",
                       force: bool = False, check_parity: bool = True,
                       progress: Progress | None = None) -> dict[str, Any]:
    """Convert and return the manifest written beside ``out``.

    Raises:
        ConversionError: bad checkpoint, destination exists without ``force``, or parity failed.
    """
    checkpoint, out = Path(checkpoint), Path(out)
    if fmt not in FORMATS:
        raise ConversionError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not checkpoint.is_dir():
        raise ConversionError(f"checkpoint folder not found: {checkpoint}")
    if out.exists() and not force:
        raise ConversionError(f"{out} already exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        export_gguf(checkpoint, partial, quant, progress)
        parity = _parity(partial, checkpoint, quant, check_parity)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    final = out if parity.get("passed", True) else out.with_name(out.name + ".rejected")
    os.replace(partial, final)
    manifest = build_manifest(model=final, fmt=fmt, quantization=quant, parity=parity,
                              source={"path": str(checkpoint.resolve()), "name": checkpoint.name},
                              libraries=_LIBRARIES)
    write_manifest(manifest_path(final), manifest)
    if final != out:
        raise ConversionError(
            f"parity check failed: max error {parity['max_abs_error']:.4f} (tolerance {parity['tolerance']}), "
            f"{parity['rank_inversions']} rank inversions; the file was kept as {final}"
        )
    return manifest


def _parity(model: Path, checkpoint: Path, quant: str, wanted: bool) -> dict[str, Any]:
    if not wanted:
        return {"skipped": "disabled with --no-parity"}
    if not reference_available():
        return {"skipped": "torch and transformers are not installed (pip install 'local-rerank[reference]')"}
    from local_rerank.convert.parity import check_gguf_parity

    return check_gguf_parity(model, checkpoint, quant)
