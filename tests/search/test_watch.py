"""The folder watch behind the live index, on a real folder."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from local_rerank.search import watch
from local_rerank.search.watch import folder_changes


def _first_change(folder: Path, make_change, ignore: Path | None = None, timeout: float = 10.0) -> int | None:
    stop = threading.Event()
    seen: list[int] = []

    def run() -> None:
        for changed in folder_changes(folder, stop, ignore=ignore):
            seen.append(changed)
            stop.set()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)  # the watcher is armed
    make_change()
    thread.join(timeout)
    stop.set()
    thread.join(5)
    assert not thread.is_alive(), "the watch stops when asked"
    return seen[0] if seen else None


def test_a_new_file_is_reported_but_hidden_and_cache_files_are_not(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "cache").mkdir()
    assert _first_change(tmp_path, lambda: (tmp_path / "notes.md").write_text("x")) == 1
    quiet = _first_change(tmp_path, lambda: [(tmp_path / ".git" / "index").write_text("x"),
                                             (tmp_path / "cache" / "db").write_text("x")],
                          ignore=tmp_path / "cache", timeout=2.0)
    assert quiet is None


def test_a_name_the_watcher_cannot_decode_falls_back_to_checks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(watch, "POLL_S", 0.2)
    with open(os.fsencode(str(tmp_path)) + b"/caf\xe9.txt", "w") as f:
        f.write("latin-1 name")

    def touch_it() -> None:
        with open(os.fsencode(str(tmp_path)) + b"/caf\xe9.txt", "a") as f:
            f.write(" changed")

    changed = _first_change(tmp_path, touch_it)
    assert changed is not None  # a count from the watcher, or 0 (check) from the fallback
