"""`local-rerank mcp FOLDER`: the tools' work over a small folder (a fake reranker, a real Reranker over a
real Backend subclass), then a client from the official SDK that starts the server as a subprocess
over stdio, lists its tools, searches and reads a file (BM25 here; the tiny GGUF model when slow)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("mcp")

from local_rerank.errors import InputError  # noqa: E402
from local_rerank.mcp_server import MAX_GET_LINES, FolderTools
from local_rerank.search import FolderIndex, SearchSession
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker


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
    assert tools.search("harbour", top_k=1)["results"][0]["path"] == "sub/boats.txt"  # manual.md's best passage: no crane
    assert tools.search("harbour", top_k=1, unit="document")["results"][0]["path"] == "manual.md"


@pytest.mark.parametrize("query, top_k", [("", 10), ("   ", 10), ("?!", 10), ("harbour", 0)])
def test_search_refuses_bad_arguments(tools: FolderTools, query: str, top_k: int) -> None:
    with pytest.raises(InputError):
        tools.search(query, top_k=top_k)


def test_get_reads_a_line_range_capped_in_length(tools: FolderTools) -> None:
    assert tools.get("sub/boats.txt", 2, 2) == {"path": "sub/boats.txt", "start_line": 2, "end_line": 2,
                                                "total_lines": 2, "text": "Crane crane crane."}
    whole = tools.get("recipes.txt")
    assert whole["end_line"] == MAX_GET_LINES and whole["total_lines"] == 800
    assert whole["text"].splitlines()[-1] == f"line {MAX_GET_LINES} of a long soup recipe"
    assert tools.get("recipes.txt", 790, 900)["text"].splitlines() == [f"line {n} of a long soup recipe"
                                                                        for n in range(790, 801)]


@pytest.mark.parametrize("path", ["../outside.txt", ".hidden.txt", "/etc/passwd", "missing.txt", "sub", "sub/../lease.md"])
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
                                   env={key: value for key, value in os.environ.items() if key.startswith(("LOCAL_RERANK", "PYTHON"))})
    with open(os.devnull, "w") as quiet:
        async with stdio_client(server, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = sorted(tool.name for tool in (await session.list_tools()).tools)
            found = _tool_result(await session.call_tool("search", {"query": "harbour crane", "top_k": 2}))
            lines = _tool_result(await session.call_tool("get", {"path": "sub/boats.txt", "start_line": 2}))
            status = _tool_result(await session.call_tool("status", {}))
            refused = await session.call_tool("get", {"path": "../outside.txt"})
            invalid = await session.call_tool("search", {"query": "harbour", "top_k": 0})
    return {"tools": tools, "search": found, "get": lines, "status": status, "refused": refused, "invalid": invalid}


async def test_an_sdk_client_lists_the_tools_and_searches(folder: Path) -> None:
    answers = await _session_run(folder, "--no-rerank")
    assert answers["tools"] == ["get", "search", "status"]
    assert [hit["path"] for hit in answers["search"]["results"]] == ["sub/boats.txt", "lease.md"]
    assert not answers["search"]["reranked"]
    assert answers["get"]["text"] == "Crane crane crane." and answers["get"]["start_line"] == 2
    assert answers["status"]["files"] == 3 and answers["status"]["reranking"].startswith("off")
    assert answers["refused"].is_error and "not an indexed file" in answers["refused"].content[0].text
    invalid = answers["invalid"].content[0].text
    assert answers["invalid"].is_error and "top_k" in invalid and "errors.pydantic.dev" not in invalid


@pytest.mark.slow
async def test_an_sdk_client_searches_with_the_tiny_model(folder: Path, gguf_files: dict[tuple[str, str], Path]) -> None:
    answers = await _session_run(folder, "--model", str(gguf_files["tied", "q8_0"]), "--device", "cpu")
    assert answers["search"]["reranked"] and len(answers["search"]["results"]) == 2
    assert all(0 <= hit["score"] <= 1 for hit in answers["search"]["results"])
    assert answers["status"]["reranking"] == "ready" and answers["status"]["backend"] == "gguf"
