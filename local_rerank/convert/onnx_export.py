"""Hugging Face Qwen3-Reranker checkpoint -> ONNX folder (optimum), then quantization.

The exported graph scores directly: the causal LM becomes a Qwen3ForSequenceClassification
with one label whose weight row is the output matrix's yes row minus its no row, pooled at
each sequence's last non-padding token, so ``sigmoid(logit) = p("yes")`` and the
151k-word output layer is never computed. Inputs ``input_ids`` and ``attention_mask`` with
dynamic batch and sequence axes; padding goes on the right (pad id ``<|endoftext|>``, which
no prompt built by the recipe contains), so every real token keeps its position.

Variants (``--quant``):
  fp32          the exported graph as is
  int8          8-bit weight-only MatMulNBits (block 32), embeddings left in fp32 (default)
  int8-a8       the same weights, run with 8-bit activations per block of 32 (MatMulNBits
                accuracy_level=4): integer dot products on the CPU, as GGUF Q8_0 does
  int8-dynamic  dynamic W8A8 (QInt8 weights per channel in 7 bits, the embedding table as u8):
                CPU-only operators
  fp16          float16 weights and activations, float32 inputs and outputs (for CUDA)
  int4          4-bit weight-only MatMulNBits (block 32)
Needs torch, transformers and optimum-onnx (``pip install 'local-rerank[convert-onnx]'``).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local_rerank.convert.checkpoint import output_matrix_name, read_qwen3_config
from local_rerank.convert.safetensors_io import read_checkpoint
from local_rerank.errors import ConversionError

ONNX_TYPES = ("int8", "int8-a8", "fp32", "fp16", "int8-dynamic", "int4")
# MatMulNBits variant -> (bits, accuracy_level); level 4 quantizes activations to int8 per block.
_NBITS = {"int8": (8, None), "int8-a8": (8, 4), "int4": (4, None)}
DEFAULT_ONNX_TYPE = "int8"
MODEL_FILE = "model.onnx"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def export_onnx(checkpoint: Path, out: Path, quant: str = DEFAULT_ONNX_TYPE) -> None:
    """Write the folder ``out`` (model.onnx + tokenizer files) from the checkpoint folder."""
    if quant not in ONNX_TYPES:
        raise ConversionError(f"unknown ONNX variant {quant!r}; choose one of {', '.join(ONNX_TYPES)}")
    try:
        from optimum.exporters.onnx import onnx_export_from_model
    except ImportError as e:
        raise ConversionError("ONNX export needs optimum-onnx: pip install 'local-rerank[convert-onnx]'") from e
    checkpoint, out = Path(checkpoint), Path(out)
    config = read_qwen3_config(checkpoint)
    read_checkpoint(checkpoint)  # a corrupt or cut safetensors file: one clear error before optimum reads it
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp, _quiet():
        # Traced from the model in memory: no float32 copy of the checkpoint written and read back
        # (4 bytes a weight: about 30 GB for the 8B model).
        onnx_export_from_model(_yes_minus_no_classifier(checkpoint, config), output=Path(tmp),
                               task="text-classification", do_validation=False)
        _quantize(Path(tmp) / MODEL_FILE, out / MODEL_FILE, quant)
    for name in TOKENIZER_FILES:
        shutil.copy(checkpoint / name, out / name)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the tracer's and quantizers' warnings and logs; the parity check judges the graph."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _yes_minus_no_classifier(checkpoint: Path, config: dict) -> Any:
    """The checkpoint as a Qwen3ForSequenceClassification in float32 whose one score row is the
    output matrix's yes row minus its no row."""
    import torch
    from transformers import AutoTokenizer, Qwen3ForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    yes, no = tokenizer.convert_tokens_to_ids(["yes", "no"])
    model = Qwen3ForSequenceClassification.from_pretrained(  # its score row starts random: set below
        str(checkpoint), num_labels=1, pad_token_id=tokenizer.pad_token_id, dtype=torch.float32
    )
    head = torch.from_numpy(read_checkpoint(checkpoint)[output_matrix_name(config)].load())
    with torch.no_grad():
        model.score.weight.copy_((head[yes] - head[no]).unsqueeze(0))
    model.config.use_cache = False  # as the export runs it: no past key values in or out
    return model.eval()


def _quantize(source: Path, target: Path, quant: str) -> None:
    import onnx

    if quant == "fp32":
        _save(onnx.load(str(source)), target)
    elif quant in _NBITS:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        bits, accuracy_level = _NBITS[quant]
        quantizer = MatMulNBitsQuantizer(onnx.load(str(source)), bits=bits, block_size=32, is_symmetric=True,
                                         accuracy_level=accuracy_level)
        quantizer.process()
        _save(quantizer.model.model, target)
    elif quant == "int8-dynamic":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # 7-bit weights: on CPUs without VNNI onnxruntime sums pairs of u8 x s8 products in int16,
        # which saturates with full 8-bit weights (a tiny model's scores moved by 0.37 on an AVX2
        # Zen 3, 0.06 with 7 bits): a file whose gate passed on a VNNI CPU would score wrong, silently,
        # on an AVX2 laptop.
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, use_external_data_format=True)
    else:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        _save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=True), target)


def int8_activations_here() -> bool:
    """Whether onnxruntime rounds an int8-a8 export's activations to 8 bits on this CPU: one
    MatMulNBits product of [127, 0.4] by weights of 1 gives 127 where it does, 127.4 where its
    kernels multiply float activations.

    Raises:
        ConversionError: the product is neither.
    """
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    bits, accuracy_level = _NBITS["int8-a8"]
    width = 32
    node = helper.make_node("MatMulNBits", ["a", "b", "scale"], ["y"], domain="com.microsoft", K=width, N=1,
                            bits=bits, block_size=width, accuracy_level=accuracy_level)
    ones = numpy_helper.from_array(np.zeros((1, 1, width), np.uint8), "b")  # -128 each, times -1/128
    scale = numpy_helper.from_array(np.full((1, 1), -1 / 128, np.float32), "scale")
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], [ones, scale])
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    activations = np.zeros((1, width), np.float32)
    activations[0, :2] = 127, 0.4
    product = float(session.run(None, {"a": activations})[0][0, 0])
    rounds = abs(product - 127) <= 0.05
    if not rounds and abs(product - 127.4) > 0.05:
        raise ConversionError(f"onnxruntime's MatMulNBits product of [127, 0.4] by ones gave {product}, "
                              "neither 127 nor 127.4: this onnxruntime cannot run int8-a8 exports")
    return rounds


def _save(model: Any, target: Path) -> None:
    import onnx

    onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=target.name + ".data", size_threshold=1024)
