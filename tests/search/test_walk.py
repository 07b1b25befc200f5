"""The walk: .gitignore, usual excludes, hidden entries, symbolic links that loop or leave, names
that are not UTF-8, folders that cannot be read; and reading a found file safely."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_rerank.search.blocks import NotIndexable
from local_rerank.search.walk import FoundFile, Skipped, read_file, walk
from tests.search.folders import build_mixed_folder
from tests.search.isolation import deadline, in_child, shared_folder


def _walked(root: Path, **kwargs: object) -> tuple[list[str], dict[str, str]]:
    entries = list(walk(root, **kwargs))  # type: ignore[arg-type]
    return ([e.relpath for e in entries if isinstance(e, FoundFile)],
            {e.relpath: e.reason for e in entries if isinstance(e, Skipped)})


def test_mixed_folder_keeps_documents_and_refuses_links_that_loop_or_leave(tmp_path: Path) -> None:
    root = build_mixed_folder(tmp_path / "docs", tmp_path / "elsewhere")
    files, skipped = _walked(root)
    assert files == ["broken.pdf", "data.dat", "huge.log", "latin1.txt", "lease.md", "notes/copy.py",
                     "notes/garden.html", "notes/todo.txt", "photo.png", "report.pdf"]
    assert skipped == {"escape": "symbolic link leaves the folder", "dangling": "broken symbolic link",
                       "notes/loop": "symbolic link loop or folder already indexed"}


def test_nested_gitignore_overrides_its_parent(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / "a" / ".gitignore").write_text("!keep.log\n")
    for name in ("top.log", "a/keep.log", "a/other.log", "a/note.txt"):
        (tmp_path / name).write_text("x")
    assert _walked(tmp_path)[0] == ["a/keep.log", "a/note.txt"]


def test_virtual_environments_are_skipped_whatever_their_name(tmp_path: Path) -> None:
    (tmp_path / "myenv" / "lib").mkdir(parents=True)
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "myenv" / "lib" / "x.py").write_text("x = 1\n")
    (tmp_path / "main.py").write_text("y = 2\n")
    assert _walked(tmp_path)[0] == ["main.py"]


def test_links_inside_the_folder_are_followed_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.txt").write_text("a")
    os.symlink(tmp_path / "real" / "a.txt", tmp_path / "alias.txt")
    os.symlink(tmp_path / "real", tmp_path / "mirror")
    files, skipped = _walked(tmp_path)
    assert files == ["alias.txt", "real/a.txt"]  # "mirror" sorts first, but the real path wins
    assert skipped == {"mirror": "symbolic link loop or folder already indexed"}


def test_excluded_folder_is_never_entered(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "index.txt").write_text("x")
    (tmp_path / "doc.txt").write_text("y")
    assert _walked(tmp_path, exclude=frozenset({(tmp_path / "cache").resolve()}))[0] == ["doc.txt"]


def test_names_that_are_not_utf8_are_escaped_the_same_way_every_run(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path)
    os.mkdir(raw + b"/d\xe9p\xf4t")
    for name in (b"/caf\xe9.txt", b"/d\xe9p\xf4t/inside.md"):
        with open(raw + name, "w") as file:
            file.write("text")
    first, second = list(walk(tmp_path)), list(walk(tmp_path))
    assert [e.relpath for e in first] == [e.relpath for e in second] == ["caf\\xe9.txt", "d\\xe9p\\xf4t/inside.md"]
    assert all(isinstance(e, FoundFile) and e.path.read_text() == "text" for e in first)


def test_gitignore_lines_pathspec_refuses_cost_only_themselves(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\n!\n[z-a]\nbuild\\\n!keep.log\n")  # refused: "!", "[z-a]", "build\"
    for name in ("top.log", "keep.log", "note.txt"):
        (tmp_path / name).write_text("x")
    assert _walked(tmp_path)[0] == ["keep.log", "note.txt"]


def test_folders_that_cannot_be_entered_or_listed_are_passed_over(tmp_path: Path) -> None:
    with shared_folder() as shared:
        for folder, mode in (("locked", 0), ("listed", 0o744)):  # listed: its names can be read, not its files
            (shared / folder).mkdir()
            (shared / folder / "a.md").write_text("x")
            (shared / folder).chmod(mode)
        (shared / "open.md").write_text("y")
        files, skipped = in_child(lambda: _walked(shared), as_nobody=True)
    assert files == ["open.md"]
    assert skipped == {"listed/a.md": "cannot be read", "locked": "folder cannot be read"}


def test_a_fifo_is_passed_over_and_counted_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "a.md").write_text("x")
    with deadline(5):
        files, skipped = _walked(tmp_path)
    assert files == ["a.md"]
    assert skipped == {"pipe.txt": "not a regular file (FIFO, socket or device)"}


def test_reading_refuses_what_is_not_a_regular_file_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with deadline(5):
        for path in (tmp_path / "pipe", Path("/dev/zero")):
            with pytest.raises(NotIndexable, match="not a regular file"):
                read_file(path, 100)
    with pytest.raises(IsADirectoryError):
        read_file(tmp_path, 100)


def test_reading_never_goes_past_the_cap(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 2**20)
    assert len(read_file(tmp_path / "f", 2**20)) == 2**20
    (tmp_path / "f").write_bytes(b"x" * (2**20 + 1))
    with pytest.raises(NotIndexable, match="larger than 1 MiB"):
        read_file(tmp_path / "f", 2**20)
