"""Find the files of a folder worth indexing.

The walk respects every ``.gitignore`` on the way down (a deeper file overrides a shallower
one), skips hidden entries and the usual tool folders (version control, node_modules,
virtual environments, caches), and follows a symbolic link only when its target lies inside
the root and has not been walked already, so links can neither leave the folder nor loop.

Nothing in the folder stops the walk: a name that is not UTF-8 is shown with ``\\xNN`` escapes
(its file is still read from its real path), a .gitignore line that pathspec cannot parse is
left out, and a folder or file that cannot be read is passed over with the reason.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from local_rerank.search.blocks import NotIndexable

# Hidden entries (.git, .venv, .cache, ...) and virtual environments (a pyvenv.cfg inside)
# are skipped too.
EXCLUDED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "site-packages", "bower_components"})
MAX_GITIGNORE_BYTES = 2**20
_PATTERN_ERRORS = (ValueError, re.error)  # pathspec's GitIgnorePatternError is a ValueError; "[z-a]" gives re.error


@dataclass(frozen=True)
class FoundFile:
    """A file to index: its path relative to the root (POSIX form, printable: see :func:`printable`),
    its real path, size and modification time."""

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
        if entry.name.startswith("."):
            continue
        relpath = prefix + printable(entry.name)
        try:
            info = entry.stat(follow_symlinks=True)
        except OSError:
            yield Skipped(relpath, "broken symbolic link" if _is_link(entry) else "cannot be read")
            continue
        is_dir = stat.S_ISDIR(info.st_mode)
        if is_dir and entry.name in EXCLUDED_DIRECTORIES or _ignored(ignores, relpath + ("/" if is_dir else "")):
            continue
        if _is_link(entry) and not Path(os.path.realpath(entry.path)).is_relative_to(real_root):
            yield Skipped(relpath, "symbolic link leaves the folder")
        elif is_dir and _is_link(entry):
            linked.append((Path(entry.path), relpath, ignores))
        elif is_dir:
            real = Path(entry.path)
            if real not in exclude and not _is_virtual_environment(real):
                visited.add(real)
                yield from _walk_directory(real, relpath + "/", ignores, real_root, visited, exclude, linked)
        elif stat.S_ISREG(info.st_mode):
            yield FoundFile(relpath, Path(entry.path), info.st_size, info.st_mtime_ns)
        else:  # never opened: reading a FIFO would wait for a writer
            yield Skipped(relpath, "not a regular file (FIFO, socket or device)")


def printable(name: str) -> str:
    """A file name as os.scandir gives it, with the bytes that are not UTF-8 (surrogate escapes
    there, which SQLite refuses) written as ``\\xNN``: the same text on every run."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the file at ``path``, never more than ``max_bytes``, and without waiting: the
    file may have become a FIFO or grown since the walk saw it.

    Raises:
        NotIndexable: it is not a regular file, or holds more than ``max_bytes``.
        OSError: it cannot be opened or read.
    """
    with open(path, "rb", opener=_open_without_waiting) as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotIndexable("not a regular file")
        if info.st_size > max_bytes:
            raise _larger_than(max_bytes)
        data = file.read(info.st_size + 1)  # a byte more than it holds tells whether it grew
        if len(data) > info.st_size:
            data += file.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise _larger_than(max_bytes)
    return data


def _larger_than(max_bytes: int) -> NotIndexable:
    return NotIndexable(f"larger than {max_bytes // 2**20} MiB")


def _open_without_waiting(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _is_virtual_environment(folder: Path) -> bool:
    """Whether ``folder`` holds a pyvenv.cfg; False when it cannot be told (no permission to look)."""
    return os.path.exists(folder / "pyvenv.cfg")


def _read_gitignore(directory: Path, prefix: str) -> _Ignores:
    try:
        data = read_file(directory / ".gitignore", MAX_GITIGNORE_BYTES)
    except (OSError, NotIndexable):
        return []
    return [(prefix, _gitignore_spec(data.decode("utf-8", errors="replace").splitlines()))]


def _gitignore_spec(lines: list[str]) -> pathspec.GitIgnoreSpec:
    """The patterns of a .gitignore, in order, without the lines pathspec cannot parse ("!" or a
    trailing backslash, which git reads as matching nothing, or "[z-a]"): one bad line costs only itself."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except _PATTERN_ERRORS:
        return pathspec.GitIgnoreSpec.from_lines([line for line in lines if _parses(line)])


def _parses(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except _PATTERN_ERRORS:
        return False
    return True


def _ignored(ignores: _Ignores, relpath: str) -> bool:
    """Whether the deepest .gitignore with an opinion on ``relpath`` excludes it."""
    for prefix, spec in reversed(ignores):
        verdict = spec.check_file(relpath[len(prefix):]).include
        if verdict is not None:
            return verdict
    return False
