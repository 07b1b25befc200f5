"""Search results as JSON, CSV or Markdown: what was asked, with which model, and what came back.

The same records serve ``search --format`` and the TUI's export, so a saved file and a
scripted run read alike. JSON holds the query, instruction and model beside the results;
CSV holds one row per result (the query and model in every row, for spreadsheets); Markdown
is a table for notes and reports.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_rerank.errors import InputError
from local_rerank.recipe import DEFAULT_INSTRUCTION
from local_rerank.search.hits import SearchHit

FORMATS = ("json", "csv", "md")
CSV_FIELDS = ("rank", "score", "reranked", "bm25_rank", "path", "start_line", "end_line", "page", "passage",
              "query", "instruction", "model")


@dataclass(frozen=True)
class ResultSet:
    """The results of one search and what produced them; ``model`` is None for the BM25 order."""

    query: str
    hits: list[SearchHit]
    instruction: str | None = None
    model: str | None = None
    variants: tuple[str, ...] = ()  # the rewritten forms of the query also searched (``search --rewrite``)
    unit: str = "passage"  # what the reranker read of each file: its best passage, or its packed "document"


def shown_score(hit: SearchHit) -> float:
    """p("yes") once reranked, the BM25 score otherwise."""
    return hit.score if hit.score is not None else hit.bm25_score


def hit_record(hit: SearchHit) -> dict[str, Any]:
    """One result in the ``search --json`` shape: path, score (p(yes) once reranked, else BM25), BM25 rank,
    passage with its lines (and page for PDFs)."""
    passage: dict[str, Any] = {"start_line": hit.passage.start_line, "end_line": hit.passage.end_line,
                               "text": hit.passage.text}
    if hit.passage.page is not None:
        passage["page"] = hit.passage.page
    return {"path": hit.path, "score": shown_score(hit), "bm25_rank": hit.bm25_rank, "passage": passage}


def export_text(results: ResultSet, fmt: str) -> str:
    """``results`` written in ``fmt`` ("json", "csv" or "md").

    Raises:
        InputError: an unknown format.
    """
    writers = {"json": _json, "csv": _csv, "md": _markdown}
    if fmt not in writers:
        raise InputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](results)


def save_results(results: ResultSet, path: Path) -> Path:
    """Write ``results`` to a new file at ``path``, in the format its suffix names; an existing
    file is never replaced.

    Raises:
        InputError: a suffix other than .json, .csv, .md; the file exists; it cannot be written.
    """
    text = export_text(results, format_for(path.name))
    try:
        with open(path, "x", encoding="utf-8", newline="") as out:
            out.write(text)
    except FileExistsError as e:
        raise InputError(f"{path} exists already; choose another name") from e
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from e
    return path


def format_for(path: str) -> str:
    """The export format a file name asks for by its suffix (.json, .csv, .md or .markdown).

    Raises:
        InputError: any other suffix.
    """
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    fmt = {"markdown": "md"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise InputError(f"{path}: name the file .json, .csv or .md to choose the format")
    return fmt


def _json(results: ResultSet) -> str:
    payload: dict[str, Any] = {"query": results.query, "instruction": results.instruction or DEFAULT_INSTRUCTION,
               "model": results.model, "reranked": _reranked(results), "unit": results.unit,
               "results": [hit_record(hit) for hit in results.hits]}
    if results.variants:
        payload["variants"] = list(results.variants)
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _csv(results: ResultSet) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for rank, hit in enumerate(results.hits, start=1):
        writer.writerow({"rank": rank, "score": shown_score(hit), "reranked": hit.score is not None,
                         "bm25_rank": hit.bm25_rank, "path": hit.path, "start_line": hit.passage.start_line,
                         "end_line": hit.passage.end_line, "page": hit.passage.page or "",
                         "passage": hit.passage.text, "query": results.query,
                         "instruction": results.instruction or DEFAULT_INSTRUCTION, "model": results.model or ""})
    return out.getvalue()


_READ = {"passage": "best passage", "document": "best passages packed together"}


def _markdown(results: ResultSet) -> str:
    scored = "p(yes)" if _reranked(results) else "BM25"
    lines = [f"# {_cell(results.query)}", "",
             f"Instruction: {_cell(results.instruction or DEFAULT_INSTRUCTION)}  ",
             f"Model: {_cell(results.model or 'none (BM25 order)')}" + ("  " if _reranked(results) else ""),
             *([f"Reranked: each file's {_READ[results.unit]}"] if _reranked(results) else []), "",
             f"| rank | {scored} | BM25 rank | file | lines | passage |", "|---|---|---|---|---|---|"]
    for rank, hit in enumerate(results.hits, start=1):
        where = f"{hit.passage.start_line}-{hit.passage.end_line}"
        if hit.passage.page is not None:
            where = f"p. {hit.passage.page}"
        lines.append(f"| {rank} | {shown_score(hit):.4f} | {hit.bm25_rank} | {_cell(hit.path)} | {where} | "
                     f"{_cell(hit.passage.text)} |")
    return "\n".join(lines) + "\n"


def _reranked(results: ResultSet) -> bool:
    return any(hit.score is not None for hit in results.hits)


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
