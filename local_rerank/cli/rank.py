"""``local-rerank rank``: rank documents against a query and print a table or rerank-API JSON."""

from __future__ import annotations

import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from local_rerank.cli.common import documents_in, fitted
from local_rerank.cli.model_options import engine_options, instruction_option, model_option, named_model
from local_rerank.documents import read_documents
from local_rerank.errors import InputError
from local_rerank.loading import open_reranker
from local_rerank.reranker import RankResult, Reranker
from local_rerank.settings import MAX_TOP_K, resolve_settings
from local_rerank.store import resolve_model, store_dir
from local_rerank.text import printable, printable_json, replace_surrogates


@click.command("rank")
@model_option()
@click.option("--query", "-q", required=True, help="What you are looking for.")
@instruction_option()
@click.argument("documents", nargs=-1)
@click.option("--docs-file", type=click.Path(allow_dash=True, path_type=Path),
              help='JSONL objects with a "text" field, or plain text one per line; "-" for stdin.')
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), help="Show only the best K documents.")
@engine_options()
@click.option("--json", "as_json", is_flag=True, help="Print rerank-API JSON (Cohere/Jina/llama-server shape).")
@click.option("--return-documents", is_flag=True, help="With --json, include each document's text.")
def rank(model_path: str | None, query: str, instruction: str | None, documents: Sequence[str],
         docs_file: Path | None, top_k: int | None, max_length: int | None, backend: str | None, device: str | None,
         threads: int | None, as_json: bool, return_documents: bool) -> None:
    """Rank DOCUMENTS (arguments, --docs-file, or stdin) against --query.

    Unset options come from LOCAL_RERANK_* environment variables, then the config file
    (~/.config/local-rerank/config.toml or $LOCAL_RERANK_CONFIG), then the defaults.
    """
    settings = resolve_settings({"model": model_path, "backend": backend, "device": device, "threads": threads,
                                 "max_length": max_length})
    name = named_model(settings)
    texts = _gather_documents(documents, docs_file)
    model = resolve_model(name, store_dir())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reranker(model, settings) as reranker:
            ranked = reranker.rank(query, texts, instruction=instruction)
            payload = _rerank_json(reranker, ranked[:top_k], return_documents) if as_json else None
    for warning in caught:
        click.echo(f"warning: {printable(str(warning.message))}", err=True)
    truncated = sum(result.truncated for result in ranked)
    if truncated:
        click.echo(f"note: {truncated} document(s) were cut to the {settings.max_length}-token budget", err=True)
    click.echo(printable_json(payload) if as_json else _table(ranked[:top_k]))


def _gather_documents(arguments: Sequence[str], docs_file: Path | None) -> list[str]:
    if arguments and docs_file:
        raise InputError("give documents as arguments or with --docs-file, not both")
    if arguments:  # invalid UTF-8 in an argument arrives as surrogates: U+FFFD, as in JSONL documents
        return [replace_surrogates(argument) for argument in arguments]
    if docs_file is not None and str(docs_file) != "-":
        return documents_in(docs_file)
    if docs_file is None and sys.stdin.isatty():
        raise InputError("no documents: pass them as arguments, with --docs-file, or on stdin")
    return read_documents(sys.stdin.buffer, "stdin")


def _rerank_json(reranker: Reranker, results: list[RankResult], return_documents: bool) -> dict[str, Any]:
    entries = []
    for result in results:
        entry: dict[str, Any] = {"index": result.index, "relevance_score": result.score}
        if return_documents:
            entry["document"] = {"text": result.text}
        entries.append(entry)
    return {**reranker.info.to_json(), "results": entries}


def _table(results: list[RankResult]) -> str:
    width = shutil.get_terminal_size((100, 24)).columns
    lines = [f"{'rank':>4}  {'score':>6}  {'doc':>4}  text"]
    for position, result in enumerate(results, start=1):
        first_line = printable(result.text.strip().splitlines()[0]) if result.text.strip() else "(empty)"
        lines.append(fitted(f"{position:>4}  {result.score:6.4f}  {result.index:>4}  ", first_line, width))
    return "\n".join(lines)
