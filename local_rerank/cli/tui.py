"""``local-rerank tui``: search a folder, or rank a list of passages, interactively in the terminal.

The TUI (textual) is imported only when it runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from local_rerank.cli.common import documents_in
from local_rerank.cli.model_options import search_model_options
from local_rerank.documents import read_documents
from local_rerank.errors import InputError
from local_rerank.loading import search_model
from local_rerank.search import FolderIndex
from local_rerank.search.corpus import Corpus
from local_rerank.search.passage_list import PassageList
from local_rerank.settings import resolve_settings


@click.command("tui")
@click.argument("folder", type=click.Path(path_type=Path), default=".")
@search_model_options
@click.option("--docs", "docs_file", type=click.Path(allow_dash=True, path_type=Path),
              help='Rank these passages instead of FOLDER: .txt one per line, .jsonl with a "text" field; "-": stdin.')
def tui(folder: Path, model_path: str | None, instruction: str | None, candidates: int | None,
        no_rerank: bool, device: str | None, threads: int | None, docs_file: Path | None) -> None:
    """Search FOLDER (default: here), or rank the passages of --docs, interactively in the terminal."""
    from tui.app import run_app

    settings = resolve_settings({"model": model_path, "device": device, "threads": threads})
    corpus: Corpus | None = _passages(docs_file) if docs_file is not None else None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("the TUI needs a terminal; for scripts use `local-rerank search FOLDER QUERY`")
    corpus = corpus or FolderIndex.open(folder)
    model = None if no_rerank else search_model(settings)
    run_app(corpus, settings, model, rerank=not no_rerank, instruction=instruction, candidates=candidates)


def _passages(docs_file: Path) -> PassageList:
    """The passages of ``docs_file``; from stdin ("-"), after which the terminal becomes stdin again."""
    if str(docs_file) != "-":
        return PassageList(documents_in(docs_file), str(docs_file))
    passages = PassageList(read_documents(sys.stdin.buffer, "stdin"), "stdin")
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY)
    except OSError as e:
        raise InputError("passages from stdin need a terminal to show the TUI in; use --docs FILE") from e
    os.dup2(terminal, sys.stdin.fileno())
    os.close(terminal)
    return passages
