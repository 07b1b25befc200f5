"""Which precision the OpenVINO backend asks the CPU plugin for (a pure function: no openvino needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_rerank.backends.openvino import _quantization, inference_precision


@pytest.mark.parametrize(("quantization", "features", "precision"), [
    ("bf16", frozenset({"avx2", "avx512_vnni", "avx512_bf16"}), "bf16"),  # Zen 4/5
    ("bf16", frozenset({"avx2", "amx_int8", "amx_bf16"}), "bf16"),  # Sapphire Rapids
    ("bf16", frozenset({"avx2", "fma", "f16c"}), "f32"),  # Zen 3: bf16 weights, float32 products
    ("bf16", frozenset({"avx2", "avx512_vnni"}), "f32"),
    ("int8", frozenset({"avx512_vnni", "avx512_bf16", "amx_bf16"}), "f32"),  # int8 and fp32 keep float32
    ("fp32", frozenset({"avx512_bf16", "amx_bf16"}), "f32"),
    (None, frozenset({"avx512_bf16"}), "f32"),
])
def test_only_a_bf16_export_on_a_native_bf16_cpu_computes_in_bf16(quantization, features, precision: str) -> None:
    assert inference_precision(quantization, features) == precision


def test_the_weight_type_is_the_manifests_else_read_from_the_graph(tmp_path: Path) -> None:
    (tmp_path / "model.xml").write_text('<layer type="Const"><data element_type="bf16" shape="8, 8"/></layer>\n')
    assert _quantization(tmp_path) == "bf16"  # no manifest yet: the export gate checks the folder before writing it
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "openvino", "quantization": "int8"}))
    assert _quantization(tmp_path) == "int8"
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "model.xml").write_text('<layer type="Const"><data element_type="u8" shape="8, 8"/></layer>\n')
    assert _quantization(tmp_path) is None
