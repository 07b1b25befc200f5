"""The index file: damaged index files rebuilt, unusable cache directories named with advice."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from local_rerank.errors import CacheError
from local_rerank.search.chunking import Passage
from local_rerank.search.index import FolderIndex
from tests.search.folders import build_mixed_folder
from tests.search.isolation import in_child, shared_folder


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return build_mixed_folder(tmp_path / "docs", tmp_path / "elsewhere")


def test_a_damaged_index_file_is_rebuilt(mixed: Path) -> None:
    index = FolderIndex.open(mixed)
    index.database.write_bytes(b"this is not a database" * 100)
    index = FolderIndex.open(mixed)
    assert index.update().files == 7  # huge.log too: it is under the default 10 MiB


def _results(index: FolderIndex) -> list[list[tuple[str, Passage]]]:
    return [[(hit.path, hit.passage) for hit in index.lexical(query, 10)]
            for query in ("when does the lease end", "tomatoes", "harbour estuary", "copy a folder", "topic7 topic30")]


def _many_notes(mixed: Path) -> Path:
    for i in range(60):
        words = " ".join(f"topic{(i * 7 + j) % 41}" for j in range(400))
        (mixed / f"note{i:02}.md").write_text(f"# Note {i}\n\n{words}\n")
    return mixed


def _overwrite_page(database: Path, page: int) -> None:
    with open(database, "r+b") as file:
        file.seek(page * 4096)
        file.write(random.Random(page).randbytes(4096))


@pytest.mark.parametrize("where", ["header", "middle", "near the end"])
def test_a_damaged_index_is_rebuilt_and_answers_as_a_clean_one(mixed: Path, tmp_path: Path, where: str) -> None:
    folder = _many_notes(mixed)
    clean = FolderIndex.open(folder, tmp_path / "clean")
    clean.update()
    expected = _results(clean)
    database = FolderIndex.open(folder).database
    FolderIndex.open(folder).update()
    pages = database.stat().st_size // 4096
    _overwrite_page(database, {"header": 0, "middle": pages // 2, "near the end": pages - 2}[where])
    index = FolderIndex.open(folder)
    assert index.update().unchanged == 0, "the damage was found, and the index built again"
    assert _results(index) == expected


def test_an_index_damaged_while_open_is_rebuilt_by_the_next_operation(mixed: Path, tmp_path: Path) -> None:
    index = FolderIndex.open(mixed)
    index.update()
    _overwrite_page(index.database, 0)
    assert index.lexical("tomatoes", 5) == []  # found damaged: the index starts again, empty
    assert index.update().files == 7
    assert [hit.path for hit in index.lexical("tomatoes", 5)] == ["notes/garden.html"]


def test_a_cache_directory_that_cannot_be_created_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LOCAL_RERANK_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(CacheError, match=f"cannot write the index cache in {tmp_path}/file/cache/indexes: .*; set "
                                         "LOCAL_RERANK_CACHE to a writable folder"):
        FolderIndex.open(tmp_path)


def _update_error(folder: Path, cache: Path) -> str:
    try:
        FolderIndex.open(folder, cache).update()
    except CacheError as e:
        return str(e)
    return "no error"


def test_a_read_only_cache_directory_is_named(mixed: Path) -> None:
    with shared_folder() as shared:
        shutil.copytree(mixed, shared / "docs", symlinks=True)
        index = FolderIndex.open(shared / "docs", shared / "cache")
        (shared / "docs" / "new.txt").write_text("a file to add")
        index.database.parent.chmod(0o555)
        index.database.chmod(0o444)
        message = in_child(lambda: _update_error(shared / "docs", shared / "cache"), as_nobody=True)
    assert message.startswith(f"cannot write the index cache in {index.database.parent}: ")
    assert message.endswith("; set LOCAL_RERANK_CACHE to a writable folder")


def test_a_cache_disk_that_refuses_writes_is_named(mixed: Path, tmp_path: Path) -> None:
    message = in_child(lambda: _update_error(_many_notes(mixed), tmp_path / "cache"), max_file_bytes=100_000)
    assert message == (f"cannot write the index cache in {tmp_path}/cache/indexes: disk I/O error; check that disk or "
                       "set LOCAL_RERANK_CACHE to a folder on another one")
