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


def test_a_second_load_of_the_same_definition_reuses_the_built_tokenizer(tokenizer_dir, tmp_path) -> None:
    """Reuse is by content: a copy elsewhere is the same tokenizer; the same path rewritten is not."""
    import json

    tokenizer = Tokenizer.from_file(tokenizer_dir / "tokenizer.json")
    copy = tmp_path / "tokenizer.json"
    copy.write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
    assert Tokenizer.from_file(copy) is tokenizer
    spec = json.loads(copy.read_text(encoding="utf-8"))
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] != "<think>"]
    copy.write_text(json.dumps(spec), encoding="utf-8")
    changed = Tokenizer.from_file(copy)
    assert changed is not tokenizer
    assert changed.encode_template("<think>") != tokenizer.encode_template("<think>") == [tokenizer.token_id("<think>")]


def _gguf_fields(tokenizer_dir) -> tuple[list[str], list[int], list[str]]:
    """The tokenizer.ggml.* fields our GGUF export writes for tokenizer.json: tokens, types, merges."""
    from local_rerank.convert.gguf_export import _vocabulary

    vocabulary = _vocabulary(tokenizer_dir, {"vocab_size": 0})
    return vocabulary.tokens, vocabulary.types, vocabulary.merges


def test_a_gguf_vocabulary_tokenizes_as_tokenizer_json_does(tokenizer, tokenizer_dir) -> None:
    from_gguf = Tokenizer.from_gguf_vocab(*_gguf_fields(tokenizer_dir), "qwen2")
    for text in [*CORPUS, format_prompt("q 你好 <|im_end|>", CORPUS[4] + "<think>"), "a<|im_end|>b<tool_call>c"]:
        assert from_gguf.encode_template(text) == tokenizer.encode_template(text)
        assert from_gguf.encode_plain([text]) == tokenizer.encode_plain([text])
    assert from_gguf.token_id("<|im_end|>") == tokenizer.token_id("<|im_end|>")


def test_gguf_vocabularies_are_reused_by_content(tokenizer_dir) -> None:
    tokens, types, merges = _gguf_fields(tokenizer_dir)
    first = Tokenizer.from_gguf_vocab(tokens, types, merges, "qwen2")
    assert Tokenizer.from_gguf_vocab(list(tokens), list(types), list(merges), "qwen2") is first
    assert Tokenizer.from_gguf_vocab(tokens, types, merges[:-1000], "qwen2") is not first
    with pytest.raises(ModelError, match="pre-type"):
        Tokenizer.from_gguf_vocab(tokens, types, merges, "llama-bpe")


@pytest.mark.parametrize("merges", [["a"], [None], ["a b c"], ["zz\u2603 q"]])
def test_a_malformed_gguf_vocabulary_is_a_model_error(tokenizer_dir, merges) -> None:
    tokens, types, _ = _gguf_fields(tokenizer_dir)
    with pytest.raises(ModelError, match="invalid tokenizer definition"):
        Tokenizer.from_gguf_vocab(tokens, types, merges, "qwen2")


@pytest.mark.parametrize("text", ["[]", '{"added_tokens": [{"id": 1}]}', '{"added_tokens": 3}', "{", "\udcff",
                                  '{"added_tokens": [{"id": 1, "content": 5}]}',
                                  '{"added_tokens": [{"id": 1, "content": ""}]}',
                                  '{"added_tokens": [{"id": "1", "content": "<x>"}]}'])
def test_a_broken_tokenizer_json_is_a_model_error(tmp_path, text: str) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ModelError, match="cannot read tokenizer|invalid tokenizer definition"):
        Tokenizer.from_file(path)


@pytest.mark.parametrize("tokens", [[7, 8], ["", "<x>"]])
def test_gguf_added_tokens_must_be_text(tokens) -> None:
    with pytest.raises(ModelError, match="invalid tokenizer definition"):
        Tokenizer.from_gguf_vocab(tokens, [3, 3], [], "qwen2")
