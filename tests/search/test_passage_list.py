"""A list of passages searched like a folder: every passage reranked, scores as `rank` gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.errors import InputError
from local_rerank.search import FolderIndex, LexicalResults, SearchFinished, SearchSession
from local_rerank.search.passage_list import PassageList
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker

PASSAGES = [f"passage {i}: " + "crane " * (i % 4) + "harbour" for i in range(50)]


def test_every_passage_is_reranked_with_the_scores_rank_gives(tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    passages = PassageList(PASSAGES, "candidates.txt")
    session = SearchSession(passages, lambda: reranker, candidates=len(passages))
    session.load_model()
    events = list(session.search("which passage has cranes"))
    lexical = events[0]
    assert isinstance(lexical, LexicalResults) and [hit.bm25_rank for hit in lexical.hits] == list(range(1, 51))
    final = events[-1]
    assert isinstance(final, SearchFinished) and final.reranked and len(final.hits) == 50
    direct = reranker.score("which passage has cranes", PASSAGES)
    assert {hit.path: hit.score for hit in final.hits} == {f"#{i + 1}": score for i, score in enumerate(direct)}
    assert [hit.path for hit in final.hits][:3] == ["#4", "#8", "#12"]  # 3 cranes, input order breaks ties


def test_passages_come_from_jsonl_or_lines() -> None:
    assert [hit.passage.text for hit in PassageList.from_text('{"text": "a"}\n{"text": "b c"}\n', "x").hits] == \
        ["a", "b c"]
    listed = PassageList.from_text("first\n\nsecond line\n", "pasted")
    assert [hit.path for hit in listed.hits] == ["#1", "#2"] and listed.read_lines("#2") == ["second line"]
    with pytest.raises(InputError, match="no documents"):
        PassageList.from_text("\n  \n", "pasted")
    with pytest.raises(InputError, match="line 2"):
        PassageList.from_text('{"text": "a"}\n{"txt": 1}\n', "x.jsonl")


def test_a_session_can_switch_from_a_folder_to_a_list(tmp_path: Path, tokenizer: Tokenizer) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.md").write_text("harbour crane\n")
    index = FolderIndex.open(folder)
    index.update()
    session = SearchSession(index, lambda: word_count_reranker(tokenizer, "crane"))
    session.load_model()
    assert [hit.path for hit in list(session.search("harbour"))[-1].hits] == ["a.md"]
    session.use(PassageList(PASSAGES[:5], "pasted"), candidates=5)
    assert len(list(session.search("harbour"))[-1].hits) == 5
