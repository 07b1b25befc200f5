"""Which model a folder search uses when none is named: measured here, or the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.calibration import Measurement, save_speeds
from local_rerank.doctor import model_candidate
from local_rerank.hardware import probe_hardware
from local_rerank.loading import DEFAULT_MODEL, search_model
from local_rerank.settings import Settings
from local_rerank.store import import_model


def test_the_fastest_measured_format_of_the_default_size_is_used(gguf_files, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_RERANK_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "store"
    default = import_model(gguf_files["tied", "q8_0"], store, DEFAULT_MODEL)
    other = import_model(gguf_files["tied", "f16"], store, "qwen3-reranker-0.6b-f16")
    assert search_model(Settings(), store) == default.path  # nothing measured yet
    probe = probe_hardware()

    def measured(rates: dict[Path, float]) -> None:
        save_speeds(tmp_path / "cache", probe, [Measurement(model_candidate(path), "cpu", rate, 1.0)
                                                for path, rate in rates.items()])

    measured({default.path: 100.0, other.path: 500.0})
    assert search_model(Settings(), store) == other.path
    measured({default.path: 900.0})
    assert search_model(Settings(), store) == default.path
    assert search_model(Settings(model=str(other.path)), store) == other.path  # a named model always wins
