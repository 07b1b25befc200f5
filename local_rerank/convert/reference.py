"""The reference: the official Qwen3-Reranker recipe, run by transformers in float32.

Everything local-rerank produces is measured against this. It deliberately repeats the
model card's prompt strings instead of importing :mod:`local_rerank.recipe`, so that a
mistake there (a newline too many) shows up as a parity failure rather than being shared.
Needs torch and transformers (``pip install 'local-rerank[reference]'``); the ranking
runtime never imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from local_rerank.errors import BackendUnavailableError

# Verbatim from the Qwen3-Reranker model card's transformers example.
_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n"
)
_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
_DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


def _format_instruction(instruction: str | None, query: str, doc: str) -> str:
    if instruction is None:
        instruction = _DEFAULT_INSTRUCTION
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"


class ReferenceScorer:
    """Scores (query, document) pairs exactly as the model card does, in float32."""

    def __init__(self, checkpoint: Path, max_length: int = 8192) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as e:
            raise BackendUnavailableError(
                "the reference needs torch and transformers: pip install 'local-rerank[reference]'"
            ) from e
        self._torch = torch
        # transformers 4.57 warns that this tokenizer's regex is wrong (a false positive) and
        # that pad() is slow for fast tokenizers; neither is news to anyone running a check.
        transformers_logging.set_verbosity_error()
        self.tokenizer = AutoTokenizer.from_pretrained(str(checkpoint), padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
        self.max_length = max_length
        self.token_false_id = self.tokenizer.convert_tokens_to_ids("no")
        self.token_true_id = self.tokenizer.convert_tokens_to_ids("yes")
        self.prefix_tokens = self.tokenizer.encode(_PREFIX, add_special_tokens=False)
        self.suffix_tokens = self.tokenizer.encode(_SUFFIX, add_special_tokens=False)

    def input_ids(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[list[int]]:
        """The unpadded token ids the recipe feeds the model for each document."""
        pairs = [_format_instruction(instruction, query, doc) for doc in documents]
        inputs = self.tokenizer(
            pairs,
            padding=False,
            truncation="longest_first",
            return_attention_mask=False,
            max_length=self.max_length - len(self.prefix_tokens) - len(self.suffix_tokens),
        )
        return [self.prefix_tokens + ids + self.suffix_tokens for ids in inputs["input_ids"]]

    def score(
        self, query: str, documents: Sequence[str], instruction: str | None = None, batch_size: int = 8
    ) -> list[float]:
        """p("yes") for each document, in input order."""
        torch = self._torch
        scores: list[float] = []
        ids = self.input_ids(query, documents, instruction)
        for start in range(0, len(ids), batch_size):
            batch = self.tokenizer.pad(
                {"input_ids": ids[start : start + batch_size]}, padding=True, return_tensors="pt"
            )
            with torch.no_grad():
                logits = self.model(**batch).logits[:, -1, :]
            pair = torch.stack([logits[:, self.token_false_id], logits[:, self.token_true_id]], dim=1)
            scores.extend(torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().tolist())
        return scores
