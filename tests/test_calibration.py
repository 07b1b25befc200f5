"""`doctor --bench` measurements: remembered per machine and model, forgotten when either changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from local_rerank.calibration import (
    CALIBRATION_FILE,
    Measurement,
    load_speeds,
    machine_key,
    measure,
    measure_apart,
    model_key,
    save_speeds,
    speeds_for,
)
from local_rerank.doctor import doctor_report, model_candidate
from local_rerank.errors import CacheError, LocalRerankError
from local_rerank.selector import ModelCandidate, choose
from tests.machines import SMALL_GPU, VNNI_LAPTOP


def _model(tmp_path: Path, name: str, quantization: str = "q8_0") -> ModelCandidate:
    path = tmp_path / name
    path.write_bytes(b"weights")
    return ModelCandidate(path, "gguf", quantization, 1.0)


def test_speeds_are_remembered_for_this_machine_only(tmp_path: Path) -> None:
    model = _model(tmp_path, "a.gguf")
    save_speeds(tmp_path / "cache", VNNI_LAPTOP, [Measurement(model, "cpu", 123.4, 2.0)])
    assert speeds_for([model], load_speeds(tmp_path / "cache", VNNI_LAPTOP)) == {(model.path, "cpu"): 123.4}
    assert load_speeds(tmp_path / "cache", SMALL_GPU) == {}  # another machine measures for itself
    assert machine_key(VNNI_LAPTOP) == machine_key(replace(VNNI_LAPTOP, free_ram_mib=1))  # memory comes and goes


def test_a_rewritten_model_is_measured_again(tmp_path: Path) -> None:
    model = _model(tmp_path, "a.gguf")
    save_speeds(tmp_path, VNNI_LAPTOP, [Measurement(model, "cpu", 50.0, 1.0)])
    model.path.write_bytes(b"other weights")
    assert speeds_for([model], load_speeds(tmp_path, VNNI_LAPTOP)) == {}


def test_measurements_add_up_and_a_damaged_record_starts_over(tmp_path: Path) -> None:
    first, second = _model(tmp_path, "a.gguf"), _model(tmp_path, "b.gguf", "bf16")
    save_speeds(tmp_path, VNNI_LAPTOP, [Measurement(first, "cpu", 10.0, 1.0)])
    save_speeds(tmp_path, VNNI_LAPTOP, [Measurement(second, "cpu", 20.0, 1.0)])
    assert len(speeds_for([first, second], load_speeds(tmp_path, VNNI_LAPTOP))) == 2
    (tmp_path / CALIBRATION_FILE).write_text("[not a record")
    assert load_speeds(tmp_path, VNNI_LAPTOP) == {}
    save_speeds(tmp_path, VNNI_LAPTOP, [Measurement(first, "cpu", 30.0, 1.0)])
    assert speeds_for([first], load_speeds(tmp_path, VNNI_LAPTOP)) == {(first.path, "cpu"): 30.0}


def test_an_unwritable_cache_is_a_cache_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="cannot write the measurements"):
        save_speeds(blocker / "cache", VNNI_LAPTOP, [Measurement(_model(tmp_path, "a.gguf"), "cpu", 1.0, 1.0)])


def test_doctor_suggests_measuring_when_nothing_was(gguf_files) -> None:
    models = [gguf_files["tied", "q8_0"], gguf_files["tied", "f16"]]
    report = doctor_report(replace(VNNI_LAPTOP, llama_cpp_installed=True), models)
    assert any("doctor --bench" in hint for hint in report["improvements"])
    measured = {(model_key(model_candidate(models[0])), "cpu"): 100.0}
    report = doctor_report(replace(VNNI_LAPTOP, llama_cpp_installed=True), models, measured=measured)
    assert not any("doctor --bench" in hint for hint in report["improvements"])


def test_measuring_a_real_model_gives_its_rate(gguf_files, llama_cpp) -> None:
    candidate = model_candidate(gguf_files["tied", "q8_0"])
    measurement = measure(choose(replace(VNNI_LAPTOP, llama_cpp_installed=True), [candidate])[0])
    assert measurement.device == "cpu" and measurement.tokens_per_s > 0 and measurement.seconds > 0


def test_doctor_bench_measures_remembers_and_explains(gguf_files, llama_cpp, tmp_path: Path) -> None:
    models = [str(gguf_files["tied", "q8_0"]), str(gguf_files["tied", "f16"])]
    environment = {**os.environ, "LOCAL_RERANK_CACHE": str(tmp_path / "cache"), "LOCAL_RERANK_CONFIG": "/nonexistent"}
    result = subprocess.run([sys.executable, "-m", "local_rerank", "doctor", "--bench", *models],
                            capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("prompt tokens/s on cpu") == 2 and "remembered in" in result.stderr
    assert result.stdout.count("measured here:") == 3  # each model's choice, and the best of them
    assert "Of these, the selector runs" in result.stdout
    record = json.loads((tmp_path / "cache" / CALIBRATION_FILE).read_text())
    assert len(next(iter(record["machines"].values()))) == 2
    assert "doctor --bench` measures these models" not in result.stdout  # measured now
    again = subprocess.run([sys.executable, "-m", "local_rerank", "doctor", "--json", *models],
                           capture_output=True, text=True, timeout=300, env=environment)
    report = json.loads(again.stdout)
    assert all("measured here" in model["choices"][0]["reason"] for model in report["models"])
    fastest = max(report["models"],
                  key=lambda m: float(m["choices"][0]["reason"].split("measured here: ")[1].split()[0]))
    assert report["best"]["path"] == fastest["path"]


def test_a_measurement_runs_apart_and_brings_back_its_error(tmp_path: Path) -> None:
    model = _model(tmp_path, "broken.gguf")  # not a GGUF at all
    choice = choose(replace(VNNI_LAPTOP, llama_cpp_installed=True), [model])[0]
    with pytest.raises(LocalRerankError, match="not a GGUF"):
        measure_apart(choice)
