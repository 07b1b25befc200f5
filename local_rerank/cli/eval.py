"""``local-rerank eval``: measure BM25 and BM25 + rerank on a labelled collection, or compare two models."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import click

from local_rerank.cache import cache_root
from local_rerank.cli.model_options import instruction_option, model_option
from local_rerank.errors import InputError
from local_rerank.eval.compare import compare_models
from local_rerank.eval.datasets import EvalSet, load_eval_set, unindexed_relevant
from local_rerank.eval.report import metrics_table, score_chart
from local_rerank.eval.runner import EvalProgress, StageResult, evaluate
from local_rerank.loading import open_reranker, search_model
from local_rerank.reranker import Reranker
from local_rerank.search.packing import UNITS, Unit
from local_rerank.search.pipeline import CPU_CANDIDATES
from local_rerank.settings import MAX_CANDIDATES, resolve_settings
from local_rerank.store import resolve_model, store_dir
from local_rerank.text import printable


@click.command("eval")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--queries", "queries_file", type=click.Path(path_type=Path),
              help='With a FOLDER as SOURCE: JSONL of {"query", "relevant": path or [paths]}.')
@model_option("The model to rerank with (default: the `model` setting or default model).")
@click.option("--no-rerank", is_flag=True, help="BM25 alone; no model is loaded.")
@click.option("--compare", "compare", nargs=2, metavar="MODEL_A MODEL_B",
              help="Compare two models' scores on the BM25 candidates instead (|Δp|, Spearman, Kendall, top-k).")
@click.option("--candidates", type=click.IntRange(1, MAX_CANDIDATES), default=CPU_CANDIDATES, show_default=True,
              help="BM25 candidates per query (Recall is measured at this cut).")
@instruction_option()
@click.option("--rewrite", is_flag=True, help="Also measure query rewriting (rewrite, rewrite+rerank stages).")
@click.option("--fuse", type=click.Choice(["max", "mean"]), default="max", show_default=True,
              help="With --rewrite: how a candidate's scores against the query and its variants are fused.")
@click.option("--unit", type=click.Choice([*UNITS, "both"]), default="passage", show_default=True,
              help="What the reranker reads of a file: its best passage, its best passages packed (document), "
                   "or both, side by side (stage bm25+rerank[document]).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def eval_(source: Path, queries_file: Path | None, model_path: str | None, no_rerank: bool,
          compare: tuple[str, str] | None, candidates: int, instruction: str | None, rewrite: bool, fuse: str,
          unit: Unit | Literal["both"], as_json: bool) -> None:
    """Measure search quality on SOURCE: a BEIR folder, a JSONL of {query, positives, candidates},
    or a folder with --queries. Scores are cached, so an interrupted run resumes."""
    settings = resolve_settings({"model": model_path})
    eval_set = load_eval_set(source, queries_file, cache_root())
    for index in eval_set.indexes:
        index.update()
    missing = unindexed_relevant(eval_set)
    if missing:
        shown = (", ".join(printable(path) for path in missing[:5])
                 + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
        click.echo(f"warning: the index holds no file {shown}, named as relevant: "
                   f"{'it scores' if len(missing) == 1 else 'they score'} as a miss", err=True)
    if compare:
        first, second = (open_reranker(resolve_model(name, store_dir()), settings) for name in compare)
        summary = compare_models(eval_set, first, second, candidates, instruction)
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False) if as_json else _compare_text(summary))
        return
    model = None if no_rerank else search_model(settings)
    if model is None and not no_rerank:
        raise InputError("no model installed: give --model, or --no-rerank for BM25 alone")
    reranker = open_reranker(model, settings) if model is not None else None
    units = UNITS if unit == "both" else (unit,)
    results = evaluate(eval_set, reranker, candidates, instruction, progress=_progress(), rewrite=rewrite, fuse=fuse,
                       units=units)
    if as_json:
        click.echo(json.dumps(_record(eval_set, results, reranker), indent=2, ensure_ascii=False))
        return
    click.echo(f"{eval_set.name}: {len(eval_set.queries)} queries, at most {candidates} candidates each"
               + (f", reranked by {reranker.info.model}" if reranker else ""))
    click.echo(metrics_table(results))
    for stage in (stage for stage in results if stage.startswith("bm25+rerank")):
        click.echo(f"\np(yes) of the candidates ({stage})\n"
                   + score_chart(results[stage].relevant, results[stage].others))


def _record(eval_set: EvalSet, results: dict[str, StageResult], reranker: Reranker | None) -> dict[str, object]:
    return {"collection": eval_set.name, "queries": len(eval_set.queries),
            "model": reranker.info.model if reranker is not None else None,
            "stages": {stage: {**result.metrics, "seconds_per_query": result.seconds}
                       for stage, result in results.items()}}


def _compare_text(summary: dict[str, float]) -> str:
    return "\n".join(f"{name:<16}{int(value) if name == 'queries' else f'{value:.4f}'}"
                     for name, value in summary.items())


def _progress() -> Callable[[EvalProgress], None] | None:
    """Progress with ETA on an interactive stderr, else None."""
    if not sys.stderr.isatty():
        return None

    def show(update: EvalProgress) -> None:
        end = "\n" if update.done == update.total else ""
        click.echo(f"\rquery {update.done}/{update.total}, about {update.eta:.0f} s left ", err=True, nl=False)
        click.echo(end, err=True, nl=False)

    return show
