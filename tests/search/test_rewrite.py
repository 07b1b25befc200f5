"""Query rewriting: abbreviations the folder defines (both ways), follow-up queries completed from
the previous one, normalisation, feedback terms, and searching with the variants."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.search.abbreviations import definitions_in
from local_rerank.search.chunking import Passage
from local_rerank.search.hits import SearchHit
from local_rerank.search.index import FolderIndex
from local_rerank.search.pipeline import LexicalResults, RerankProgress, SearchFinished, SearchRequest
from local_rerank.search.rewrite import (
    Variant,
    expanded,
    feedback_terms,
    fuse_rankings,
    fuse_scores,
    resolved,
    variants,
)
from local_rerank.search.rewritten import rerank_with_variants, rewritten_candidates
from local_rerank.search.session import SearchSession
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker


def _hit(path: str, text: str, rank: int = 1) -> SearchHit:
    return SearchHit(path, Passage(text, 1, 1), path, rank, 1.0)


def test_definitions_are_found_long_form_first_or_abbreviation_first() -> None:
    text = ("We tune with Low-Rank Adaptation (LoRA). QLoRA (Quantized Low-Rank Adaptation) saves memory; "
            "graphics processing unit (GPU) memory. Not these: (see above), NASA (the agency), (EAS), "
            "TypedDict (typed dictionary), Employee (NamedTuple), new-style (NT). Usage:: class (UC).")
    assert definitions_in(text) == [("LoRA", "Low-Rank Adaptation"), ("GPU", "graphics processing unit"),
                                    ("QLoRA", "Quantized Low-Rank Adaptation")]


def test_chinese_and_japanese_definitions_are_found() -> None:
    text = ("我们使用大语言模型（LLM）进行检索。基于检索增强生成（RAG）的系统。"
            "本稿では大規模言語モデル（LLM）を用いる。"
            "ファインチューニング（FT）も。用户界面（UI）设计。GPU（图形处理器）。不是这些：很（OK），（见上文）。")
    assert definitions_in(text) == [("LLM", "大语言模型"), ("RAG", "检索增强生成"), ("LLM", "大規模言語モデル"),
                                    ("FT", "ファインチューニング"), ("UI", "用户界面"), ("GPU", "图形处理器")]
    # Characters that are lead-ins elsewhere (在, 即, 和, 被) or kana inside a term (済み) stay in it.
    inside = "在线分析处理（OLAP）。即时编译（JIT）。被动光网络（PON）。事前学習済みモデル（PTM）。"
    assert [long for _, long in definitions_in(inside)] == ["在线分析处理", "即时编译", "被动光网络",
                                                            "事前学習済みモデル"]
    assert definitions_in("대형 언어 모델(LLM). ÉCOLE (エコール).") == []  # Korean spaces its words; ÉCOLE is a word


def test_an_abbreviation_inside_chinese_text_expands() -> None:
    defined = {"LLM": "大语言模型"}
    assert expanded("LLM是什么", defined) == "大语言模型 (LLM)是什么"
    assert expanded("大语言模型怎么用", defined) == "大语言模型 (LLM)怎么用"
    assert expanded("XLLM是什么", defined) is None


def test_abbreviations_expand_both_ways() -> None:
    defined = {"LoRA": "Low-Rank Adaptation"}
    assert expanded("LoRA rank choice", defined) == "Low-Rank Adaptation (LoRA) rank choice"
    assert expanded("low-rank adaptation memory", defined) == "low-rank adaptation (LoRA) memory"
    assert expanded("unrelated words", defined) is None and expanded("GLoRA", defined) is None


def test_follow_ups_are_completed_from_the_previous_query() -> None:
    assert resolved("does it support CUDA", "llama.cpp build") == "does llama.cpp build support CUDA"
    assert resolved("and on Windows?", "install llama.cpp") == "install llama.cpp on Windows?"
    assert resolved("它支持吗", "GPU显存") == "GPU显存支持吗"
    assert resolved("how to install llama.cpp", "GPU memory") is None
    assert resolved("does it support CUDA", None) is None


def test_variants_are_normalised_resolved_and_expanded_without_duplicates() -> None:
    found = variants("does it support ＬｏＲＡ", "fine-tuning", {"LoRA": "Low-Rank Adaptation"})
    assert [(variant.text, variant.rerank) for variant in found] == [
        ("does it support LoRA", True), ("does fine-tuning support LoRA", True),
        ("does it support Low-Rank Adaptation (LoRA)", True),
        ("does fine-tuning support Low-Rank Adaptation (LoRA)", True)]
    assert variants("plain query") == []


def test_feedback_terms_are_shared_by_two_top_hits_and_new_to_the_query() -> None:
    hits = [_hit("a", "harbour dredging permits"), _hit("b", "dredging permits expire"), _hit("c", "crane")]
    assert feedback_terms("harbour", hits) == ["dredging", "permits"]
    variant = variants("harbour", hits=hits)[-1]
    assert variant == Variant("harbour dredging permits", "feedback from the top hits", rerank=False)


def test_rankings_fuse_by_reciprocal_rank_and_scores_by_max_or_mean() -> None:
    first = [_hit("a", "x"), _hit("b", "x", 2)]
    second = [_hit("b", "x"), _hit("c", "x", 2)]
    fused = fuse_rankings([first, second], limit=3)
    assert [(hit.path, hit.bm25_rank) for hit in fused] == [("b", 1), ("a", 2), ("c", 3)]
    assert fuse_scores([0.2, 0.8]) == 0.8 and fuse_scores([0.2, 0.8], "mean") == 0.5


@pytest.fixture
def index(tmp_path: Path) -> FolderIndex:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "glossary.md").write_text("Fine-tuning with Low-Rank Adaptation (LoRA) trains small matrices.")
    (folder / "notes.md").write_text("Our LoRA runs used rank 8 and alpha 16 on two GPUs.")
    (folder / "paper.md").write_text("Low-rank adaptation freezes the pretrained weights entirely.")
    (folder / "garden.md").write_text("Roses and tulips need pruning in March.")
    index = FolderIndex.open(folder, cache=tmp_path / "cache")
    index.update()
    return index


def test_the_index_remembers_definitions_and_forgets_removed_files(index: FolderIndex) -> None:
    assert index.definitions() == {"LoRA": "Low-Rank Adaptation"}
    (index.folder / "glossary.md").unlink()
    index.update()
    assert index.definitions() == {}


def test_a_rewritten_search_finds_the_long_form_and_reranks_against_every_variant(
        index: FolderIndex, tokenizer: Tokenizer) -> None:
    request = SearchRequest("LoRA", candidates=4)
    assert {hit.path for hit in index.lexical("LoRA", 4)} == {"glossary.md", "notes.md"}
    found, lexical = rewritten_candidates(index, request)
    assert [variant.text for variant in found] == ["Low-Rank Adaptation (LoRA)"]
    assert {hit.path for hit in lexical.hits} == {"glossary.md", "notes.md", "paper.md"}
    reranked = rerank_with_variants(index, lexical.hits, request, found, word_count_reranker(tokenizer, "weights"))
    assert reranked[0].path == "paper.md"
    again = word_count_reranker(tokenizer, "weights")
    rerank_with_variants(index, lexical.hits, request, found, again)
    assert again.backend.batches == []  # every score came from the cache


def test_a_session_rewrites_a_follow_up_against_its_previous_query(index: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "weights")
    with SearchSession(index, lambda: reranker, candidates=4) as session:
        session.load_model()
        list(session.search("garden roses"))
        events = list(session.search("does it need LoRA", rewrite=True))
    lexical, final = events[0], events[-1]
    assert isinstance(lexical, LexicalResults) and isinstance(final, SearchFinished) and final.reranked
    assert [variant.text for variant in lexical.variants] == [
        "does garden roses need LoRA", "does it need Low-Rank Adaptation (LoRA)",
        "does garden roses need Low-Rank Adaptation (LoRA)"]
    progress = [event for event in events if isinstance(event, RerankProgress)]
    assert progress[-1].done == progress[-1].total == 4 * len(lexical.hits)  # the query and three variants
    assert final.hits[0].path == "paper.md" and all(hit.score is not None for hit in final.hits)
