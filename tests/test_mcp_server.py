"""`local-rerank mcp FOLDER`: the tools' work over a small folder (a fake reranker, a real Reranker over a
real Backend subclass), then a client from the official SDK that starts the server as a subprocess
over stdio, lists its tools, searches and reads a file (BM25 here; the tiny GGUF model when slow)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from local_rerank.errors import InputError  # noqa: E402
from local_rerank.mcp_server import MAX_GET_CHARS, MAX_GET_LINES, MAX_QUERY_CHARS, MAX_RESULTS, FolderTools
from local_rerank.search import FolderIndex, SearchSession
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import slow_reranker, word_count_reranker


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "lease.md").write_text("# Lease\n\nThe lease of the harbour flat ends in March.\n")
    (root / "sub" / "boats.txt").write_text("The harbour crane lifts boats.\nCrane crane crane.\n")
    (root / "recipes.txt").write_text("".join(f"line {n} of a long soup recipe\n" for n in range(1, 801)))
    (root / ".hidden.txt").write_text("harbour secrets\n")
    (tmp_path / "outside.txt").write_text("harbour outside\n")
    return root


@pytest.fixture
def tools(folder: Path, tokenizer: Tokenizer) -> Iterator[FolderTools]:
    reranker = word_count_reranker(tokenizer, "crane")
    index = FolderIndex.open(folder)
    with SearchSession(index, lambda: reranker, candidates=8) as session:
        tools = FolderTools(index, session, model=Path("fake.gguf"))
        tools.load_model()
        yield tools


def test_search_reranks_and_finds_files_written_since_the_last_call(tools: FolderTools, folder: Path) -> None:
    found = tools.search("harbour", top_k=5)
    assert found["reranked"] and [hit["path"] for hit in found["results"]] == ["sub/boats.txt", "lease.md"]
    assert found["results"][0]["passage"]["start_line"] == 1 and found["indexed_files"] == 3
    (folder / "new.txt").write_text("harbour crane crane crane crane crane\n")
    assert tools.search("harbour", top_k=1)["results"][0]["path"] == "new.txt"


def test_search_without_reranking_gives_the_bm25_order(tools: FolderTools) -> None:
    found = tools.search("lease harbour", rerank=False)
    assert not found["reranked"] and found["results"][0]["path"] == "lease.md"
    assert found["results"][0]["bm25_rank"] == 1 and found["results"][0]["score"] > 0


def test_search_can_read_whole_files(tools: FolderTools, folder: Path) -> None:
    (folder / "manual.md").write_text("# Intro\n\n" + "harbour " * 12 + "\n\n# Lifting\n\n" + "crane " * 9 + "\n")
    # manual.md's best passage: no crane
    assert tools.search("harbour", top_k=1)["results"][0]["path"] == "sub/boats.txt"
    assert tools.search("harbour", top_k=1, unit="document")["results"][0]["path"] == "manual.md"


@pytest.mark.parametrize("query, top_k", [("", 10), ("   ", 10), ("?!", 10), ("harbour", 0)])
def test_search_refuses_bad_arguments(tools: FolderTools, query: str, top_k: int) -> None:
    with pytest.raises(InputError):
        tools.search(query, top_k=top_k)


@pytest.mark.parametrize("query, top_k, instruction", [
    ("harbour", 1_000_000, None), ("harbour", MAX_RESULTS + 1, None), ("harbour " * MAX_QUERY_CHARS, 10, None),
    ("harbour", 10, "x" * (MAX_QUERY_CHARS + 1))])
def test_search_refuses_a_huge_query_or_a_million_results_in_one_line(tools: FolderTools, query: str, top_k: int,
                                                                      instruction: str | None) -> None:
    with pytest.raises(InputError) as refused:
        tools.search(query, top_k=top_k, instruction=instruction)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 200


def test_a_search_past_its_time_returns_the_order_reached(folder: Path, tokenizer: Tokenizer) -> None:
    """A slow model (0.3 s a batch, as native code would take) and a 0.2 s budget: the call ends early."""
    for n in range(6):
        (folder / f"harbour-{n}.txt").write_text(f"harbour note {n}\n" + "crane " * n + "\n")
    index = FolderIndex.open(folder)
    with SearchSession(index, lambda: slow_reranker(tokenizer, "crane", seconds=0.3), candidates=8) as session:
        tools = FolderTools(index, session, model=Path("slow.gguf"), search_seconds=0.2)
        tools.load_model()
        started = time.monotonic()
        found = tools.search("harbour", top_k=8)
        assert time.monotonic() - started < 3  # unbounded, the 8 candidates take 4 batches of 0.3 s or more
        assert not found["complete"] and not found["reranked"]
        assert len(found["results"]) == 8  # every candidate, the scored ones first
        assert 1 <= found["reranked_results"] < 8
        assert all(0 <= hit["score"] <= 1 for hit in found["results"][:found["reranked_results"]])
        assert tools.search("harbour", top_k=8, rerank=False)["complete"]


def test_get_cuts_a_file_of_huge_lines_at_a_whole_line(tools: FolderTools, folder: Path) -> None:
    line = "harbour " * 5_000  # 40,000 characters: two fit in a call, not three
    (folder / "wide.txt").write_text((line + "\n") * 5 + "x" * (MAX_GET_CHARS + 10) + "\n")
    first = tools.get("wide.txt")
    assert first["truncated"] and first["end_line"] == 2 and first["text"] == f"{line}\n{line}"
    assert tools.get("wide.txt", first["end_line"] + 1)["end_line"] == 4  # the agent reads on from there
    huge = tools.get("wide.txt", 6)
    assert huge["truncated"] and huge["end_line"] == 6 and len(huge["text"]) == MAX_GET_CHARS
    assert not tools.get("lease.md")["truncated"]


def test_get_reads_a_line_range_capped_in_length(tools: FolderTools) -> None:
    assert tools.get("sub/boats.txt", 2, 2) == {"path": "sub/boats.txt", "start_line": 2, "end_line": 2,
                                                "total_lines": 2, "text": "Crane crane crane.", "truncated": False}
    whole = tools.get("recipes.txt")
    assert whole["end_line"] == MAX_GET_LINES and whole["total_lines"] == 800
    assert whole["text"].splitlines()[-1] == f"line {MAX_GET_LINES} of a long soup recipe"
    assert tools.get("recipes.txt", 790, 900)["text"].splitlines() == [f"line {n} of a long soup recipe"
                                                                        for n in range(790, 801)]


@pytest.mark.parametrize("path", ["../outside.txt", ".hidden.txt", "/etc/passwd", "missing.txt", "sub",
                                  "sub/../lease.md"])
def test_get_reads_only_indexed_files(tools: FolderTools, path: str) -> None:
    with pytest.raises(InputError, match="not an indexed file"):
        tools.get(path)


def test_get_refuses_an_empty_range(tools: FolderTools) -> None:
    with pytest.raises(InputError, match="empty"):
        tools.get("lease.md", 5, 2)
    with pytest.raises(InputError, match=r"line 3 is past the end of sub/boats.txt \(2 lines\)"):
        tools.get("sub/boats.txt", 3)
    assert tools.get("sub/boats.txt", 2, 50)["text"] == "Crane crane crane."  # an end past the last line is cut


def test_status_describes_the_index_and_the_model(tools: FolderTools, folder: Path) -> None:
    status = tools.status()
    assert status["folder"] == str(folder.resolve()) and status["files"] == 3 and status["passages"] >= 3
    assert status["model"] == "fake-crane" and status["device"] == "cpu" and status["reranking"] == "ready"


def _tool_result(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


async def _session_run(folder: Path, *arguments: str) -> dict[str, Any]:
    """Start `local-rerank mcp FOLDER ARGUMENTS` with the SDK's stdio client; list tools, search, get, status."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    server = StdioServerParameters(command=sys.executable, args=["-m", "local_rerank", "mcp", str(folder), *arguments],
                                   env={key: value for key, value in os.environ.items()
                                        if key.startswith(("LOCAL_RERANK", "PYTHON"))})
    with open(os.devnull, "w") as quiet:
        async with stdio_client(server, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = {tool.name: tool for tool in (await session.list_tools()).tools}
            tools = sorted(listed)
            found = _tool_result(await session.call_tool("search", {"query": "harbour crane", "top_k": 2}))
            lines = _tool_result(await session.call_tool("get", {"path": "sub/boats.txt", "start_line": 2}))
            status = _tool_result(await session.call_tool("status", {}))
            refused = await session.call_tool("get", {"path": "../outside.txt"})
            invalid = await session.call_tool("search", {"query": "harbour", "top_k": 0})
    return {"tools": tools, "listed": listed, "search": found, "get": lines, "status": status, "refused": refused,
            "invalid": invalid}


async def test_an_sdk_client_lists_the_tools_and_searches(folder: Path) -> None:
    answers = await _session_run(folder, "--no-rerank")
    assert answers["tools"] == ["get", "search", "status"]
    search = answers["listed"]["search"]  # the limits are stated where an agent reads them
    assert search.input_schema["properties"]["top_k"]["maximum"] == MAX_RESULTS
    assert search.input_schema["properties"]["query"]["maxLength"] == MAX_QUERY_CHARS
    assert "seconds" in search.description and f"{MAX_GET_CHARS:,}" in answers["listed"]["get"].description
    assert [hit["path"] for hit in answers["search"]["results"]] == ["sub/boats.txt", "lease.md"]
    assert not answers["search"]["reranked"]
    assert answers["get"]["text"] == "Crane crane crane." and answers["get"]["start_line"] == 2
    assert answers["status"]["files"] == 3 and answers["status"]["reranking"].startswith("off")
    assert answers["refused"].is_error and "not an indexed file" in answers["refused"].content[0].text
    invalid = answers["invalid"].content[0].text
    assert answers["invalid"].is_error and "top_k" in invalid and "errors.pydantic.dev" not in invalid


@pytest.mark.slow
async def test_an_sdk_client_searches_with_the_tiny_model(folder: Path,
                                                          gguf_files: dict[tuple[str, str], Path]) -> None:
    answers = await _session_run(folder, "--model", str(gguf_files["tied", "q8_0"]), "--device", "cpu")
    assert answers["search"]["reranked"] and len(answers["search"]["results"]) == 2
    assert all(0 <= hit["score"] <= 1 for hit in answers["search"]["results"])
    assert answers["status"]["reranking"] == "ready" and answers["status"]["backend"] == "gguf"
