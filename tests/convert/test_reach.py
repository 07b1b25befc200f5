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


def test_rounding_the_model_keeps_the_answer_head_exact_and_rounds_the_rest(tiny_tied: Path) -> None:
    from transformers import AutoModelForCausalLM

    def load():
        return AutoModelForCausalLM.from_pretrained(str(tiny_tied), dtype=torch.float32).eval()

    original, rounded = load(), load()
    round_model(rounded, FORMAT_ROUNDING["gguf", "q8_0"])
    assert torch.equal(rounded.lm_head.weight, original.lm_head.weight)  # tied: untied first, head kept
    embedding = rounded.get_input_embeddings().weight
    assert torch.equal(embedding, FORMAT_ROUNDING["gguf", "q8_0"].weights(original.get_input_embeddings().weight))
    q_proj = rounded.model.layers[0].self_attn.q_proj
    assert not torch.equal(q_proj.weight, original.model.layers[0].self_attn.q_proj.weight)
    seen = []
    q_proj.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))  # after the rounding hook
    ids = torch.tensor([[151644, 872, 198, 9707, 151645]])
    with torch.no_grad():
        moved = (rounded(ids).logits - original(ids).logits).abs().max()
    assert 0 < moved < 1
    (inputs,) = seen
    assert torch.equal(inputs, FORMAT_ROUNDING["gguf", "q8_0"].activations(inputs))  # already on the Q8_0 grid
