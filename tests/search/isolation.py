"""Helpers for tests of what a folder or a disk can do to the indexer: a deadline for code that
used to hang, a temporary folder every user can enter, and a forked child that runs as the
user nobody (tests run as root, for whom permissions deny nothing) or under a file-size limit."""

from __future__ import annotations

import codecs
import os
import pickle
import resource
import shutil
import signal
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

NOBODY = 65534
T = TypeVar("T")


class Overtime(BaseException):
    """A deadline passed (a BaseException, so that no ``except OSError`` or ``Exception`` in the
    code under test can take it for an error of its own)."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise :class:`Overtime` in the block after ``seconds``: a read that would wait forever fails."""

    def expire(signum: int, frame: object) -> None:
        raise Overtime(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A new temporary folder that every user may enter (pytest's are private to their owner);
    removed afterwards, whatever permissions were taken away inside it."""
    path = Path(tempfile.mkdtemp(prefix="local-rerank-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder, subfolders, _ in os.walk(path):
            for subfolder in (os.path.join(folder, name) for name in subfolders):
                if not os.path.islink(subfolder):
                    os.chmod(subfolder, 0o755)
        shutil.rmtree(path)


def in_child(function: Callable[[], T], *, as_nobody: bool = False, max_file_bytes: int | None = None) -> T:
    """``function()`` run in a forked child: as the user nobody when ``as_nobody`` and this
    process is root, and unable to write files past ``max_file_bytes``. Its result comes back
    pickled; an exception in it fails the caller with the child's traceback.

    As nobody, the child may not be able to import what this process has not imported yet (the
    interpreter can live in root's home), so the codecs the indexer looks up lazily come first.
    """
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(reader)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(_outcome(function, as_nobody, max_file_bytes))
        finally:
            os._exit(0)
    os.close(writer)
    try:
        with os.fdopen(reader, "rb") as pipe:
            received = pipe.read()
    finally:
        os.kill(child, signal.SIGKILL)  # nothing once it has exited; its end if a deadline stopped the wait
        os.waitpid(child, 0)
    succeeded, value = pickle.loads(received)
    assert succeeded, f"the child failed:\n{value}"
    return value  # type: ignore[no-any-return]


def _outcome(function: Callable[[], object], as_nobody: bool, max_file_bytes: int | None) -> bytes:
    """In the child: drop privileges, run, and pickle (True, the result) or (False, the traceback)."""
    try:
        for encoding in ("utf-8-sig", "utf-16"):
            codecs.lookup(encoding)
        if as_nobody and os.geteuid() == 0:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        if max_file_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
        return pickle.dumps((True, function()))
    except BaseException:
        return pickle.dumps((False, traceback.format_exc()))
