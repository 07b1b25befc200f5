"""The server under load with fake backends (real Backend subclasses) on 127.0.0.1: many clients at
once, a full queue, clients that hang up, and who may listen where."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from local_rerank.cli import main
from local_rerank.errors import InputError
from local_rerank.reranker import Reranker
from local_rerank.scoring_queue import QueueLimits, ScoringQueue
from local_rerank.serve.app import create_app
from local_rerank.serve.guard import check_exposure
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import SlowBackend, WordCountBackend
from tests.serve.servers import running, wait_until

DOCS = ["a pear", "apple apple pie", "an apple a day", "plum", "apple"]
CLIENTS = 32
ROUNDS = 3


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def gated(tokenizer: Tokenizer, gate: threading.Event) -> Iterator[tuple[ScoringQueue, str]]:
    """A server whose fake backend waits for ``gate`` before each batch; at most 2 requests pending."""
    backend = WordCountBackend(tokenizer, "apple", gate)
    with ScoringQueue(Reranker(backend, max_length=256), QueueLimits(max_pending=2)) as queue:
        with running(create_app(queue)) as url:
            try:
                yield queue, url
            finally:
                gate.set()


def _request(number: int) -> tuple[str, list[str]]:
    return f"fruit {number}", DOCS[number % len(DOCS):] + DOCS[:number % 3]


def test_32_clients_at_once_each_get_their_own_scores(tokenizer: Tokenizer) -> None:
    reranker = Reranker(SlowBackend(tokenizer, "apple", seconds=0.01), max_length=256)
    alone = {n: reranker.score(*_request(n)) for n in range(CLIENTS)}
    answers: dict[int, list[list[float]]] = {n: [] for n in range(CLIENTS)}

    def client(url: str, number: int) -> None:
        query, documents = _request(number)
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(ROUNDS):
                answer = http.post("/rerank", json={"query": query, "texts": documents})
                answer.raise_for_status()
                answers[number].append([r["score"] for r in sorted(answer.json(), key=lambda r: r["index"])])

    with ScoringQueue(reranker) as queue, running(create_app(queue)) as url:
        threads = [threading.Thread(target=client, args=(url, n)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert all(answers[n] == [alone[n]] * ROUNDS for n in range(CLIENTS))
    assert reranker.backend.overlaps == 0  # type: ignore[attr-defined]
    assert max(queue.packs) > 1 and sum(queue.packs) == CLIENTS * ROUNDS


def test_a_full_queue_answers_503_with_retry_after(gated: tuple[ScoringQueue, str], gate: threading.Event) -> None:
    queue, url = gated
    answers: list[httpx.Response] = []
    waiting = [threading.Thread(target=lambda: answers.append(httpx.post(f"{url}/v1/rerank", timeout=30, json={
        "query": "fruit", "documents": DOCS}))) for _ in range(2)]
    for thread in waiting:
        thread.start()
    wait_until(lambda: queue.pending == 2)
    refused = httpx.post(f"{url}/v1/rerank", json={"query": "fruit", "documents": DOCS})
    assert refused.status_code == 503 and refused.json()["error_type"] == "overloaded"
    assert int(refused.headers["retry-after"]) >= 1
    gate.set()
    for thread in waiting:
        thread.join(10)
    assert [answer.status_code for answer in answers] == [200, 200]


def _post_raw(url: str, path: str, body: dict[str, object]) -> socket.socket:
    """A connection that has sent a whole request and not read the answer."""
    where = urlsplit(url)
    connection = socket.create_connection((where.hostname, where.port))
    data = json.dumps(body).encode()
    connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return connection


def test_clients_that_hang_up_are_dropped_and_the_server_stays_healthy(
        gated: tuple[ScoringQueue, str], gate: threading.Event) -> None:
    queue, url = gated
    backend: WordCountBackend = queue.reranker.backend  # type: ignore[assignment]
    scoring = _post_raw(url, "/v1/rerank", {"query": "fruit", "documents": DOCS[:1]})
    wait_until(lambda: queue.in_flight == 1)
    waiting = _post_raw(url, "/v1/rerank", {"query": "fruit", "documents": DOCS[:3]})
    wait_until(lambda: queue.pending == 2)
    waiting.close()
    wait_until(lambda: queue.pending == 1)  # withdrawn before it was scored
    scoring.close()  # being scored: withdrawn too, stopped before its next batch
    wait_until(lambda: queue.pending == 0)
    gate.set()
    wait_until(lambda: queue.in_flight == 0)
    assert backend.batches in ([], [1]), "at most its one batch, if it had begun; never the withdrawn 3 documents"
    healthy = httpx.get(f"{url}/health")
    assert healthy.json() == {"status": "ok", "pending": 0}
    answer = httpx.post(f"{url}/rerank", json={"query": "fruit", "texts": DOCS})
    assert sorted(r["score"] for r in answer.json()) == sorted(queue.reranker.score("fruit", DOCS))


def test_a_client_that_hangs_up_mid_scoring_stops_its_request_after_the_batch_in_flight(
        gated: tuple[ScoringQueue, str], gate: threading.Event) -> None:
    queue, url = gated
    backend: WordCountBackend = queue.reranker.backend  # type: ignore[assignment]
    backend.max_batch_sequences = 1  # one document per batch: three batches for this request
    scoring = _post_raw(url, "/v1/rerank", {"query": "fruit", "documents": DOCS[:3]})
    wait_until(lambda: queue.in_flight == 1)
    scoring.close()
    wait_until(lambda: queue.pending == 0)  # withdrawn while being scored
    gate.set()
    wait_until(lambda: queue.in_flight == 0)
    assert len(backend.batches) <= 1, "the batches after the one in flight were never run"
    answer = httpx.post(f"{url}/v1/rerank", json={"query": "fruit", "documents": DOCS[:2]})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost"])
def test_loopback_needs_no_key(host: str) -> None:
    check_exposure(host, None)


@pytest.mark.parametrize("host, key", [("0.0.0.0", None), ("::", None), ("192.168.1.4", None), ("myhost", None),
                                       ("0.0.0.0", " ")])
def test_other_hosts_need_a_key(host: str, key: str | None) -> None:
    with pytest.raises(InputError):
        check_exposure(host, key)


def test_serve_refuses_an_open_host_without_a_key_in_one_line(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_RERANK_API_KEY", raising=False)
    with pytest.raises(SystemExit) as ended:
        main(["serve", "--host", "0.0.0.0", "--model", "no-such-model"])
    error = capsys.readouterr().err
    assert ended.value.code == 1 and error.count("\n") == 1 and "--api-key" in error
