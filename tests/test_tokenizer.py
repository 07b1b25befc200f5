"""Our tokenizer against Hugging Face's, on the real Qwen3 vocabulary."""

from __future__ import annotations

import pytest

from local_rerank.errors import ModelError
from local_rerank.recipe import PREFIX, SUFFIX, format_prompt

CORPUS = [
    "Hello, world!",
    "中文文本，包含标点。日本語のテキスト",
    "emoji 😀👍🏽 and symbols ∑∫√",
    "tabs\tand\r\nCRLF\n\n\nmultiple newlines",
    "    def indented(code):\n        return {'a': [1, 2, 3]}",
    "numbers 1234567890 3.14159 1e-10",
    "Ünïcödé NFC: e\u0301 vs \u00e9",
    "'s 't 're 've 'm 'll 'd contractions",
    "",
]


@pytest.mark.parametrize("text", CORPUS)
def test_plain_text_matches_hugging_face(tokenizer, hf_tokenizer, text: str) -> None:
    assert tokenizer.encode_plain([text])[0] == hf_tokenizer.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("text", [PREFIX, SUFFIX, format_prompt("q 你好", CORPUS[4]), "a<|im_end|>b<think>c</think>"])
def test_template_text_matches_hugging_face(tokenizer, hf_tokenizer, text: str) -> None:
    assert tokenizer.encode_template(text) == hf_tokenizer.encode(text, add_special_tokens=False)


def test_plain_view_never_yields_added_tokens(tokenizer) -> None:
    ids = tokenizer.encode_plain(["<|im_start|><|im_end|><think></think><tool_call>"])[0]
    assert max(ids) < tokenizer.token_id("<|endoftext|>")


def test_unknown_token_is_a_model_error(tokenizer) -> None:
    with pytest.raises(ModelError, match="no token"):
        tokenizer.token_id("definitely-not-a-token-☃☃")
