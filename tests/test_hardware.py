"""The hardware probe on this machine, and the parsing of nvidia-smi's answer."""

from __future__ import annotations

import importlib.util

from local_rerank.hardware import Gpu, _parse_gpu, probe_hardware


def test_probe_describes_this_machine() -> None:
    probe = probe_hardware()
    assert probe.logical_cores >= 1 and probe.physical_cores >= 1
    assert probe.free_ram_mib > 0
    assert probe.llama_cpp_installed == (importlib.util.find_spec("llama_cpp") is not None)
    assert probe.onnxruntime_installed == (importlib.util.find_spec("onnxruntime") is not None)
    assert probe.cpu_features <= {"avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                                  "amx_int8", "amx_bf16"}


def test_nvidia_smi_lines_are_parsed_and_junk_is_skipped() -> None:
    assert _parse_gpu("NVIDIA H100 80GB HBM3, 81559, 80000, 9.0") == Gpu("NVIDIA H100 80GB HBM3", 81559, 80000, "9.0")
    assert _parse_gpu("No devices were found") is None
    assert _parse_gpu("GPU, [N/A], [N/A], 8.6") is None
