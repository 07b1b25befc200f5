"""Host and Origin: what a web page in the user's browser can and cannot reach (real requests to a real
uvicorn on 127.0.0.1; a DNS-rebinding page arrives at 127.0.0.1 with its own name in Host)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from local_rerank.errors import InputError
from local_rerank.reranker import Reranker
from local_rerank.scoring_queue import ScoringQueue
from local_rerank.serve.app import create_app
from local_rerank.serve.guard import allowed_host, normalize_origin, split_authority
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import WordCountBackend
from tests.serve.servers import running

KEY = "s3cret-key"
APP_ORIGIN = "https://app.example"
BODY = {"query": "apple", "documents": ["a pear", "apple pie"]}


@pytest.fixture(scope="module")
def reranker(tokenizer: Tokenizer) -> Reranker:
    return Reranker(WordCountBackend(tokenizer, "apple"), max_length=256)


@pytest.fixture(scope="module")
def plain(reranker: Reranker) -> Iterator[tuple[httpx.Client, int]]:
    with ScoringQueue(reranker) as queue, running(create_app(queue, allowed_hosts=["reranker.lan"])) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            yield client, int(base.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def cors(reranker: Reranker) -> Iterator[httpx.Client]:
    with ScoringQueue(reranker) as queue, running(create_app(queue, api_key=KEY, cors_origins=[APP_ORIGIN])) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            yield client


def test_authorities_split_into_host_and_port() -> None:
    assert split_authority("LocalHost:8080") == ("localhost", 8080)
    assert split_authority("[::1]:80") == ("[::1]", 80)
    assert split_authority("[::1]") == ("[::1]", None)
    assert split_authority("example.com.") == ("example.com", None)
    for odd in ("localhost:\u00b2", "localhost:+80", "localhost:", "a:b:c", "[::1", "localhost:123456", ""):
        assert split_authority(odd) == ("", -1), odd  # names no server


def test_an_allowed_host_that_names_nothing_is_refused_in_one_line() -> None:
    assert allowed_host("Reranker.LAN:9000") == ("reranker.lan", 9000)
    for bad in ("a:b", "", "host:99999999", "http://host"):
        with pytest.raises(InputError, match="--allowed-host"):
            allowed_host(bad)


def test_origins_are_compared_as_browsers_send_them() -> None:
    assert normalize_origin("HTTPS://App.Example:443/") == "https://app.example"
    assert normalize_origin("http://app.example:8080") == "http://app.example:8080"
    for bad in ("null", "app.example", "ftp://app.example", "https://app.example/path", "https://:443"):
        with pytest.raises(InputError, match="--cors-origin"):
            normalize_origin(bad)


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json", "/v1/models"])
def test_a_host_that_is_not_this_server_is_refused_on_every_path(plain, path: str) -> None:
    client, port = plain
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1:{port + 1}", f"reranker.lan.evil:{port}",
                 f"localhost:+{port}", "localhost:", f"localhost:{port}:{port}"):
        answer = client.get(path, headers={"host": host})
        assert answer.status_code == 403, host
        body = answer.json()
        assert (body["error_type"] == "forbidden_host" and "--allowed-host" in body["error"]
                and "\n" not in body["error"])
    rerank = client.post("/v1/rerank", json=BODY, headers={"host": f"attacker.example:{port}"})
    assert rerank.status_code == 403


def test_this_servers_names_and_the_allowed_ones_pass(plain) -> None:
    client, port = plain
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}",
                 f"reranker.lan:{port}"):
        assert client.get("/health", headers={"host": host}).status_code == 200, host
    assert client.post("/v1/rerank", json=BODY, headers={"host": f"localhost:{port}"}).status_code == 200


def test_a_web_page_is_refused_unless_it_is_this_servers_own(plain) -> None:
    client, port = plain
    for origin in ("https://attacker.example", "null", f"http://attacker.example:{port}", f"https://127.0.0.1:{port}"):
        answer = client.post("/v1/rerank", json=BODY, headers={"origin": origin})
        assert answer.status_code == 403, origin
        assert answer.json()["error_type"] == "forbidden_origin" and "--cors-origin" in answer.json()["error"]
    assert client.get("/health", headers={"origin": "https://attacker.example"}).status_code == 403
    own = client.post("/v1/rerank", json=BODY, headers={"origin": f"http://127.0.0.1:{port}"})  # the /docs page
    assert own.status_code == 200 and "access-control-allow-origin" not in own.headers


def test_an_allowed_origin_gets_a_proper_preflight_and_still_needs_the_key(cors: httpx.Client) -> None:
    preflight = cors.options("/v1/rerank", headers={
        "origin": APP_ORIGIN, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                 preflight.headers["access-control-allow-headers"].split(",")}
    without_key = cors.post("/v1/rerank", json=BODY, headers={"origin": APP_ORIGIN})
    assert without_key.status_code == 401
    answer = cors.post("/v1/rerank", json=BODY, headers={"origin": APP_ORIGIN, "authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == APP_ORIGIN
    other = cors.options("/v1/rerank", headers={"origin": "https://attacker.example",
                                                "access-control-request-method": "POST"})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
