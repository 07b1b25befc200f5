"""``local-rerank search``: rank a folder's files against a query."""

from __future__ import annotations

import shutil
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import click

from local_rerank.cli.common import fitted
from local_rerank.cli.model_options import search_model_options
from local_rerank.errors import InputError
from local_rerank.loading import GET_A_MODEL, open_reranker, search_model
from local_rerank.recipe import MAX_MAX_LENGTH
from local_rerank.search import (
    FolderIndex,
    IndexProgress,
    IndexReport,
    RerankProgress,
    SearchEvent,
    SearchFinished,
    SearchHit,
    SearchSession,
)
from local_rerank.search.export import FORMATS, ResultSet, export_text, hit_record, shown_score
from local_rerank.search.lexical import NO_MATCH, fts_query
from local_rerank.search.packing import CPU_DOCUMENT_TOKENS, GPU_DOCUMENT_TOKENS, UNITS, Unit
from local_rerank.search.pipeline import PROMPT_ALLOWANCE, LexicalResults, movement
from local_rerank.search.rewrite import Variant
from local_rerank.settings import MAX_TOP_K, Settings, resolve_settings
from local_rerank.text import printable, printable_json, printable_text


@click.command("search")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("query")
@search_model_options
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), default=10, show_default=True,
              help="How many files to show.")
@click.option("--json", "as_json", is_flag=True,
              help='Print JSON: [{"path", "score", "bm25_rank", "passage": {"start_line", "end_line", "text"}}], '
                   "best first; score is p(yes) when reranked, the BM25 score otherwise.")
@click.option("--format", "fmt", type=click.Choice(["table", *FORMATS]), default="table", show_default=True,
              help="table; or the results with the query, instruction and model as json, csv or md (Markdown).")
@click.option("--rewrite", is_flag=True,
              help="Also search rewritten forms of the query (abbreviations the folder defines, full-width forms), "
                   "printed on stderr and, with --format json, as \"variants\".")
@click.option("--unit", type=click.Choice(UNITS), default="passage", show_default=True,
              help="What the reranker reads of a file: its best passage, or its best passages packed together "
                   "(document; slower: see --document-tokens).")
@click.option("--document-tokens", type=click.IntRange(1, MAX_MAX_LENGTH - PROMPT_ALLOWANCE),
              help=f"With --unit document: how much of a file to read, in estimated tokens (default: "
                   f"{GPU_DOCUMENT_TOKENS} on a GPU, {CPU_DOCUMENT_TOKENS} on a CPU).")
def search(folder: Path, query: str, model_path: str | None, instruction: str | None, candidates: int | None,
           no_rerank: bool, device: str | None, threads: int | None, top_k: int, as_json: bool, fmt: str,
           rewrite: bool, unit: Unit, document_tokens: int | None) -> None:
    """Rank the files of FOLDER against QUERY: BM25 candidates, reranked by the model.

    The folder's index lives in the user's cache directory and is brought up to date first.
    """
    if not query.strip():
        raise InputError("the query is empty")
    fts_query(query)  # refuses a query with no words before any indexing or model loading
    settings = with_room_for(resolve_settings({"model": model_path, "device": device, "threads": threads}),
                             unit, document_tokens)
    index = FolderIndex.open(folder)
    report = index.update(progress=_index_progress())
    click.echo(describe_index(report), err=True)
    model = None if no_rerank else search_model(settings)
    if model is None and not no_rerank:
        click.echo(f"note: no model installed, so this is the BM25 (keyword) order; {GET_A_MODEL}", err=True)
    with warnings.catch_warnings(record=True) as caught:  # GPU fallback, a query cut to the budget
        warnings.simplefilter("always")
        final, model_name, found = _search(index, query, instruction, candidates, top_k, model, settings, rewrite,
                                           unit, document_tokens)
    for variant in found:
        click.echo(f"also searched: {printable(variant.text)} ({variant.reason})", err=True)
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    if as_json:
        click.echo(printable_json([hit_record(hit) for hit in final.hits]))
    elif fmt != "table":
        text = export_text(ResultSet(query, final.hits, instruction, model_name if final.reranked else None,
                                     tuple(variant.text for variant in found), unit), fmt)
        click.echo(text if fmt == "csv" else printable_text(text), nl=False)
    else:
        click.echo(_table(final.hits))


def with_room_for(settings: Settings, unit: Unit, document_tokens: int | None) -> Settings:
    """``settings`` with a prompt budget that holds ``document_tokens`` in document mode (never less than set)."""
    if unit != "document" or document_tokens is None:
        return settings
    return replace(settings,
                   max_length=min(MAX_MAX_LENGTH, max(settings.max_length, document_tokens + PROMPT_ALLOWANCE)))


def _search(index: FolderIndex, query: str, instruction: str | None, candidates: int | None, top_k: int,
            model: Path | None, settings: Settings, rewrite: bool, unit: Unit,
            document_tokens: int | None) -> tuple[SearchFinished, str | None, list[Variant]]:
    """Search with ``model`` (None: BM25 order) in a session of its own, the reranker closed at the end;
    the final results, the model's name and the query's variants (with ``rewrite``)."""
    loader = (lambda: open_reranker(model, settings)) if model is not None else None
    with SearchSession(index, loader, candidates=candidates) as session:
        reranker = session.load_model()
        final, found = _run_showing_progress(session.search(query, instruction, top_k=top_k, rewrite=rewrite,
                                                            unit=unit, document_tokens=document_tokens))
        return final, reranker.info.model if reranker is not None else None, found


def describe_index(report: IndexReport) -> str:
    """One line on what the index holds and what was skipped, e.g. ``...; skipped 3 files
    (binary file: 2, larger than 10 MiB: 1)``."""
    line = (f"indexed {_count(report.files, 'file')} ({_count(report.passages, 'passage')}; {report.read} read, "
            f"{report.unchanged} unchanged, {report.removed} removed) in {report.seconds:.1f} s")
    if report.skipped:
        reasons = ", ".join(f"{printable(reason)}: {count}" for reason, count in sorted(report.skipped.items()))
        line += f"; skipped {_count(sum(report.skipped.values()), 'file')} ({reasons})"
    return line


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _table(hits: list[SearchHit]) -> str:
    if not hits:
        return NO_MATCH
    width = shutil.get_terminal_size((100, 24)).columns
    lines = [f"{'rank':>4}  {'score':>7}  {'bm25':>4}  {'move':>4}  file:lines  passage"]
    for position, hit in enumerate(hits, start=1):
        # p(yes) to 4 places; a BM25 score in 3 figures, since a word in most files scores ~1e-6
        value = shown_score(hit)
        score = f"{value:7.4f}" if hit.score is not None else f"{value:7.3g}"
        where = f"{printable(hit.path)}:{hit.passage.start_line}-{hit.passage.end_line}"
        prefix = f"{position:>4}  {score}  {hit.bm25_rank:>4}  {movement(position, hit):>4}  {where}  "
        first = printable(next((line.strip() for line in hit.passage.text.splitlines() if line.strip()), ""))
        lines.append(fitted(prefix, first, width))
    return "\n".join(lines)


def _run_showing_progress(events: Iterable[SearchEvent]) -> tuple[SearchFinished, list[Variant]]:
    """The final event and the query's variants, drawing reranking progress on an interactive stderr meanwhile."""
    found: list[Variant] = []
    for event in events:
        if isinstance(event, LexicalResults):
            found = list(event.variants)
        elif isinstance(event, RerankProgress) and sys.stderr.isatty():
            click.echo(f"\rreranking {event.done}/{event.total}", err=True, nl=event.done == event.total)
        elif isinstance(event, SearchFinished):
            return event, found
    raise AssertionError("a search nobody cancels ends with SearchFinished")


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
