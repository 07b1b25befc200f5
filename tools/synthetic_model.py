"""Synthetic Qwen3-Reranker checkpoints: the real architecture and tokenizer, random weights.

A random model with the exact shape of the 0.6B/4B/8B reranker costs exactly what the real
one costs to run, so benchmarks use these shape twins; ``tiny`` builds in seconds for tests.
The init is scaled so that scores spread over (0, 1) and depend on the document: with the
usual 0.02 init every prompt scores about the same and parity tests would prove nothing.
Residual branches are scaled by depth so deep shapes behave like the tiny one, and a final
calibration (a forward pass with transformers) sets the yes/no rows of the output head so
that the yes-minus-no logit gap follows what varies most between prompts, centred on zero
with a standard deviation of about 1.5 (see calibrate_answer_rows).

Real LLMs carry a few hidden channels whose activations are 10-100x the rest at the inputs
of their linear layers (LLM.int8's "outlier features"); random weights do not. ``outliers=K``
builds an honest twin for 8-bit activation formats: K hidden channels of every RMSNorm weight
that feeds a projection (q, k, v; gate, up) are multiplied by ``OUTLIER_FACTOR``, the weights
left as they are, as in real models. Every such matrix product then sees K input channels
``OUTLIER_FACTOR`` times the others: what one activation scale per row cannot represent, and
what per-group scales feel in the groups that hold an outlier. It is another model (the
reference is computed on the twin itself), calibrated like the others.

    python -m tools.synthetic_model OUT --shape tiny [--untied] [--seed 0] [--dtype f32] [--outliers K]
        [--layers N] [--answer-std 1.5]
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from local_rerank.convert.checkpoint import output_matrix_name
from local_rerank.convert.parity import CHECK_MAX_LENGTH, CHECK_SET
from local_rerank.convert.safetensors_io import patch_rows, write_safetensors
from local_rerank.recipe import format_prompt
from tools.tokenizer_fixture import qwen3_tokenizer_dir

VOCAB_SIZE = 151669  # the Qwen3-Reranker checkpoints' vocab_size (the tokenizer's full size)
OUTLIER_FACTOR = 30.0


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool  # as in the real model of this size


SHAPES = {
    "tiny": Shape(hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, head_dim=16, tied=True),
    # Rows of 8 groups of 32 (tiny's 64 are two: one outlier channel spoils half of every row's
    # groups); for the outlier twins of the tests.
    "small": Shape(hidden=256, intermediate=768, layers=4, heads=4, kv_heads=2, head_dim=64, tied=True),
    "0.6b": Shape(hidden=1024, intermediate=3072, layers=28, heads=16, kv_heads=8, head_dim=128, tied=True),
    "4b": Shape(hidden=2560, intermediate=9728, layers=36, heads=32, kv_heads=8, head_dim=128, tied=True),
    "8b": Shape(hidden=4096, intermediate=12288, layers=36, heads=32, kv_heads=8, head_dim=128, tied=False),
}


def config_for(shape: Shape, tied: bool, dtype: str) -> dict:
    """The config.json of a Qwen3ForCausalLM with this shape."""
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "head_dim": shape.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": 40960,
        "max_window_layers": shape.layers,
        "rms_norm_eps": 1e-6,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "use_sliding_window": False,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "tie_word_embeddings": tied,
        "torch_dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[dtype],
        "vocab_size": VOCAB_SIZE,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "initializer_range": 0.02,
        "use_cache": True,
    }


def outlier_channels(hidden: int, count: int, seed: int) -> np.ndarray:
    """The ``count`` hidden channels an outlier twin scales (fixed by the seed)."""
    return np.sort(np.random.default_rng([seed, 999_999]).choice(hidden, size=count, replace=False))


def _tensors(shape: Shape, tied: bool, seed: int,
             outliers: int = 0) -> Iterator[tuple[str, tuple[int, ...], Callable[[], np.ndarray]]]:
    channels = outlier_channels(shape.hidden, outliers, seed)
    for name, size, make in _plain_tensors(shape, tied, seed):
        # input_layernorm feeds q, k, v; post_attention_layernorm feeds gate, up (not model.norm)
        yield name, size, _scaled(make, channels, OUTLIER_FACTOR) if name.endswith("layernorm.weight") else make


def _scaled(make: Callable[[], np.ndarray], channels: np.ndarray, factor: float) -> Callable[[], np.ndarray]:
    """``make`` with its last axis's ``channels`` multiplied by ``factor``."""
    def scaled() -> np.ndarray:
        tensor = make()
        tensor[..., channels] *= factor
        return tensor
    return scaled


def _plain_tensors(shape: Shape, tied: bool,
                   seed: int) -> Iterator[tuple[str, tuple[int, ...], Callable[[], np.ndarray]]]:
    h, hd = shape.hidden, shape.head_dim
    branch = 2.0 / shape.layers**0.5  # keeps the residual stream's size independent of depth

    def normal(shape_: tuple[int, ...], std: float, index: int) -> Callable[[], np.ndarray]:
        return lambda: np.random.default_rng([seed, index]).standard_normal(shape_, dtype=np.float32) * std

    def around(center: float, size: int, spread: float, index: int) -> Callable[[], np.ndarray]:
        return lambda: center + np.random.default_rng([seed, index]).standard_normal(size, dtype=np.float32) * spread

    index = iter(range(1_000_000))
    yield "model.embed_tokens.weight", (VOCAB_SIZE, h), normal((VOCAB_SIZE, h), h**-0.5, next(index))
    for layer in range(shape.layers):
        p = f"model.layers.{layer}."
        yield p + "input_layernorm.weight", (h,), around(1.0, h, 0.1, next(index))
        yield p + "self_attn.q_proj.weight", (shape.heads * hd, h), normal((shape.heads * hd, h), h**-0.5, next(index))
        yield (p + "self_attn.k_proj.weight", (shape.kv_heads * hd, h),
               normal((shape.kv_heads * hd, h), h**-0.5, next(index)))
        yield (p + "self_attn.v_proj.weight", (shape.kv_heads * hd, h),
               normal((shape.kv_heads * hd, h), h**-0.5, next(index)))
        yield (p + "self_attn.o_proj.weight", (h, shape.heads * hd),
               normal((h, shape.heads * hd), branch * (shape.heads * hd) ** -0.5, next(index)))
        # Larger q/k norm weights sharpen attention, so the document's tokens matter.
        yield p + "self_attn.q_norm.weight", (hd,), around(1.0, hd, 0.1, next(index))
        yield p + "self_attn.k_norm.weight", (hd,), lambda: np.full(hd, 2.0, np.float32)
        yield p + "post_attention_layernorm.weight", (h,), around(1.0, h, 0.1, next(index))
        yield p + "mlp.gate_proj.weight", (shape.intermediate, h), normal((shape.intermediate, h), h**-0.5, next(index))
        yield p + "mlp.up_proj.weight", (shape.intermediate, h), normal((shape.intermediate, h), h**-0.5, next(index))
        yield (p + "mlp.down_proj.weight", (h, shape.intermediate),
               normal((h, shape.intermediate), branch * shape.intermediate**-0.5, next(index)))
    yield "model.norm.weight", (h,), around(1.0, h, 0.1, next(index))
    if not tied:
        yield "lm_head.weight", (VOCAB_SIZE, h), normal((VOCAB_SIZE, h), h**-0.5, next(index))


def calibrate_answer_rows(out: Path, target_std: float = 1.5) -> None:
    """Point the yes-minus-no head direction along the final state's main direction of variation.

    Over varied prompts, the last position's final hidden states vary mostly along a few
    directions; a random head direction picks up little of that and much of everything
    else, so quantization noise would dominate the scores. The gap direction becomes the
    first principal component of the centred states, made orthogonal to their mean (so
    the average gap is zero) and scaled so the gap's standard deviation is ``target_std``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.loads((out / "config.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=getattr(torch, config["torch_dtype"])).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    yes, no = tokenizer.convert_tokens_to_ids(["yes", "no"])
    finals = []
    with torch.no_grad():
        for query in {case.query for case in CHECK_SET}:
            for case in CHECK_SET:
                for document in case.documents:
                    prompt = format_prompt(query, document, case.instruction)
                    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
                    finals.append(model.model(ids[:, -CHECK_MAX_LENGTH:]).last_hidden_state[0, -1].float())
    states = torch.stack(finals).numpy().astype(np.float64)
    mean_state = states.mean(axis=0)
    direction = np.linalg.svd(states - mean_state, full_matrices=False)[2][0]
    direction -= (direction @ mean_state) * mean_state / (mean_state @ mean_state)
    direction *= target_std / (states @ direction).std()
    head = model.lm_head.weight.detach().float().numpy()
    centre = (head[yes] + head[no]) / 2
    patch_rows(out / "model.safetensors", output_matrix_name(config), [yes, no],
               np.stack([centre + direction / 2, centre - direction / 2]))


def build_synthetic_model(
    out: Path, shape_name: str = "tiny", *, tied: bool | None = None, seed: int = 0, dtype: str = "f32",
    calibrate: bool = True, outliers: int = 0, layers: int | None = None, answer_std: float = 1.5,
) -> Path:
    """Write a Hugging Face checkpoint folder (config, weights, real tokenizer, README) to ``out``;
    ``outliers`` hidden channels become activation outliers (see the module's docstring);
    ``layers`` another depth than the shape's; ``answer_std`` the spread of the calibrated
    yes-minus-no gap (larger: sharper answers, which any rounding moves further)."""
    shape = SHAPES[shape_name] if layers is None else replace(SHAPES[shape_name], layers=layers)
    tied = shape.tied if tied is None else tied
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config_for(shape, tied, dtype), indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(qwen3_tokenizer_dir() / name, out / name)
    (out / "README.md").write_text(
        f"# Qwen3-Reranker synthetic {shape_name}\n\n"
        f"Random weights (seed {seed}, {'tied' if tied else 'untied'} head) in the exact shape of "
        "Qwen3-Reranker, with the real Qwen3 tokenizer. Built by tools/synthetic_model.py for "
        "tests and benchmarks; its scores mean nothing.\n"
        + (f"\n{outliers} hidden channels are activation outliers ({OUTLIER_FACTOR:g}x).\n" if outliers else "")
        + (f"\n{layers} layers instead of the shape's {SHAPES[shape_name].layers}.\n" if layers is not None else "")
    )
    write_safetensors(out / "model.safetensors", _tensors(shape, tied, seed, outliers), dtype.upper())
    if calibrate:
        calibrate_answer_rows(out, answer_std)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--untied", action="store_true", help="a separate lm_head (as the 8B has)")
    parser.add_argument("--tied", action="store_true", help="lm_head tied to the embedding (as 0.6B/4B)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    parser.add_argument("--no-calibrate", action="store_true", help="skip the head calibration (needs torch)")
    parser.add_argument("--outliers", type=int, default=0, help="hidden channels made activation outliers")
    parser.add_argument("--layers", type=int, help="another depth than the shape's")
    parser.add_argument("--answer-std", type=float, default=1.5, help="spread of the yes-minus-no gap")
    args = parser.parse_args()
    tied = True if args.tied else False if args.untied else None
    print(build_synthetic_model(args.out, args.shape, tied=tied, seed=args.seed, dtype=args.dtype,
                                calibrate=not args.no_calibrate, outliers=args.outliers, layers=args.layers,
                                answer_std=args.answer_std))


if __name__ == "__main__":
    main()
