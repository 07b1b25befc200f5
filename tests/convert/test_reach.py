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


def _bf16_valued(rows: int, width: int) -> np.ndarray:
    """float32 weights holding bf16 values (as the released checkpoints do), ties of largest magnitude
    (+a and -a in one block) and values whose scaled size ends in exactly .5 among them."""
    values = torch.from_numpy(np.random.default_rng(1).standard_normal((rows, width)).astype(np.float32) * 0.05)
    values = values.bfloat16().float().numpy()
    values[0, :2] = 0.25, -0.25  # a tie: onnxruntime takes the negative one, so the scale is positive
    values[1, :3] = 0.5, -0.5 * 2.5 / 128, 0.5 * 2.5 / 128  # 2.5 steps either way: rounded half up
    return values


def _exported(weights: np.ndarray, quant: str, folder: Path) -> dict[str, np.ndarray]:
    """The initializers the ONNX exporter's quantizer (``_quantize``) stores for one MatMul by ``weights``
    (torch's (out, in): the graph multiplies by its transpose)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from local_rerank.convert.onnx_export import _quantize

    rows, width = weights.shape
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "one",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, rows])],
                              [numpy_helper.from_array(np.ascontiguousarray(weights.T), "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "fp32.onnx")
    _quantize(folder / "fp32.onnx", folder / f"{quant}.onnx", quant)
    model = onnx.load(folder / f"{quant}.onnx")
    onnx.checker.check_model(model)
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


@pytest.mark.parametrize("quant", ["int8", "int8-a8"])
@pytest.mark.parametrize("case", ["outlier", "bf16 ties and halves, 80 wide"])
def test_onnx_rounding_is_what_onnxruntimes_quantizer_stores(weights: np.ndarray, quant: str, case: str,
                                                             tmp_path: Path) -> None:
    """MatMulNBits, 8 bits, blocks of 32 along each input row: the block's largest magnitude is -128."""
    if case != "outlier":
        weights = _bf16_valued(64, 80)  # the last block of each row is padded
    stored = _exported(weights, quant, tmp_path)
    (q,) = [v for v in stored.values() if v.dtype == np.uint8]
    (scale,) = [v for v in stored.values() if v.dtype == np.float32]
    assert len(stored) == 2  # values and scales: symmetric, no zero points stored (128)
    dequantized = ((q.astype(np.float32) - 128) * scale[..., None]).reshape(len(weights), -1)[:, :weights.shape[1]]
    np.testing.assert_array_equal(_simulated(("onnx", quant), weights), dequantized)


def test_onnx_int8_dynamic_rounding_is_what_quantize_dynamic_stores(weights: np.ndarray, tmp_path: Path) -> None:
    """quantize_dynamic, per output channel, reduce_range: 7-bit weights in [-64, 64], scale amax / 64."""
    stored = _exported(weights, "int8-dynamic", tmp_path)
    (q,) = [v for v in stored.values() if v.dtype == np.int8 and v.ndim == 2]  # (in, out)
    (scale,) = [v for v in stored.values() if v.dtype == np.float32]
    assert q.min() >= -64 and q.max() <= 64 and (stored["w_zero_point"] == 0).all()
    np.testing.assert_array_equal(_simulated(("onnx", "int8-dynamic"), weights), (q.astype(np.float32) * scale).T)


def _tiny(checkpoint: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32).eval()


IDS = torch.tensor([[151644, 872, 198, 9707, 151645]])
ANSWERS = (9693, 2152)  # the Qwen3 tokenizer's "yes" and "no"


def test_a_gguf_rounding_rounds_the_tied_output_matrix_once_and_every_product_input(tiny_tied: Path) -> None:
    rounding = FORMAT_ROUNDING["gguf", "q8_0"]
    original, rounded = _tiny(tiny_tied), _tiny(tiny_tied)
    round_model(rounded, rounding, ANSWERS)
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
    round_model(rounded, rounding, ANSWERS)
    assert torch.equal(rounded.lm_head.weight, original.lm_head.weight)  # untied first, kept
    embedding = rounded.get_input_embeddings().weight
    assert torch.equal(embedding, rounding.weights(original.get_input_embeddings().weight))


def test_an_onnx_rounding_rounds_the_yes_minus_no_row_and_keeps_the_embedding(tiny_tied: Path) -> None:
    """The ONNX export scores with one quantized row, yes minus no; the embedding table stays float32."""
    rounding = FORMAT_ROUNDING["onnx", "int8-a8"]
    original, rounded = _tiny(tiny_tied), _tiny(tiny_tied)
    round_model(rounded, rounding, ANSWERS)
    yes, no = ANSWERS
    head, embedding = rounded.lm_head.weight, rounded.get_input_embeddings().weight
    assert head is not embedding and torch.equal(embedding, original.get_input_embeddings().weight)
    before = original.lm_head.weight
    difference = rounding.weights((before[yes] - before[no])[None])[0]
    assert not torch.equal(difference, before[yes] - before[no])
    torch.testing.assert_close(head[yes] - head[no], difference, rtol=0, atol=1e-6)
    others = torch.ones(len(head), dtype=torch.bool)
    others[yes] = False
    assert torch.equal(head[others], before[others])
    q_proj = rounded.model.layers[0].self_attn.q_proj
    assert torch.equal(q_proj.weight, rounding.weights(original.model.layers[0].self_attn.q_proj.weight))
    seen = []
    for module in (q_proj, rounded.lm_head):
        module.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        rounded(IDS)
    assert len(seen) == 2 and all(torch.equal(inputs, rounding.activations(inputs)) for inputs in seen)
