"""The HTTP API over a fake backend (a real Backend subclass), served by a real uvicorn on 127.0.0.1:
the shapes of the three APIs, every field's bad input, the limits, the API key and the error bodies."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from local_rerank.reranker import Reranker
from local_rerank.scoring_queue import QueueLimits, ScoringQueue
from local_rerank.serve.app import create_app
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import WordCountBackend
from tests.serve.servers import running

DOCS = ["a pear", "apple apple pie", "an apple a day", "plum"]
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def reranker(tokenizer: Tokenizer) -> Reranker:
    return Reranker(WordCountBackend(tokenizer, "apple"), max_length=256)


@pytest.fixture(scope="module")
def url(reranker: Reranker) -> Iterator[str]:
    with ScoringQueue(reranker, QueueLimits(max_documents=50, max_tokens=5_000)) as queue:
        with running(create_app(queue, max_body_bytes=64 * 1024)) as base:
            yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def _ranked(reranker: Reranker, query: str, documents: list[str],
            instruction: str | None = None) -> list[tuple[int, float]]:
    return [(r.index, r.score) for r in reranker.rank(query, documents, instruction)]


def test_v1_is_the_jina_and_llama_server_shape(client: httpx.Client, reranker: Reranker) -> None:
    body = client.post("/v1/rerank", json={"model": "anything", "query": "fruit", "top_n": 2,
                                           "documents": [DOCS[0], {"text": DOCS[1]}, *DOCS[2:]]}).json()
    assert set(body) == {"model", "usage", "results"}
    assert body["model"] == "fake-apple"
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert [(r["index"], r["relevance_score"]) for r in body["results"]] == _ranked(reranker, "fruit", DOCS)[:2]
    assert all(set(r) == {"index", "relevance_score"} for r in body["results"])


def test_v1_returns_documents_when_asked(client: httpx.Client) -> None:
    body = client.post("/v1/rerank", json={"query": "fruit", "documents": DOCS, "return_documents": True}).json()
    assert [r["document"] for r in body["results"]] == [{"text": DOCS[r["index"]]} for r in body["results"]]


def test_v2_is_the_cohere_shape(client: httpx.Client, reranker: Reranker) -> None:
    body = client.post("/v2/rerank", json={"model": "rerank-v3.5", "query": "fruit", "documents": DOCS}).json()
    assert set(body) == {"id", "results", "meta"}
    assert body["meta"]["api_version"] == {"version": "2"} and body["meta"]["tokens"]["input_tokens"] > 0
    assert [(r["index"], r["relevance_score"]) for r in body["results"]] == _ranked(reranker, "fruit", DOCS)


def test_v2_cuts_documents_to_max_tokens_per_doc(client: httpx.Client) -> None:
    body = client.post("/v2/rerank", json={"query": "fruit", "documents": [" ".join(["apple"] * 40)],
                                           "max_tokens_per_doc": 5}).json()
    assert body["results"][0]["relevance_score"] == 1 - 1 / (2 + 5)


def test_tei_is_the_text_embeddings_inference_shape(client: httpx.Client, reranker: Reranker) -> None:
    body = client.post("/rerank", json={"query": "fruit", "texts": DOCS, "return_text": True}).json()
    assert [(r["index"], r["score"]) for r in body] == _ranked(reranker, "fruit", DOCS)
    assert [r["text"] for r in body] == [DOCS[r["index"]] for r in body]
    raw = client.post("/rerank", json={"query": "fruit", "texts": DOCS, "raw_scores": True}).json()
    assert all(set(r) == {"index", "score"} for r in raw)
    assert [r["score"] for r in raw] == pytest.approx([math.log(r["score"] / (1 - r["score"])) for r in body])


def test_tei_refuses_a_long_text_unless_told_to_truncate(client: httpx.Client) -> None:
    texts = ["short", "apple " * 400]
    refused = client.post("/rerank", json={"query": "fruit", "texts": texts})
    assert refused.status_code == 413 and refused.json()["field"] == "texts" and "truncate" in refused.json()["error"]
    assert client.post("/rerank", json={"query": "fruit", "texts": texts, "truncate": True}).status_code == 200


@pytest.mark.parametrize("path, field", [("/v1/rerank", "documents"), ("/v2/rerank", "documents"),
                                         ("/rerank", "texts")])
def test_the_instruction_reaches_the_prompt(client: httpx.Client, reranker: Reranker, path: str, field: str) -> None:
    answer = client.post(path, json={"query": "fruit", field: ["plum"], "instruction": "find apple apple"}).json()
    score = answer[0]["score"] if path == "/rerank" else answer["results"][0]["relevance_score"]
    assert score == reranker.score("fruit", ["plum"], "find apple apple")[0] > reranker.score("fruit", ["plum"])[0]


BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("/v1/rerank", {"documents": DOCS}, "query"),
    ("/v1/rerank", {"query": "", "documents": DOCS}, "query"),
    ("/v1/rerank", {"query": "  ", "documents": DOCS}, "query"),
    ("/v1/rerank", {"query": 7, "documents": DOCS}, "query"),
    ("/v1/rerank", {"query": "\ud800", "documents": DOCS}, "query"),
    ("/v1/rerank", {"query": "fruit"}, "documents"),
    ("/v1/rerank", {"query": "fruit", "documents": []}, "documents"),
    ("/v1/rerank", {"query": "fruit", "documents": "apple"}, "documents"),
    ("/v1/rerank", {"query": "fruit", "documents": ["a", 1]}, "documents.1"),
    ("/v1/rerank", {"query": "fruit", "documents": ["a", {"txt": "b"}]}, "documents.1"),
    ("/v1/rerank", {"query": "fruit", "documents": ["a", {"text": 2}]}, "documents.1"),
    ("/v1/rerank", {"query": "fruit", "documents": ["a", "\udfff"]}, "documents.1"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "top_n": 0}, "top_n"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "top_n": "2"}, "top_n"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "top_n": 1.5}, "top_n"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "return_documents": "yes"}, "return_documents"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "return_documents": 1}, "return_documents"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "instruction": ""}, "instruction"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "instruction": 3}, "instruction"),
    ("/v1/rerank", {"query": "fruit", "documents": DOCS, "model": 3}, "model"),
    ("/v2/rerank", {"query": "fruit", "documents": [{"text": "a"}]}, "documents.0"),
    ("/v2/rerank", {"query": "fruit", "documents": DOCS, "max_tokens_per_doc": 0}, "max_tokens_per_doc"),
    ("/v2/rerank", {"query": "fruit", "documents": DOCS, "max_tokens_per_doc": "5"}, "max_tokens_per_doc"),
    ("/v2/rerank", {"query": "fruit", "documents": DOCS, "top_n": -1}, "top_n"),
    ("/v2/rerank", {"query": None, "documents": DOCS}, "query"),
    ("/rerank", {"query": "fruit"}, "texts"),
    ("/rerank", {"query": "fruit", "texts": []}, "texts"),
    ("/rerank", {"query": "fruit", "texts": DOCS, "raw_scores": "true"}, "raw_scores"),
    ("/rerank", {"query": "fruit", "texts": DOCS, "return_text": 1}, "return_text"),
    ("/rerank", {"query": "fruit", "texts": DOCS, "truncate": "no"}, "truncate"),
    ("/rerank", {"query": "fruit", "texts": DOCS, "truncation_direction": "Left"}, "truncation_direction"),
    ("/rerank", {"query": "fruit", "texts": DOCS, "instruction": " "}, "instruction"),
    ("/rerank", ["fruit", DOCS], "body"),
]


@pytest.mark.parametrize("path, body, field", BAD_FIELDS)
def test_bad_input_names_the_field(client: httpx.Client, path: str, body: Any, field: str) -> None:
    answer = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert answer.status_code == 422
    error = answer.json()
    assert error["field"] == field and error["error"].startswith(f"{field}: ")
    assert error["error_type"] == "validation_error" and "Traceback" not in answer.text


@pytest.mark.parametrize("content", [b"{not json", b"", b'{"query": "fruit", "documents": ["a"]'])
def test_malformed_json_is_a_400(client: httpx.Client, content: bytes) -> None:
    answer = client.post("/v1/rerank", content=content, headers={"content-type": "application/json"})
    assert answer.status_code in (400, 422) and answer.json()["error"]
    if content:
        assert answer.status_code == 400 and answer.json()["error_type"] == "invalid_json"


@pytest.mark.parametrize(("content", "reason"), [(b'{"query": "\xff", "documents": ["a"]}', "not UTF-8 (byte 11)"),
                                                  (b"[" * 5_000, "nested too deeply")], ids=["latin-1", "deep"])
def test_a_body_json_cannot_parse_says_why(client: httpx.Client, content: bytes, reason: str) -> None:
    answer = client.post("/v1/rerank", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error_type"] == "invalid_json"
    assert answer.json()["error"] == f"the body is not valid JSON: {reason}"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "text/json"])
def test_json_sent_as_another_type_is_a_415_that_names_the_header(client: httpx.Client, content_type: str) -> None:
    answer = client.post("/v1/rerank", content=b'{"query": "fruit", "documents": ["a"]}',
                         headers={"content-type": content_type})
    assert answer.status_code == 415 and answer.json()["error_type"] == "unsupported_media_type"
    assert f"Content-Type: application/json (got {content_type})" in answer.json()["error"]


def test_a_json_body_of_the_wrong_shape_stays_a_422_whatever_the_header_case(client: httpx.Client) -> None:
    answer = client.post("/v1/rerank", content=b"[1]", headers={"content-type": "Application/JSON; charset=utf-8"})
    assert answer.status_code == 422 and answer.json()["error_type"] == "validation_error"


def test_a_body_over_the_limit_is_a_413(client: httpx.Client) -> None:
    body = {"query": "fruit", "documents": ["apple " * 20_000]}
    answer = client.post("/v1/rerank", json=body)
    assert answer.status_code == 413 and answer.json()["error_type"] == "payload_too_large"
    streamed = client.post("/v1/rerank", content=iter([json.dumps(body).encode()]),  # chunked: no Content-Length
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_too_many_documents_or_tokens_is_a_413(client: httpx.Client) -> None:
    many = client.post("/v1/rerank", json={"query": "fruit", "documents": ["a"] * 51})
    assert many.status_code == 413 and many.json()["field"] == "documents" and "at most 50" in many.json()["error"]
    long = client.post("/v1/rerank", json={"query": "fruit", "documents": ["apple " * 250] * 40})
    assert long.status_code == 413 and "prompt tokens" in long.json()["error"]


def test_unknown_paths_and_methods_answer_json(client: httpx.Client) -> None:
    assert client.get("/v3/rerank").json()["error_type"] == "http_error"
    assert client.get("/v1/rerank").status_code == 405


def test_health_models_and_docs(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok", "pending": 0}
    assert client.get("/v1/models").json() == {"object": "list", "data": [
        {"id": "fake-apple", "object": "model", "owned_by": "local-rerank", "backend": "fake", "device": "cpu",
         "max_length": 256}]}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/rerank", "/v2/rerank", "/rerank", "/health", "/v1/models"} <= set(paths)
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_this_server(client: httpx.Client, page: str) -> None:
    """An air-gapped machine reaches no CDN: every script, style and icon the page names is served here."""
    html = client.get(page)
    assert html.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert assets and not [url for url in assets if "//" in url], assets
    scripts = [url for url in assets if url.endswith(".js")]
    assert scripts
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 1000, url
    assert "/openapi.json" in html.text


@pytest.fixture(scope="module")
def guarded(reranker: Reranker) -> Iterator[httpx.Client]:
    with ScoringQueue(reranker) as queue, running(create_app(queue, api_key=KEY)) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            yield client


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {KEY}"},
                                     {"authorization": KEY}, {"authorization": f"Bearer {KEY}x"}])
def test_a_missing_or_wrong_key_is_a_401_before_anything_else(guarded: httpx.Client, headers: dict[str, str]) -> None:
    for path, content in [("/v1/rerank", b"{not json"), ("/rerank", b'{"query": "q", "texts": ["t"]}'),
                          ("/v1/models", None), ("/nowhere", None)]:
        answer = guarded.post(path, content=content, headers=headers) if content else guarded.get(path, headers=headers)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == "Bearer" and answer.json()["error_type"] == "authentication_error"


def test_the_right_key_passes_and_health_and_docs_are_open(guarded: httpx.Client) -> None:
    answer = guarded.post("/rerank", json={"query": "fruit", "texts": DOCS}, headers={"authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200
    assert guarded.get("/health").status_code == 200 and guarded.get("/openapi.json").status_code == 200
    assert guarded.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
