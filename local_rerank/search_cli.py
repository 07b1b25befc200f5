"""``local-rerank search`` and ``local-rerank tui``: rank a folder's files against a query."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from local_rerank.errors import InputError
from local_rerank.loading import GET_A_MODEL, open_reranker, search_model
from local_rerank.search import (FolderIndex, IndexProgress, IndexReport, RerankProgress, SearchEvent,
                                 SearchFinished, SearchHit, SearchRequest, default_candidates, search)
from local_rerank.search.index import fts_query
from local_rerank.search.pipeline import movement
from local_rerank.settings import Settings, resolve_settings

_model_options = [
    click.option("--model", "model_path", help="A model file, export folder or installed name "
                                               "(default: the `model` setting, else the default model if installed)."),
    click.option("--instruction", help="Task instruction (default: web search passage retrieval)."),
    click.option("--candidates", type=click.IntRange(min=1),
                 help="How many BM25 candidates to rerank (default: 16 on a CPU, 100 on a GPU)."),
    click.option("--no-rerank", is_flag=True, help="The BM25 (keyword) order alone; no model is loaded."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run (default: auto)."),
    click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: all available cores)."),
]


def model_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options that choose and run the model, shared by ``search`` and ``tui``."""
    for option in reversed(_model_options):
        command = option(command)
    return command


@click.command("search")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("query")
@model_options
@click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True, help="How many files to show.")
@click.option("--json", "as_json", is_flag=True,
              help='Print JSON: [{"path", "score", "bm25_rank", "passage": {"start_line", "end_line", "text"}}], '
                   "best first; score is p(yes) when reranked, the BM25 score otherwise.")
def search_command(folder: Path, query: str, model_path: str | None, instruction: str | None,
                   candidates: int | None, no_rerank: bool, device: str | None, threads: int | None, top_k: int,
                   as_json: bool) -> None:
    """Rank the files of FOLDER against QUERY: BM25 candidates, reranked by the model.

    The folder's index lives in the user's cache directory and is brought up to date first.
    """
    if not query.strip():
        raise InputError("the query is empty")
    fts_query(query)  # refuses a query with no words before any indexing or model loading
    settings = resolve_settings({"model": model_path, "device": device, "threads": threads})
    index = FolderIndex.open(folder)
    report = index.update(progress=_index_progress())
    click.echo(describe_index(report), err=True)
    model = None if no_rerank else search_model(settings)
    if model is None and not no_rerank:
        click.echo(f"note: no model installed, so this is the BM25 (keyword) order; {GET_A_MODEL}", err=True)
    with warnings.catch_warnings(record=True) as caught:  # GPU fallback, a query cut to the budget
        warnings.simplefilter("always")
        final = _search(index, query, instruction, candidates, top_k, model, settings)
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    click.echo(json.dumps([hit_json(hit) for hit in final.hits], ensure_ascii=False) if as_json else _table(final.hits))


@click.command("tui")
@click.argument("folder", type=click.Path(path_type=Path), default=".")
@model_options
def tui_command(folder: Path, model_path: str | None, instruction: str | None, candidates: int | None,
                no_rerank: bool, device: str | None, threads: int | None) -> None:
    """Search FOLDER (default: here) interactively in the terminal."""
    from tui.app import run_app

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("the TUI needs a terminal; for scripts use `local-rerank search FOLDER QUERY`")
    settings = resolve_settings({"model": model_path, "device": device, "threads": threads})
    index = FolderIndex.open(folder)
    model = None if no_rerank else search_model(settings)
    run_app(index, settings, model, rerank=not no_rerank, instruction=instruction, candidates=candidates)


def _search(index: FolderIndex, query: str, instruction: str | None, candidates: int | None, top_k: int,
            model: Path | None, settings: Settings) -> SearchFinished:
    """Run the pipeline with ``model`` (None: BM25 order), the reranker closed at the end."""
    with open_reranker(model, settings) if model is not None else nullcontext() as reranker:
        device = reranker.backend.device if reranker is not None else None
        request = SearchRequest(query, instruction, candidates or default_candidates(device), top_k)
        return _run_showing_progress(search(index, request, reranker))


def describe_index(report: IndexReport) -> str:
    """One line on what the index holds and what was skipped."""
    line = (f"indexed {report.files} files ({report.passages} passages; {report.read} read, "
            f"{report.unchanged} unchanged, {report.removed} removed) in {report.seconds:.1f} s")
    if report.skipped:
        line += "; skipped " + ", ".join(f"{count} {reason}" for reason, count in sorted(report.skipped.items()))
    return line


def shown_score(hit: SearchHit) -> float:
    """p("yes") once reranked, the BM25 score otherwise."""
    return hit.score if hit.score is not None else hit.bm25_score


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """One result in the ``--json`` shape."""
    passage: dict[str, Any] = {"start_line": hit.passage.start_line, "end_line": hit.passage.end_line,
                               "text": hit.passage.text}
    if hit.passage.page is not None:
        passage["page"] = hit.passage.page
    return {"path": hit.path, "score": shown_score(hit), "bm25_rank": hit.bm25_rank, "passage": passage}


def _table(hits: list[SearchHit]) -> str:
    if not hits:
        return "no file matches the query's words"
    width = shutil.get_terminal_size((100, 24)).columns
    lines = [f"{'rank':>4}  {'score':>7}  {'bm25':>4}  {'move':>4}  file:lines  passage"]
    for position, hit in enumerate(hits, start=1):
        score = shown_score(hit)
        where = f"{hit.path}:{hit.passage.start_line}-{hit.passage.end_line}"
        prefix = f"{position:>4}  {score:7.4f}  {hit.bm25_rank:>4}  {movement(position, hit):>4}  {where}  "
        first = next((line.strip() for line in hit.passage.text.splitlines() if line.strip()), "")
        room = max(width - len(prefix), 10)
        lines.append(prefix + (first if len(first) <= room else first[:room - 1] + "…"))
    return "\n".join(lines)


def _run_showing_progress(events: Iterator[SearchEvent]) -> SearchFinished:
    """The final event, drawing reranking progress on an interactive stderr meanwhile."""
    for event in events:
        if isinstance(event, RerankProgress) and sys.stderr.isatty():
            click.echo(f"\rreranking {event.done}/{event.total}", err=True, nl=event.done == event.total)
        elif isinstance(event, SearchFinished):
            return event
    raise AssertionError("the pipeline ends with SearchFinished")  # not reached: no cancel event is passed


def _index_progress() -> Callable[[IndexProgress], None] | None:
    """A progress callback drawing on an interactive stderr, else None."""
    if not sys.stderr.isatty():
        return None

    def progress(update: IndexProgress) -> None:
        if update.done == update.total or update.done % 50 == 0:
            end = "\n" if update.done == update.total else ""
            click.echo(f"\rindexing {update.done}/{update.total} files", err=True, nl=False)
            click.echo(end, err=True, nl=False)

    return progress
