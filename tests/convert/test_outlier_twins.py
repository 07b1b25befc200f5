"""Honest twins: the export gate on a model with activation outliers.

Real LLMs carry a few hidden channels whose activations dwarf the rest at the inputs of their
linear layers; random-weight twins do not, so a format that quantizes activations to 8 bits
could pass every test here and still fail on the released weights. ``build_synthetic_model(
outliers=K)`` scales K channels of the RMSNorm weights that feed the projections 30x (see
tools/synthetic_model.py). Measured on this twin (docs/how-it-works.md "Honest twins"): weight-only int8
and bf16 stay far inside their bar (6.5e-3, 3.9e-3); 8-bit activations per group of 32 land
near or over the bar of 3e-2 (ONNX int8-a8 2.8e-2, Q8_0 3.6e-2, OpenVINO int8 5.9e-2), as far
as the format's own rounding reaches on this model: the gate keeps such a file and calls it
not faithful, so it is never chosen ahead of a faithful one; one activation scale per row
(ONNX int8-dynamic, 0.38) is beyond any tolerance and refused.
"""

from __future__ import annotations

import subprocess
import sys
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


def test_openvino_bf16_is_faithful_on_both_twins(twins, tmp_path: Path) -> None:
    """bf16 weights (and bf16 activations where the CPU multiplies bf16 natively): no 8-bit group to
    swamp, so the outlier channels cost it nothing beyond bf16's own rounding."""
    _needs("openvino")
    for kind, checkpoint in twins.items():
        parity = convert_checkpoint(checkpoint, tmp_path / kind, fmt="openvino", quant="bf16")["parity"]
        print(f"openvino bf16, {kind} twin: max |dp| {parity['max_abs_error']:.2e}")  # for the record (pytest -s)
        assert parity["passed"] and parity["faithful"] and parity["max_abs_error"] < parity["tolerance"] / 3


def test_one_activation_scale_per_row_is_refused_on_the_outlier_twin_only(twins, tmp_path: Path) -> None:
    _needs("onnx")
    assert convert_checkpoint(twins["plain"], tmp_path / "plain", fmt="onnx", quant="int8-dynamic")["parity"]["passed"]
    with pytest.raises(ConversionError, match="parity check failed"):
        convert_checkpoint(twins["outliers"], tmp_path / "outliers", fmt="onnx", quant="int8-dynamic")


@pytest.mark.parametrize(("fmt", "quant"), [("gguf", "q8_0"), ("openvino", "int8")])
def test_eight_bit_activation_groups_are_not_faithful_on_the_outlier_twin(twins, tmp_path: Path, fmt: str,
                                                                          quant: str) -> None:
    """What the format reaches on this model, so kept; beyond the bar, so not faithful (why OpenVINO int8
    is not a default, and why a Q8_0 file of such a model runs after any faithful model)."""
    _needs(fmt)
    name = "model.gguf" if fmt == "gguf" else "model"
    plain = convert_checkpoint(twins["plain"], tmp_path / "plain" / name, fmt=fmt, quant=quant)["parity"]
    assert plain["faithful"]
    outliers = convert_checkpoint(twins["outliers"], tmp_path / "outliers" / name, fmt=fmt, quant=quant)["parity"]
    if outliers.get("int8_activations") is False:  # a CPU without VNNI: OpenVINO multiplies float activations,
        assert outliers["passed"] and outliers["faithful"]  # so 8-bit weights alone are judged, and recorded so
        return
    assert outliers["passed"] and not outliers["faithful"]
    assert outliers["fidelity_bar"] < outliers["max_abs_error"] <= 2 * outliers["format_reach"]


def _needs(fmt: str) -> None:
    if fmt == "gguf":
        pytest.importorskip("llama_cpp")
    else:
        pytest.importorskip("optimum.exporters.onnx")
        pytest.importorskip("openvino" if fmt == "openvino" else "onnxruntime")


def test_convert_says_when_a_kept_file_is_not_faithful(twins, tmp_path: Path) -> None:
    _needs("gguf")
    out = tmp_path / "model.gguf"
    result = subprocess.run([sys.executable, "-m", "local_rerank", "convert", str(twins["outliers"]), "--quant", "q8_0",
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0 and out.is_file(), result.stderr
    (verdict,) = [line for line in result.stdout.splitlines() if line.startswith("parity:")]
    assert "this format reaches" in verdict and "beyond its fidelity bar 0.03" in verdict
