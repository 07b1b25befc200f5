"""``local-rerank serve`` (the HTTP rerank API) and ``local-rerank mcp`` (folder search for agents).

Both import their web and protocol libraries only when run, so ``local-rerank --help`` and the
other commands never load them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import ModuleType

import click

from local_rerank.backends import BACKENDS
from local_rerank.errors import InputError, LocalRerankError
from local_rerank.loading import open_reranker, search_model
from local_rerank.recipe import DEFAULT_MAX_LENGTH, MAX_MAX_LENGTH, MIN_MAX_LENGTH
from local_rerank.scoring_queue import QueueLimits, ScoringQueue
from local_rerank.search_cli import model_options
from local_rerank.settings import MAX_THREADS, default_config_path, resolve_settings
from local_rerank.store import resolve_model, store_dir
from local_rerank.text import printable

_LIMITS = QueueLimits()


@click.command("serve")
@click.option("--model", "model_path",
              help="A GGUF file, an ONNX or OpenVINO export folder, or an installed model's name (default: the `model` setting).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where to listen; anything but a loopback address needs --api-key.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0: any free port.")
@click.option("--api-key", envvar="LOCAL_RERANK_API_KEY", show_envvar=True,
              help="Require `Authorization: Bearer KEY` (prefer the environment variable: arguments are visible "
                   "to other users).")
@click.option("--max-length", type=click.IntRange(MIN_MAX_LENGTH, MAX_MAX_LENGTH),
              help=f"Token budget per prompt (default {DEFAULT_MAX_LENGTH}); longer documents are cut at the end.")
@click.option("--backend", type=click.Choice(BACKENDS), help="Override the backend chosen from the file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run (default: auto).")
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), help="CPU threads (default: all available cores).")
@click.option("--queue-size", type=click.IntRange(1, 100_000), default=_LIMITS.max_pending, show_default=True,
              help="Requests waiting or being scored before new ones get 503.")
@click.option("--max-documents", type=click.IntRange(1, 1_000_000), default=_LIMITS.max_documents,
              show_default=True, help="Documents per request (more: 413).")
@click.option("--max-request-tokens", type=click.IntRange(1, 2**31), default=_LIMITS.max_tokens, show_default=True,
              help="Prompt tokens per request, after truncation (more: 413).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME[:PORT]",
              help="Another name clients may send in Host (repeatable); by default only the address listened on, "
                   "and localhost on a loopback one.")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="A web origin (https://app.example) whose pages may call the API (repeatable); other pages are "
                   "refused.")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
def serve_command(model_path: str | None, host: str, port: int, api_key: str | None, max_length: int | None,
                  backend: str | None, device: str | None, threads: int | None, queue_size: int, max_documents: int,
                  max_request_tokens: int, allowed_hosts: tuple[str, ...], cors_origins: tuple[str, ...],
                  access_log: bool) -> None:
    """Serve the model over HTTP: POST /v1/rerank (Jina, llama-server), /v2/rerank (Cohere), /rerank (TEI).

    Also GET /health, GET /v1/models and the OpenAPI docs at /docs. Requests from many clients are
    queued and scored together; SIGTERM or Ctrl-C finishes the requests in flight, then exits.
    """
    from local_rerank.serve.guard import allowed_host, check_exposure, normalize_origin

    check_exposure(host, api_key)
    for name in allowed_hosts:  # refused in one line now, not after the model has loaded
        allowed_host(name)
    for origin in cors_origins:
        normalize_origin(origin)
    settings = resolve_settings({"model": model_path, "backend": backend, "device": device, "threads": threads,
                                 "max_length": max_length})
    if settings.model is None:
        raise InputError(f"no model: pass --model, set LOCAL_RERANK_MODEL, or set model in {default_config_path()}")
    model = resolve_model(settings.model, store_dir())
    app_module, runner = _serve_modules()
    sock = runner.bind(host, port)
    limits = QueueLimits(max_pending=queue_size, max_documents=max_documents, max_tokens=max_request_tokens)
    with sock, open_reranker(model, settings) as reranker, ScoringQueue(reranker, limits) as queue:
        app = app_module.create_app(queue, api_key=api_key, allowed_hosts=allowed_hosts, cors_origins=cors_origins)
        where = runner.address(sock)
        info = reranker.info
        click.echo(printable(f"serving {info.model} ({model}) with {info.backend} on "
                             f"{info.device} at {where} (API docs: {where}/docs)"), err=True)
        runner.serve(app, sock, access_log=access_log)
    click.echo("stopped", err=True)


def _serve_modules() -> tuple[ModuleType, ModuleType]:
    """The app and runner modules, or a one-line error naming the extra to install."""
    try:
        from local_rerank.serve import app, runner
    except ImportError as e:
        raise LocalRerankError(f"`local-rerank serve` needs the serve extra ({e.name} is missing): "
                               "pip install 'local-rerank[serve]'") from e
    return app, runner


@click.command("mcp")
@click.argument("folder", type=click.Path(path_type=Path))
@model_options
def mcp_command(folder: Path, model_path: str | None, instruction: str | None, candidates: int | None,
                no_rerank: bool, device: str | None, threads: int | None) -> None:
    """Serve folder search to coding agents over the Model Context Protocol (stdio).

    Tools: search (query, top_k, instruction, rerank), get (path, line range), status. The index
    is updated at every call. Register it with an agent as the command `local-rerank mcp FOLDER`.
    """
    try:
        from local_rerank.mcp_server import FolderTools, create_mcp_server
        from local_rerank.search import FolderIndex, SearchSession
    except ImportError as e:
        raise LocalRerankError(f"`local-rerank mcp` needs the mcp extra ({e.name} is missing): "
                               "pip install 'local-rerank[mcp]'") from e
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
