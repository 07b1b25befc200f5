"""From settings to a running reranker: which model, and the selector's ways to run it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from local_rerank.cache import cache_root
from local_rerank.calibration import load_speeds, speeds_for
from local_rerank.doctor import model_candidate
from local_rerank.errors import LocalRerankError
from local_rerank.hardware import probe_hardware
from local_rerank.reranker import Reranker
from local_rerank.selector import Choice, Preferences, choose
from local_rerank.settings import Settings
from local_rerank.store import find, installed, resolve_model, store_dir

DEFAULT_MODEL = "qwen3-reranker-0.6b-q8_0-gguf"
DEFAULT_FAMILY = "qwen3-reranker-0.6b"  # its other formats: -bf16, -onnx-int8-a8, ... (`models pull --convert`)
GET_A_MODEL = (f"get one with `local-rerank models pull {DEFAULT_MODEL}` (or `local-rerank models import FILE` "
               "on an air-gapped machine)")


def choices_for(model: Path, settings: Settings) -> list[Choice]:
    """The selector's ways to run this model with these settings, best first."""
    candidate = model_candidate(model)
    if settings.backend is not None:  # the user overrides the format read from the file
        candidate = replace(candidate, format=settings.backend)
    return choose(probe_hardware(), [candidate], Preferences(device=settings.device, threads=settings.threads))


def open_reranker(model: Path, settings: Settings) -> Reranker:
    """The first of the selector's ways to run ``model`` that starts (GPU failures fall back
    with a :class:`DeviceFallbackWarning`), with the settings' token budget."""
    return Reranker.from_choices(choices_for(model, settings), max_length=settings.max_length)


def search_model(settings: Settings, store: Path | None = None) -> Path | None:
    """The model folder search uses: the ``model`` setting; else, of the installed formats of the
    default model's size, the fastest faithful one that ``doctor --bench`` measured here; else the
    default model if it is installed; else None (lexical search only).

    Raises:
        ModelError: the ``model`` setting names nothing that exists.
    """
    store = store or store_dir()
    if settings.model is not None:
        return resolve_model(settings.model, store)
    measured = _fastest_measured_variant(store, settings)
    if measured is not None:
        return measured
    stored = find(store, DEFAULT_MODEL)
    return stored.path if stored is not None and stored.format != "hf" else None


def _fastest_measured_variant(store: Path, settings: Settings) -> Path | None:
    """The selector's first choice among the installed variants of the default model's size, when
    any of them was measured on this machine; None otherwise."""
    family = [m for m in installed(store) if m.name.startswith(DEFAULT_FAMILY) and m.format != "hf"]
    if len(family) < 2:
        return None
    probe = probe_hardware()
    measured = load_speeds(cache_root(), probe)
    if not measured:
        return None
    candidates = []
    for model in family:
        try:
            candidates.append(model_candidate(model.path))
        except LocalRerankError:
            continue  # a damaged install: loading it says what is wrong, if it is ever chosen
    speeds = speeds_for(candidates, measured)
    if not speeds:
        return None
    try:
        preferences = Preferences(backend=settings.backend, device=settings.device, threads=settings.threads)
        return choose(probe, candidates, preferences, speeds)[0].model.path
    except LocalRerankError:
        return None
