"""File operations that never leave a half-written model where a whole one was."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_records(root: Path, paths: Iterable[Path]) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of each file, keyed by its path relative to ``root``."""
    return {str(p.relative_to(root)): {"size_bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in paths}


def move_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` (file or folder) to ``target``; an existing target goes only afterwards."""
    if not target.exists():
        os.replace(source, target)
        return
    old = target.with_name(f".{target.name}.old")
    remove_path(old)
    os.replace(target, old)
    os.replace(source, target)
    remove_path(old)


def remove_path(path: Path) -> None:
    """Delete a file or a folder tree; nothing there is fine."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
