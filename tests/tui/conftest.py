"""The TUI tests' shared fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.search import FolderIndex
from tests.tui.driving import notes_folder


@pytest.fixture
def notes(tmp_path: Path) -> FolderIndex:
    """Ten notes that all mention the harbour; crane counts (i % 4) disagree with BM25's order."""
    return notes_folder(tmp_path)
