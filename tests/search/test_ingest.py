"""Updating a folder's index: the right passages and skips, incremental updates, crash safety,
files that change under it, odd names and pathological files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.search.hits import IndexProgress
from local_rerank.search.index import FolderIndex
from local_rerank.search.ingest import MAX_PASSAGES_PER_FILE
from tests.search.folders import build_mixed_folder
from tests.search.isolation import deadline


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return build_mixed_folder(tmp_path / "docs", tmp_path / "elsewhere")


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_mtime_ns) for p in root.rglob("*"))


def test_mixed_folder_indexes_documents_and_counts_each_skip(mixed: Path, private_cache: Path) -> None:
    before = _tree(mixed)
    index = FolderIndex.open(mixed)
    report = index.update(max_file_bytes=2 * 2**20)
    assert report.files == 6  # lease.md, copy.py, garden.html, todo.txt, latin1.txt, report.pdf
    assert report.skipped == {"binary file": 2, "larger than 2 MiB": 1, "damaged PDF": 1,
                              "symbolic link leaves the folder": 1, "broken symbolic link": 1,
                              "symbolic link loop or folder already indexed": 1}
    assert report.replaced_utf8 == 2
    assert _tree(mixed) == before, "the index must never be written into the searched folder"
    assert index.database.is_relative_to(private_cache)


def test_update_rereads_only_what_changed(mixed: Path) -> None:
    index = FolderIndex.open(mixed)
    index.update()
    (mixed / "notes" / "todo.txt").write_text("Buy seeds.\n\nRepaint the fence before winter.\n")
    (mixed / "lease.md").unlink()
    read: list[str] = []
    report = index.update(progress=lambda update: read.append(update.path))
    assert read == ["notes/todo.txt"]
    assert (report.read, report.removed) == (1, 1)
    assert [hit.path for hit in index.lexical("fence winter", 5)] == ["notes/todo.txt"]
    assert index.lexical("lease", 5) == [] or all(hit.path != "lease.md" for hit in index.lexical("lease", 5))
    assert index.update().read == 0


_SLOW_INDEXER = """
import sys, time
from local_rerank.search.index import FolderIndex
def progress(update):
    time.sleep(0.002)
    print(update.done, flush=True)
FolderIndex.open(sys.argv[1]).update(progress=progress)
"""


@pytest.mark.slow
def test_an_update_killed_midway_leaves_an_index_that_opens_and_completes(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        (folder / f"note{i:04}.txt").write_text(f"note {i} about topic{i % 37} and harbour\n")
    child = subprocess.Popen([sys.executable, "-c", _SLOW_INDEXER, str(folder)], stdout=subprocess.PIPE, text=True,
                             env=os.environ)
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 600:  # at 2 ms a file, past 1.2 s of writing: two commits (every 0.5 s) at least
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    index = FolderIndex.open(folder)
    with sqlite3.connect(index.database) as connection:
        kept = connection.execute("SELECT count(*) FROM files").fetchone()[0]
    assert 0 < kept < 1500
    assert index.lexical("harbour", 5), "the partial index answers queries"
    read: list[IndexProgress] = []
    report = index.update(progress=read.append)
    assert report.read == 1500 - kept and report.files == 1500 and report.complete
    assert len(index.lexical("topic5", 100)) == len([i for i in range(1500) if i % 37 == 5])


def test_files_that_change_between_the_walk_and_the_read_are_skipped(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"harbour {name}\n")

    def meddle(update: IndexProgress) -> None:  # files are read in name order: b and c change after the walk
        if update.path == "a.txt":
            with open(tmp_path / "b.txt", "ab") as grown:
                grown.write(b"x" * 2**20)
            (tmp_path / "c.txt").unlink()
            os.mkfifo(tmp_path / "c.txt")

    with deadline(10):
        report = FolderIndex.open(tmp_path).update(progress=meddle, max_file_bytes=2**20)
    assert report.skipped == {"larger than 1 MiB": 1, "not a regular file": 1}
    assert report.files == 1


def test_a_folder_whose_name_is_not_utf8_is_indexed(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    folder.mkdir()
    (folder / "menu.txt").write_text("croissants and coffee\n")
    index = FolderIndex.open(folder)
    index.update()
    assert [hit.path for hit in index.lexical("croissants", 5)] == ["menu.txt"]


def test_a_file_of_endless_sections_keeps_its_first_passages(tmp_path: Path) -> None:
    folder = tmp_path / "sections"
    folder.mkdir()
    (folder / "many.md").write_text("".join(f"# s{i}\n\nword{i}\n\n" for i in range(MAX_PASSAGES_PER_FILE + 500)))
    index = FolderIndex.open(folder)
    report = index.update()
    assert report.files == 1 and report.passages == MAX_PASSAGES_PER_FILE
    assert [hit.path for hit in index.lexical("word7", 5)] == ["many.md"]
