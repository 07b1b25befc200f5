"""8-bit group quantization and bf16 rounding of the OpenVINO export (the export itself is tested
through the backend in tests/backends/test_openvino.py)."""

from __future__ import annotations

import numpy as np
import pytest

from local_rerank.convert.openvino_export import quantize_groups


def _restored(q: np.ndarray, zero_point: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((q.astype(np.float32) - zero_point) * scale).reshape(q.shape[0], -1)


@pytest.mark.parametrize("group", [None, 32])
def test_each_value_is_restored_within_half_a_step_of_its_group(group) -> None:
    weights = np.random.default_rng(0).normal(0, 0.05, (48, 128)).astype(np.float32)
    q, zero_point, scale = quantize_groups(weights, group)
    assert q.dtype == zero_point.dtype == np.uint8 and scale.dtype == np.float32
    assert (q.shape == (48, 128 // (group or 128), group or 128)
            and scale.shape == zero_point.shape == q.shape[:2] + (1,))
    step = np.repeat(scale[:, :, 0], group or 128, axis=1)
    assert np.all(np.abs(_restored(q, zero_point, scale) - weights) <= step / 2 + 1e-7)


def test_groups_follow_their_own_range() -> None:
    """A group of large values next to small ones: per-group scales keep the small ones precise."""
    weights = np.full((1, 64), 0.001, dtype=np.float32)
    weights[0, :32] = np.linspace(-10, 10, 32)
    per_row = np.abs(_restored(*quantize_groups(weights)) - weights)[0, 32:].max()
    per_group = np.abs(_restored(*quantize_groups(weights, 32)) - weights)[0, 32:].max()
    assert per_group < 1e-5 < per_row


def test_zero_stays_exact_and_a_zero_group_is_harmless() -> None:
    weights = np.zeros((2, 32), dtype=np.float32)
    weights[1] = np.linspace(0.5, 1.0, 32)  # all positive: the range is widened to include 0
    restored = _restored(*quantize_groups(weights, 32))
    assert np.all(restored[0] == 0) and np.all(np.isfinite(restored))
    assert np.abs(restored[1] - weights[1]).max() <= 1.0 / 255


def test_a_row_that_does_not_split_into_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="groups of 32"):
        quantize_groups(np.ones((2, 40), dtype=np.float32), 32)


def test_bf16_bits_round_to_the_nearest_even_bfloat16() -> None:
    from local_rerank.convert.openvino_export import bf16_bits

    values = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -2.5, 0.0, np.inf, -np.inf, 3.4e38, np.nan],
                      dtype=np.float32)
    widened = (bf16_bits(values).astype(np.uint32) << 16).view(np.float32)
    # ties go to the even mantissa (1 + 2^-8 -> 1, 1 + 3 * 2^-8 -> 1 + 2^-6); above a tie, up; 3.4e38 overflows
    np.testing.assert_array_equal(widened[:9], [1.0, 1.0, 1 + 2**-6, 1 + 2**-7, -2.5, 0.0, np.inf, -np.inf, np.inf])
    assert np.isnan(widened[9])
    weights = np.random.default_rng(0).normal(0, 0.05, (64, 96)).astype(np.float32)
    restored = (bf16_bits(weights).astype(np.uint32) << 16).view(np.float32)
    assert np.all(np.abs(restored - weights) <= np.abs(weights) * 2**-8)  # half a step of 7 stored mantissa bits
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(restored, torch.from_numpy(weights).to(torch.bfloat16).float().numpy())


def test_a_bf16_constant_round_trips_through_openvino() -> None:
    openvino = pytest.importorskip("openvino")
    from openvino import opset13 as ops

    from local_rerank.convert.openvino_export import _bf16_constant, bf16_bits

    weights = np.random.default_rng(1).normal(0, 0.05, (16, 32)).astype(np.float32)
    widened = _bf16_constant(weights)
    constant = widened.input_value(0).get_node()
    assert widened.get_type_name() == "Convert" and constant.get_output_element_type(0) == openvino.Type.bf16
    zeros = ops.parameter([16, 32], np.float32)
    compiled = openvino.Core().compile_model(openvino.Model([ops.add(widened, zeros)], [zeros]), "CPU",
                                             {"INFERENCE_PRECISION_HINT": "f32"})
    expected = (bf16_bits(weights).astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(compiled(np.zeros((16, 32), np.float32))[0], expected)
