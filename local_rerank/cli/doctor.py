"""``local-rerank doctor``: what this machine offers, what would run a model and why; ``--bench`` measures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from local_rerank.cache import cache_root
from local_rerank.calibration import load_speeds, save_speeds
from local_rerank.cli.model_options import DEVICES
from local_rerank.doctor import bench_models, doctor_report, format_report, llama_kernels_line
from local_rerank.errors import InputError
from local_rerank.hardware import probe_hardware
from local_rerank.selector import Preferences
from local_rerank.store import find, installed, resolve_model, store_dir
from local_rerank.text import printable


@click.command("doctor")
@click.argument("models", nargs=-1)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--bench", is_flag=True, help="Measure MODELS (default: every installed model) here (about 10 s "
                                           "each for the 0.6B on two cores) and remember the speeds: the selector "
                                           "then orders formats by them.")
def doctor(models: Sequence[str], device: str, as_json: bool, bench: bool) -> None:
    """What this machine offers, what would run MODELS (paths or installed names) and why."""
    store = store_dir()
    paths = [Path(m) if Path(m).exists() or find(store, str(m)) is None else resolve_model(str(m), store)
             for m in models]
    probe = probe_hardware()
    if bench:
        paths = paths or [model.path for model in installed(store) if model.format != "hf"]
        if not paths:
            raise InputError("nothing to measure: name model files, or install one first")
        measurements = bench_models(probe, paths, Preferences(device=device), lambda line: click.echo(line, err=True))
        if measurements:
            click.echo(f"remembered in {printable(str(save_speeds(cache_root(), probe, measurements)))}", err=True)
    report = doctor_report(probe, paths, Preferences(device=device), load_speeds(cache_root(), probe),
                           llama_kernels_line(probe))
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))  # ASCII-escaped JSON
    if any("error" in model for model in report["models"]):
        raise SystemExit(1)  # the report says why; a script's `doctor MODEL && ...` stops here
