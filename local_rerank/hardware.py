"""What this machine offers for running a reranker: CPU features, memory, CUDA GPUs, runtimes.

Each probe is cheap, has no side effects, and reports "not available" rather than failing
when a library or tool is missing. :func:`probe_hardware` gathers them; the selector
(:mod:`local_rerank.selector`) is a pure function of its result.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# CPU features that decide how fast INT8 and F16 matrix products run.
INT8_FEATURES = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
# CPU features that multiply bf16 natively (else bf16 is converted in software), and those with
# 8-bit dot products (VNNI, or AMX tiles).
BF16_FEATURES = frozenset({"avx512_bf16", "amx_bf16"})
VNNI_FEATURES = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass(frozen=True)
class Gpu:
    """One CUDA device as nvidia-smi reports it."""

    name: str
    total_mib: int
    free_mib: int
    compute_capability: str


@dataclass(frozen=True)
class HardwareProbe:
    """A snapshot of the machine; build one by hand to ask "what would be chosen on X?"."""

    cpu_model: str = "unknown CPU"
    physical_cores: int = 1
    logical_cores: int = 1
    cpu_features: frozenset[str] = frozenset()
    free_ram_mib: int = 0
    gpus: tuple[Gpu, ...] = ()
    llama_cpp_installed: bool = False
    llama_cpp_cuda: bool = False  # llama-cpp-python built with GPU offload
    onnxruntime_installed: bool = False
    onnxruntime_cuda: bool = False  # onnxruntime-gpu with its CUDA provider
    openvino_installed: bool = False  # CPU only here: OpenVINO's GPU plugin is for Intel GPUs


def probe_hardware() -> HardwareProbe:
    """Probe this machine (a few milliseconds, plus nvidia-smi where it exists)."""
    cpu_model, features, physical = probe_cpu()
    llama_installed, llama_cuda = _llama_cpp()
    onnx_installed, onnx_cuda = _onnxruntime()
    return HardwareProbe(
        cpu_model=cpu_model,
        physical_cores=physical,
        logical_cores=available_cores(),
        cpu_features=features,
        free_ram_mib=_free_ram_mib(),
        gpus=_nvidia_gpus(),
        llama_cpp_installed=llama_installed,
        llama_cpp_cuda=llama_cuda,
        onnxruntime_installed=onnx_installed,
        onnxruntime_cuda=onnx_cuda,
        openvino_installed=importlib.util.find_spec("openvino") is not None,  # never imported by the probe
    )


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def probe_cpu() -> tuple[str, frozenset[str], int]:
    """The CPU's model name, its flags of :data:`INT8_FEATURES`, and its physical cores."""
    model, flags, cores = _read_cpuinfo()
    return model, flags & set(INT8_FEATURES), cores


def cpu_flags() -> frozenset[str]:
    """Every flag of the CPU as /proc/cpuinfo lists them (empty where there is no such file)."""
    return _read_cpuinfo()[1]


def _read_cpuinfo() -> tuple[str, frozenset[str], int]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return platform.processor() or platform.machine(), frozenset(), max(1, (os.cpu_count() or 2) // 2)
    model, flags, cores = platform.machine(), set[str](), set[tuple[str, str]]()
    physical_id = "0"
    for line in cpuinfo.read_text(errors="replace").splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name":
            model = value
        elif key == "flags" and not flags:
            flags = set(value.split())
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            cores.add((physical_id, value))
    return model, frozenset(flags), len(cores) or available_cores()


def _free_ram_mib() -> int:
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def _nvidia_gpus() -> tuple[Gpu, ...]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    query = "--query-gpu=name,memory.total,memory.free,compute_cap"
    try:
        result = subprocess.run([smi, query, "--format=csv,noheader,nounits"], capture_output=True, text=True,
                                timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(gpu for line in result.stdout.splitlines() if (gpu := _parse_gpu(line)) is not None)


def _parse_gpu(line: str) -> Gpu | None:
    parts = [part.strip() for part in line.split(",")]
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return Gpu(name=parts[0], total_mib=int(parts[1]), free_mib=int(parts[2]), compute_capability=parts[3])


def _llama_cpp() -> tuple[bool, bool]:
    """Installed (its library loads), and built with GPU offload: a single build says so itself; a
    build for every CPU has its GPU backend as a module beside the CPU kernels, not loaded here
    (:mod:`local_rerank.backends.llama_kernels` loads them when a GGUF model opens)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False, False
    try:
        import llama_cpp
    except (ImportError, OSError, RuntimeError):  # a broken build: its shared library does not load
        return False, False
    gpu_module = any(library_folder(llama_cpp).glob("libggml-cuda*.so"))
    return True, gpu_module or bool(llama_cpp.llama_supports_gpu_offload())


def _onnxruntime() -> tuple[bool, bool]:
    """Installed, and whether the installed build has the CUDA provider, read from the installed
    distributions: importing onnxruntime into a process where llama.cpp runs on CUDA crashed it
    (H100 machine, onnxruntime 1.30), so the probe never imports it."""
    if importlib.util.find_spec("onnxruntime") is None:
        return False, False
    try:
        importlib.metadata.distribution("onnxruntime-gpu")
    except importlib.metadata.PackageNotFoundError:
        return True, False
    return True, True


def library_folder(llama: Any) -> Path:
    """Where llama-cpp-python loaded libllama from (its ``lib`` folder, or LLAMA_CPP_LIB_PATH)."""
    bindings = importlib.import_module(f"{llama.__name__}.llama_cpp")
    return Path(getattr(bindings, "_base_path", Path(llama.__file__).parent / "lib"))
