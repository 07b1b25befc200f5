"""Hugging Face Qwen3-Reranker checkpoint -> OpenVINO IR folder (model.xml + model.bin).

The graph is the ONNX export's (:mod:`local_rerank.convert.onnx_export`: the causal LM as a
classifier whose one output is the yes-minus-no logit at each sequence's last real token),
read by OpenVINO's own ONNX reader. For ``int8``, the weights of every matrix product and
the token-embedding table are then stored as unsigned 8-bit integers with a zero point and
a float32 scale per group of 32 values along each output channel (Q8_0's layout, with an
asymmetric range); the one-column yes-minus-no head stays float32. OpenVINO's CPU plugin
recognises this pattern and, on CPUs with VNNI, runs the products on 8-bit activations
quantized per group at run time (see :mod:`local_rerank.backends.openvino`). For ``bf16``, the
same weights (the same nodes: the head again stays float32) are stored as bfloat16 constants,
each followed by a Convert to float32: half the fp32 export's size; where the CPU multiplies bf16
natively the backend compiles it with the bf16 precision hint, elsewhere it computes in float32
on the bf16-rounded weights.

Variants (``--quant``): ``int8`` (default), ``bf16`` and ``fp32`` (the graph as read, for checks).
The conversion never calls OpenVINO's model converter or NNCF, whose usage telemetry would
open network connections. Needs the ONNX exporter's packages and openvino
(``pip install 'local-rerank[convert-openvino]'``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from local_rerank.backends.openvino import error_reason
from local_rerank.convert.onnx_export import TOKENIZER_FILES, export_onnx
from local_rerank.errors import ConversionError

OPENVINO_TYPES = ("int8", "bf16", "fp32")
DEFAULT_OPENVINO_TYPE = "int8"
MODEL_FILE = "model.xml"
WEIGHTS_FILE = "model.bin"
# Values per group of 8-bit weights, as in GGUF Q8_0. Measured on the 0.6B twin's parity set
# (docs/how-it-works.md "Accuracy"): one scale per row (per channel) had 1.5x Q8_0's error, groups of 32 less
# than Q8_0's; the embedding table is quantized the same way (a float16 table gained nothing).
WEIGHT_GROUP = 32


def export_openvino(checkpoint: Path, out: Path, quant: str = DEFAULT_OPENVINO_TYPE) -> None:
    """Write the folder ``out`` (model.xml, model.bin and the tokenizer files) from the checkpoint folder."""
    if quant not in OPENVINO_TYPES:
        raise ConversionError(f"unknown OpenVINO variant {quant!r}; choose one of {', '.join(OPENVINO_TYPES)}")
    try:
        import openvino
    except ImportError as e:
        raise ConversionError("OpenVINO export needs openvino: pip install 'local-rerank[convert-openvino]'") from e

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        onnx_folder = Path(tmp) / "onnx"
        export_onnx(checkpoint, onnx_folder, "fp32")
        try:
            model = openvino.Core().read_model(str(onnx_folder / "model.onnx"))
        except RuntimeError as e:  # OpenVINO's errors are RuntimeError subclasses
            raise ConversionError(f"OpenVINO cannot read the exported graph: {error_reason(e)}") from e
        if quant != "fp32" and compress_weights(model, quant) == 0:
            raise ConversionError("OpenVINO export: no matrix product had weights to quantize (unexpected graph)")
        out.mkdir()
        try:
            openvino.save_model(model, str(out / MODEL_FILE), compress_to_fp16=False)
        except RuntimeError as e:
            raise ConversionError(f"OpenVINO cannot write {out / MODEL_FILE}: {error_reason(e)}") from e
        for name in TOKENIZER_FILES:
            shutil.copy(onnx_folder / name, out / name)



def quantize_groups(weights: np.ndarray, group: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric 8-bit quantization of each group of ``group`` consecutive values of a row
    (the whole row when None): ``weights ≈ (q - zero_point) * scale``.

    Returns ``q`` (uint8, shape (rows, groups, group)), and ``zero_point`` (uint8) and ``scale``
    (float32), each of shape (rows, groups, 1). A group's range always includes 0, so 0 stays
    exact; a group of zeros gets scale 1.
    """
    weights = np.asarray(weights, dtype=np.float32)
    rows, width = weights.shape
    group = group or width
    if width % group:
        raise ValueError(f"a row of {width} values does not split into groups of {group}")
    weights = weights.reshape(rows, width // group, group)
    low = np.minimum(weights.min(axis=2, keepdims=True), 0.0)
    high = np.maximum(weights.max(axis=2, keepdims=True), 0.0)
    scale = (high - low) / 255.0
    scale[scale == 0] = 1.0
    zero_point = np.clip(np.round(-low / scale), 0, 255)
    q = np.clip(np.round(weights / scale) + zero_point, 0, 255).astype(np.uint8)
    return q, zero_point.astype(np.uint8), scale.astype(np.float32)


def compress_weights(model: Any, quant: str = "int8") -> int:
    """Store the matrix-product weights and the embedding table of ``model`` (an ``openvino.Model``)
    in 8 bits (``int8``) or as bfloat16 (``bf16``), in place; return how many tensors were compressed.
    Products with one output column (the relevance head) are left in float32."""
    from openvino import opset13 as ops

    compressed = 0
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind == "MatMul" and _float_matrix(node, 1) and not node.get_attributes()["transpose_b"]:
            weights = node.input_value(1).get_node().get_data()  # (inputs, outputs): a row per output is its transpose
            if weights.shape[1] == 1:
                continue
            transpose_a = node.get_attributes()["transpose_a"]
            product = (ops.matmul(node.input_value(0), _bf16_constant(weights), transpose_a=transpose_a,
                                  transpose_b=False) if quant == "bf16"
                       else ops.matmul(node.input_value(0), _dequantized(weights.T), transpose_a=transpose_a,
                                       transpose_b=True))
        elif kind == "Gather" and _float_matrix(node, 0) and _constant_axis(node) == 0:
            table = node.input_value(0).get_node().get_data()
            stored = _bf16_constant(table) if quant == "bf16" else _dequantized(table)
            product = ops.gather(stored, node.input_value(1), node.input_value(2),
                                 batch_dims=node.get_attributes()["batch_dims"])
        else:
            continue
        product.set_friendly_name(node.get_friendly_name())
        node.output(0).replace(product.output(0))
        compressed += 1
    return compressed


def _constant_axis(gather: Any) -> int | None:
    axis = gather.input_value(2).get_node()
    return int(axis.get_data()) if axis.get_type_name() == "Constant" else None


def _float_matrix(node: Any, index: int) -> bool:
    source = node.input_value(index).get_node()
    return (source.get_type_name() == "Constant" and source.get_output_element_type(0).get_type_name() == "f32"
            and len(source.get_output_shape(0)) == 2)


def bf16_bits(values: np.ndarray) -> np.ndarray:
    """The bfloat16 nearest each float32 value (ties to even), as its 16 bits (uint16): the upper
    half of the float32 after rounding. NaNs stay NaNs (their payload's top bit is set)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    bits = values.view(np.uint32)
    rounded = ((bits + ((bits >> 16) & 1) + np.uint32(0x7FFF)) >> 16).astype(np.uint16)
    nan = np.isnan(values)
    rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def _bf16_constant(weights: np.ndarray) -> Any:
    """``weights`` as a bfloat16 constant widened to float32 by a Convert (the compressed-weights pattern)."""
    import openvino
    from openvino import opset13 as ops

    tensor = openvino.Tensor(openvino.Type.bf16, list(weights.shape))
    tensor.data.view(np.uint16)[...] = bf16_bits(weights)  # numpy has no bf16: the tensor shows its bits as f16
    return ops.convert(openvino.op.Constant(tensor), "f32")


def _dequantized(weights: np.ndarray) -> Any:
    """``(q - zero_point) * scale`` as graph nodes over 8-bit constants, in groups of WEIGHT_GROUP
    values along each row (one group per row where the row does not split evenly)."""
    from openvino import opset13 as ops

    q, zero_point, scale = quantize_groups(weights, WEIGHT_GROUP if weights.shape[1] % WEIGHT_GROUP == 0 else None)
    if q.shape[1] == 1:  # one group per row: the plain (rows, columns) pattern
        q, zero_point, scale = q[:, 0], zero_point[:, 0], scale[:, 0]
    shifted = ops.subtract(ops.convert(ops.constant(q), "f32"), ops.convert(ops.constant(zero_point), "f32"))
    grouped = ops.multiply(shifted, ops.constant(scale))
    if q.ndim == 2:
        return grouped
    return ops.reshape(grouped, ops.constant(np.array(weights.shape, dtype=np.int64)), special_zero=False)
