"""The format descriptors: every part of the program that reads them finds what it needs."""

from __future__ import annotations

import dataclasses

import pytest

from local_rerank.formats import FORMATS, WEIGHT_TYPES, cpu_order, gpu_order, tolerances, weight_type
from local_rerank.hardware import HardwareProbe


def test_every_weight_type_belongs_to_a_format_once() -> None:
    variants = [w.variant for w in WEIGHT_TYPES]
    assert len(set(variants)) == len(variants)
    assert {w.format for w in WEIGHT_TYPES} == set(FORMATS)


def test_a_weight_type_name_means_one_tolerance_in_every_format() -> None:
    by_name: dict[str, set[float]] = {}
    for w in WEIGHT_TYPES:
        by_name.setdefault(w.quant, set()).add(w.tolerance)
    assert all(len(bars) == 1 for bars in by_name.values()), by_name


def test_ranks_are_distinct_and_faithful_types_come_first_on_the_cpu() -> None:
    for order, rank in ((cpu_order(), "cpu_rank"), (gpu_order(), "gpu_rank")):
        ranks = [getattr(w, rank) for w in WEIGHT_TYPES if getattr(w, rank) is not None]
        assert sorted(ranks) == list(range(len(ranks))) and len(order) == len(ranks)
    faithful = [weight_type(*v).cpu_faithful for v in cpu_order()]  # type: ignore[union-attr]
    assert faithful == sorted(faithful, reverse=True)  # no less faithful type ahead of a faithful one


def test_the_default_weight_type_of_each_format_is_described() -> None:
    for fmt in FORMATS.values():
        assert weight_type(fmt.name, fmt.default_quant) is not None, fmt.name


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
def test_the_probe_answers_for_each_formats_runtime(fmt) -> None:  # type: ignore[no-untyped-def]
    fields = {field.name for field in dataclasses.fields(HardwareProbe)}
    assert fmt.probe_installed in fields
    assert fmt.probe_cuda is None or fmt.probe_cuda in fields


def test_the_reach_simulation_knows_every_rounding_named() -> None:
    reach = pytest.importorskip("local_rerank.convert.reach")
    for w in WEIGHT_TYPES:
        if w.rounding is not None:
            assert w.rounding.weights in reach.ROUNDERS
            assert w.rounding.activations is None or w.rounding.activations in reach.ROUNDERS
    assert set(reach.FORMAT_ROUNDING) == {w.variant for w in WEIGHT_TYPES if w.rounding is not None}


def test_the_orders_tolerances_and_roundings_are_the_measured_ones() -> None:
    """The values the selector and the gate ran on before they were read from the descriptors."""
    assert cpu_order() == (("openvino", "bf16"), ("gguf", "bf16"), ("onnx", "int8-a8"), ("gguf", "q8_0"),
                           ("onnx", "int8"), ("gguf", "f16"), ("onnx", "fp32"), ("openvino", "fp32"), ("gguf", "f32"),
                           ("openvino", "int8"), ("onnx", "int8-dynamic"))
    assert gpu_order() == (("gguf", "bf16"), ("gguf", "f16"), ("gguf", "q8_0"), ("onnx", "fp16"), ("onnx", "int8"),
                           ("onnx", "fp32"), ("gguf", "f32"))
    assert {w.variant for w in WEIGHT_TYPES if w.cpu_faithful} == set(cpu_order()) - {
        ("onnx", "int8-dynamic"), ("openvino", "int8")}
    assert tolerances() == {"f32": 1e-3, "f16": 3e-3, "bf16": 3e-2, "q8_0": 3e-2, "fp32": 1e-4, "fp16": 1e-2,
                            "int8": 3e-2, "int8-a8": 3e-2, "int8-dynamic": 0.1}
    roundings = {w.variant: w.rounding for w in WEIGHT_TYPES if w.rounding is not None}
    assert {variant: (r.weights, r.activations, r.embedding, r.head) for variant, r in roundings.items()} == {
        ("gguf", "f16"): ("float16", "float16", True, "rows"),
        ("gguf", "bf16"): ("bfloat16", "bfloat16", True, "rows"),
        ("openvino", "bf16"): ("bfloat16", "bfloat16", True, "exact"),  # issue 23: the one-column head stays float32
        ("gguf", "q8_0"): ("q8_0", "q8_0", True, "rows"),
        ("onnx", "int8-dynamic"): ("int7-channels", "u8-tensor", True, "difference"),  # 7 bits: no int16 saturation
        ("openvino", "int8"): ("u8-groups-32", "int8-blocks-32", True, "exact"),
        # issue 23: MatMulNBits as onnxruntime stores it, the embedding in float32, one yes-minus-no score row
        ("onnx", "int8"): ("int8-nbits-32", None, False, "difference"),
        ("onnx", "int8-a8"): ("int8-nbits-32", "int8-blocks-32", False, "difference"),
    }
