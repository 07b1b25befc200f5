"""Selector decisions for a table of machines (fake probes: plain data, no mocks)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from local_rerank.errors import BackendUnavailableError
from local_rerank.selector import CPU_ORDER, ModelCandidate, Preferences, choose, cpu_order
from tests.machines import (
    AMX,
    AVX2_DESKTOP,
    AVX2_ONLY,
    AVX512_BF16,
    AVX512_VNNI,
    AVX_VNNI,
    GPU_WITHOUT_CUDA_BUILDS,
    H100,
    LARGE_GPU,
    OLD_CPU,
    SMALL_GPU,
    VNNI_LAPTOP,
)

Q8_06B = ModelCandidate(Path("0.6b-q8_0.gguf"), "gguf", "q8_0", 610)
Q8_8B = ModelCandidate(Path("8b-q8_0.gguf"), "gguf", "q8_0", 8700)
ONNX_INT8 = ModelCandidate(Path("0.6b-onnx-int8"), "onnx", "int8", 1067)
ONNX_DYNAMIC = ModelCandidate(Path("0.6b-onnx-int8-dynamic"), "onnx", "int8-dynamic", 572)
ONNX_FP16 = ModelCandidate(Path("0.6b-onnx-fp16"), "onnx", "fp16", 1200)
ALL_06B = [ONNX_DYNAMIC, ONNX_INT8, ONNX_FP16, Q8_06B]
BF16_06B = ModelCandidate(Path("0.6b-bf16.gguf"), "gguf", "bf16", 1136)
F16_06B = ModelCandidate(Path("0.6b-f16.gguf"), "gguf", "f16", 1136)
F32_06B = ModelCandidate(Path("0.6b-f32.gguf"), "gguf", "f32", 2272)
ONNX_A8 = ModelCandidate(Path("0.6b-onnx-int8-a8"), "onnx", "int8-a8", 1067)
ONNX_FP32 = ModelCandidate(Path("0.6b-onnx-fp32"), "onnx", "fp32", 2274)
Q4 = ModelCandidate(Path("0.6b-q4_k_m.gguf"), "gguf", "q4_k_m", 380)
OV_INT8 = ModelCandidate(Path("0.6b-openvino-int8"), "openvino", "int8", 689)
OV_FP32 = ModelCandidate(Path("0.6b-openvino-fp32"), "openvino", "fp32", 2274)
OV_BF16 = ModelCandidate(Path("0.6b-openvino-bf16"), "openvino", "bf16", 1140)
EVERY_CPU_FORMAT = [Q4, ONNX_DYNAMIC, F32_06B, OV_FP32, ONNX_FP32, F16_06B, ONNX_INT8, Q8_06B, OV_INT8, ONNX_A8,
                    BF16_06B]


@pytest.mark.parametrize(
    ("probe", "models", "preferences", "expected", "reason"),
    [
        (VNNI_LAPTOP, ALL_06B, Preferences(), (Q8_06B, "cpu", 8), "VNNI"),
        (AVX2_DESKTOP, ALL_06B, Preferences(), (Q8_06B, "cpu", 4), "AVX2 without VNNI"),
        (OLD_CPU, ALL_06B, Preferences(), (Q8_06B, "cpu", 2), "no AVX2"),
        (VNNI_LAPTOP, ALL_06B, Preferences(backend="onnx"), (ONNX_INT8, "cpu", 8), "CPU"),
        (VNNI_LAPTOP, [ONNX_DYNAMIC], Preferences(threads=3), (ONNX_DYNAMIC, "cpu", 3), "3 threads"),
        (SMALL_GPU, ALL_06B, Preferences(), (Q8_06B, "cuda", 8), "GTX 1650 has 3500 MiB free"),
        (SMALL_GPU, [Q8_8B], Preferences(), (Q8_8B, "cpu", 8), "VNNI"),
        (replace(VNNI_LAPTOP, free_ram_mib=8000), [Q8_8B], Preferences(), (Q8_8B, "cpu", 8), "warning: needs about"),
        (LARGE_GPU, [Q8_8B], Preferences(), (Q8_8B, "cuda", 8), "RTX 4090"),
        (LARGE_GPU, [ONNX_DYNAMIC, ONNX_FP16], Preferences(), (ONNX_FP16, "cuda", 8), "onnxruntime-gpu has CUDA"),
        (LARGE_GPU, ALL_06B, Preferences(device="cpu"), (Q8_06B, "cpu", 8), "CPU"),
        (GPU_WITHOUT_CUDA_BUILDS, ALL_06B, Preferences(), (Q8_06B, "cpu", 8), "CPU"),
        (H100, [Q8_06B, F16_06B, BF16_06B], Preferences(), (BF16_06B, "cuda", 8), "H100"),
        (SMALL_GPU, [Q8_06B, BF16_06B, F16_06B], Preferences(), (F16_06B, "cuda", 8), "GTX 1650"),
        (SMALL_GPU, [Q8_06B, BF16_06B], Preferences(), (Q8_06B, "cuda", 8), "GTX 1650"),
    ],
)
def test_choice_for_each_machine(probe, models, preferences, expected, reason: str) -> None:
    first = choose(probe, models, preferences)[0]
    assert (first.model, first.device, first.threads) == expected
    assert reason in first.reason


def test_a_gpu_choice_is_followed_by_cpu_fallbacks() -> None:
    choices = choose(SMALL_GPU, ALL_06B)
    devices = [c.device for c in choices]
    assert devices[0] == "cuda" and "cpu" in devices
    assert devices == sorted(devices, key=lambda d: d != "cuda")
    assert ONNX_DYNAMIC not in [c.model for c in choices if c.device == "cuda"]  # no CUDA kernels


@pytest.mark.parametrize(
    ("probe", "models", "message"),
    [
        (VNNI_LAPTOP, ALL_06B, "no CUDA GPU was found"),
        (GPU_WITHOUT_CUDA_BUILDS, [Q8_06B], "llama-cpp-python was built without CUDA"),
        (GPU_WITHOUT_CUDA_BUILDS, [ONNX_INT8], "install onnxruntime-gpu"),
        (SMALL_GPU, [Q8_8B], "has 3500 MiB free; the smallest model that runs there needs about 9724"),
    ],
)
def test_cuda_asked_for_but_not_usable_says_what_was_found(probe, models, message: str) -> None:
    with pytest.raises(BackendUnavailableError, match=message):
        choose(probe, models, Preferences(device="cuda"))


def test_missing_runtimes_and_models_are_explained() -> None:
    bare = replace(VNNI_LAPTOP, llama_cpp_installed=False, onnxruntime_installed=False)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'local-rerank\[gguf\]'"):
        choose(bare, [Q8_06B])
    with pytest.raises(BackendUnavailableError, match="convert one"):
        choose(VNNI_LAPTOP, [])


@pytest.mark.slow
def test_a_gpu_backend_that_fails_to_start_falls_back_to_the_cpu_with_a_warning(gguf_files, llama_cpp) -> None:
    from local_rerank import Reranker
    from local_rerank.errors import DeviceFallbackWarning

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python really has GPU support")
    model = ModelCandidate(gguf_files["tied", "q8_0"], "gguf", "q8_0", 16)
    claims_cuda = replace(SMALL_GPU, llama_cpp_cuda=True)  # the probe says CUDA; the build has none
    choices = choose(claims_cuda, [model])
    assert choices[0].device == "cuda"
    with pytest.warns(DeviceFallbackWarning, match="without GPU support"):
        reranker = Reranker.from_choices(choices, max_length=512)
    with reranker:
        assert reranker.backend.device == "cpu"
        assert len(reranker.score("q", ["a", "b"])) == 2


def test_unknown_variants_run_on_the_cpu_only_and_last() -> None:
    unknown = ModelCandidate(Path("someones-export"), "onnx", "unknown", 900)
    choices = choose(LARGE_GPU, [unknown, ONNX_INT8])
    assert [(c.model, c.device) for c in choices] == [(ONNX_INT8, "cuda"), (ONNX_INT8, "cpu"), (unknown, "cpu")]


@pytest.mark.parametrize(
    ("probe", "order", "reason"),
    [
        # bf16 is first only where the CPU multiplies bf16 natively; elsewhere it goes behind f32.
        # OpenVINO int8 (8-bit activations, over the gate on the outlier twin) follows every faithful format.
        (AVX2_ONLY, [ONNX_A8, Q8_06B, ONNX_INT8, F16_06B, ONNX_FP32, OV_FP32, F32_06B, BF16_06B, OV_INT8,
                     ONNX_DYNAMIC, Q4], "AVX2 without VNNI"),
        (AVX_VNNI, [ONNX_A8, Q8_06B, ONNX_INT8, F16_06B, ONNX_FP32, OV_FP32, F32_06B, BF16_06B, OV_INT8,
                    ONNX_DYNAMIC, Q4], "VNNI"),
        (AVX512_VNNI, [ONNX_A8, Q8_06B, ONNX_INT8, F16_06B, ONNX_FP32, OV_FP32, F32_06B, BF16_06B, OV_INT8,
                       ONNX_DYNAMIC, Q4], "VNNI INT8 dot products"),
        (AVX512_BF16, [BF16_06B, ONNX_A8, Q8_06B, ONNX_INT8, F16_06B, ONNX_FP32, OV_FP32, F32_06B, OV_INT8,
                       ONNX_DYNAMIC, Q4], "bf16 products run natively"),
        (AMX, [BF16_06B, ONNX_A8, Q8_06B, ONNX_INT8, F16_06B, ONNX_FP32, OV_FP32, F32_06B, OV_INT8, ONNX_DYNAMIC, Q4],
         "AMX"),
    ],
)
def test_cpu_formats_are_ordered_by_fidelity_then_speed_on_each_cpu(probe, order, reason: str) -> None:
    choices = choose(probe, EVERY_CPU_FORMAT)
    assert [c.model for c in choices] == order
    assert reason in choices[0].reason and all(c.device == "cpu" for c in choices)


def test_the_int8_note_is_given_for_8_bit_models_only() -> None:
    reasons = {c.model: c.reason for c in choose(AVX512_BF16, [BF16_06B, F32_06B, Q8_06B, ONNX_FP32])}
    assert "VNNI INT8 dot products" in reasons[Q8_06B]
    assert not any("INT8" in reasons[m] for m in (BF16_06B, F32_06B, ONNX_FP32))


def test_a_bf16_model_on_a_cpu_without_bf16_says_it_is_slow() -> None:
    (choice,) = choose(AVX512_VNNI, [BF16_06B])
    assert "bf16 is converted in software" in choice.reason


def test_the_cpu_order_only_moves_bf16() -> None:
    without_bf16 = cpu_order(frozenset({"avx2", "avx512_vnni"}))
    assert sorted(without_bf16) == sorted(CPU_ORDER) and without_bf16 != CPU_ORDER
    bf16_kinds = (("gguf", "bf16"), ("openvino", "bf16"))
    assert [v for v in without_bf16 if v not in bf16_kinds] == [v for v in CPU_ORDER if v not in bf16_kinds]
    assert without_bf16.index(("gguf", "bf16")) == without_bf16.index(("gguf", "f32")) + 1
    assert without_bf16[-1] == ("openvino", "bf16")
    assert cpu_order(frozenset({"avx512_vnni", "avx512_bf16"})) == CPU_ORDER


@pytest.mark.parametrize("probe", [AVX512_BF16, AMX])
def test_openvino_bf16_comes_first_where_the_cpu_multiplies_bf16(probe) -> None:  # type: ignore[no-untyped-def]
    choices = choose(probe, [Q8_06B, BF16_06B, OV_BF16])
    assert [c.model for c in choices] == [OV_BF16, BF16_06B, Q8_06B]
    assert "OpenVINO runs bf16 products natively" in choices[0].reason


def test_openvino_bf16_goes_last_where_the_cpu_lacks_bf16() -> None:
    zen3 = AVX2_ONLY  # {"avx2", "fma", "f16c"}: this project's CI machine, an AMD EPYC Zen 3
    choices = choose(zen3, [OV_BF16, *EVERY_CPU_FORMAT])
    # behind every known kind (OpenVINO int8 and ONNX int8-dynamic included); unknown kinds stay after it
    assert [c.model for c in choices] == [ONNX_A8, Q8_06B, ONNX_INT8, F16_06B, ONNX_FP32, OV_FP32, F32_06B, BF16_06B,
                                          OV_INT8, ONNX_DYNAMIC, OV_BF16, Q4]
    assert "OpenVINO converts the bf16 weights to float32 in software" in choices[-2].reason
    (alone,) = choose(zen3, [OV_BF16])
    assert alone.model == OV_BF16


def test_a_fast_openvino_bf16_jumps_nothing_where_the_cpu_lacks_bf16() -> None:
    speeds = {(OV_BF16.path, "cpu"): 500.0, (Q8_06B.path, "cpu"): 230.0}
    assert [c.model for c in choose(AVX512_VNNI, [OV_BF16, Q8_06B], speeds=speeds)] == [Q8_06B, OV_BF16]
    assert [c.model for c in choose(AVX512_BF16, [Q8_06B, OV_BF16], speeds=speeds)] == [OV_BF16, Q8_06B]
    beyond = replace(Q8_06B, faithful=False)  # a model beyond its bar stays ahead of OpenVINO bf16 there
    assert [c.model for c in choose(AVX512_VNNI, [OV_BF16, beyond, OV_INT8])] == [beyond, OV_INT8, OV_BF16]


def test_a_fast_openvino_int8_never_jumps_a_faithful_format() -> None:
    speeds = {(OV_INT8.path, "cpu"): 350.0, (Q8_06B.path, "cpu"): 230.0}
    choices = choose(AVX512_VNNI, [Q8_06B, OV_INT8], speeds=speeds)
    assert [c.model for c in choices] == [Q8_06B, OV_INT8]
    assert "less faithful than Q8_0 where activations have outliers" in choices[1].reason
    unmeasured = choose(AVX512_VNNI, [OV_INT8, ONNX_INT8, F16_06B], speeds={(OV_INT8.path, "cpu"): 350.0})
    assert [c.model for c in unmeasured] == [ONNX_INT8, F16_06B, OV_INT8]


def test_openvino_models_never_run_on_a_gpu() -> None:
    choices = choose(H100, [OV_INT8, Q8_06B])
    assert [(c.model, c.device) for c in choices] == [(Q8_06B, "cuda"), (Q8_06B, "cpu"), (OV_INT8, "cpu")]
    with pytest.raises(BackendUnavailableError, match="OpenVINO models run on the CPU only"):
        choose(H100, [OV_INT8], Preferences(device="cuda"))


def test_measured_speeds_order_the_faithful_formats_fastest_first() -> None:
    models = [Q8_06B, ONNX_A8, ONNX_INT8, ONNX_DYNAMIC, F32_06B]
    static = [c.model for c in choose(VNNI_LAPTOP, models)]
    assert static[:2] == [ONNX_A8, Q8_06B]
    speeds = {(ONNX_INT8.path, "cpu"): 300.0, (Q8_06B.path, "cpu"): 200.0, (ONNX_DYNAMIC.path, "cpu"): 900.0}
    measured = choose(VNNI_LAPTOP, models, speeds=speeds)
    # Measured and faithful first, fastest first; the W8A8 file, however fast, never jumps the faithful ones.
    assert [c.model for c in measured] == [ONNX_INT8, Q8_06B, ONNX_A8, F32_06B, ONNX_DYNAMIC]
    assert "measured here: 300 prompt tokens/s" in measured[0].reason
    assert "measured here" not in measured[2].reason


def test_measured_speeds_are_per_device() -> None:
    speeds = {(F16_06B.path, "cpu"): 500.0, (Q8_06B.path, "cuda"): 5000.0, (F16_06B.path, "cuda"): 4000.0}
    choices = choose(SMALL_GPU, [F16_06B, Q8_06B], speeds=speeds)
    assert [(c.model, c.device) for c in choices] == [(Q8_06B, "cuda"), (F16_06B, "cuda"), (F16_06B, "cpu"),
                                                      (Q8_06B, "cpu")]


def test_a_model_its_conversion_found_beyond_the_fidelity_bar_runs_after_the_faithful_ones() -> None:
    beyond = replace(Q8_06B, path=Path("own-q8_0.gguf"), faithful=False)
    speeds = {(beyond.path, "cpu"): 900.0, (F16_06B.path, "cpu"): 200.0}
    choices = choose(AVX512_VNNI, [beyond, F16_06B, ONNX_DYNAMIC, Q4, OV_INT8, F32_06B], speeds=speeds)
    # Its error was measured: still ahead of the formats known to be less faithful (and 4-bit).
    assert [c.model for c in choices] == [F16_06B, F32_06B, beyond, OV_INT8, ONNX_DYNAMIC, Q4]
    assert "beyond its format's fidelity bar" in choices[2].reason
    assert "fidelity bar" not in choices[0].reason
    assert [c.model for c in choose(H100, [beyond, Q8_06B], Preferences(device="cuda"))] == [Q8_06B, beyond]
