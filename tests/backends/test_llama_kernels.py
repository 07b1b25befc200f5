"""llama.cpp's CPU kernels: the build runs on every x86-64 CPU and loads the best kernels for this one.

The emulated-CPU tests run `rank` under qemu-user's models of older CPUs (installed by `make
test`'s test-tools): what a laptop gets when the wheels were built on a bigger machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.backends.llama_kernels import (
    ISA_FLAGS,
    Variant,
    _check_single_build,
    _inspect,
    choose_variant,
    load_kernels,
    variant_modules,
)
from local_rerank.errors import BackendUnavailableError
from local_rerank.hardware import cpu_flags, library_folder

DOCS = ["cp -r copies a folder recursively", "bananas are yellow", "rsync -a src/ dst/ copies directories"]


def test_the_best_runnable_variant_wins_and_amx_never_does() -> None:
    x64, haswell = Variant("x64", 1, ()), Variant("haswell", 59, ("AVX2",))
    zen4 = Variant("zen4", 1999, ("AVX512", "AVX512_BF16"))
    amx = Variant("sapphirerapids", 4047, ("AVX512", "AMX_INT8"))
    assert choose_variant([x64, haswell, zen4, amx, Variant("icelake", 0, ("AVX512",))]) == zen4
    assert choose_variant([haswell, Variant("skylakex", 0, ("AVX512",))]) == haswell
    assert choose_variant([amx]) is None
    assert choose_variant([Variant("haswell", 0, ()), Variant("zen4", 0, ())]) is None


@pytest.fixture(scope="module")
def llama_lib(llama_cpp) -> Path:
    import llama_cpp as module

    return library_folder(module)


def test_setup_installs_the_build_for_every_cpu(llama_lib: Path) -> None:
    """`make setup` builds the kernels once per CPU generation, from the x86-64 baseline up."""
    variants = variant_modules(llama_lib)
    assert {"x64", "haswell", "skylakex", "icelake", "zen4", "alderlake"} <= set(variants)
    assert (not (llama_lib.parent.parent / "bin").exists()
            or not list((llama_lib.parent.parent / "bin").glob("libggml*")))


def test_the_loaded_kernels_are_the_best_this_cpu_runs_without_amx(llama_lib: Path) -> None:
    import llama_cpp

    from local_rerank.backends.gguf import _llama_cpp

    _llama_cpp()
    kernels = load_kernels(llama_cpp)
    flags = cpu_flags()
    variants = {name: _inspect(name, path) for name, path in variant_modules(llama_lib).items()}
    assert kernels.variant is not None and "AMX_INT8" not in kernels.isa
    assert kernels.isa == variants[kernels.variant].isa and variants[kernels.variant].score > 0
    assert all(ISA_FLAGS[name] in flags for name in kernels.isa), (kernels.isa, sorted(flags))
    assert all("AMX_INT8" in variant.isa for variant in variants.values()
               if variant.score > variants[kernels.variant].score)
    assert "AMX_INT8" in variants["sapphirerapids"].isa  # the build has it; it is left out, not missing
    if "amx_int8" in flags:  # an AMX CPU runs what users get there: AMX off, said so
        assert "AMX off" in kernels.describe()
    assert "AVX2" in kernels.isa or "avx2" not in flags


def test_a_single_build_for_a_newer_cpu_is_one_line_not_sigill(llama_lib: Path, tmp_path: Path) -> None:
    """A build compiled for instructions this CPU lacks (a native build carried to an older machine)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(variant_modules(llama_lib)["haswell"], lib / "libggml-cpu.so")  # its ggml_cpu_has_* say AVX2
    with pytest.raises(BackendUnavailableError, match=r"compiled for a CPU with .*AVX2.*which this CPU lacks"):
        _check_single_build(lib, frozenset({"pni", "ssse3", "avx"}))
    kernels = _check_single_build(lib, frozenset(ISA_FLAGS.values()) - {"amx_int8"})
    assert kernels.variant is None and "AVX2" in kernels.isa and kernels.repack


def test_a_single_build_with_amx_on_an_amx_cpu_keeps_weights_off_amx(llama_lib: Path, tmp_path: Path) -> None:
    variants = variant_modules(llama_lib)
    if "sapphirerapids" not in variants:
        pytest.skip("this build has no AMX variant")
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(variants["sapphirerapids"], lib / "libggml-cpu.so")
    kernels = _check_single_build(lib, frozenset(ISA_FLAGS.values()))
    assert "AMX_INT8" in kernels.isa and not kernels.repack and "issue 20824" in kernels.amx


def test_doctor_names_the_kernels(llama_cpp) -> None:
    result = subprocess.run([sys.executable, "-m", "local_rerank", "doctor"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("llama.cpp CPU:"))
    assert "kernels (" in line and "chosen for this CPU" in line


# Emulated CPUs: qemu-user's models, what each stands for, and the kernels it must get.
EMULATED = {
    "Haswell": ("an AVX2 laptop (no AVX-512)", "haswell"),
    "Nehalem": ("a CPU from 2008 (no AVX)", "sse42"),
}


def _rank(model: Path, qemu_cpu: str | None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local_rerank", "rank", "--model", str(model), "--query", "copy a folder",
               "--json", "--threads", "1", *DOCS]
    if qemu_cpu:
        command = ["qemu-x86_64", "-cpu", qemu_cpu, *command]
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml"}
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment)


@pytest.mark.slow
@pytest.mark.parametrize("cpu", sorted(EMULATED))
def test_rank_runs_on_an_older_cpu_with_the_hosts_scores(gguf_files, llama_cpp, cpu: str) -> None:
    if shutil.which("qemu-x86_64") is None:
        pytest.skip("qemu-user is not installed (make test installs it where apt-get can)")
    model = gguf_files["tied", "q8_0"]
    host = _rank(model, None)
    assert host.returncode == 0, host.stderr
    what, kernels = EMULATED[cpu]
    emulated = _rank(model, cpu)
    assert emulated.returncode == 0, f"{what}: exit {emulated.returncode}: {emulated.stderr[-2000:]}"
    doctor = subprocess.run(["qemu-x86_64", "-cpu", cpu, sys.executable, "-m", "local_rerank", "doctor"],
                            capture_output=True, text=True, timeout=900)
    assert f"llama.cpp CPU: {kernels} kernels" in doctor.stdout, doctor.stdout + doctor.stderr[-2000:]
    expected = {r["index"]: r["relevance_score"] for r in json.loads(host.stdout)["results"]}
    got = {r["index"]: r["relevance_score"] for r in json.loads(emulated.stdout)["results"]}
    # Other kernels (AVX2 vs AVX-512, or SSE) sum in another order: the scores agree to rounding.
    assert got == pytest.approx(expected, abs=2e-3)
