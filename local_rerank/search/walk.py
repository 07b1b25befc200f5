"""Find the files of a folder worth indexing.

The walk respects every ``.gitignore`` on the way down (a deeper file overrides a shallower
one), skips hidden entries and the usual tool folders (version control, node_modules,
virtual environments, caches), and follows a symbolic link only when its target lies inside
the root and has not been walked already, so links can neither leave the folder nor loop.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pathspec

# Hidden entries (.git, .venv, .cache, ...) and virtual environments (a pyvenv.cfg inside)
# are skipped too.
EXCLUDED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "site-packages", "bower_components"})


@dataclass(frozen=True)
class FoundFile:
    """A file to index: its path relative to the root (POSIX form), size and modification time."""

    relpath: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """Something the walk passed over, and why."""

    relpath: str
    reason: str


_Ignores = list[tuple[str, pathspec.PathSpec]]


def walk(root: Path, exclude: frozenset[Path] = frozenset()) -> Iterator[FoundFile | Skipped]:
    """Every indexable file under ``root`` and every link the walk refused to follow.

    ``exclude`` holds resolved folders never to enter (the index cache, when it lies inside).
    Files come in a stable order: the real tree sorted by name, then folders reached only
    through links, so that a file is found at its real path when it has one.
    """
    real_root = root.resolve()
    visited = {real_root}
    linked: deque[tuple[Path, str, _Ignores]] = deque()
    yield from _walk_directory(real_root, "", [], real_root, visited, exclude, linked)
    while linked:
        path, relpath, ignores = linked.popleft()
        real = Path(os.path.realpath(path))
        if real in visited:
            yield Skipped(relpath, "symbolic link loop or folder already indexed")
        elif real not in exclude:
            visited.add(real)
            yield from _walk_directory(path, relpath + "/", ignores, real_root, visited, exclude, linked)


def _walk_directory(directory: Path, prefix: str, ignores: _Ignores, real_root: Path, visited: set[Path],
                    exclude: frozenset[Path], linked: deque[tuple[Path, str, _Ignores]]
                    ) -> Iterator[FoundFile | Skipped]:
    """The files of ``directory`` and its real subfolders; linked subfolders are queued on ``linked``."""
    ignores = ignores + _read_gitignore(directory, prefix)
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        yield Skipped(prefix.rstrip("/") or ".", "folder cannot be read")
        return
    for entry in entries:
        relpath = prefix + entry.name
        if entry.name.startswith(".") or entry.name in EXCLUDED_DIRECTORIES and entry.is_dir():
            continue
        try:
            info = entry.stat(follow_symlinks=True)
        except OSError:
            yield Skipped(relpath, "broken symbolic link" if entry.is_symlink() else "cannot be read")
            continue
        is_dir = stat.S_ISDIR(info.st_mode)
        if _ignored(ignores, relpath + ("/" if is_dir else "")):
            continue
        if entry.is_symlink() and not Path(os.path.realpath(entry.path)).is_relative_to(real_root):
            yield Skipped(relpath, "symbolic link leaves the folder")
        elif is_dir and entry.is_symlink():
            linked.append((Path(entry.path), relpath, ignores))
        elif is_dir:
            real = Path(entry.path)
            if real not in exclude and not (real / "pyvenv.cfg").exists():
                visited.add(real)
                yield from _walk_directory(real, relpath + "/", ignores, real_root, visited, exclude, linked)
        elif stat.S_ISREG(info.st_mode):
            yield FoundFile(relpath, Path(entry.path), info.st_size, info.st_mtime_ns)


def _read_gitignore(directory: Path, prefix: str) -> list[tuple[str, pathspec.PathSpec]]:
    try:
        lines = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [(prefix, pathspec.GitIgnoreSpec.from_lines(lines))]


def _ignored(ignores: list[tuple[str, pathspec.PathSpec]], relpath: str) -> bool:
    """Whether the deepest .gitignore with an opinion on ``relpath`` excludes it."""
    for prefix, spec in reversed(ignores):
        verdict = spec.check_file(relpath[len(prefix):]).include
        if verdict is not None:
            return verdict
    return False
