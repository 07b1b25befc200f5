"""The Qwen3 byte-level BPE tokenizer, built from tokenizer.json or from a GGUF's vocabulary.

Two views of one vocabulary: ``encode_template`` parses added tokens such as
``<|im_start|>`` (for the prompt's fixed parts) and ``encode_plain`` never does (for text
from users and files, where ``<|im_end|>`` or ``<think>`` must stay literal text). The BPE
runs in the Rust ``tokenizers`` library, loaded without its added tokens; the template
view splits them out first, as Hugging Face's tokenizer does. No deep-learning framework.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import Tokenizer as HFTokenizer

from local_rerank.errors import ModelError

# The pre-tokenizer llama.cpp calls "qwen2": the regex of Qwen2/Qwen3's tokenizer.json.
QWEN2_PRETOKENIZER_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# llama.cpp token types (gguf.TokenType).
_NORMAL, _CONTROL, _USER_DEFINED = 1, 3, 4


class Tokenizer:
    """Token ids for the reranker prompt; see the module docstring for the two views."""

    def __init__(self, plain: HFTokenizer, added: dict[str, int]) -> None:
        """``plain``: the BPE with no added tokens; ``added``: the added tokens' ids by text.

        Raises:
            ModelError: an added token that is not a non-empty text with an integer id.
        """
        for text, token_id in added.items():
            if not isinstance(text, str) or not text or not isinstance(token_id, int) or isinstance(token_id, bool):
                raise ModelError(f"invalid tokenizer definition: added token {text!r} with id {token_id!r}")
        self._plain = plain
        self._added = added
        longest_first = sorted(self._added, key=len, reverse=True)
        self._added_pattern = re.compile("(" + "|".join(map(re.escape, longest_first)) + ")") if longest_first else None

    @classmethod
    def from_file(cls, path: Path) -> Tokenizer:
        """Load a Hugging Face ``tokenizer.json``."""
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise ModelError(f"cannot read tokenizer {path}: {e}") from e

        def build() -> Tokenizer:
            try:
                spec = json.loads(data.decode("utf-8"))
                added = {token["content"]: token["id"] for token in spec.get("added_tokens", [])}
                plain = {**spec, "added_tokens": []}
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                raise ModelError(f"cannot read tokenizer {path}: {type(e).__name__}: {e}") from e
            return cls(_build(plain), added)

        return _reused(b"json\0" + hashlib.sha256(data).digest(), build)

    @classmethod
    def from_gguf_vocab(
        cls, tokens: Sequence[str], token_types: Sequence[int], merges: Sequence[str], pre: str
    ) -> Tokenizer:
        """Rebuild the tokenizer from a GGUF's ``tokenizer.ggml.*`` fields (model ``gpt2``)."""
        if pre != "qwen2":
            raise ModelError(f"unsupported tokenizer pre-type {pre!r} (expected 'qwen2', as in Qwen3)")
        fields = json.dumps([tokens, token_types, merges], ensure_ascii=False)
        key = b"gguf\0" + hashlib.sha256(fields.encode("utf-8", "surrogatepass")).digest()
        return _reused(key, lambda: cls._from_gguf_fields(tokens, token_types, merges))

    @classmethod
    def _from_gguf_fields(cls, tokens: Sequence[str], token_types: Sequence[int], merges: Sequence[str]) -> Tokenizer:
        """What Qwen3's tokenizer.json describes (its decoder aside, which nothing here uses), built
        through the library's objects: a third of the time its JSON text takes to build and parse."""
        try:
            vocab = {t: i for i, (t, kind) in enumerate(zip(tokens, token_types)) if kind == _NORMAL}
            added = {t: i for i, (t, kind) in enumerate(zip(tokens, token_types)) if kind in (_CONTROL, _USER_DEFINED)}
            plain = HFTokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges],
                                           dropout=None, unk_token=None, continuing_subword_prefix="",
                                           end_of_word_suffix="", fuse_unk=False, byte_fallback=False,
                                           ignore_merges=False))
        except Exception as e:  # tokenizers raises plain Exception subclasses from Rust; bad fields TypeError
            raise ModelError(f"invalid tokenizer definition: {e}") from e
        plain.normalizer = normalizers.NFC()
        plain.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZER_REGEX), "isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ])
        plain.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
        plain.decoder = decoders.ByteLevel()
        return cls(plain, added)

    def encode_template(self, text: str) -> list[int]:
        """Ids of trusted template text, with added tokens such as ``<|im_start|>`` parsed."""
        if self._added_pattern is None:
            return self.encode_plain([text])[0]
        parts = self._added_pattern.split(text)  # odd positions hold the added tokens
        plain = self.encode_plain(parts[0::2])
        ids: list[int] = []
        for i, part in enumerate(parts):
            ids.extend(plain[i // 2] if i % 2 == 0 else [self._added[part]])
        return ids

    def encode_plain(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids of untrusted texts: every character is ordinary text, never a control token."""
        return [e.ids for e in self._plain.encode_batch(list(texts), add_special_tokens=False)]

    def token_id(self, token: str) -> int:
        """The id of one vocabulary entry; ModelError if the vocabulary lacks it."""
        token_id = self._added.get(token, self._plain.token_to_id(token))
        if token_id is None:
            raise ModelError(f"the tokenizer has no token {token!r}: not a Qwen3 vocabulary")
        return token_id


# Every Qwen3-Reranker size and format shares one vocabulary: a process that opens a second model
# (doctor --bench, the export gate, a server or the TUI changing models) reuses the tokenizer built
# for the first (building one takes about a second). Keyed by the definition's bytes, never by name;
# a Tokenizer is never changed after it is built, so threads can share it.
_BUILT: OrderedDict[bytes, Tokenizer] = OrderedDict()
_BUILT_KEPT = 4
_BUILT_LOCK = threading.Lock()


def _reused(key: bytes, build: Callable[[], Tokenizer]) -> Tokenizer:
    """The tokenizer built for the definition whose digest is ``key``, built by ``build`` the first time."""
    with _BUILT_LOCK:
        if key in _BUILT:
            _BUILT.move_to_end(key)
            return _BUILT[key]
    tokenizer = build()
    with _BUILT_LOCK:
        _BUILT[key] = tokenizer
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
    return tokenizer


def _build(spec: dict[str, Any]) -> HFTokenizer:
    try:
        return HFTokenizer.from_str(json.dumps(spec))
    except Exception as e:  # tokenizers raises plain Exception subclasses from Rust
        raise ModelError(f"invalid tokenizer definition: {e}") from e
