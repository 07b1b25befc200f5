"""Watch a folder while it is being searched, so that the index can follow it (the TUI's live index).

Built on watchfiles (inotify, FSEvents or ReadDirectoryChanges underneath, with debouncing).
Changes to hidden entries and to the tool folders the walk skips are not reported; the
index update that follows re-reads only what changed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from local_rerank.search.walk import EXCLUDED_DIRECTORIES

DEBOUNCE_MS = 400
STOP_CHECK_MS = 300  # how soon a stop request is noticed


def folder_changes(folder: Path, stop: threading.Event, ignore: Path | None = None) -> Iterator[int]:
    """Block until files under ``folder`` change, then yield how many paths changed; again and
    again until ``stop`` is set. ``ignore`` is a folder inside ``folder`` not to report (a cache).

    Raises:
        OSError: the folder cannot be watched (too many inotify watches, gone).
    """
    from watchfiles import watch

    root = folder.resolve()
    skipped = ignore.resolve() if ignore is not None else None
    for changes in watch(root, stop_event=stop, debounce=DEBOUNCE_MS, rust_timeout=STOP_CHECK_MS,
                         raise_interrupt=False, ignore_permission_denied=True):
        relevant = [path for _, path in changes if _reported(Path(path), root, skipped)]
        if relevant:
            yield len(relevant)


def _reported(path: Path, root: Path, ignore: Path | None) -> bool:
    if ignore is not None and path.is_relative_to(ignore):
        return False
    parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
    return bool(parts) and not any(part.startswith(".") or part in EXCLUDED_DIRECTORIES for part in parts)
