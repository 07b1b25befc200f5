"""Clients none of us wrote, against `serve` over the tiny GGUF model (random weights, real Qwen3
architecture and tokenizer): the Cohere SDK (v2), `rerankers`' API ranker speaking TEI and Jina,
and plain httpx. Their scores must be those of `local-rerank rank` on the same model, to the bit
(one request alone goes to the backend as `rank`'s call does; JSON carries floats exactly).

And the server under load with that model: 32 clients at once, each answer equal to the same
request sent alone; and a `local-rerank serve` process stopped by SIGTERM while requests are in flight.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from local_rerank.cli import main
from local_rerank.loading import open_reranker
from local_rerank.scoring_queue import ScoringQueue
from local_rerank.serve.app import create_app
from local_rerank.settings import resolve_settings
from tests.serve.servers import running, serve_process

pytestmark = pytest.mark.slow

QUERY = "how do I copy a folder with all its files?"
DOCS = ["Use cp -r to copy a directory and everything inside it.", "Bananas grow in clusters.",
        "rsync -a keeps permissions while copying.", "The museum opens at nine.", "shutil.copytree copies a tree."]
INSTRUCTION = "Given a shell question, retrieve the commands that answer it"
KEY = "client-test-key"
CLIENTS = 32
ROUNDS = 2
ATOL_PACKED = 4e-3  # half of Q8_0's own error against float32; 2.5e-3 was seen once (see below)


@pytest.fixture(scope="module")
def model(gguf_files: dict[tuple[str, str], Path]) -> Path:
    return gguf_files["tied", "q8_0"]


@pytest.fixture(scope="module")
def url(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = resolve_settings({"model": str(model), "device": "cpu"},
                                config_file=tmp_path_factory.mktemp("c") / "none")
    with open_reranker(model, settings) as reranker, ScoringQueue(reranker) as queue:
        with running(create_app(queue, api_key=KEY)) as base:
            yield base


def _rank_cli(model: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[tuple[int, float]]:
    """`local-rerank rank --json` on the model: (index, score) best first."""
    capsys.readouterr()
    main(["rank", "--model", str(model), "--device", "cpu", "--query", QUERY, "--json", *extra, *DOCS])
    return [(r["index"], r["relevance_score"]) for r in json.loads(capsys.readouterr().out)["results"]]


def test_cohere_sdk(url: str, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohere = pytest.importorskip("cohere")
    client = cohere.ClientV2(api_key=KEY, base_url=url)
    answer = client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCS, top_n=3)
    assert [(r.index, r.relevance_score) for r in answer.results] == _rank_cli(model, capsys)[:3]
    assert answer.meta.tokens.input_tokens > 0 and answer.id


def test_cohere_sdk_sees_a_wrong_key(url: str) -> None:
    cohere = pytest.importorskip("cohere")
    with pytest.raises(cohere.errors.UnauthorizedError):
        cohere.ClientV2(api_key="wrong", base_url=url).rerank(model="m", query=QUERY, documents=DOCS)


@pytest.mark.parametrize("provider, path", [("text-embeddings-inference", "/rerank"), ("jina", "/v1/rerank")])
def test_rerankers_api_ranker(url: str, model: Path, capsys: pytest.CaptureFixture[str], provider: str,
                              path: str) -> None:
    rerankers = pytest.importorskip("rerankers")
    ranker = rerankers.Reranker("qwen3-reranker", model_type=provider, api_key=KEY, url=url + path, verbose=0)
    ranked = ranker.rank(QUERY, DOCS)
    assert [(r.document.doc_id, r.score) for r in ranked.results] == _rank_cli(model, capsys)


def test_plain_httpx_with_an_instruction(url: str, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answer = httpx.post(f"{url}/v1/rerank", headers={"authorization": f"Bearer {KEY}"}, json={
        "query": QUERY, "documents": DOCS, "instruction": INSTRUCTION, "return_documents": True}).json()
    expected = _rank_cli(model, capsys, "--instruction", INSTRUCTION)
    assert [(r["index"], r["relevance_score"]) for r in answer["results"]] == expected
    assert [r["document"]["text"] for r in answer["results"]] == [DOCS[i] for i, _ in expected]


def _request(number: int) -> dict[str, object]:
    return {"query": f"{QUERY} ({number})", "texts": DOCS[number % 5:] + DOCS[:number % 3]}


def _scores(answer: list[dict[str, float]]) -> list[float]:
    return [r["score"] for r in sorted(answer, key=lambda r: r["index"])]


def test_32_clients_at_once(url: str) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    alone = {n: _scores(httpx.post(f"{url}/rerank", json=_request(n), headers=headers).json()) for n in range(CLIENTS)}
    answers: dict[int, list[list[float]]] = {n: [] for n in range(CLIENTS)}

    def client(number: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            for _ in range(ROUNDS):
                answers[number].append(_scores(http.post("/rerank", json=_request(number)).raise_for_status().json()))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    for number in range(CLIENTS):
        assert len(answers[number]) == ROUNDS
        # Packed with other requests, a prompt is decoded in a larger llama.cpp batch (attention over more
        # KV cells, other kernel tiles): usually under 3.5e-4 apart on this model, 2.5e-3 once when the
        # packs fell differently under load, against the 8e-3 that Q8_0 itself is from the float32 reference.
        np.testing.assert_allclose(answers[number], [alone[number]] * ROUNDS, rtol=0, atol=ATOL_PACKED)


def test_sigterm_finishes_the_requests_in_flight_and_exits_0(model: Path) -> None:
    with serve_process(model, "--device", "cpu") as (process, base):
        answers: list[httpx.Response] = []
        sent = threading.Barrier(9)

        def client(number: int) -> None:
            sent.wait()
            heavy = {"query": f"{QUERY} ({number})", "texts": DOCS * 4}  # ~0.3 s each with the tiny model on 2 cores
            answers.append(httpx.post(f"{base}/rerank", json=heavy, timeout=120))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        sent.wait()
        _wait_for_pending(base, 8, answered=lambda: len(answers))  # all 8 arrived: waiting, scored or answered
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(120)
        assert process.wait(60) == 0
    assert [answer.status_code for answer in answers] == [200] * 8
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health")


def _wait_for_pending(base: str, count: int, answered: Callable[[], int] = lambda: 0) -> None:
    """Wait (a bounded while) until ``count`` requests are waiting, being scored or ``answered``."""
    for _ in range(2000):
        if httpx.get(f"{base}/health").json()["pending"] + answered() >= count:
            return
    raise AssertionError(f"{count} requests never reached the server")
