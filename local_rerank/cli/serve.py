"""``local-rerank serve``: the HTTP rerank API.

Its web libraries (the ``serve`` extra) are imported only when it runs, so ``local-rerank --help``
and the other commands never load them.
"""

from __future__ import annotations

from types import ModuleType

import click

from local_rerank.cli.common import missing_extra
from local_rerank.cli.model_options import engine_options, model_option, named_model
from local_rerank.loading import open_reranker
from local_rerank.scoring_queue import QueueLimits, ScoringQueue
from local_rerank.settings import resolve_settings
from local_rerank.store import resolve_model, store_dir
from local_rerank.text import printable

_LIMITS = QueueLimits()


@click.command("serve")
@model_option()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where to listen; anything but a loopback address needs --api-key.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0: any free port.")
@click.option("--api-key", envvar="LOCAL_RERANK_API_KEY", show_envvar=True,
              help="Require `Authorization: Bearer KEY` (prefer the environment variable: arguments are visible "
                   "to other users).")
@engine_options()
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
def serve(model_path: str | None, host: str, port: int, api_key: str | None, max_length: int | None,
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
    model = resolve_model(named_model(settings), store_dir())
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
        raise missing_extra("serve", "serve", e) from e
    return app, runner
