"""`local-rerank convert` as a library call: manifest, parity gate, safe replacement."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from local_rerank.convert import parity
from local_rerank.convert.pipeline import convert_checkpoint
from local_rerank.errors import ConversionError
from local_rerank.files import sha256_file
from local_rerank.manifest import manifest_path

pytestmark = [pytest.mark.slow, pytest.mark.convert, pytest.mark.usefixtures("llama_cpp")]


def test_conversion_writes_a_manifest_with_measured_parity(tiny_tied: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.gguf"
    manifest = convert_checkpoint(tiny_tied, out, quant="q8_0")
    on_disk = json.loads(manifest_path(out).read_text())
    assert on_disk == manifest
    assert manifest["format"] == "gguf" and manifest["quantization"] == "q8_0"
    assert manifest["sha256"] == sha256_file(out) and manifest["size_bytes"] == out.stat().st_size
    assert manifest["source"]["name"] == tiny_tied.name
    assert manifest["tool"]["libraries"]["gguf"]
    report = manifest["parity"]
    assert report["passed"] and report["rank_inversions"] == 0
    assert 0 < report["max_abs_error"] <= parity.TOLERANCES["q8_0"]
    assert report["pairs"] == sum(len(case.documents) for case in parity.CHECK_SET)


def test_failed_parity_keeps_the_file_aside_and_fails(tiny_tied: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(parity.TOLERANCES, "q8_0", 1e-9)  # no real Q8_0 file is this exact,
    monkeypatch.setattr(parity, "REACH_MARGIN", 0.0)  # and the gate may not widen that to what Q8_0 reaches
    out = tmp_path / "model.gguf"
    with pytest.raises(ConversionError, match="parity check failed"):
        convert_checkpoint(tiny_tied, out, quant="q8_0")
    assert not out.exists()
    rejected = tmp_path / "model.gguf.rejected"
    assert rejected.is_file()
    assert json.loads(manifest_path(rejected).read_text())["parity"]["passed"] is False
    assert not list(tmp_path.glob(".*partial"))


def test_existing_files_are_replaced_only_with_force(tiny_tied: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.gguf"
    out.write_bytes(b"keep me")
    with pytest.raises(ConversionError, match="already exists"):
        convert_checkpoint(tiny_tied, out, check_parity=False)
    assert out.read_bytes() == b"keep me"
    convert_checkpoint(tiny_tied, out, check_parity=False, force=True)
    assert out.read_bytes()[:4] == b"GGUF"


def test_quant_names_are_read_in_any_case(tiny_tied: Path, tmp_path: Path) -> None:
    manifest = convert_checkpoint(tiny_tied, tmp_path / "model.gguf", quant="F16", check_parity=False)
    assert manifest["quantization"] == "f16"


def test_force_never_replaces_the_checkpoint_itself(tiny_tied: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "models" / "checkpoint"
    shutil.copytree(tiny_tied, checkpoint)
    weights = (checkpoint / "model.safetensors").read_bytes()
    for out in (checkpoint, checkpoint.parent, tmp_path, checkpoint / "model.safetensors", checkpoint / "config.json"):
        with pytest.raises(ConversionError, match="is the checkpoint .*, holds it or is one of its files"):
            convert_checkpoint(checkpoint, out, force=True)
    assert (checkpoint / "model.safetensors").read_bytes() == weights and (checkpoint / "config.json").is_file()
    convert_checkpoint(checkpoint, checkpoint / "model.gguf", check_parity=False)  # a new file beside them is fine


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(ConversionError, match="not a Qwen3ForCausalLM"):
        convert_checkpoint(checkpoint, tmp_path / "out.gguf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_gguf_export_needs_no_torch(tiny_untied: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.gguf"
    code = (
        "import sys; sys.modules.update(torch=None, transformers=None)\n"
        "from local_rerank.convert.gguf_export import export_gguf\n"
        f"export_gguf({str(tiny_untied)!r}, {str(out)!r}, 'q8_0')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from local_rerank.gguf_file import read_gguf_model

    assert read_gguf_model(out).file_type == "q8_0"


def test_k_quants_go_through_llama_cpps_quantizer(tiny_tied: Path, tmp_path: Path, references) -> None:
    from local_rerank import Reranker

    out = tmp_path / "model-q6_k.gguf"
    manifest = convert_checkpoint(tiny_tied, out, quant="q6_k")
    assert manifest["parity"]["passed"]
    with Reranker.load(out, max_length=512) as reranker:
        scores = reranker.score("copy a folder", ["cp -r a b", "bananas"])
    expected = references["tied"].score("copy a folder", ["cp -r a b", "bananas"])
    np.testing.assert_allclose(scores, expected, atol=parity.LOW_BIT_TOLERANCE)


def test_onnx_conversion_is_gated_by_parity_and_writes_a_folder_manifest(tiny_untied: Path, tmp_path: Path) -> None:
    pytest.importorskip("optimum.exporters.onnx")
    out = tmp_path / "model-onnx"
    manifest = convert_checkpoint(tiny_untied, out, fmt="onnx")
    assert manifest["format"] == "onnx" and manifest["quantization"] == "int8"
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert set(manifest["files"]) == {"model.onnx", "model.onnx.data", "tokenizer.json", "tokenizer_config.json"}
    assert manifest["files"]["model.onnx"]["sha256"] == sha256_file(out / "model.onnx")
    assert manifest["parity"]["passed"] and manifest["parity"]["max_abs_error"] <= parity.TOLERANCES["int8"]
    with pytest.raises(ConversionError, match="already exists"):
        convert_checkpoint(tiny_untied, out, fmt="onnx", check_parity=False)
    convert_checkpoint(tiny_untied, out, fmt="onnx", quant="fp32", force=True)
    assert json.loads((out / "manifest.json").read_text())["quantization"] == "fp32"
    assert not list(tmp_path.glob(".*"))


def test_openvino_conversion_is_gated_by_parity_and_connects_nowhere(tiny_untied: Path, tmp_path: Path) -> None:
    """As a user runs it: the CLI, a local checkpoint, no network (OpenVINO's converter and NNCF,
    which report usage over the network, are never called). urllib3, imported by the ONNX
    exporter's libraries, binds a loopback socket once to test for IPv6: not a connection."""
    pytest.importorskip("optimum.exporters.onnx")
    pytest.importorskip("openvino")
    out = tmp_path / "model-openvino"
    guard = (
        "import sys\n"
        "events = []\n"
        "reach = ('socket.connect', 'socket.getaddrinfo', 'socket.gethostbyname', 'socket.sendto', 'socket.sendmsg')\n"
        "sys.addaudithook(lambda event, args: events.append(event) if event in reach else None)\n"
        "from local_rerank.cli import main\n"
        "try:\n"
        f"    main(['convert', {str(tiny_untied)!r}, '--format', 'openvino', '--out', {str(out)!r}])\n"
        "finally:\n"
        "    print('SOCKET EVENTS', sorted(set(events)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SOCKET EVENTS []" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "openvino" and manifest["quantization"] == "int8"
    assert set(manifest["files"]) == {"model.xml", "model.bin", "tokenizer.json", "tokenizer_config.json"}
    assert manifest["parity"]["passed"] and manifest["parity"]["max_abs_error"] <= parity.TOLERANCES["int8"]
    from local_rerank.hardware import VNNI_FEATURES, probe_hardware

    assert manifest["parity"]["int8_activations"] == bool(probe_hardware().cpu_features & VNNI_FEATURES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-openvino"]  # no temporary folder left


@pytest.mark.parametrize("head", ["tied", "untied"])
def test_openvino_bf16_stores_bf16_weights_at_half_the_size_and_passes_its_gate(checkpoints, tmp_path: Path,
                                                                               head: str) -> None:
    pytest.importorskip("optimum.exporters.onnx")
    openvino = pytest.importorskip("openvino")
    out = tmp_path / "model-openvino-bf16"
    manifest = convert_checkpoint(checkpoints[head], out, fmt="openvino", quant="bf16")
    report = manifest["parity"]
    print(f"openvino bf16, tiny {head}: max |dp| {report['max_abs_error']:.2e}")  # for the record (pytest -s)
    assert manifest["format"] == "openvino" and manifest["quantization"] == "bf16"
    assert report["passed"] and report["faithful"] and report["tolerance"] == parity.TOLERANCES["bf16"]
    assert 0 < report["max_abs_error"] <= parity.TOLERANCES["bf16"]
    from local_rerank.hardware import BF16_FEATURES, probe_hardware

    assert report["bf16_products"] == bool(probe_hardware().cpu_features & BF16_FEATURES)
    fp32 = convert_checkpoint(checkpoints[head], tmp_path / "model-openvino-fp32", fmt="openvino", quant="fp32",
                              check_parity=False)
    assert manifest["files"]["model.bin"]["size_bytes"] < 0.6 * fp32["files"]["model.bin"]["size_bytes"]
    model = openvino.Core().read_model(str(out / "model.xml"))
    weights = [op.input_value(1 if op.get_type_name() == "MatMul" else 0) for op in model.get_ordered_ops()
               if op.get_type_name() in ("MatMul", "Gather")]
    sources = [w.get_node() for w in weights if w.get_partial_shape().rank.get_length() == 2]  # not Q·K, not ·V
    stored = [s.input_value(0).get_node() for s in sources if s.get_type_name() == "Convert"]
    assert stored and all(c.get_type_name() == "Constant" and c.get_output_element_type(0) == openvino.Type.bf16
                          for c in stored)
    head_weights = [s for s in sources if s.get_type_name() == "Constant"]  # the one-column yes-minus-no head
    assert len(head_weights) == 1 and head_weights[0].get_output_shape(0)[1] == 1
    assert head_weights[0].get_output_element_type(0) == openvino.Type.f32


def test_a_manifest_beside_the_destination_is_never_overwritten(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()  # never read: the refusal comes before any work
    manifest = manifest_path(tmp_path / "model.gguf")
    manifest.write_text("precious")
    with pytest.raises(ConversionError, match=f"{manifest.name} already exists; pass --force"):
        convert_checkpoint(checkpoint, tmp_path / "model.gguf")
    assert manifest.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", manifest.name]


def test_an_unwritable_destination_is_a_conversion_error(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConversionError, match="cannot create the folder"):
        convert_checkpoint(checkpoint, tmp_path / "file" / "model.gguf")


@pytest.mark.parametrize("config", ["[1]", '{"model_type": "qwen3", "architectures": "Qwen3ForCausalLM"}'])
def test_a_config_of_the_wrong_shape_is_a_conversion_error(tmp_path: Path, config: str) -> None:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(config)
    with pytest.raises(ConversionError, match="not a (JSON object|Qwen3ForCausalLM)"):
        convert_checkpoint(checkpoint, tmp_path / "out.gguf")


@pytest.mark.parametrize(("key", "value"), [("hidden_size", "abc"), ("num_hidden_layers", 0), ("rms_norm_eps", None)])
def test_a_config_with_unusable_sizes_is_a_conversion_error(tiny_tied: Path, tmp_path: Path, key: str,
                                                             value: object) -> None:
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(tiny_tied, checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(ConversionError, match=f"config.json: {key} must be a"):
        convert_checkpoint(checkpoint, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_bf16_conversion_keeps_bf16_weights_and_passes_its_gate(tiny_untied: Path, tmp_path: Path) -> None:
    from local_rerank.gguf_reader import read_header

    out = tmp_path / "model-bf16.gguf"
    manifest = convert_checkpoint(tiny_untied, out, quant="bf16")
    assert manifest["quantization"] == "bf16" and manifest["parity"]["passed"]
    assert 0 < manifest["parity"]["max_abs_error"] <= parity.TOLERANCES["bf16"]
    types = {tensor.qtype.name for name, tensor in read_header(out).tensors.items() if name.endswith("attn_q.weight")}
    assert types == {"BF16"}


def test_onnx_int8_a8_conversion_asks_for_int8_compute(tiny_tied: Path, tmp_path: Path) -> None:
    pytest.importorskip("optimum.exporters.onnx")
    import onnx

    out = tmp_path / "model-onnx-int8-a8"
    manifest = convert_checkpoint(tiny_tied, out, fmt="onnx", quant="int8-a8")
    assert manifest["quantization"] == "int8-a8" and manifest["parity"]["passed"]
    assert manifest["parity"]["max_abs_error"] <= parity.TOLERANCES["int8-a8"]
    nodes = [n for n in onnx.load(str(out / "model.onnx"), load_external_data=False).graph.node
             if n.op_type == "MatMulNBits"]
    attributes = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in nodes]
    assert nodes and all((a["bits"], a["block_size"], a["accuracy_level"]) == (8, 32, 4) for a in attributes)
