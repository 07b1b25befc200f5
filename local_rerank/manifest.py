"""The JSON manifest written beside every converted model."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from local_rerank.errors import ModelError
from local_rerank.files import file_records

MANIFEST_SUFFIX = ".manifest.json"


FOLDER_MANIFEST = "manifest.json"


def manifest_path(model: Path) -> Path:
    """``model.gguf`` -> ``model.gguf.manifest.json``; an export folder -> ``folder/manifest.json``."""
    model = Path(model)
    if model.is_dir():
        return model / FOLDER_MANIFEST
    return model.with_name(model.name + MANIFEST_SUFFIX)


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed versions of the named distributions (None where one is missing)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(*, model: Path, fmt: str, quantization: str, source: dict[str, Any],
                   parity: dict[str, Any], libraries: Iterable[str]) -> dict[str, Any]:
    """The manifest's content for a finished model file or export folder."""
    model = Path(model)
    paths = sorted(p for p in model.iterdir() if p.name != FOLDER_MANIFEST) if model.is_dir() else [model]
    files = file_records(model.parent if model.is_file() else model, paths)
    return {
        "format": fmt,
        "quantization": quantization,
        "file": model.name,
        "size_bytes": sum(f["size_bytes"] for f in files.values()),
        "sha256": files[model.name]["sha256"] if model.is_file() else None,
        "files": files,
        "source": source,
        "parity": parity,
        "tool": {"local-rerank": package_versions(["local-rerank"])["local-rerank"],
                 "python": platform.python_version(), "libraries": package_versions(libraries)},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path`` (see :func:`manifest_path`) as a JSON object.

    Raises:
        ModelError: it cannot be read, is not JSON, or is not an object.
    """
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # ValueError: bad JSON or bad UTF-8
        raise ModelError(f"{path} is not a readable manifest: {e}") from e
    if not isinstance(manifest, dict):
        raise ModelError(f"{path} is not a manifest: a JSON {type(manifest).__name__}, not an object")
    return manifest


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest as indented JSON."""
    Path(path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
