"""``local-rerank doctor``: what was found, what would be chosen for each model and why,
and what to install to do better."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from local_rerank.backends import detect_format
from local_rerank.backends.gguf import load_llama_cpp
from local_rerank.calibration import Measurement, measure_apart, speeds_for
from local_rerank.errors import LocalRerankError, ModelError
from local_rerank.formats import FORMATS
from local_rerank.gguf_file import file_type_name, read_gguf_model
from local_rerank.gguf_reader import read_header
from local_rerank.hardware import BF16_FEATURES, HardwareProbe
from local_rerank.manifest import manifest_path, read_manifest
from local_rerank.selector import ModelCandidate, Preferences, choose
from local_rerank.text import printable


def model_candidate(path: Path) -> ModelCandidate:
    """Describe a model file or export folder for the selector (reads its header or manifest, cheaply).

    Loading the model validates it fully; :func:`validate_model` does so without loading.

    Raises:
        ModelError: not a model (see :func:`local_rerank.backends.detect_format`), or a
            manifest that is not a JSON object.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "gguf":
        try:
            file_type = file_type_name(read_header(path).fields.get("general.file_type"))
        except (ValueError, OSError):
            file_type = "unknown"  # loading will say exactly what is wrong with the file
        beside = manifest_path(path)
        try:  # the manifest beside a GGUF file is optional: the file describes itself
            manifest = read_manifest(beside) if beside.is_file() else {}
        except ModelError:
            manifest = {}
        return ModelCandidate(path, fmt, file_type, path.stat().st_size / 2**20, _faithful(manifest))
    folder = path if path.is_dir() else path.parent
    manifest = read_manifest(manifest_path(folder)) if manifest_path(folder).is_file() else {}
    quantization = manifest.get("quantization")
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2**20
    return ModelCandidate(folder, fmt, quantization if isinstance(quantization, str) else "unknown", size,
                          _faithful(manifest))


def _faithful(manifest: dict[str, Any]) -> bool:
    """False where the conversion's parity check found the model beyond its format's fidelity bar."""
    parity = manifest.get("parity")
    return not (isinstance(parity, dict) and parity.get("faithful") is False)


def validate_model(candidate: ModelCandidate) -> None:
    """Refuse what ``rank`` would refuse before loading: a GGUF goes through the same checks
    (architecture, vocabulary, yes/no head) as :func:`local_rerank.gguf_file.read_gguf_model`.

    Raises:
        ModelError: the reason the model cannot run.
    """
    if candidate.format == "gguf":
        read_gguf_model(candidate.path)


def improvements(probe: HardwareProbe, models: Sequence[ModelCandidate] = ()) -> list[str]:
    """What to install, convert or change to run faster on this machine, given the models at hand."""
    hints = []
    have = {(m.format, m.quantization) for m in models}
    if probe.cpu_features & BF16_FEATURES and probe.openvino_installed and ("openvino", "bf16") not in have:
        hints.append("this CPU multiplies bf16 natively: an OpenVINO bf16 export, the released weights' own "
                     "precision, is the fastest faithful format here, about 4x a bf16 GGUF "
                     "(local-rerank convert CHECKPOINT --format openvino --quant bf16)")
    elif probe.cpu_features & BF16_FEATURES and not probe.openvino_installed and ("gguf", "bf16") not in have:
        hints.append("this CPU multiplies bf16 natively: a bf16 GGUF, the released weights' own precision, is the "
                     "fastest faithful format here (local-rerank convert CHECKPOINT --quant bf16)")
    if probe.gpus and probe.llama_cpp_installed and not probe.llama_cpp_cuda:
        hints.append('a CUDA build of llama-cpp-python would use the GPU: CMAKE_ARGS="-DGGML_CUDA=on" '
                     "pip install --force-reinstall --no-cache-dir llama-cpp-python")
    if probe.gpus and probe.onnxruntime_installed and not probe.onnxruntime_cuda:
        hints.append("onnxruntime-gpu would run ONNX models on the GPU: pip uninstall onnxruntime && "
                     "pip install 'local-rerank[onnx-gpu]'")
    for fmt in FORMATS.values():
        wanted = fmt.suggested or any(name == fmt.name for name, _ in have)
        if wanted and not getattr(probe, fmt.probe_installed):
            hints.append(f"{fmt.title} models need {fmt.runtime}: pip install 'local-rerank[{fmt.extra}]'")
    if "avx2" not in probe.cpu_features:
        hints.append("this CPU lacks AVX2, so INT8 scoring is slow; a GPU helps most")
    return hints


def bench_models(probe: HardwareProbe, models: Sequence[Path], preferences: Preferences = Preferences(),
                 progress: Callable[[str], None] = lambda line: None) -> list[Measurement]:
    """Measure each runnable model on the selector's first way to run it, each in a process of its own
    (:func:`local_rerank.calibration.measure_apart`);
    a model that cannot run is reported through ``progress`` and left out."""
    measurements = []
    for path in models:
        try:
            candidate = model_candidate(path)
            validate_model(candidate)
            choice = choose(probe, [candidate], preferences)[0]
            measurement = measure_apart(choice)
        except LocalRerankError as e:
            progress(f"{printable(str(path))}: cannot run: {printable(str(e))}")
            continue
        progress(f"{printable(str(path))}: {measurement.tokens_per_s:.0f} prompt tokens/s on {measurement.device} "
                 f"({measurement.seconds:.1f} s)")
        measurements.append(measurement)
    return measurements


def llama_kernels_line(probe: HardwareProbe) -> str:
    """The CPU kernels llama.cpp runs here (loading them), or why none can; "" without llama.cpp."""
    if not probe.llama_cpp_installed:
        return ""

    try:
        return load_llama_cpp()[1].describe()
    except LocalRerankError as e:
        return f"cannot run: {e}"


def doctor_report(probe: HardwareProbe, models: Sequence[Path], preferences: Preferences = Preferences(),
                  measured: Mapping[tuple[str, str], float] | None = None, llama_kernels: str = "") -> dict[str, Any]:
    """The whole report as plain data (printed as text or JSON by the CLI); ``measured`` are the speeds
    ``doctor --bench`` recorded on this machine (:func:`local_rerank.calibration.load_speeds`),
    ``llama_kernels`` the line of :func:`llama_kernels_line`."""
    entries = []
    candidates = []
    measured = measured or {}
    for path in models:
        entry: dict[str, Any] = {"path": str(path)}
        try:
            candidate = model_candidate(path)
            validate_model(candidate)
            candidates.append(candidate)
            entry.update(format=candidate.format, quantization=candidate.quantization,
                         size_mib=round(candidate.size_mib, 1))
            entry["choices"] = [{"backend": c.backend, "device": c.device, "threads": c.threads, "reason": c.reason}
                                for c in choose(probe, [candidate], preferences, speeds_for([candidate], measured))]
        except LocalRerankError as e:
            entry["error"] = str(e)
        entries.append(entry)
    hardware = asdict(probe)
    hardware["cpu_features"] = sorted(probe.cpu_features)
    best = None
    hints = improvements(probe, candidates)
    if len(candidates) > 1 and not speeds_for(candidates, measured):
        hints.append("`local-rerank doctor --bench` measures these models here, and the selector then orders "
                     "them by what it measured")
    if len(candidates) > 1:
        try:
            first = choose(probe, candidates, preferences, speeds_for(candidates, measured))[0]
            best = {"path": str(first.model.path), "device": first.device, "reason": first.reason}
        except LocalRerankError:
            pass
    hardware["llama_cpp_kernels"] = llama_kernels
    return {"hardware": hardware, "models": entries, "best": best, "improvements": hints}


def format_report(report: dict[str, Any]) -> str:
    """The report as lines for people."""
    hw = report["hardware"]
    gpus = ", ".join(f"{g['name']} ({g['free_mib']}/{g['total_mib']} MiB free, sm {g['compute_capability']})"
                     for g in hw["gpus"]) or "none"
    lines = [
        f"CPU: {hw['cpu_model']}, {hw['physical_cores']} cores ({hw['logical_cores']} threads), "
        f"INT8 features: {', '.join(hw['cpu_features']) or 'none'}",
        f"RAM: {hw['free_ram_mib']} MiB free",
        f"GPUs: {gpus}",
        f"llama-cpp-python: {_runtime(hw['llama_cpp_installed'], hw['llama_cpp_cuda'])}; "
        f"onnxruntime: {_runtime(hw['onnxruntime_installed'], hw['onnxruntime_cuda'])}; "
        f"openvino: {_runtime(hw['openvino_installed'], False)}",
    ]
    if hw["llama_cpp_kernels"]:
        lines.append(f"llama.cpp CPU: {printable(hw['llama_cpp_kernels'])}")
    for model in report["models"]:
        lines.append(f"\n{printable(model['path'])}")
        if "error" in model:
            lines.append(f"  cannot run: {printable(model['error'])}")
            continue
        lines.append(f"  {model['format']} {model['quantization']}, {model['size_mib']:.0f} MiB")
        for rank, choice in enumerate(model["choices"], start=1):
            lines.append(f"  {'chosen' if rank == 1 else 'then'}: {choice['backend']} on {choice['device']} "
                         f"- {choice['reason']}")
    if report.get("best"):
        best = report["best"]
        lines.append(f"\nOf these, the selector runs {printable(best['path'])} on {best['device']}: {best['reason']}")
    if report["improvements"]:
        lines.append("\nTo do better:")
        lines.extend(f"  - {hint}" for hint in report["improvements"])
    return "\n".join(lines)


def _runtime(installed: bool, cuda: bool) -> str:
    return "not installed" if not installed else "with CUDA" if cuda else "CPU only"
