"""Measured speed on this machine: ``local-rerank doctor --bench`` scores a few prompts with each
model as the selector would run it, and remembers the rate per machine and model, so that the
selector orders faithful formats by what this machine does rather than by figures from another.

The record lives in the cache directory (``calibration.json``), keyed by a fingerprint of the
machine (CPU, its features and cores, GPUs, runtimes' CUDA support) and of each model (path,
size, modification time) and device. A changed machine or a rewritten model is measured again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from local_rerank.errors import CacheError, LocalRerankError
from local_rerank.hardware import HardwareProbe
from local_rerank.reranker import Reranker
from local_rerank.selector import Choice, ModelCandidate

CALIBRATION_FILE = "calibration.json"
# Four documents after one to warm up: about 11 s for the 0.6B model on two cores.
BENCH_QUERY = "how do I copy a folder with all its files to another disk?"
BENCH_SENTENCE = ("Use cp -r to copy a directory and everything inside it; rsync -a keeps permissions, "
                  "timestamps and links, and robocopy mirrors folder trees on Windows. ")
BENCH_DOCUMENTS = 4
BENCH_REPEATS = 9  # sentences per document: about 300 tokens (about 400 with the template)


@dataclass(frozen=True)
class Measurement:
    """One model on one device: prompt tokens per second, and the seconds the measurement took."""

    model: ModelCandidate
    device: str
    tokens_per_s: float
    seconds: float


def machine_key(probe: HardwareProbe) -> str:
    """A fingerprint of what decides speed here (free memory left out: it changes by the minute)."""
    parts = [probe.cpu_model, str(probe.physical_cores), str(probe.logical_cores), ",".join(sorted(probe.cpu_features)),
             ";".join(f"{gpu.name}/{gpu.total_mib}/{gpu.compute_capability}" for gpu in probe.gpus),
             str(probe.llama_cpp_cuda), str(probe.onnxruntime_cuda)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def model_key(model: ModelCandidate) -> str:
    """A model by where it is and what is there now (a rewritten file gets a new key)."""
    stat = model.path.stat()
    return f"{model.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def measure(choice: Choice) -> Measurement:
    """Score the bench prompts with ``choice`` (after one to warm up) and time it.

    Raises:
        LocalRerankError: the model does not load or run (the caller reports it).
    """
    documents = [BENCH_SENTENCE * BENCH_REPEATS] * BENCH_DOCUMENTS
    started = time.perf_counter()
    with Reranker.from_choices([choice]) as reranker:
        tokens = sum(len(prompt.ids) for prompt in reranker.prepare(BENCH_QUERY, documents))
        reranker.score(BENCH_QUERY, documents[:1])
        begun = time.perf_counter()
        reranker.score(BENCH_QUERY, documents)
        elapsed = time.perf_counter() - begun
    return Measurement(choice.model, choice.device, tokens / elapsed, time.perf_counter() - started)


def measure_apart(choice: Choice) -> Measurement:
    """:func:`measure` in a process of its own, so that the runtimes one model loads (llama.cpp on
    CUDA, onnxruntime) never share a process with another's: on a GPU machine that crashed one.

    Raises:
        LocalRerankError: the model does not load or run, or the measurement crashed its process.
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(measure, choice).result()
        except BrokenProcessPool as e:
            raise LocalRerankError(f"the measurement crashed its process ({choice.model.path.name} on "
                                   f"{choice.device})") from e


def load_speeds(cache: Path, probe: HardwareProbe) -> dict[tuple[str, str], float]:
    """The speeds measured on this machine (none when the record is missing, damaged or from another machine)."""
    try:
        record = json.loads((cache / CALIBRATION_FILE).read_text())
        measured = record["machines"][machine_key(probe)]
        return {(key, device): float(rate) for key, by_device in measured.items() for device, rate in by_device.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_speeds(cache: Path, probe: HardwareProbe, measurements: Sequence[Measurement]) -> Path:
    """Add ``measurements`` to the record for this machine (written whole, then moved into place).

    Raises:
        CacheError: the cache directory cannot be written.
    """
    path = cache / CALIBRATION_FILE
    try:
        record = json.loads(path.read_text())
        if not isinstance(record.get("machines"), dict):
            raise ValueError
    except (OSError, ValueError, AttributeError):
        record = {"machines": {}}
    machine = record["machines"].setdefault(machine_key(probe), {})
    for m in measurements:
        machine.setdefault(model_key(m.model), {})[m.device] = round(m.tokens_per_s, 2)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache, prefix=".calibration-")
        with os.fdopen(handle, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(temporary, path)
    except OSError as e:
        raise CacheError(f"cannot write the measurements to {cache}: {e.strerror or e}") from e
    return path


def speeds_for(models: Sequence[ModelCandidate],
               measured: Mapping[tuple[str, str], float]) -> dict[tuple[Path, str], float]:
    """The measured speeds of ``models`` by (path, device), for :func:`local_rerank.selector.choose`."""
    found = {}
    for model in models:
        try:
            key = model_key(model)
        except OSError:
            continue
        for (measured_key, device), rate in measured.items():
            if measured_key == key:
                found[model.path, device] = rate
    return found
