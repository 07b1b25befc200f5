"""The walk: .gitignore, usual excludes, hidden entries, and symbolic links that loop or leave."""

from __future__ import annotations

import os
from pathlib import Path

from local_rerank.search.walk import FoundFile, Skipped, walk
from tests.search.folders import build_mixed_folder


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
