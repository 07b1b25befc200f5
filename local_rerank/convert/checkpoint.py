"""What every exporter checks first: that a folder is a Qwen3 causal-LM checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local_rerank.errors import ConversionError

# The sizes every exporter reads from config.json.
SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
              "max_position_embeddings")


def read_qwen3_config(checkpoint: Path) -> dict[str, Any]:
    """The checkpoint's config.json, once it is known to be a Qwen3ForCausalLM with a tokenizer.

    Raises:
        ConversionError: no readable config, another architecture, sizes that are not positive whole
            numbers, or no tokenizer.json.
    """
    checkpoint = Path(checkpoint)
    try:
        config = json.loads((checkpoint / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ConversionError(f"{checkpoint} has no readable config.json: not a Hugging Face checkpoint") from e
    if not isinstance(config, dict):
        raise ConversionError(f"{checkpoint}/config.json is not a JSON object: not a Hugging Face checkpoint")
    architectures = config.get("architectures")
    if (config.get("model_type") != "qwen3" or not isinstance(architectures, list)
            or "Qwen3ForCausalLM" not in architectures):
        raise ConversionError(
            f"{checkpoint}: model type {config.get('model_type')!r} is not a Qwen3ForCausalLM; "
            "only Qwen3-Reranker checkpoints are supported"
        )
    for key in SHAPE_KEYS:
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConversionError(f"{checkpoint}/config.json: {key} must be a positive whole number, got {value!r}")
    epsilon = config.get("rms_norm_eps")
    if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool):
        raise ConversionError(f"{checkpoint}/config.json: rms_norm_eps must be a number, got {epsilon!r}")
    if not (checkpoint / "tokenizer.json").is_file():
        raise ConversionError(f"{checkpoint} has no tokenizer.json")
    return config


def output_matrix_name(config: dict[str, Any]) -> str:
    """The tensor that holds the output (LM head) matrix: the embedding when they are tied."""
    return "model.embed_tokens.weight" if config.get("tie_word_embeddings") else "lm_head.weight"
