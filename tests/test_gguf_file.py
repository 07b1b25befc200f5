"""Validation of GGUF files before llama.cpp sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.errors import ModelError
from local_rerank.gguf_file import read_gguf_model
from local_rerank.recipe import PREFIX, SUFFIX, format_prompt

pytestmark = pytest.mark.slow


def test_our_files_allow_both_scoring_paths(gguf_files) -> None:
    for (head, quant), path in gguf_files.items():
        model = read_gguf_model(path)
        assert model.scoring_paths == ("causal", "rank"), (head, quant)
        assert model.file_type == quant


def test_tokenizer_rebuilt_from_gguf_matches_tokenizer_json(gguf_files, tokenizer) -> None:
    from_gguf = read_gguf_model(gguf_files["tied", "q8_0"]).tokenizer
    texts = [PREFIX, SUFFIX, format_prompt("北京 🙂?", "def f():\r\n  return 1"), "<|im_end|> plain <think>"]
    for text in texts:
        assert from_gguf.encode_template(text) == tokenizer.encode_template(text)
        assert from_gguf.encode_plain([text]) == tokenizer.encode_plain([text])


def test_llama_cpp_layout_of_an_untied_model_falls_back_to_rank_pooling(gguf_variants) -> None:
    assert read_gguf_model(gguf_variants["llama_cpp_untied"]).scoring_paths == ("rank",)


def test_plain_causal_qwen3_file_is_scored_from_logits(gguf_variants) -> None:
    assert read_gguf_model(gguf_variants["plain_causal"]).scoring_paths == ("causal",)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("no_head", "without the yes/no classifier head"),
        ("wrong_labels", "without the yes/no classifier head"),
        ("mean_pooling", "not rank pooling"),
        ("llama_arch", "not Qwen3"),
    ],
)
def test_files_that_would_score_garbage_are_refused(gguf_variants, variant: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        read_gguf_model(gguf_variants[variant])


def test_truncated_file_is_refused(gguf_files, tmp_path: Path) -> None:
    data = gguf_files["tied", "q8_0"].read_bytes()
    for cut in (len(data) - 1000, 7_000_000, 100_000, 30):
        truncated = tmp_path / f"cut-{cut}.gguf"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ModelError, match="truncated|corrupt") as refused:
            read_gguf_model(truncated)
        assert "unpack" not in str(refused.value)  # says what is wrong with the file, not Python's internals


def test_corrupt_header_is_refused(gguf_files, tmp_path: Path) -> None:
    data = bytearray(gguf_files["tied", "q8_0"].read_bytes()[:200_000])
    data[24:32] = b"\xff" * 8  # the first key's length: far past the end of the file
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt"):
        read_gguf_model(corrupt)


def test_missing_and_non_gguf_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        read_gguf_model(tmp_path / "nothing.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF"):
        read_gguf_model(text)
