"""``local-rerank mcp``: folder search for coding agents over the Model Context Protocol.

Its protocol libraries (the ``mcp`` extra) are imported only when it runs.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import click

from local_rerank.cli.common import missing_extra
from local_rerank.cli.model_options import search_model_options
from local_rerank.loading import open_reranker, search_model
from local_rerank.search import FolderIndex, SearchSession
from local_rerank.settings import resolve_settings
from local_rerank.text import printable


@click.command("mcp")
@click.argument("folder", type=click.Path(path_type=Path))
@search_model_options
def mcp(folder: Path, model_path: str | None, instruction: str | None, candidates: int | None,
        no_rerank: bool, device: str | None, threads: int | None) -> None:
    """Serve folder search to coding agents over the Model Context Protocol (stdio).

    Tools: search (query, top_k, instruction, rerank), get (path, line range), status. The index
    is updated at every call. Register it with an agent as the command `local-rerank mcp FOLDER`.
    """
    try:
        from local_rerank.mcp_server import FolderTools, create_mcp_server
    except ImportError as e:
        raise missing_extra("mcp", "mcp", e) from e
    os.environ.setdefault("PYDANTIC_ERRORS_INCLUDE_URL", "0")  # an agent reads the error, not a link to pydantic's docs
    settings = resolve_settings({"model": model_path, "device": device, "threads": threads})
    index = FolderIndex.open(folder)
    model = None if no_rerank else search_model(settings)
    loader = (lambda: open_reranker(model, settings)) if model is not None else None
    with SearchSession(index, loader, candidates=candidates) as session:
        tools = FolderTools(index, session, instruction, model)
        threading.Thread(target=tools.load_model, name="load-model", daemon=True).start()
        server = create_mcp_server(tools)
        click.echo(printable(f"local-rerank mcp: searching {index.folder}"), err=True)
        server.run("stdio")
