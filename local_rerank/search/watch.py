"""Watch a folder while it is being searched, so that the index can follow it (the TUI's live index).

Built on watchfiles (inotify, FSEvents or ReadDirectoryChanges underneath, with debouncing).
Changes to hidden entries and to the tool folders the walk skips are not reported; the
index update that follows re-reads only what changed. Where the system watcher cannot run
(watchfiles refuses a folder holding a file name that is not UTF-8, and systems limit
inotify watches) the watch falls back to asking for a check every few seconds: an index
update that finds nothing changed costs a stat per file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from local_rerank.search.walk import EXCLUDED_DIRECTORIES

DEBOUNCE_MS = 400
STOP_CHECK_MS = 300  # how soon a stop request is noticed
POLL_S = 5.0  # the fallback's interval


def folder_changes(folder: Path, stop: threading.Event, ignore: Path | None = None) -> Iterator[int]:
    """Block until files under ``folder`` change, then yield how many paths changed (0: the system
    watcher is unavailable, so check everything); again and again until ``stop`` is set.
    ``ignore`` is a folder inside ``folder`` not to report (a cache)."""
    from watchfiles import watch

    root = folder.resolve()
    skipped = ignore.resolve() if ignore is not None else None
    try:
        for changes in watch(root, stop_event=stop, debounce=DEBOUNCE_MS, rust_timeout=STOP_CHECK_MS,
                             raise_interrupt=False, ignore_permission_denied=True):
            relevant = [path for _, path in changes if _reported(Path(path), root, skipped)]
            if relevant:
                yield len(relevant)
    except (OSError, RuntimeError):  # watchfiles' own errors are RuntimeErrors
        while not stop.wait(POLL_S):
            yield 0


def _reported(path: Path, root: Path, ignore: Path | None) -> bool:
    if ignore is not None and path.is_relative_to(ignore):
        return False
    parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
    return bool(parts) and not any(part.startswith(".") or part in EXCLUDED_DIRECTORIES for part in parts)
