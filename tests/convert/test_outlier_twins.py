"""Honest twins: the export gate on a model with activation outliers.

Real LLMs carry a few hidden channels whose activations dwarf the rest at the inputs of their
linear layers; random-weight twins do not, so a format that quantizes activations to 8 bits
could pass every test here and still fail on the released weights. ``build_synthetic_model(
outliers=K)`` scales K channels of the RMSNorm weights that feed the projections 30x (see
tools/synthetic_model.py). Measured on this twin (README "Honest twins"): weight-only int8
and bf16 stay far inside their gate (6.5e-3, 3.9e-3); 8-bit activations per group of 32 land
near or over the gate's 3e-2 (ONNX int8-a8 2.8e-2, Q8_0 3.6e-2, OpenVINO int8 5.9e-2: refused);
one activation scale per row (ONNX int8-dynamic, 0.38) is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from local_rerank.convert.pipeline import convert_checkpoint
from local_rerank.errors import ConversionError

pytestmark = [pytest.mark.slow, pytest.mark.convert]
SEED = 3


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    from tools.synthetic_model import build_synthetic_model

    folder = tmp_path_factory.mktemp("outliers")
    return {kind: build_synthetic_model(folder / kind, "small", seed=SEED, outliers=count)
            for kind, count in (("plain", 0), ("outliers", 1))}


def _projection_inputs(checkpoint: Path) -> np.ndarray:
    """Mean |activation| per hidden channel at the inputs of every q and gate projection."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
    ids = AutoTokenizer.from_pretrained(str(checkpoint))("how do I copy a folder with cp -r?", return_tensors="pt")
    seen = []
    hooks = [module.register_forward_hook(lambda _m, args, _out: seen.append(args[0][0].abs().mean(0)))
             for layer in model.model.layers for module in (layer.self_attn.q_proj, layer.mlp.gate_proj)]
    with torch.no_grad():
        model(**ids)
    for hook in hooks:
        hook.remove()
    return torch.stack(seen).numpy()


def test_the_outlier_twin_feeds_its_projections_outlier_channels(twins) -> None:
    from tools.synthetic_model import outlier_channels

    (channel,) = outlier_channels(256, 1, SEED)
    for kind, inputs in ((kind, _projection_inputs(path)) for kind, path in twins.items()):
        ratio = inputs.max(axis=1) / np.median(inputs, axis=1)  # per projection: largest channel / typical one
        if kind == "outliers":
            assert ratio.min() > 10 and set(inputs.argmax(axis=1)) == {channel}
        else:
            assert ratio.max() < 8


@pytest.mark.parametrize(("fmt", "quant"), [("gguf", "bf16"), ("onnx", "int8")])
def test_weight_only_formats_pass_their_gate_on_the_outlier_twin(twins, tmp_path: Path, fmt: str, quant: str) -> None:
    _needs(fmt)
    out = tmp_path / ("model.gguf" if fmt == "gguf" else "model")
    parity = convert_checkpoint(twins["outliers"], out, fmt=fmt, quant=quant)["parity"]
    assert parity["passed"] and parity["max_abs_error"] < parity["tolerance"] / 3


@pytest.mark.parametrize(("fmt", "quant"), [("onnx", "int8-dynamic"), ("openvino", "int8")])
def test_eight_bit_activations_are_refused_on_the_outlier_twin_only(twins, tmp_path: Path, fmt: str, quant: str) -> None:
    """One scale per row of activations, and OpenVINO's groups of 32 (why it is not a default)."""
    _needs(fmt)
    assert convert_checkpoint(twins["plain"], tmp_path / "plain", fmt=fmt, quant=quant)["parity"]["passed"]
    with pytest.raises(ConversionError, match="parity check failed"):
        convert_checkpoint(twins["outliers"], tmp_path / "outliers", fmt=fmt, quant=quant)


def _needs(fmt: str) -> None:
    if fmt == "gguf":
        pytest.importorskip("llama_cpp")
    else:
        pytest.importorskip("optimum.exporters.onnx")
        pytest.importorskip("openvino" if fmt == "openvino" else "onnxruntime")
