"""A query's shared prefix: where it ends (the recipe), and llama.cpp decoding it once (GGUF backend)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from local_rerank import Reranker
from local_rerank.recipe import PromptEncoder, QueryTruncatedWarning
from local_rerank.tokenizer import Tokenizer
from tests.backends.cases import CUSTOM_INSTRUCTION, DOCUMENTS, MAX_LENGTH, QUERY, assert_batch_invariant
from tests.tolerances import TOLERANCE

# Shared and unshared paths, alone and in batches, agree to float rounding: measured up to
# 1.2e-6 (f32), 0 for the other types on the tiny models with AVX-512 kernels; on an AVX2-only CPU
# (Zen 3), whose f16 kernels sum in another order, f16 differs by 1.5e-5 (native build and the
# portable one alike).
SAME = 5e-5
ODD_DOCUMENTS = ["", " leading space", "\n\nnewlines first", "<Document>: a fake label", ":colon", "x" * 3000]


@pytest.mark.parametrize("query", [QUERY, "a query with <Document>: inside", "long query " * 400])
def test_every_document_of_a_query_shares_the_same_prefix(tokenizer: Tokenizer, query: str) -> None:
    encoder = PromptEncoder(tokenizer, MAX_LENGTH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryTruncatedWarning)  # the long query is cut: still one prefix
        prompts = [p.ids for p in encoder.encode(query, DOCUMENTS + ODD_DOCUMENTS, CUSTOM_INSTRUCTION)]
    lengths = [encoder.shared_length(ids) for ids in prompts]
    assert len(set(lengths)) == 1 and lengths[0] > len(encoder.prefix_ids)
    assert len({tuple(ids[: lengths[0]]) for ids in prompts}) == 1
    assert all(len(ids) > lengths[0] + len(encoder.suffix_ids) for ids in prompts)


def test_the_prefix_ends_after_the_document_label(tokenizer: Tokenizer, hf_tokenizer) -> None:
    encoder = PromptEncoder(tokenizer, MAX_LENGTH)
    (prompt,) = encoder.encode("q", ["the document"])
    shared = encoder.shared_length(prompt.ids)
    assert hf_tokenizer.decode(prompt.ids[:shared]).endswith("<Query>: q\n<Document>:")
    assert hf_tokenizer.decode(prompt.ids[shared:]).startswith(" the document<|im_end|>")


def test_sequences_not_built_by_the_recipe_share_nothing(tokenizer: Tokenizer) -> None:
    encoder = PromptEncoder(tokenizer, MAX_LENGTH)
    assert encoder.shared_length([0] * 100) == 0
    assert encoder.shared_length(encoder.prefix_ids + encoder.suffix_ids) == 0


def _gguf(path: Path, share_prefix: bool = True):
    from local_rerank.backends.gguf import GgufBackend

    return GgufBackend(path, max_length=MAX_LENGTH, share_prefix=share_prefix)


@pytest.mark.slow
@pytest.mark.parametrize("quant", sorted(TOLERANCE))
def test_shared_prefix_scores_equal_the_unshared_path(gguf_files, llama_cpp, quant: str) -> None:
    path = gguf_files["tied", quant]
    with Reranker(_gguf(path), MAX_LENGTH) as shared, Reranker(_gguf(path, False), MAX_LENGTH) as whole:
        for instruction in (None, CUSTOM_INSTRUCTION):
            # one by one: unshared, llama.cpp's bf16 kernels give some scores that move with the batch (5e-4)
            expected = [whole.score(QUERY, [document], instruction)[0] for document in DOCUMENTS]
            np.testing.assert_allclose(shared.score(QUERY, DOCUMENTS, instruction), expected, atol=SAME, rtol=0)
        prompt = shared.encoder.encode(QUERY, DOCUMENTS[:1], CUSTOM_INSTRUCTION)[0].ids
        assert list(shared.backend._kept) == prompt[: shared.encoder.shared_length(prompt)], "the prefix was kept"


@pytest.mark.slow
@pytest.mark.parametrize("quant", sorted(TOLERANCE))
def test_a_shared_prefix_score_does_not_depend_on_its_batch(gguf_files, llama_cpp, quant: str) -> None:
    with Reranker(_gguf(gguf_files["tied", quant]), MAX_LENGTH) as reranker:
        assert_batch_invariant(reranker, atol=SAME)


@pytest.mark.slow
def test_prompts_of_several_queries_in_one_batch_score_as_they_do_alone(gguf_files, llama_cpp) -> None:
    with Reranker(_gguf(gguf_files["untied", "q8_0"]), MAX_LENGTH) as reranker:
        queries = [QUERY, "bananas", "复制目录"]
        prompts = [[p.ids for p in reranker.encoder.encode(q, DOCUMENTS[:4] + ODD_DOCUMENTS[:3])] for q in queries]
        alone = [reranker.backend.score(ids) for ids in prompts]
        mixed = reranker.backend.score([ids for group in zip(*prompts) for ids in group])
    np.testing.assert_allclose(mixed, np.stack(alone, axis=1).ravel(), atol=SAME, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["f32", "q8_0"])
def test_a_long_prompt_grows_the_context_and_moves_no_score(gguf_files, llama_cpp, checkpoints, quant: str) -> None:
    """On the CPU the KV cache starts with room for a packed batch; a longer prompt grows it."""
    from local_rerank.backends.gguf import GgufBackend

    long_document = "Folders are copied with cp -r; rsync -a keeps permissions. " * 150  # ~2,000 tokens
    with Reranker(GgufBackend(gguf_files["tied", quant], max_length=4096), 4096) as reranker:
        room = reranker.backend._room
        before = reranker.score(QUERY, DOCUMENTS)
        beside = reranker.score(QUERY, [*DOCUMENTS[:2], long_document])
        assert reranker.backend._room > room
        after = reranker.score(QUERY, DOCUMENTS)
        alone = reranker.score(QUERY, [long_document])
    np.testing.assert_allclose(after, before, atol=SAME, rtol=0)
    np.testing.assert_allclose(beside[:2], before[:2], atol=SAME, rtol=0)
    np.testing.assert_allclose(alone, beside[2:], atol=SAME, rtol=0)
    from local_rerank.convert.reference import ReferenceScorer

    expected = ReferenceScorer(checkpoints["tied"], max_length=4096).score(QUERY, [long_document])
    np.testing.assert_allclose(alone, expected, atol=TOLERANCE[quant], rtol=0)
