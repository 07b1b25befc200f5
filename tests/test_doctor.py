"""`local-rerank doctor`: the report for a fake machine, and the command on this one."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from local_rerank.doctor import doctor_report, format_report
from tests.machines import SMALL_GPU, VNNI_LAPTOP


def test_hints_name_what_to_install_for_the_gpu() -> None:
    report = doctor_report(replace(SMALL_GPU, llama_cpp_cuda=False, onnxruntime_cuda=False), [])
    assert any("CMAKE_ARGS" in hint for hint in report["improvements"])
    assert any("onnxruntime-gpu" in hint for hint in report["improvements"])
    assert doctor_report(VNNI_LAPTOP, [])["improvements"] == []


def test_models_that_cannot_be_read_are_reported_not_raised(tmp_path: Path) -> None:
    report = doctor_report(VNNI_LAPTOP, [tmp_path / "missing.gguf"])
    assert report["models"][0]["error"].startswith("model not found")
    assert "cannot run: model not found" in format_report(report)


@pytest.mark.slow
def test_doctor_command_reports_the_choice_for_a_real_model(gguf_files, llama_cpp) -> None:
    model = gguf_files["tied", "q8_0"]
    result = subprocess.run([sys.executable, "-m", "local_rerank", "doctor", "--json", str(model)],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["hardware"]["llama_cpp_installed"] is True
    (entry,) = report["models"]
    assert (entry["format"], entry["quantization"]) == ("gguf", "q8_0")
    assert entry["choices"][-1]["device"] == "cpu" and entry["choices"][0]["reason"]


@pytest.mark.slow
def test_a_gguf_that_rank_refuses_is_reported_as_not_runnable(gguf_variants) -> None:
    report = doctor_report(VNNI_LAPTOP, [gguf_variants["llama_arch"]])
    (entry,) = report["models"]
    assert "choices" not in entry
    assert entry["error"] == "llama.gguf: architecture 'llama' is not Qwen3; only Qwen3-Reranker models are supported"
    assert "cannot run: llama.gguf: architecture 'llama'" in format_report(report)


@pytest.mark.parametrize("manifest", ["not json", "[1, 2]", "\udcff"])
def test_a_garbage_export_manifest_is_reported_not_raised(tmp_path: Path, manifest: str) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07not a graph")
    (tmp_path / "manifest.json").write_bytes(manifest.encode("utf-8", "surrogateescape"))
    (entry,) = doctor_report(VNNI_LAPTOP, [tmp_path])["models"]
    assert "manifest" in entry["error"] and "choices" not in entry


def test_a_cpu_with_native_bf16_is_told_about_bf16_until_it_has_such_a_model() -> None:
    from local_rerank.doctor import improvements
    from local_rerank.selector import ModelCandidate
    from tests.machines import AVX512_BF16, AVX512_VNNI

    q8, bf16 = (ModelCandidate(Path(f"m-{q}.gguf"), "gguf", q, 600) for q in ("q8_0", "bf16"))
    ov_bf16 = ModelCandidate(Path("m-openvino-bf16"), "openvino", "bf16", 600)
    without_openvino = replace(AVX512_BF16, openvino_installed=False)
    assert any("--quant bf16" in hint for hint in improvements(AVX512_BF16, [q8]))
    assert any("local-rerank convert CHECKPOINT --quant bf16)" in hint for hint in improvements(without_openvino, [q8]))
    assert not any("bf16" in hint for hint in improvements(without_openvino, [q8, bf16]))
    assert not any("bf16" in hint for hint in improvements(AVX512_BF16, [q8, bf16, ov_bf16]))
    assert not any("bf16" in hint for hint in improvements(AVX512_VNNI, [q8]))


def test_a_cpu_with_native_bf16_and_openvino_is_told_about_openvino_bf16_first() -> None:
    from local_rerank.doctor import improvements
    from local_rerank.selector import ModelCandidate
    from tests.machines import AMX, AVX2_ONLY, AVX512_BF16

    q8, bf16 = (ModelCandidate(Path(f"m-{q}.gguf"), "gguf", q, 600) for q in ("q8_0", "bf16"))
    for probe in (AVX512_BF16, AMX):
        (hint,) = [hint for hint in improvements(probe, [q8]) if "bf16" in hint]
        assert "local-rerank convert CHECKPOINT --format openvino --quant bf16" in hint
        # a bf16 GGUF at hand: OpenVINO bf16 is still the faster faithful format here
        (hint,) = [hint for hint in improvements(probe, [q8, bf16]) if "bf16" in hint]
        assert "--format openvino --quant bf16" in hint
    assert not any("bf16" in hint for hint in improvements(AVX2_ONLY, [q8]))  # Zen 3: no native bf16



@pytest.mark.parametrize(("parity", "faithful"), [({"passed": True, "faithful": False}, False),
                                                  ({"passed": True, "faithful": True}, True),
                                                  ({"skipped": "disabled with --no-parity"}, True), (None, True)])
def test_the_candidate_carries_its_conversions_fidelity_verdict(tmp_path: Path, parity, faithful: bool) -> None:
    from local_rerank.doctor import model_candidate

    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"graph")
    manifest = {"quantization": "int8"} | ({"parity": parity} if parity else {})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert model_candidate(folder).faithful is faithful


@pytest.mark.slow
def test_a_gguf_candidate_reads_the_verdict_beside_it_and_ignores_a_garbage_manifest(gguf_files,
                                                                                   tmp_path: Path) -> None:
    from local_rerank.doctor import model_candidate
    from local_rerank.manifest import manifest_path

    copy = tmp_path / "model.gguf"
    copy.write_bytes(gguf_files["tied", "q8_0"].read_bytes())
    assert model_candidate(copy).faithful
    manifest_path(copy).write_text(json.dumps({"parity": {"passed": True, "faithful": False}}))
    assert not model_candidate(copy).faithful
    manifest_path(copy).write_text("not json")
    assert model_candidate(copy).faithful and model_candidate(copy).quantization == "q8_0"
