"""The backend selector: which model file, backend, device and thread count, and why.

A pure function of a :class:`~local_rerank.hardware.HardwareProbe`, the model files at
hand and the user's preferences. It only chooses; loading is the caller's business, and a
caller whose GPU choice fails to initialise moves on to the next choice with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from local_rerank.errors import BackendUnavailableError
from local_rerank.formats import FORMATS, WEIGHT_TYPES
from local_rerank.formats import cpu_order as cpu_order_of_formats
from local_rerank.formats import gpu_order as gpu_order_of_formats
from local_rerank.hardware import BF16_FEATURES, VNNI_FEATURES, Gpu, HardwareProbe

# Headroom on top of the weights: KV cache, activations and the runtime's own buffers.
GPU_HEADROOM_MIB = 1024
CPU_HEADROOM_MIB = 1536
# Preference among model variants, best first: fidelity first, then speed (the ranks and why:
# local_rerank/formats.py). Faithful: at least as faithful as Q8_0 on the parity set, also with
# activation outliers; measured speed may reorder these, never put a less faithful one (W8A8
# int8-dynamic, OpenVINO int8, 4-bit) ahead of them. OpenVINO runs on the CPU only.
CPU_ORDER = cpu_order_of_formats()
CPU_FAITHFUL = frozenset(w.variant for w in WEIGHT_TYPES if w.cpu_faithful)
# Without BF16_FEATURES, llama.cpp converts bf16 to f32 in software: slower than every other
# faithful variant, so bf16 then goes behind f32.
_BF16 = ("gguf", "bf16")
# OpenVINO bf16 multiplies in bf16 only with BF16_FEATURES; without, its bf16-stored weights are widened
# to float32 at run time: neither faithful-fast nor a good choice, so it goes behind every other kind
# (it still runs where it is the only model).
_OPENVINO_BF16 = ("openvino", "bf16")
# OpenVINO's int8 export multiplies 8-bit activations by 8-bit weights only with VNNI_FEATURES;
# without, its products run in float32 on weights widened at run time.
_OPENVINO_INT8 = ("openvino", "int8")
# Weights in floating point: the CPU's 8-bit instructions (VNNI, AMX INT8) do nothing for them.
FLOAT_QUANTIZATIONS = frozenset({"bf16", "f16", "f32", "fp16", "fp32"})
# bf16 matrix products need compute capability 8.0 (Ampere); before that bf16 goes last.
GPU_ORDER = gpu_order_of_formats()
GPU_BF16_CAPABILITY = 8.0
Speeds = Mapping[tuple[Path, str], float]  # (model path, device) -> prompt tokens/s measured here


@dataclass(frozen=True)
class ModelCandidate:
    """A model file that could be run: where it is, its format and weight type, its size."""

    path: Path
    format: str  # "gguf", "onnx" or "openvino"
    quantization: str
    size_mib: float
    # False where the model's own conversion found it beyond its format's fidelity bar (its
    # manifest): it comes after the faithful formats on the same device, before the rest.
    faithful: bool = True


@dataclass(frozen=True)
class Preferences:
    """What the user asked for; None or "auto" leaves it to the selector."""

    backend: str | None = None
    device: str = "auto"
    threads: int | None = None


@dataclass(frozen=True)
class Choice:
    """One way to run: the model, backend, device, threads, and the reason in words."""

    model: ModelCandidate
    backend: str
    device: str
    threads: int
    reason: str


def choose(probe: HardwareProbe, models: list[ModelCandidate], preferences: Preferences = Preferences(),
           speeds: Speeds | None = None) -> list[Choice]:
    """Every workable way to run, best first. ``speeds`` (prompt tokens/s by model path and
    device, measured on this machine by ``doctor --bench``) put the measured faithful formats
    first, fastest first; the rest keep the order of their kind.

    Raises:
        BackendUnavailableError: ``device="cuda"`` without a usable GPU, or nothing can run;
            the message says what was found.
    """
    models = [m for m in models if preferences.backend in (None, m.format)]
    choices: list[Choice] = []
    speeds = speeds or {}
    if preferences.device != "cpu":
        choices += _gpu_choices(probe, models, preferences, speeds)
    if preferences.device == "cuda" and not choices:
        raise BackendUnavailableError(f"--device cuda: {_why_no_gpu(probe, models)}")
    if preferences.device != "cuda":
        choices += _cpu_choices(probe, models, preferences, speeds)
    if not choices:
        raise BackendUnavailableError(_why_nothing(probe, models))
    return choices


def _gpu_choices(probe: HardwareProbe, models: list[ModelCandidate], preferences: Preferences,
                 speeds: Speeds) -> list[Choice]:
    if not probe.gpus:
        return []
    gpu = max(probe.gpus, key=lambda g: g.free_mib)
    order = gpu_order(gpu)
    usable = [m for m in _ordered(models, order, frozenset(order), keep_unknown=False)
              if _has_cuda(probe, m.format) and m.size_mib + GPU_HEADROOM_MIB <= gpu.free_mib]
    threads = preferences.threads or probe.physical_cores
    return [Choice(m, m.format, "cuda", threads,
                   f"{gpu.name} has {gpu.free_mib} MiB free and {m.format} {m.quantization} needs about "
                   f"{m.size_mib + GPU_HEADROOM_MIB:.0f}; {_runtime(m.format)} has CUDA{_measured(speeds, m, 'cuda')}"
                   f"{_fidelity_note(m)}")
            for m in _fastest_first(usable, speeds, "cuda", frozenset(order))]


def _cpu_choices(probe: HardwareProbe, models: list[ModelCandidate], preferences: Preferences,
                 speeds: Speeds) -> list[Choice]:
    threads = preferences.threads or probe.physical_cores
    choices = []
    faithful = cpu_faithful(probe.cpu_features)
    ordered = _ordered(models, cpu_order(probe.cpu_features), faithful, keep_unknown=True)
    for m in _fastest_first(ordered, speeds, "cpu", faithful):
        if not _installed(probe, m.format):
            continue
        memory = ("" if m.size_mib + CPU_HEADROOM_MIB <= probe.free_ram_mib
                  else f"; warning: needs about {m.size_mib + CPU_HEADROOM_MIB:.0f} MiB, {probe.free_ram_mib} free")
        choices.append(Choice(m, m.format, "cpu", threads,
                              f"CPU, {threads} threads (physical cores){_isa_note(probe, m)}"
                              f"{_format_note(probe, m)}{_measured(speeds, m, 'cpu')}{_fidelity_note(m)}{memory}"))
    return choices


def _fastest_first(models: list[ModelCandidate], speeds: Speeds, device: str,
                   faithful_formats: frozenset[tuple[str, str]]) -> list[ModelCandidate]:
    """The faithful models measured on ``device`` first, fastest first; the others after them, as they were."""
    measured = sorted((m for m in models if (m.path, device) in speeds
                       and (m.format, m.quantization) in faithful_formats and m.faithful),
                      key=lambda m: -speeds[m.path, device])
    return measured + [m for m in models if m not in measured]


def _fidelity_note(model: ModelCandidate) -> str:
    return "" if model.faithful else "; its conversion measured it beyond its format's fidelity bar (manifest)"


def _measured(speeds: Speeds, model: ModelCandidate, device: str) -> str:
    rate = speeds.get((model.path, device))
    return "" if rate is None else f"; measured here: {rate:.0f} prompt tokens/s (doctor --bench)"


def cpu_order(features: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """CPU_ORDER for a CPU with these features: the bf16 kinds first only where bf16 runs natively;
    elsewhere GGUF bf16 goes behind f32 and OpenVINO bf16 behind every other kind."""
    if features & BF16_FEATURES:
        return CPU_ORDER
    rest = tuple(variant for variant in CPU_ORDER if variant not in (_BF16, _OPENVINO_BF16))
    after_f32 = rest.index(("gguf", "f32")) + 1
    return rest[:after_f32] + (_BF16,) + rest[after_f32:] + (_OPENVINO_BF16,)


def cpu_faithful(features: frozenset[str]) -> frozenset[tuple[str, str]]:
    """CPU_FAITHFUL for a CPU with these features: OpenVINO bf16 counts (for measured speeds and
    for where a model beyond its bar goes) only where bf16 runs natively."""
    return CPU_FAITHFUL if features & BF16_FEATURES else CPU_FAITHFUL - {_OPENVINO_BF16}


def _format_note(probe: HardwareProbe, model: ModelCandidate) -> str:
    """How this CPU runs the model's arithmetic, for the formats whose speed depends on it."""
    if (model.format, model.quantization) == _OPENVINO_INT8:
        arithmetic = ("OpenVINO multiplies 8-bit activations by 8-bit weights (VNNI)"
                      if probe.cpu_features & VNNI_FEATURES
                      else "no VNNI: OpenVINO widens the 8-bit weights to float32")
        return f"; {arithmetic}; less faithful than Q8_0 where activations have outliers"
    if (model.format, model.quantization) == _OPENVINO_BF16:
        if probe.cpu_features & BF16_FEATURES:
            return "; OpenVINO runs bf16 products natively (AVX512-BF16/AMX)"
        return "; no AVX512-BF16 or AMX: OpenVINO converts the bf16 weights to float32 in software (slow)"
    if (model.format, model.quantization) != _BF16:
        return ""
    if probe.cpu_features & BF16_FEATURES:
        return "; bf16 products run natively (AVX512-BF16/AMX)"
    return "; no AVX512-BF16 or AMX: bf16 is converted in software (slow)"


def gpu_order(gpu: Gpu) -> tuple[tuple[str, str], ...]:
    """GPU_ORDER for this GPU: bf16 first only from compute capability 8.0."""
    try:
        native_bf16 = float(gpu.compute_capability) >= GPU_BF16_CAPABILITY
    except ValueError:  # nvidia-smi too old to report it
        native_bf16 = False
    if native_bf16:
        return GPU_ORDER
    return tuple(variant for variant in GPU_ORDER if variant != _BF16) + (_BF16,)


def _ordered(models: list[ModelCandidate], order: tuple[tuple[str, str], ...],
             faithful_formats: frozenset[tuple[str, str]], keep_unknown: bool) -> list[ModelCandidate]:
    """Models in order of preference; variants not in ``order`` last (on the CPU) or left out
    (on the GPU, where an unknown variant may hold operators without CUDA kernels). A model whose
    conversion found it beyond its bar comes right after the last of ``faithful_formats``."""
    rank = {variant: float(i) for i, variant in enumerate(order)}
    beyond = max((rank[v] for v in faithful_formats if v in rank), default=-1.0) + 0.5

    def place(m: ModelCandidate) -> float:
        return rank.get((m.format, m.quantization), float(len(order))) if m.faithful else beyond

    kept = [m for m in models if keep_unknown or (m.format, m.quantization) in rank]
    return sorted(kept, key=lambda m: (place(m), m.size_mib))


def _installed(probe: HardwareProbe, fmt: str) -> bool:
    return fmt in FORMATS and bool(getattr(probe, FORMATS[fmt].probe_installed))


def _has_cuda(probe: HardwareProbe, fmt: str) -> bool:
    cuda = FORMATS[fmt].probe_cuda if fmt in FORMATS else None
    return cuda is not None and bool(getattr(probe, cuda))


def _runtime(fmt: str) -> str:
    return FORMATS[fmt].cuda_runtime or FORMATS[fmt].runtime


def _isa_note(probe: HardwareProbe, model: ModelCandidate) -> str:
    """What this CPU's instruction set means for the model's 8-bit arithmetic; nothing for a float
    model (how bf16 runs is :func:`_format_note`'s), unless the CPU lacks AVX2 altogether."""
    features = probe.cpu_features
    if not features & (VNNI_FEATURES | {"avx2"}):
        return "; no AVX2: expect slow scoring; a GPU or a newer CPU helps most"
    if model.quantization in FLOAT_QUANTIZATIONS:
        return ""
    if "amx_int8" in features and model.format != "gguf":  # llama.cpp's AMX kernels are left out (llama_kernels)
        return "; AMX INT8 tiles available"
    if features & VNNI_FEATURES:
        return "; VNNI INT8 dot products available"
    return "; AVX2 without VNNI: INT8 runs, more slowly than on VNNI CPUs"


def _why_no_gpu(probe: HardwareProbe, models: list[ModelCandidate]) -> str:
    if not probe.gpus:
        return "no CUDA GPU was found (nvidia-smi missing or reported none)"
    gpu = max(probe.gpus, key=lambda g: g.free_mib)
    formats = {m.format for m in models}
    if not any(_has_cuda(probe, f) for f in formats):
        return f"{gpu.name} found, but " + "; ".join(FORMATS[f].no_cuda_hint for f in sorted(formats))
    smallest = min((m for m in models if _has_cuda(probe, m.format)), key=lambda m: m.size_mib)
    return (f"{gpu.name} has {gpu.free_mib} MiB free; the smallest model that runs there needs about "
            f"{smallest.size_mib + GPU_HEADROOM_MIB:.0f} MiB")


def _why_nothing(probe: HardwareProbe, models: list[ModelCandidate]) -> str:
    if not models:
        return "no model to run: convert one with `local-rerank convert`"
    formats = sorted({m.format for m in models})
    return "no runtime for " + ", ".join(formats) + " models is installed: pip install " + \
        " ".join(f"'local-rerank[{FORMATS[f].extra}]'" for f in formats if not _installed(probe, f))
