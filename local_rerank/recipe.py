"""The Qwen3-Reranker recipe: the prompt, its token ids and the token budget.

This is the only place that knows the prompt. Every backend scores the token-id
sequences built here, so a change to the template changes all of them at once.

The prompt is ``PREFIX + body + SUFFIX`` with the body
``<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {document}``, as in the
model card's transformers example. The score is p("yes") at the last position.
Text from users and files is tokenized as plain text: it can never produce a control
token such as ``<|im_end|>``, so a document cannot close the prompt early.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from local_rerank.errors import InputError

SYSTEM_PROMPT = (
    'Judge whether the Document meets the requirements based on the Query and the Instruct '
    'provided. Note that the answer can only be "yes" or "no".'
)
PREFIX = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
# Task instructions offered by name; the model card advises writing instructions in English.
INSTRUCTION_PRESETS = {
    "general": DEFAULT_INSTRUCTION,
    "code": "Given a question about a program, retrieve the source code or documentation that answers it",
    "legal": "Given a legal question, retrieve the clauses, provisions or passages that answer it",
    "scientific": "Given a scientific question, retrieve passages from papers or notes that answer it",
}
DOCUMENT_LABEL = "<Document>:"  # ends the part of the body that every document of a query shares
YES_TOKEN = "yes"
NO_TOKEN = "no"

DEFAULT_MAX_LENGTH = 8192
MIN_MAX_LENGTH = 128
MAX_MAX_LENGTH = 32768


class QueryTruncatedWarning(UserWarning):
    """The instruction and query alone did not fit the token budget and were cut."""


class PromptTokenizer(Protocol):
    """What the recipe needs from a tokenizer (see :class:`local_rerank.tokenizer.Tokenizer`)."""

    def encode_template(self, text: str) -> list[int]:
        """Token ids of trusted template text, control tokens parsed."""
        ...

    def encode_plain(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of untrusted texts: control-token strings stay plain text."""
        ...

    def token_id(self, token: str) -> int:
        """The id of one vocabulary entry."""
        ...


def format_body(query: str, document: str, instruction: str | None = None) -> str:
    """The user-turn text for one (query, document) pair."""
    return f"{_head(query, instruction)} {document}"


def format_prompt(query: str, document: str, instruction: str | None = None) -> str:
    """The whole prompt as one string (for references and llama.cpp's own tokenizer)."""
    return PREFIX + format_body(query, document, instruction) + SUFFIX


def _head(query: str, instruction: str | None) -> str:
    instruction = DEFAULT_INSTRUCTION if instruction is None else instruction
    return f"<Instruct>: {instruction}\n<Query>: {query}\n{DOCUMENT_LABEL}"


def answer_ids(tokenizer: PromptTokenizer) -> tuple[int, int]:
    """The ids of the "yes" and "no" tokens in this model's vocabulary."""
    return tokenizer.token_id(YES_TOKEN), tokenizer.token_id(NO_TOKEN)


def check_max_length(max_length: int) -> int:
    """Return ``max_length``, or raise InputError when it is outside the supported range."""
    if not MIN_MAX_LENGTH <= max_length <= MAX_MAX_LENGTH:
        raise InputError(
            f"max length must be between {MIN_MAX_LENGTH} and {MAX_MAX_LENGTH} tokens, got {max_length}"
        )
    return max_length


@dataclass(frozen=True)
class EncodedPrompt:
    """Token ids of one full prompt, and whether its document (or query) was cut to fit."""

    ids: list[int]
    truncated: bool


class PromptEncoder:
    """Builds the token-id sequences the backends score, within a token budget.

    Static parts (prefix, suffix, yes/no ids) are tokenized once. Only the document
    is truncated, from its end; prefix and suffix are never cut. If the instruction and
    query alone do not fit, the query is cut so that the document keeps at least half of
    the budget, with a :class:`QueryTruncatedWarning`.
    """

    def __init__(self, tokenizer: PromptTokenizer, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self.tokenizer = tokenizer
        self.max_length = check_max_length(max_length)
        self.prefix_ids = tokenizer.encode_template(PREFIX)
        self.suffix_ids = tokenizer.encode_template(SUFFIX)
        self.body_budget = max_length - len(self.prefix_ids) - len(self.suffix_ids)
        self._label_ids = tokenizer.encode_plain([DOCUMENT_LABEL])[0]

    def shared_length(self, ids: Sequence[int]) -> int:
        """How many leading tokens of a prompt built here depend on its query alone.

        That is the prefix and the body up to the first document label: the system line,
        instruction and query, the same tokens for every document of one query (a backend
        may compute them once). 0 when ``ids`` does not start like a prompt built here.
        """
        start = len(self.prefix_ids)
        if list(ids[:start]) != self.prefix_ids:
            return 0
        label = self._label_ids
        for end in range(start + len(label), len(ids) - len(self.suffix_ids) + 1):
            if list(ids[end - len(label):end]) == label:
                return end
        return 0

    def encode(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> list[EncodedPrompt]:
        """Encode one query against each document; the order of the input is kept."""
        head_length = len(self.tokenizer.encode_plain([_head(query, instruction)])[0])
        if head_length > self.body_budget:
            return self._encode_with_cut_query(query, documents, instruction)
        bodies = self.tokenizer.encode_plain([format_body(query, d, instruction) for d in documents])
        return [self._wrap(body[: self.body_budget], len(body) > self.body_budget) for body in bodies]

    def _wrap(self, body: list[int], truncated: bool) -> EncodedPrompt:
        return EncodedPrompt(self.prefix_ids + body + self.suffix_ids, truncated)

    def _encode_with_cut_query(
        self, query: str, documents: Sequence[str], instruction: str | None
    ) -> list[EncodedPrompt]:
        empty_head = len(self.tokenizer.encode_plain([_head("", instruction)])[0])
        query_budget = self.body_budget // 2 - empty_head
        if query_budget <= 0:
            raise InputError(
                f"the instruction alone needs {empty_head} tokens; raise the max length "
                f"above {self.max_length} or shorten the instruction"
            )
        warnings.warn(
            f"the query is longer than the token budget allows; it was cut to {query_budget} tokens",
            QueryTruncatedWarning,
            stacklevel=3,
        )
        query_head, document_head = _split_at_query(instruction)
        query_ids = self.tokenizer.encode_plain([" " + query])[0][:query_budget]
        head_ids = self.tokenizer.encode_plain([query_head])[0]
        docs = self.tokenizer.encode_plain([f"{document_head} {d}" for d in documents])
        return [self._wrap((head_ids + query_ids + doc_ids)[: self.body_budget], True) for doc_ids in docs]


def cap_documents(encoder: PromptEncoder, prompts: list[EncodedPrompt], query: str, instruction: str | None,
                  max_document_tokens: int) -> list[EncodedPrompt]:
    """``prompts`` with each document cut to at most ``max_document_tokens`` tokens (from its end),
    on top of the encoder's own budget; the template around it is kept whole."""
    if max_document_tokens < 1:
        raise InputError(f"max document tokens must be at least 1, got {max_document_tokens}")
    head = format_body(query, "", instruction).removesuffix(" ")
    limit = len(encoder.tokenizer.encode_plain([head])[0]) + max_document_tokens
    prefix, suffix = len(encoder.prefix_ids), len(encoder.suffix_ids)
    capped = []
    for prompt in prompts:
        body = prompt.ids[prefix:len(prompt.ids) - suffix]
        if len(body) > limit:
            prompt = EncodedPrompt(encoder.prefix_ids + body[:limit] + encoder.suffix_ids, True)
        capped.append(prompt)
    return capped


def _split_at_query(instruction: str | None) -> tuple[str, str]:
    """The head's text before the query (without its space) and after it."""
    before, after = _head("\0", instruction).split("\0")
    return before.removesuffix(" "), after
