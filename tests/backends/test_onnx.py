"""The ONNX backend against the float32 transformers reference, on tiny synthetic models."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from local_rerank import BackendOptions, Reranker
from local_rerank.backends import detect_format
from local_rerank.convert.parity import count_inversions
from local_rerank.errors import BackendUnavailableError, ModelError
from tests.backends.cases import CUSTOM_INSTRUCTION, DOCUMENTS, MAX_LENGTH, QUERY, assert_batch_invariant
from tests.tolerances import ONNX_TOLERANCE

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("onnxruntime")]


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION])
@pytest.mark.parametrize("quant", sorted(ONNX_TOLERANCE))
@pytest.mark.parametrize("head", ["tied", "untied"])
def test_scores_match_the_reference(onnx_exports, references, head: str, quant: str, instruction) -> None:
    expected = references[head].score(QUERY, DOCUMENTS, instruction)
    with Reranker.load(onnx_exports[head, quant], max_length=MAX_LENGTH) as reranker:
        assert reranker.backend.name == "onnx" and reranker.backend.device == "cpu"
        actual = reranker.score(QUERY, DOCUMENTS, instruction)
    np.testing.assert_allclose(actual, expected, atol=ONNX_TOLERANCE[quant], rtol=0)
    assert count_inversions(expected, actual, margin=2 * ONNX_TOLERANCE[quant]) == 0


@pytest.mark.parametrize("quant", sorted(ONNX_TOLERANCE))
def test_a_documents_score_does_not_depend_on_its_padded_batch(onnx_exports, quant: str) -> None:
    with Reranker.load(onnx_exports["tied", quant], max_length=MAX_LENGTH) as reranker:
        assert_batch_invariant(reranker, atol=1e-5)


def test_format_is_detected_from_the_folder_or_its_model_file(onnx_exports) -> None:
    folder = onnx_exports["tied", "int8"]
    assert detect_format(folder) == detect_format(folder / "model.onnx") == "onnx"


def test_ranking_needs_no_torch(onnx_exports) -> None:
    code = (
        "import sys; sys.modules.update(torch=None, transformers=None, optimum=None)\n"
        "from local_rerank import Reranker\n"
        f"print(Reranker.load({str(onnx_exports['tied', 'int8'])!r}).score('q', ['a', 'b']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(eval(result.stdout)) == 2


def test_a_folder_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model"):
        Reranker.load(tmp_path)
    with pytest.raises(ModelError, match="not an ONNX export"):
        Reranker.load(tmp_path, backend="onnx")


def _copy(folder: Path, target: Path) -> Path:
    return Path(shutil.copytree(folder, target))


def test_a_corrupt_graph_is_refused(onnx_exports, tmp_path: Path) -> None:
    broken = _copy(onnx_exports["tied", "int8"], tmp_path / "broken")
    (broken / "model.onnx").write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelError, match="cannot load"):
        Reranker.load(broken)


def test_a_different_tokenizer_is_refused(onnx_exports, tmp_path: Path) -> None:
    swapped = _copy(onnx_exports["tied", "int8"], tmp_path / "swapped")
    tokenizer = swapped / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"yes"', '"yes!"', 1))
    with pytest.raises(ModelError, match="not the one this model was exported with"):
        Reranker.load(swapped)


def test_cuda_request_without_the_cuda_provider_is_refused(onnx_exports, onnxruntime) -> None:
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed")
    with pytest.raises(BackendUnavailableError, match="no CUDA provider"):
        Reranker.load(onnx_exports["tied", "int8"], options=BackendOptions(device="cuda"))


@pytest.mark.gpu
@pytest.mark.parametrize("quant", sorted(ONNX_TOLERANCE))
def test_cuda_scores_match_the_reference(onnx_exports, references, onnxruntime, quant: str) -> None:
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider here")
    with Reranker.load(onnx_exports["tied", quant], options=BackendOptions(device="cuda")) as reranker:
        assert reranker.backend.device == "cuda"
        actual = reranker.score(QUERY, DOCUMENTS)
    np.testing.assert_allclose(actual, references["tied"].score(QUERY, DOCUMENTS), atol=ONNX_TOLERANCE[quant])


@pytest.mark.parametrize("manifest", [b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe", b"[" * 100_000])
def test_a_garbage_manifest_is_a_model_error(tmp_path: Path, tokenizer_dir: Path, manifest: bytes) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07not a graph")
    shutil.copy(tokenizer_dir / "tokenizer.json", folder / "tokenizer.json")
    (folder / "manifest.json").write_bytes(manifest)
    with pytest.raises(ModelError, match="manifest"):
        Reranker.load(folder)


def test_a_manifest_without_file_records_still_loads_the_tokenizer(onnx_exports, tmp_path: Path) -> None:
    export = _copy(onnx_exports["tied", "int8"], tmp_path / "export")
    (export / "manifest.json").write_text('{"files": ["tokenizer.json"]}')
    with Reranker.load(export) as reranker:
        assert len(reranker.score("q", ["a"])) == 1
