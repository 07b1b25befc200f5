"""Open a hit in the user's editor at its passage, or say why it cannot be opened there."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from textual.app import App, SuspendNotSupported

from local_rerank.search import SearchHit
from local_rerank.search.corpus import Corpus
from local_rerank.search.extract import counts_extracted_lines, file_kind
from local_rerank.text import printable


def editor_command(environ: Mapping[str, str], path: Path, line: int) -> list[str]:
    """$VISUAL or $EDITOR (else vi) opening ``path`` at ``line``; "+LINE" is understood by vi, vim,
    nano, emacs, micro, helix and kakoune; VS Code and Sublime take "PATH:LINE" with their flag."""
    editor = shlex.split(environ.get("VISUAL") or environ.get("EDITOR") or "vi")
    name = Path(editor[0]).name
    if name in ("code", "codium", "subl", "zed"):
        return [*editor, *(["--goto"] if name in ("code", "codium") else []), f"{path}:{line}"]
    return [*editor, f"+{line}", str(path)]


def open_in_editor(app: App[object], corpus: Corpus, hit: SearchHit) -> None:
    """Hand the terminal to the editor at ``hit``'s passage; a document, a passage of a list or a
    file that is gone is not opened, and a notice says why."""
    kind = file_kind(hit.path)
    if counts_extracted_lines(kind):  # no editor for these; say where the passage is
        unit = "slide" if kind == "pptx" else "page"
        where = f", {unit} {hit.passage.page}" if hit.passage.page else ""
        app.notify(f"{printable(hit.path)}{where}: open it in its own application", markup=False)
        return
    if not corpus.has_files:
        app.notify(f"Passage {hit.path} is not a file; Ctrl+S saves the results.")
        return
    target = corpus.folder / hit.path
    if not target.is_file():  # gone; or a name that is not UTF-8, which the index holds escaped
        app.notify(f"Cannot open {printable(hit.path)}: it is gone, or its name is not valid UTF-8",
                   severity="warning", markup=False)
        return
    run_editor(app, editor_command(os.environ, target, hit.passage.start_line))


def run_editor(app: App[object], command: list[str]) -> None:
    """Run ``command`` with the terminal suspended; where it cannot be, say what to run instead."""
    try:
        with app.suspend():
            subprocess.run(command, check=False)
    except SuspendNotSupported:
        app.notify(f"This terminal cannot hand over to an editor; run: {printable(shlex.join(command))}",
                   timeout=10, markup=False)
    except OSError as e:
        app.notify(f"Could not start {printable(command[0])}: {e.strerror}", severity="error", markup=False)
