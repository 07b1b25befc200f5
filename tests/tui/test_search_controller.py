"""The search controller's work, run without an app: what it reports through ``post``."""

from __future__ import annotations

from textual.message import Message

from local_rerank.errors import ModelError
from local_rerank.reranker import Reranker
from local_rerank.search import FolderIndex, LexicalResults, SearchFinished
from local_rerank.search.passage_list import PassageList
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker
from tui.messages import IndexReady, ModelLoaded, SearchAdvanced
from tui.search_controller import SearchController


def test_indexing_then_a_search_report_their_news(notes: FolderIndex, tokenizer: Tokenizer) -> None:
    controller = SearchController(notes, lambda: word_count_reranker(tokenizer, "crane"))
    posted: list[Message] = []
    controller.update_index(posted.append)
    assert isinstance(posted[-1], IndexReady) and notes.describe(posted[-1].report) == "10 files"
    controller.load_model(posted.append)
    assert isinstance(posted[-1], ModelLoaded) and posted[-1].reranker is controller.reranker is not None
    search = controller.search("harbour", None)
    controller.relay(search, posted.append)
    news = [message for message in posted if isinstance(message, SearchAdvanced)]
    assert {message.search_id for message in news} == {search.number} == {controller.search_id}
    assert isinstance(news[0].event, LexicalResults) and isinstance(news[-1].event, SearchFinished)
    assert controller.query_text == "harbour" and news[-1].event.reranked
    saved = controller.results(news[-1].event.hits, None)
    assert saved.model == "fake-crane" and saved.query == "harbour" and saved.unit == "passage"
    controller.close()


def test_a_model_that_fails_to_start_is_reported(notes: FolderIndex) -> None:
    def broken_model() -> Reranker:
        raise ModelError("model.gguf is corrupt")

    controller = SearchController(notes, broken_model)
    posted: list[Message] = []
    controller.load_model(posted.append)
    assert isinstance(posted[-1], ModelLoaded) and posted[-1].reranker is None
    assert posted[-1].error == "model.gguf is corrupt" and not controller.model_pending


def test_the_toggles_say_what_they_turned_on(notes: FolderIndex) -> None:
    controller = SearchController(notes, None)
    assert controller.toggle_rewrite() == "Query rewriting on" and controller.rewrite
    assert controller.toggle_unit().startswith("Whole files") and controller.unit == "document"
    assert controller.unit_note == " whole files"
    assert controller.toggle_unit().startswith("Passages") and controller.unit_note == ""


def test_a_list_of_passages_is_saved_as_passages_in_whole_file_mode(tokenizer: Tokenizer) -> None:
    passages = PassageList(["the crane lifts", "a harbour crane", "tea"], "pasted")
    controller = SearchController(passages, lambda: word_count_reranker(tokenizer, "crane"))
    controller.toggle_unit()
    posted: list[Message] = []
    controller.load_model(posted.append)
    search = controller.search("crane", None)
    controller.relay(search, posted.append)
    final = [m.event for m in posted if isinstance(m, SearchAdvanced) and isinstance(m.event, SearchFinished)][-1]
    assert controller.unit == "document" and controller.results(final.hits, None).unit == "passage"
    controller.close()
