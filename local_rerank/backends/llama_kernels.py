"""Which CPU kernels llama.cpp runs here, loaded before any model is.

``make setup`` builds llama.cpp once for every x86-64 CPU (``GGML_BACKEND_DL`` with
``GGML_CPU_ALL_VARIANTS``): the library itself uses no instruction newer than x86-64, and its
CPU kernels are built once per CPU generation, as modules beside it (``libggml-cpu-haswell.so``,
``-skylakex``, ``-zen4``, ...). ggml only looks for them beside the Python executable, so
:func:`load_kernels` asks each module whether this CPU runs it (ggml's own score: 0 when an
instruction is missing, higher for more of them) and registers the best one.

AMX is left out. ggml's AMX kernels (the ``sapphirerapids`` module, or any build with AMX on)
set up the tile registers from a configuration that GCC before 13.3 optimises away (its
``_tile_loadconfig`` tells the compiler it reads 8 bytes of the 64), so the first tile
multiply faults: a segmentation fault on every Intel Xeon with AMX (llama.cpp issue 20824).
The best module without AMX (``zen4``: AVX-512 with VNNI and BF16) runs there instead; in a
single build with AMX compiled in (a native build on such a machine), the repacked weight
buffers that route matrix products to AMX are turned off (:attr:`LlamaKernels.repack`). On
x86, Q8_0, bf16 and f16 have no other repacked layout, so that costs them nothing (the 4-bit
types lose their AVX2 layout).

A single build (a native ``-march=native`` one, or a CUDA one) has its kernels built in;
:func:`load_kernels` then checks that this CPU has every instruction set they were compiled
for, since running them elsewhere dies with SIGILL, and says so in one line instead.
"""

from __future__ import annotations

import _ctypes
import ctypes
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_rerank.errors import BackendUnavailableError
from local_rerank.hardware import cpu_flags, library_folder

# ggml's instruction sets, as its feature list and its ``ggml_cpu_has_*`` functions name them,
# and the /proc/cpuinfo flag that says a CPU has each one.
ISA_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX_VNNI": "avx_vnni", "AVX2": "avx2", "F16C": "f16c",
    "FMA": "fma", "BMI2": "bmi2", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
}
AMX_OFF = ("ggml's AMX kernels crash when built by GCC before 13.3 (the tile configuration is "
           "optimised away; llama.cpp issue 20824)")
_VARIANT = re.compile(r"^libggml-cpu-(.+)\.so$")


@dataclass(frozen=True)
class LlamaKernels:
    """What :func:`load_kernels` found and chose.

    Attributes:
        variant: the CPU module loaded (``"haswell"``, ``"zen4"``...), or None in a single build.
        variants: every CPU module the build has (empty in a single build).
        isa: the instruction sets the running CPU kernels were compiled for (ggml's names).
        amx: why AMX is off, or "" where it is not in play (this CPU or this build has none).
        repack: whether models may use repacked weight buffers (off where they would reach AMX).
    """

    variant: str | None
    variants: tuple[str, ...]
    isa: tuple[str, ...]
    amx: str = ""
    repack: bool = True

    def describe(self) -> str:
        """One line for ``doctor``."""
        isa = " ".join(self.isa) or "x86-64 baseline"
        if self.variant is not None:
            line = f"{self.variant} kernels ({isa}), chosen for this CPU among {len(self.variants)} built"
        else:
            line = f"one CPU build ({isa}): it runs only on CPUs with all of these"
        return f"{line}; AMX off: {self.amx}" if self.amx else line


_lock = threading.Lock()
_loaded: LlamaKernels | None = None


def load_kernels(llama: Any) -> LlamaKernels:
    """Register llama.cpp's CPU kernels for this CPU, once per process; every later call returns
    what the first one chose. ``llama`` is the imported ``llama_cpp`` module.

    Raises:
        BackendUnavailableError: no module runs on this CPU, or a single build was compiled for
            instructions this CPU lacks.
    """
    global _loaded
    with _lock:
        if _loaded is None:
            flags = cpu_flags()
            lib = library_folder(llama)
            variants = variant_modules(lib)
            _loaded = _load_variant(lib, variants, flags) if variants else _check_single_build(lib, flags)
        return _loaded


def variant_modules(lib: Path) -> dict[str, Path]:
    """The CPU kernel modules of a ``GGML_CPU_ALL_VARIANTS`` build in ``lib``, by variant name."""
    found = {}
    for path in sorted(lib.glob("libggml-cpu-*.so")):
        if match := _VARIANT.match(path.name):
            found[match.group(1)] = path
    return found


@dataclass(frozen=True)
class Variant:
    """One CPU module as ggml describes it: its score on this CPU (0: an instruction is missing) and
    the instruction sets it was compiled for."""

    name: str
    score: int
    isa: tuple[str, ...]


def choose_variant(variants: Sequence[Variant]) -> Variant | None:
    """The runnable variant (score above 0) with the highest score, leaving out those built with
    AMX (see the module docstring) (pure)."""
    runnable = [variant for variant in variants if variant.score > 0 and "AMX_INT8" not in variant.isa]
    return max(runnable, key=lambda variant: (variant.score, variant.name)) if runnable else None


def _load_variant(lib: Path, modules: dict[str, Path], flags: frozenset[str]) -> LlamaKernels:
    variants = [_inspect(name, path) for name, path in modules.items()]
    best = choose_variant(variants)
    if best is None:
        raise BackendUnavailableError(
            f"llama.cpp has no CPU kernels for this CPU (none of {', '.join(sorted(modules))} runs here); "
            "use an ONNX or OpenVINO model")
    ggml = ctypes.CDLL(str(_loaded_library(lib, "libggml")))
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(modules[best.name]).encode()):
        raise BackendUnavailableError(f"llama.cpp could not load its {best.name} CPU kernels from {lib}")
    for other in _other_backends(lib, modules):  # a GPU backend built as a module (CUDA)
        ggml.ggml_backend_load(str(other).encode())
    amx_built = any("AMX_INT8" in variant.isa for variant in variants)
    amx = AMX_OFF if "amx_int8" in flags and amx_built else ""
    return LlamaKernels(best.name, tuple(sorted(modules)), best.isa, amx)


def _inspect(name: str, module: Path) -> Variant:
    """Ask a CPU module for its score and instruction sets, then close it again (ggml's own loader
    does the same). Its score and ``ggml_cpu_has_*`` functions are compiled for the x86-64
    baseline or return constants, so asking is safe on any CPU."""
    library = ctypes.CDLL(str(module))
    try:
        score = getattr(library, "ggml_backend_score", None)
        if score is not None:
            score.restype = ctypes.c_int
        return Variant(name, int(score()) if score is not None else 0, _compiled_isa(library))
    finally:
        _ctypes.dlclose(library._handle)


def _compiled_isa(library: ctypes.CDLL) -> tuple[str, ...]:
    """The instruction sets a CPU kernel library was compiled for, from its ``ggml_cpu_has_*``
    functions (each returns a constant: calling them runs no instruction the CPU may lack)."""
    isa = []
    for name in ISA_FLAGS:
        function = getattr(library, f"ggml_cpu_has_{name.lower()}", None)
        if function is not None:
            function.restype = ctypes.c_int
            if function():
                isa.append(name)
    return tuple(isa)


def _check_single_build(lib: Path, flags: frozenset[str]) -> LlamaKernels:
    cpu = _loaded_library(lib, "libggml-cpu")
    isa = _compiled_isa(ctypes.CDLL(str(cpu))) if cpu.is_file() else ()
    missing = [name for name in isa if ISA_FLAGS[name] not in flags and name != "AMX_INT8"]
    if flags and missing:
        raise BackendUnavailableError(
            f"this llama-cpp-python was compiled for a CPU with {', '.join(missing)}, which this CPU lacks "
            "(built on another machine?): reinstall it with `make setup`, which builds it for every x86-64 CPU")
    amx = "AMX_INT8" in isa and "amx_int8" in flags
    return LlamaKernels(None, (), isa, AMX_OFF + "; repacked weights off" if amx else "", repack=not amx)


def _other_backends(lib: Path, variants: dict[str, Path]) -> list[Path]:
    cpu = set(variants.values()) | {lib / "libggml-cpu.so"}
    return [path for path in sorted(lib.glob("libggml-*.so")) if path not in cpu and path.name != "libggml-base.so"]


def _loaded_library(lib: Path, stem: str) -> Path:
    """The copy of ``stem`` that libllama already loaded from ``lib``: a wheel holds each library three
    times (``libggml.so``, ``.so.0``, ``.so.0.25.3``: zip files have no links) and libllama loads the
    one its soname names, so opening another would start a second ggml with a registry of its own."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        maps = ""
    folder = lib.resolve()
    for line in maps.splitlines():
        path = Path(line.split(maxsplit=5)[-1])
        if path.parent == folder and (path.name == f"{stem}.so" or path.name.startswith(f"{stem}.so.")):
            return path
    return lib / f"{stem}.so"
