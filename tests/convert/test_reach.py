"""The gate's yardstick: the reference model rounded the way each format rounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from local_rerank.convert.reach import FORMAT_ROUNDING, round_model  # noqa: E402


@pytest.fixture(scope="module")
def weights() -> np.ndarray:
    """A weight matrix with one outlier input channel, rows of 8 groups of 32."""
    values = (np.random.default_rng(0).standard_normal((64, 256)) * 0.05).astype(np.float32)
    values[:, 7] *= 30
    return values


def _simulated(variant: tuple[str, str], values: np.ndarray) -> np.ndarray:
    return FORMAT_ROUNDING[variant].weights(torch.from_numpy(values)).numpy()


@pytest.mark.parametrize(("variant", "qtype"), [(("gguf", "q8_0"), "Q8_0"), (("gguf", "bf16"), "BF16"),
                                                (("gguf", "f16"), "F16")])
def test_gguf_rounding_is_what_the_gguf_export_stores(weights: np.ndarray, variant, qtype: str) -> None:
    gguf = pytest.importorskip("gguf")
    from gguf.quants import dequantize, quantize

    kind = gguf.GGMLQuantizationType[qtype]
    stored = dequantize(quantize(weights, kind), kind) if qtype != "F16" else weights.astype(np.float16)
    np.testing.assert_array_equal(_simulated(variant, weights), np.asarray(stored, dtype=np.float32))
    assert not np.array_equal(_simulated(variant, weights), weights)


def test_openvino_rounding_is_what_the_openvino_export_stores(weights: np.ndarray) -> None:
    from local_rerank.convert.openvino_export import WEIGHT_GROUP, quantize_groups

    q, zero_point, scale = quantize_groups(weights, WEIGHT_GROUP)
    stored = ((q.astype(np.float32) - zero_point) * scale).reshape(weights.shape)
    np.testing.assert_allclose(_simulated(("openvino", "int8"), weights), stored, rtol=0, atol=1e-7)


def _tiny(checkpoint: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32).eval()


IDS = torch.tensor([[151644, 872, 198, 9707, 151645]])


def test_a_gguf_rounding_rounds_the_tied_output_matrix_once_and_every_product_input(tiny_tied: Path) -> None:
    rounding = FORMAT_ROUNDING["gguf", "q8_0"]
    original, rounded = _tiny(tiny_tied), _tiny(tiny_tied)
    round_model(rounded, rounding)
    assert rounded.lm_head.weight is rounded.get_input_embeddings().weight  # still tied: GGUF scores from it
    assert torch.equal(rounded.lm_head.weight, rounding.weights(original.lm_head.weight))
    q_proj = rounded.model.layers[0].self_attn.q_proj
    assert torch.equal(q_proj.weight, rounding.weights(original.model.layers[0].self_attn.q_proj.weight))
    seen = []
    for module in (q_proj, rounded.lm_head):  # hooks after the rounding hooks see what the products get
        module.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        moved = (rounded(IDS).logits - original(IDS).logits).abs().max()
    assert 0 < moved < 1
    assert len(seen) == 2 and all(torch.equal(inputs, rounding.activations(inputs)) for inputs in seen)


def test_an_openvino_rounding_keeps_the_answer_rows_exact(tiny_tied: Path) -> None:
    rounding = FORMAT_ROUNDING["openvino", "int8"]
    original, rounded = _tiny(tiny_tied), _tiny(tiny_tied)
    round_model(rounded, rounding)
    assert torch.equal(rounded.lm_head.weight, original.lm_head.weight)  # untied first, kept
    embedding = rounded.get_input_embeddings().weight
    assert torch.equal(embedding, rounding.weights(original.get_input_embeddings().weight))
