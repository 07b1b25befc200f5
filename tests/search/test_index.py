"""The folder index as a whole: opening one."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.errors import InputError
from local_rerank.search.index import FolderIndex


def test_missing_folder_and_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        FolderIndex.open(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        FolderIndex.open(tmp_path / "file.txt")
