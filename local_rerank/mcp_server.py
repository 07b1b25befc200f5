"""``local-rerank mcp FOLDER``: folder search for coding agents, over the Model Context Protocol (stdio).

Three tools: ``search`` (BM25 candidates reranked by the model, or BM25 alone), ``get`` (lines of
an indexed file) and ``status`` (index size, model, device). The index is brought up to date
incrementally at every call, so files an agent has just written are found. :class:`FolderTools`
does the work and knows nothing of MCP; :func:`create_mcp_server` puts it behind the official
SDK (the ``mcp`` extra), imported only there. Tool calls run one at a time, each in a worker
thread; stdout belongs to the protocol, so nothing else is ever printed there.
Needs pydantic (the tools' argument schemas) and the SDK: ``pip install 'local-rerank[mcp]'``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from local_rerank.errors import InputError, LocalRerankError
from local_rerank.search import FolderIndex, IndexReport, SearchCancelled, SearchFinished, SearchSession
from local_rerank.search.blocks import NotIndexable
from local_rerank.search.export import hit_record
from local_rerank.search.extract import counts_extracted_lines
from local_rerank.search.packing import Unit

if TYPE_CHECKING:
    from mcp.server import MCPServer

# What one tool call may ask for and take (stated in the tools' descriptions): an agent's mistake costs a
# line of error or a bounded answer, never a stalled server or a reply larger than its context.
MAX_GET_LINES = 500
MAX_GET_CHARS = 100_000  # of text per `get`; longer lines are cut, and the answer says so
MAX_RESULTS = 100  # files per `search`
MAX_QUERY_CHARS = 2_000  # the query, and the instruction
SEARCH_SECONDS = 60.0  # reranking stops after this; the order reached so far is returned


class FolderTools:
    """Search, read and describe ``index`` through ``session`` (which searches it and owns the model).

    ``instruction`` is the default task instruction; ``model`` the model file (None: BM25 only).
    """

    def __init__(self, index: FolderIndex, session: SearchSession, instruction: str | None = None,
                 model: Path | None = None, search_seconds: float = SEARCH_SECONDS) -> None:
        self.index = index
        self.session = session
        self.instruction = instruction
        self.model = model
        self.search_seconds = search_seconds
        self.model_error: str | None = None
        self._one_at_a_time = threading.Lock()

    def load_model(self) -> None:
        """Open the model (call it from a thread: searches wait for it); a failure leaves BM25 search."""
        try:
            self.session.load_model()
        except LocalRerankError as e:
            self.model_error = str(e)

    def search(self, query: str, top_k: int = 10, instruction: str | None = None, rerank: bool = True,
               unit: Unit = "passage") -> dict[str, Any]:
        """The ``top_k`` best files for ``query``, best first, each with its best passage (``unit``
        "document": each file reranked on its best passages packed together). Reranking that runs
        past ``search_seconds`` stops at its next batch: the answer then has ``"complete": false``
        and the order reached (files not yet scored after the scored ones, in BM25 order).

        Raises:
            InputError: an empty query, one without words, a query or instruction over
                :data:`MAX_QUERY_CHARS`, or ``top_k`` out of range.
        """
        if not 1 <= top_k <= MAX_RESULTS:
            raise InputError(f"top_k must be between 1 and {MAX_RESULTS}, got {top_k}")
        for name, text in (("query", query), ("instruction", instruction or "")):
            if len(text) > MAX_QUERY_CHARS:
                raise InputError(f"the {name} is {len(text)} characters long; at most {MAX_QUERY_CHARS}")
        with self._one_at_a_time:
            report = self.index.update()
            search = self.session.search(query, instruction or self.instruction, top_k=top_k, rerank=rerank, unit=unit)
            final = _last_event(search, time.monotonic() + self.search_seconds)
        hits = final.hits[:top_k]
        return {"results": [hit_record(hit) for hit in hits],
                "reranked": isinstance(final, SearchFinished) and final.reranked,
                "complete": isinstance(final, SearchFinished),
                "reranked_results": sum(hit.score is not None for hit in hits), "indexed_files": report.files}

    def get(self, path: str, start_line: int = 1, end_line: int | None = None) -> dict[str, Any]:
        """Lines ``start_line`` to ``end_line`` (1-based, inclusive; at most :data:`MAX_GET_LINES`) of an
        indexed file; for a PDF, the extracted passages over those lines.

        Raises:
            InputError: the path is not an indexed file of the folder, the range is empty, or it
                starts past the file's last line.
        """
        end_line = start_line + MAX_GET_LINES - 1 if end_line is None else end_line
        if start_line < 1 or end_line < start_line:
            raise InputError(f"the line range {start_line}-{end_line} is empty (lines count from 1)")
        end_line = min(end_line, start_line + MAX_GET_LINES - 1)
        with self._one_at_a_time:
            self.index.update()
            kind = self._indexed_kind(path)
            if counts_extracted_lines(kind):
                return self._pdf_passages(path, start_line, end_line)
            lines = self._read_lines(path)
        if start_line > max(len(lines), 1):  # an empty file still answers its line 1, with no text
            raise InputError(f"line {start_line} is past the end of {path} ({len(lines)} lines)")
        shown, truncated = _within(lines[start_line - 1:end_line], MAX_GET_CHARS)
        return {"path": path, "start_line": start_line, "end_line": start_line + len(shown) - 1,
                "total_lines": len(lines), "text": "\n".join(shown), "truncated": truncated}

    def status(self) -> dict[str, Any]:
        """The folder, what its index holds, and the model that reranks (or why none does)."""
        with self._one_at_a_time:
            report = self.index.update()
        return {"folder": str(self.index.folder), **_index_summary(report), **self._model_summary()}

    def _indexed_kind(self, path: str) -> str:
        kind = self.index.file_kind(path)
        if kind is None:
            raise InputError(f"{path!r} is not an indexed file of {self.index.folder} (give the path that search "
                             "returned, relative to the folder)")
        return kind

    def _read_lines(self, path: str) -> list[str]:
        try:
            return self.index.read_lines(path)
        except (OSError, NotIndexable, LocalRerankError) as e:
            raise InputError(f"cannot read {path!r}: {e}") from e

    def _pdf_passages(self, path: str, start_line: int, end_line: int) -> dict[str, Any]:
        passages = [{"text": passage.text, "start_line": passage.start_line, "end_line": passage.end_line,
                     "page": passage.page} for passage in self.index.passages_within(path, start_line, end_line)]
        return {"path": path, "start_line": start_line, "end_line": end_line, "passages": passages}

    def _model_summary(self) -> dict[str, Any]:
        reranker = self.session.reranker
        if reranker is not None:
            info = reranker.info
            return {"model": info.model, "model_file": str(self.model), "backend": info.backend,
                    "device": info.device, "reranking": "ready"}
        if self.model is None:
            state = "off (no model; BM25 order)"
        elif self.model_error is not None:
            state = f"failed ({self.model_error}); BM25 order"
        else:
            state = "loading" if not self.session.settled.is_set() else "closed"
        return {"model": None, "model_file": str(self.model) if self.model else None, "reranking": state}


def _within(lines: list[str], limit: int) -> tuple[list[str], bool]:
    """The first lines whose text (joined by newlines) fits in ``limit`` characters, and whether any
    was left out; a first line longer than the limit alone is cut to it (pure)."""
    size = 0
    for count, line in enumerate(lines):
        size += len(line) + (count > 0)
        if size > limit:
            return (lines[:count], True) if count else ([line[:limit]], True)
    return lines, False


def _last_event(search: Any, deadline: float) -> SearchFinished | SearchCancelled:
    """Drain the search's events; past ``deadline`` cancel it (it stops before its next batch)."""
    final = None
    for event in search:
        final = event
        if time.monotonic() > deadline:
            search.cancel()
    if not isinstance(final, (SearchFinished, SearchCancelled)):
        raise LocalRerankError("the search ended without results")
    return final


def _index_summary(report: IndexReport) -> dict[str, Any]:
    return {"files": report.files, "passages": report.passages, "skipped": report.skipped,
            "index_seconds": round(report.seconds, 3)}


def create_mcp_server(tools: FolderTools) -> MCPServer:
    """The MCP server exposing ``tools`` as ``search``, ``get`` and ``status``."""
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("local-rerank", instructions=(
        f"Searches the files of {tools.index.folder} by meaning: `search` ranks files for a question (BM25 "
        "candidates reranked by a local Qwen3-Reranker), `get` reads lines of a file it found, `status` says "
        "what is indexed and which model reranks."))

    async def run(work: Any, *args: Any) -> dict[str, Any]:
        try:
            return await anyio.to_thread.run_sync(work, *args)
        except LocalRerankError as e:
            raise ToolError(str(e)) from e

    @server.tool(description=(
        "Rank the folder's files for a query, best first, each with its best passage and line range. `score` is "
        "p(relevant) when reranked, the BM25 score otherwise. Reranking stops after "
        f"{SEARCH_SECONDS:.0f} seconds: then `complete` is false, the first `reranked_results` files are "
        "reranked and the rest follow in BM25 order."))
    async def search(query: Annotated[str, Field(max_length=MAX_QUERY_CHARS, description="What you are looking for, "
                                                 f"in words (at most {MAX_QUERY_CHARS} characters).")],
                     top_k: Annotated[int, Field(ge=1, le=MAX_RESULTS, description="How many files "
                                                 f"(at most {MAX_RESULTS}).")] = 10,
                     instruction: Annotated[str | None, Field(max_length=MAX_QUERY_CHARS,
                                                              description="Task instruction for the reranker "
                                                              "(default: the server's).")] = None,
                     rerank: Annotated[bool, Field(description="False: the BM25 (keyword) order only.")] = True,
                     unit: Annotated[Unit, Field(description="What the reranker reads of a file: `passage`, its "
                                                 "best passage; `document`, its best passages packed together "
                                                 "(slower, better for long files).")] = "passage",
                     ) -> dict[str, Any]:
        return await run(tools.search, query, top_k, instruction, rerank, unit)

    @server.tool(description=(
        "Read lines of an indexed file of the folder (a PDF gives its extracted passages): at most "
        f"{MAX_GET_LINES} lines and {MAX_GET_CHARS:,} characters a call (`truncated`: the text stops before "
        "`end_line`'s end, whole lines kept where one fits; ask again from the next line); paths outside the "
        "folder or not indexed are refused."))
    async def get(path: Annotated[str, Field(max_length=4096, description="A file path as `search` returned it.")],
                  start_line: Annotated[int, Field(ge=1, description="First line, from 1.")] = 1,
                  end_line: Annotated[int | None, Field(ge=1, description="Last line, inclusive "
                                                        f"(default and cap: {MAX_GET_LINES} lines).")] = None,
                  ) -> dict[str, Any]:
        return await run(tools.get, path, start_line, end_line)

    @server.tool()
    async def status() -> dict[str, Any]:
        """The folder, how many files and passages are indexed, and the reranking model and device."""
        return await run(tools.status)

    return server
