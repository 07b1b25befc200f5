"""Hugging Face Qwen3-Reranker checkpoint -> GGUF, with numpy and the ``gguf`` package only.

The file has the layout llama.cpp's own converter writes for Qwen3 rerankers (rank pooling,
a 2-row ``cls.output`` head holding the yes and no rows of the output matrix, classifier
labels ["yes", "no"], the rerank chat template), so it also serves llama-server's /rerank.
One addition: for untied models the full output matrix is kept too, which lets our
backend read yes/no logits at the last position only (see backends/gguf.py), far faster
than rank pooling. f32, f16, bf16 and q8_0 are written directly; the other llama.cpp types
(k-quants etc.) go through llama.cpp's own quantizer from an f16 intermediate.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from gguf.quants import quantize

from local_rerank.backends.gguf import load_llama_cpp
from local_rerank.convert.checkpoint import output_matrix_name, read_qwen3_config
from local_rerank.convert.safetensors_io import CheckpointTensor, read_checkpoint
from local_rerank.errors import BackendUnavailableError, ConversionError
from local_rerank.gguf_file import CLASSIFIER_TENSOR
from local_rerank.recipe import NO_TOKEN, YES_TOKEN, format_prompt

DIRECT_TYPES = ("f32", "f16", "bf16", "q8_0")
LLAMA_QUANTIZE_TYPES = ("q2_k", "q3_k_m", "q4_0", "q4_k_s", "q4_k_m", "q5_0", "q5_k_s", "q5_k_m", "q6_k")
GGUF_TYPES = DIRECT_TYPES + LLAMA_QUANTIZE_TYPES
DEFAULT_GGUF_TYPE = "q8_0"

# llama.cpp's template for this model: llama-server fills in {query} and {document}.
RERANK_TEMPLATE = format_prompt("{query}", "{document}")

Progress = Callable[[str, int, int], None]


def export_gguf(checkpoint: Path, out: Path, quant: str = DEFAULT_GGUF_TYPE,
                progress: Progress | None = None) -> None:
    """Write ``out`` (a GGUF file) from the checkpoint folder, quantized as ``quant``."""
    if quant not in GGUF_TYPES:
        raise ConversionError(f"unknown GGUF type {quant!r}; choose one of {', '.join(GGUF_TYPES)}")
    checkpoint = Path(checkpoint)
    config = read_qwen3_config(checkpoint)
    if quant in DIRECT_TYPES:
        _write_gguf(checkpoint, config, out, quant, progress)
        return
    with tempfile.TemporaryDirectory(dir=Path(out).parent) as tmp:
        intermediate = Path(tmp) / "f16.gguf"
        _write_gguf(checkpoint, config, intermediate, "f16", progress)
        _llama_quantize(intermediate, Path(out), quant)


def _write_gguf(checkpoint: Path, config: dict[str, Any], out: Path, quant: str, progress: Progress | None) -> None:
    tensors = read_checkpoint(checkpoint)
    vocab = _vocabulary(checkpoint, config)
    writer = gguf.GGUFWriter(out, "qwen3")
    _add_metadata(writer, config, vocab, checkpoint.name, quant)
    plan = _tensor_plan(tensors, config, vocab.answer_ids)
    stored = {name: _storage_type(quant, name, shape) for name, (shape, _) in plan.items()}
    for name, (shape, _) in plan.items():
        writer.add_tensor_info(name, *_stored_layout(shape, stored[name]), raw_dtype=stored[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for done, (name, (_, load)) in enumerate(plan.items(), start=1):
        writer.write_tensor_data(_encode(load(), stored[name]))
        if progress:
            progress(name, done, len(plan))
    writer.close()


@dataclass(frozen=True)
class _Vocabulary:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    answer_ids: tuple[int, int]  # yes, no
    specials: dict[str, int]


def _vocabulary(checkpoint: Path, config: dict[str, Any]) -> _Vocabulary:
    """Tokens, types and merges as llama.cpp's converter lays out a Qwen2/3 BPE vocabulary."""
    spec = json.loads((checkpoint / "tokenizer.json").read_text(encoding="utf-8"))
    model = spec["model"]
    if model.get("type") != "BPE":
        raise ConversionError(f"{checkpoint}: tokenizer is not BPE; not a Qwen3 tokenizer")
    size = max(int(config["vocab_size"]), len(model["vocab"]) + len(spec["added_tokens"]))
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [int(gguf.TokenType.UNUSED)] * size
    for token, i in model["vocab"].items():
        tokens[i], types[i] = token, int(gguf.TokenType.NORMAL)
    for added in spec["added_tokens"]:
        content = added["content"]
        looks_special = content.startswith("<|") and content.endswith("|>")
        tokens[added["id"]] = content
        types[added["id"]] = int(gguf.TokenType.CONTROL if added["special"] or looks_special
                                 else gguf.TokenType.USER_DEFINED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    ids = {t: i for i, t in enumerate(tokens)}
    if YES_TOKEN not in ids or NO_TOKEN not in ids:
        raise ConversionError(f"{checkpoint}: the vocabulary has no 'yes'/'no' tokens")
    specials = {"eos": ids["<|im_end|>"], "pad": ids["<|endoftext|>"], "bos": ids["<|endoftext|>"]}
    return _Vocabulary(tokens, types, merges, (ids[YES_TOKEN], ids[NO_TOKEN]), specials)


def _add_metadata(writer: Any, config: dict[str, Any], vocab: _Vocabulary, source_name: str, quant: str) -> None:
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    writer.add_name(source_name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_freq_base(float(config.get("rope_theta", 1000000)))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_file_type(int(_FILE_TYPES[quant]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_pooling_type(gguf.PoolingType.RANK)
    writer.add_classifier_output_labels([YES_TOKEN, NO_TOKEN])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges(vocab.merges)
    writer.add_eos_token_id(vocab.specials["eos"])
    writer.add_pad_token_id(vocab.specials["pad"])
    writer.add_bos_token_id(vocab.specials["bos"])
    writer.add_add_bos_token(False)
    writer.add_chat_template([{"name": "rerank", "template": RERANK_TEMPLATE}])


def _tensor_plan(tensors: dict[str, CheckpointTensor], config: dict[str, Any],
                 answer_ids: tuple[int, int]) -> dict[str, tuple[tuple[int, ...], Callable[[], np.ndarray]]]:
    """GGUF name -> (shape, loader), in llama.cpp's names, with the yes/no head added."""
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN3, config["num_hidden_layers"])
    tied = bool(config.get("tie_word_embeddings", False))
    head_source = output_matrix_name(config)
    if head_source not in tensors:
        raise ConversionError(f"the checkpoint lacks {head_source}")
    plan: dict[str, tuple[tuple[int, ...], Callable[[], np.ndarray]]] = {}
    for hf_name, tensor in tensors.items():
        if tied and hf_name == "lm_head.weight":
            continue  # a tied checkpoint may still store the copy; llama.cpp reuses token_embd
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ConversionError(f"unexpected tensor {hf_name!r}: not a Qwen3ForCausalLM checkpoint")
        plan[name] = (tensor.shape, tensor.load)
    head = tensors[head_source]
    plan[CLASSIFIER_TENSOR] = ((2, head.shape[1]), lambda: head.load()[list(answer_ids)])
    return plan


_Q = gguf.GGMLQuantizationType
_NUMPY_FLOATS: dict[gguf.GGMLQuantizationType, np.dtype] = {_Q.F32: np.dtype(np.float32), _Q.F16: np.dtype(np.float16)}
_DIRECT_QTYPES = {"f32": _Q.F32, "f16": _Q.F16, "bf16": _Q.BF16, "q8_0": _Q.Q8_0}
_FILE_TYPES = {
    "f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
    "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}


def _storage_type(quant: str, name: str, shape: tuple[int, ...]) -> gguf.GGMLQuantizationType:
    """Norms and the yes/no head stay f32; 2-D weights take the chosen type (if rows fit its blocks)."""
    if len(shape) < 2 or name == CLASSIFIER_TENSOR:
        return _Q.F32
    chosen = _DIRECT_QTYPES[quant]
    block, _ = gguf.GGML_QUANT_SIZES[chosen]
    return chosen if shape[-1] % block == 0 else _Q.F16


def _stored_layout(shape: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape as handed to the writer, its numpy dtype, bytes) of a tensor stored as ``qtype``."""
    if qtype in _NUMPY_FLOATS:
        dtype = _NUMPY_FLOATS[qtype]
        return shape, dtype, int(np.prod(shape)) * dtype.itemsize
    byte_shape = tuple(gguf.quant_shape_to_byte_shape(shape, qtype))
    return byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape))


def _encode(values: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    if qtype in _NUMPY_FLOATS:
        return np.ascontiguousarray(values, dtype=_NUMPY_FLOATS[qtype])
    return quantize(np.ascontiguousarray(values, dtype=np.float32), qtype)


def _llama_quantize(source: Path, out: Path, quant: str) -> None:
    try:
        llama_cpp, _ = load_llama_cpp()  # with its CPU kernels loaded
    except BackendUnavailableError as e:
        raise ConversionError(f"{quant} needs llama.cpp's quantizer: {e} (or choose q8_0)") from e
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}")
    params.nthread = os.cpu_count() or 1
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if status != 0:
        raise ConversionError(f"llama.cpp could not quantize to {quant} (status {status})")

