"""Our GGUF files and llama.cpp's: a file made by llama.cpp's own converter scores right here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from local_rerank import Reranker
from local_rerank.convert.gguf_export import RERANK_TEMPLATE
from local_rerank.gguf_file import read_gguf_model
from local_rerank.gguf_reader import read_header
from tests.tolerances import TOLERANCE

pytestmark = [pytest.mark.slow, pytest.mark.convert, pytest.mark.usefixtures("llama_cpp")]

QUERY = "how do I copy a folder?"
DOCUMENTS = ["cp -r src dst copies a folder", "bananas are yellow", "使用 cp -r 复制目录", "rsync -a src/ dst/ 📁"]


@pytest.fixture(scope="session")
def converter() -> Path:
    from tools.llama_cpp_converter import llama_cpp_converter_script

    try:
        return llama_cpp_converter_script()
    except (subprocess.CalledProcessError, ValueError) as e:
        pytest.skip(f"llama.cpp's converter is not available: {e}")


def _convert_with_llama_cpp(converter: Path, checkpoint: Path, outtype: str, out: Path) -> Path:
    subprocess.run([sys.executable, str(converter), str(checkpoint), "--outtype", outtype, "--outfile", str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def converted_by_llama_cpp(converter: Path, checkpoints, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("llama-cpp-converted")
    return {head: _convert_with_llama_cpp(converter, checkpoint, "f16", folder / f"{head}.gguf")
            for head, checkpoint in checkpoints.items()}


@pytest.mark.parametrize("head", ["tied", "untied"])
def test_llama_cpp_conversions_score_like_the_reference(converted_by_llama_cpp, references, head: str) -> None:
    path = converted_by_llama_cpp[head]
    assert read_gguf_model(path).scoring_paths == (("causal", "rank") if head == "tied" else ("rank",))
    with Reranker.load(path, max_length=512) as reranker:
        actual = reranker.score(QUERY, DOCUMENTS)
    np.testing.assert_allclose(actual, references[head].score(QUERY, DOCUMENTS), atol=TOLERANCE["f16"], rtol=0)


@pytest.mark.parametrize("head", ["tied", "untied"])
def test_our_layout_is_llama_cpps_plus_the_untied_output(converted_by_llama_cpp, gguf_files, head: str) -> None:
    theirs, ours = read_header(converted_by_llama_cpp[head]), read_header(gguf_files[head, "f16"])
    extra = {"output.weight"} if head == "untied" else set()
    assert set(ours.tensors) == set(theirs.tensors) | extra
    for name, tensor in theirs.tensors.items():
        assert ours.tensors[name].shape == tensor.shape, name
    for key in ("qwen3.pooling_type", "qwen3.classifier.output_labels", "tokenizer.ggml.pre", "tokenizer.ggml.model",
                "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                "qwen3.attention.key_length", "qwen3.rope.freq_base", "qwen3.block_count"):
        assert ours.fields[key] == theirs.fields[key], key
    assert (ours.fields["tokenizer.chat_template.rerank"] == theirs.fields["tokenizer.chat_template.rerank"]
            == RERANK_TEMPLATE)


@pytest.mark.parametrize("head", ["tied", "untied"])
def test_the_gate_passes_llama_cpps_own_q8_0_and_ours_is_no_worse(converter: Path, checkpoints, gguf_files,
                                                                  tmp_path: Path, head: str) -> None:
    """Never refuse a file as faithful as the field's converter makes, and score as well as it does
    (docs/how-it-works.md "The export gate": on the causal path both files read the answer rows from a Q8_0 matrix)."""
    from local_rerank.convert.parity import check_parity

    theirs = _convert_with_llama_cpp(converter, checkpoints[head], "q8_0", tmp_path / "theirs.gguf")
    their_verdict = check_parity(theirs, checkpoints[head], "q8_0", backend="gguf")
    our_verdict = check_parity(gguf_files[head, "q8_0"], checkpoints[head], "q8_0", backend="gguf")
    assert their_verdict["passed"] and their_verdict["faithful"]
    assert our_verdict["max_abs_error"] <= 1.05 * their_verdict["max_abs_error"]
