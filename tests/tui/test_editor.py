"""Opening a hit in the user's editor."""

from __future__ import annotations

from pathlib import Path

from tui.editor import editor_command


def test_editor_command_opens_at_the_passage(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    assert editor_command({"EDITOR": "nvim -p"}, path, 12) == ["nvim", "-p", "+12", str(path)]
    assert editor_command({"VISUAL": "code", "EDITOR": "vi"}, path, 3) == ["code", "--goto", f"{path}:3"]
    assert editor_command({}, path, 1) == ["vi", "+1", str(path)]
