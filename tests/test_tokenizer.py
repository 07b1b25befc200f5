"""Our tokenizer against Hugging Face's, on the real Qwen3 vocabulary."""

from __future__ import annotations

import pytest

from local_rerank.errors import ModelError
from local_rerank.recipe import PREFIX, SUFFIX, format_prompt
from local_rerank.tokenizer import Tokenizer

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


def test_a_second_load_of_the_same_definition_reuses_the_built_tokenizer(tokenizer, tokenizer_dir, tmp_path) -> None:
    """Reuse is by content: a copy elsewhere is the same tokenizer; the same path rewritten is not."""
    import json

    copy = tmp_path / "tokenizer.json"
    copy.write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
    assert Tokenizer.from_file(copy) is tokenizer
    spec = json.loads(copy.read_text(encoding="utf-8"))
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] != "<think>"]
    copy.write_text(json.dumps(spec), encoding="utf-8")
    changed = Tokenizer.from_file(copy)
    assert changed is not tokenizer
    assert changed.encode_template("<think>") != tokenizer.encode_template("<think>") == [tokenizer.token_id("<think>")]


def test_gguf_vocabularies_are_reused_by_content(tokenizer_dir) -> None:
    import json

    spec = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = sorted(spec["model"]["vocab"].items(), key=lambda item: item[1])
    tokens, types = [t for t, _ in vocab], [1] * len(vocab)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    first = Tokenizer.from_gguf_vocab(tokens, types, merges, "qwen2")
    assert Tokenizer.from_gguf_vocab(list(tokens), list(types), list(merges), "qwen2") is first
    fewer_merges = Tokenizer.from_gguf_vocab(tokens, types, merges[:-1000], "qwen2")
    assert fewer_merges is not first
    with pytest.raises(ModelError, match="pre-type"):
        Tokenizer.from_gguf_vocab(tokens, types, merges, "llama-bpe")
