"""What a format can reach on a model: the float32 reference with the format's rounding.

The export gate judges a converted file against the reference, but a fixed tolerance is not fair
to every model: how far a format's rounding moves p("yes") depends on the model (its width, its
depth, how sharp its answers are, whether its activations have outlier channels). So the gate
also scores the check set with the reference model rounded the way the format rounds: weights
stored in the format's blocks and precision, and, where the format's kernels do it, the inputs
of every matrix product rounded the same way at run time. The answer rows are rounded where the
file stores them in its type (a GGUF file is scored from its output matrix's yes and no rows, an
ONNX export from one yes-minus-no row quantized with the rest) and left exact where it does not
(OpenVINO's one-column head). The distance between that and the reference is what any faithful
file of the format can reach on this model; a file may be a margin further (runtimes differ in
accumulation order, KV-cache precision, padding), never more.

The simulation is a yardstick, not a bit-exact copy of each runtime's kernels: the products'
weights are rounded bit for bit as each exporter stores them (tests/convert/test_reach.py; not
ONNX int8-dynamic's u8 embedding table), the products' accumulation order is not repeated. The
formats without a simulation (ONNX fp16, k-quants, int4, float32) keep the fixed tolerance.
Needs torch (conversion only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_rerank.formats import WEIGHT_TYPES, AnswerRows
from local_rerank.formats import Rounding as Rounding_

Rounding = Callable[[Any], Any]  # torch.Tensor -> torch.Tensor of the same shape, float32


def _to(dtype_name: str) -> Rounding:
    def rounded(x: Any) -> Any:
        import torch

        return x.to(getattr(torch, dtype_name)).to(x.dtype)

    return rounded


def _symmetric(block: int | None, f16_scale: bool = False, levels: int = 127) -> Rounding:
    """Signed values in [-levels, levels] with one scale (amax / levels) per ``block`` values along the
    last axis (the whole axis when None): GGUF Q8_0 (scale stored in f16), 8-bit activation groups,
    int8 per channel (7 bits, 64 levels, where onnxruntime reduces the range)."""
    def rounded(x: Any) -> Any:
        import torch

        width = x.shape[-1]
        size = block if block and width % block == 0 else width
        groups = x.reshape(*x.shape[:-1], width // size, size)
        scale = groups.abs().amax(dim=-1, keepdim=True) / levels
        q = torch.round(groups / torch.where(scale == 0, torch.ones_like(scale), scale)).clamp(-levels, levels)
        if f16_scale:  # the values are rounded with the exact scale, which is then stored in f16
            scale = scale.to(torch.float16).to(x.dtype)
        return (q * scale).reshape(x.shape)

    return rounded


def _largest_to_minus_128(block: int) -> Rounding:
    """Signed 8-bit values per ``block`` values along the last axis (zero-padded to whole blocks),
    the block's value of largest magnitude (the negative one of a tie) stored as -128: scale = that
    value / -128, values ``x * (1 / scale)`` rounded half up into [-128, 127]:
    onnxruntime's MatMulNBits quantizer, 8 bits, symmetric."""
    def rounded(x: Any) -> Any:
        import torch

        width = x.shape[-1]
        padded = torch.nn.functional.pad(x, (0, -width % block))
        groups = padded.reshape(*x.shape[:-1], -1, block)
        low, high = groups.amin(dim=-1, keepdim=True), groups.amax(dim=-1, keepdim=True)
        scale = torch.where(high.abs() > low.abs(), high, low) / -128
        y = groups * torch.where(scale == 0, torch.zeros_like(scale), 1 / scale)
        q = torch.floor(y + 0.5).clamp(-128, 127)  # rounded as y + 128 is, half up, then less 128
        return (q * scale).reshape(padded.shape)[..., :width]

    return rounded


def _asymmetric(block: int | None) -> Rounding:
    """Unsigned 8-bit values with a zero point and scale per ``block`` values along the last axis
    (the whole tensor when None): OpenVINO's u8 weights, onnxruntime's dynamic activations."""
    def rounded(x: Any) -> Any:
        import torch

        width = x.shape[-1]
        groups = x.reshape(*x.shape[:-1], width // block, block) if block and width % block == 0 else x.reshape(1, -1)
        low = torch.clamp(groups.amin(dim=-1, keepdim=True), max=0.0)
        high = torch.clamp(groups.amax(dim=-1, keepdim=True), min=0.0)
        scale = (high - low) / 255
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        zero_point = torch.round(-low / scale)
        q = torch.clamp(torch.round(groups / scale) + zero_point, 0, 255)
        return ((q - zero_point) * scale).reshape(x.shape)

    return rounded


@dataclass(frozen=True)
class FormatRounding:
    """How a format rounds a model: its stored weights, and the inputs of its matrix products."""

    weights: Rounding
    activations: Rounding | None = None
    embedding: bool = True  # whether the embedding table is stored in the format too
    head: AnswerRows = "rows"  # the answer rows: "rows", "difference" or "exact" (formats.Rounding)


# The arithmetic behind each rounding name of local_rerank/formats.py.
ROUNDERS: dict[str, Rounding] = {
    "float16": _to("float16"),
    "bfloat16": _to("bfloat16"),
    "q8_0": _symmetric(32, f16_scale=True),  # blocks of 32, one f16 scale each
    "int8-blocks-32": _symmetric(32),  # 8-bit activation groups: OpenVINO's, onnxruntime's (accuracy level 4)
    "int8-nbits-32": _largest_to_minus_128(32),  # onnxruntime's MatMulNBits weights
    "int7-channels": _symmetric(None, levels=64),  # one scale per output channel, 7 bits (onnxruntime's reduce_range)
    "u8-tensor": _asymmetric(None),  # one range per tensor
    "u8-groups-32": _asymmetric(32),  # groups of 32 with a zero point
}


def format_rounding(rounding: Rounding_) -> FormatRounding:
    """The arithmetic of a weight type's rounding (:class:`local_rerank.formats.Rounding`)."""
    activations = None if rounding.activations is None else ROUNDERS[rounding.activations]
    return FormatRounding(ROUNDERS[rounding.weights], activations, rounding.embedding, rounding.head)


FORMAT_ROUNDING: dict[tuple[str, str], FormatRounding] = {
    w.variant: format_rounding(w.rounding) for w in WEIGHT_TYPES if w.rounding is not None}


def round_model(model: Any, rounding: FormatRounding, answers: tuple[int, int]) -> None:
    """Round a transformers Qwen3 model in place, once, as ``rounding`` says; ``answers``: the
    (yes, no) token ids.

    The weights of every linear layer of the decoder, the embedding table where the format stores
    it, and the answer rows as the format stores them (``head``: the output matrix's rows, or the
    yes-minus-no row, whose rounding moves the yes row) are replaced by their rounded values (a
    tied matrix once; untied first where the format rounds only one of its uses); where the format
    rounds activations, each of those layers' inputs is rounded on the way in (hooks that stay).
    """
    import torch

    with torch.no_grad():
        embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
        both_uses_alike = rounding.head == ("rows" if rounding.embedding else "exact")
        if head.weight is embedding.weight and not both_uses_alike:
            head.weight = torch.nn.Parameter(head.weight.detach().clone(), requires_grad=False)
        products = [module for module in model.model.layers.modules() if isinstance(module, torch.nn.Linear)]
        weights = {id(module.weight): module.weight for module in products}
        if rounding.embedding:
            weights[id(embedding.weight)] = embedding.weight
        if rounding.head == "rows":
            weights[id(head.weight)] = head.weight
        for weight in weights.values():
            weight.copy_(rounding.weights(weight))
        if rounding.head == "difference":  # yes - no, rounded; the no row as it is
            yes, no = answers
            head.weight[yes] = head.weight[no] + rounding.weights((head.weight[yes] - head.weight[no])[None])[0]
        if rounding.activations is not None:
            for module in products + ([head] if rounding.head != "exact" else []):
                module.register_forward_pre_hook(_rounding_inputs(rounding.activations))


def _rounding_inputs(rounding: Rounding) -> Callable[..., tuple[Any, ...]]:
    def hook(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (rounding(args[0]), *args[1:])

    return hook
