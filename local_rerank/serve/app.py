"""The rerank HTTP API: routes translate each API's shapes to a :class:`ScoringQueue` and back.

    app = create_app(queue, api_key=None)     # an ASGI app; local_rerank.serve.runner serves it

Tokenizing runs in a worker thread, scoring in the queue's; the event loop only waits, and
watches the connection: a client that goes away withdraws its job. Every error is JSON,
``{"error", "error_type", "field"}``, never a traceback: malformed JSON 400, a wrong or
missing field 422, a request over a limit 413, a full queue 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from local_rerank.errors import InputError, LocalRerankError
from local_rerank.scoring_queue import QueueFull, RequestTooLarge, Scored, ScoringJob, ScoringQueue, ShuttingDown
from local_rerank.serve.guard import DOCS_ASSETS, Guard, HostGuard, normalize_origin
from local_rerank.serve.schemas import (
    ErrorBody,
    Health,
    ModelCard,
    ModelList,
    TeiRerankRequest,
    TeiResult,
    TextDocument,
    Tokens,
    Usage,
    V1RerankRequest,
    V1RerankResponse,
    V1Result,
    V2Meta,
    V2RerankRequest,
    V2RerankResponse,
    V2Result,
)

DEFAULT_MAX_BODY_BYTES = 32 * 2**20
# Every status a route may answer besides 200, each with the one error body (403: Host or Origin,
# 415: a body not sent as JSON).
_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorBody}
                                            for status in (400, 401, 403, 413, 415, 422, 503)}
_log = logging.getLogger("local_rerank.serve")


class ClientGone(Exception):
    """The client closed the connection before its scores were ready."""


def create_app(queue: ScoringQueue, *, api_key: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               allowed_hosts: Sequence[str] = (), cors_origins: Sequence[str] = ()) -> FastAPI:
    """The ASGI app serving ``queue``'s model; ``api_key`` (None: none) guards all but /health and the docs.
    Every path answers only requests whose Host names this server (or one of ``allowed_hosts``) and
    that come from no web page but this server's own and ``cors_origins`` (:class:`HostGuard`)."""
    # FastAPIOffline: /docs and /redoc load their scripts from this server (fastapi-offline ships
    # them), not from a CDN, so they work on an air-gapped machine.
    app = FastAPIOffline(title="local-rerank", version=version("local-rerank"), static_url=DOCS_ASSETS,
                         description="A local Qwen3-Reranker behind the Jina/llama-server, Cohere v2 and TEI "
                                     "rerank APIs.")
    app.add_middleware(Guard, api_key=api_key, max_body_bytes=max_body_bytes)
    cors_origins = [normalize_origin(origin) for origin in cors_origins]  # as HostGuard compares them
    if cors_origins:  # inside HostGuard, outside the key check: a preflight carries no key
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"], max_age=600)
    app.add_middleware(HostGuard, allowed_hosts=allowed_hosts, cors_origins=cors_origins)
    _add_error_handlers(app)
    app.include_router(_rerank_routes(queue))
    app.include_router(_info_routes(queue))
    return app


def _rerank_routes(queue: ScoringQueue) -> APIRouter:
    router = APIRouter(responses=_ERRORS)
    model = queue.reranker.info.model

    @router.post("/v1/rerank", response_model=V1RerankResponse, response_model_exclude_none=True,
                 summary="Jina / llama-server rerank")
    async def rerank_v1(body: V1RerankRequest, request: Request) -> V1RerankResponse:
        job = await _prepare(queue, body.query, body.documents, body.instruction)
        scored = await _score(request, queue, job)
        results = [V1Result(index=i, relevance_score=scored.scores[i],
                            document=TextDocument(text=body.documents[i]) if body.return_documents else None)
                   for i in _best_first(scored.scores, body.top_n)]
        return V1RerankResponse(model=model, usage=Usage(prompt_tokens=scored.tokens, total_tokens=scored.tokens),
                                results=results)

    @router.post("/v2/rerank", response_model=V2RerankResponse, summary="Cohere v2 rerank")
    async def rerank_v2(body: V2RerankRequest, request: Request) -> V2RerankResponse:
        job = await _prepare(queue, body.query, body.documents, body.instruction, body.max_tokens_per_doc)
        scored = await _score(request, queue, job)
        results = [V2Result(index=i, relevance_score=scored.scores[i]) for i in _best_first(scored.scores, body.top_n)]
        return V2RerankResponse(id=str(uuid.uuid4()), results=results,
                                meta=V2Meta(tokens=Tokens(input_tokens=scored.tokens)))

    @router.post("/rerank", response_model=list[TeiResult], response_model_exclude_none=True,
                 summary="text-embeddings-inference rerank")
    async def rerank_tei(body: TeiRerankRequest, request: Request) -> list[TeiResult]:
        job = await _prepare(queue, body.query, body.texts, body.instruction)
        if not body.truncate and any(job.truncated):
            number = job.truncated.index(True)
            raise RequestTooLarge(f"text {number} is over the {queue.reranker.info.max_length}-token budget; "
                                  'send "truncate": true to cut it', "texts")
        scored = await _score(request, queue, job)
        return [TeiResult(index=i, score=_logit(scored.scores[i]) if body.raw_scores else scored.scores[i],
                          text=body.texts[i] if body.return_text else None)
                for i in _best_first(scored.scores, None)]

    return router


def _info_routes(queue: ScoringQueue) -> APIRouter:
    router = APIRouter(responses={403: {"model": ErrorBody}})
    info = queue.reranker.info

    @router.get("/health", response_model=Health, summary="Liveness, and the requests waiting or being scored")
    async def health() -> Health:
        return Health(pending=queue.pending)

    @router.get("/v1/models", response_model=ModelList, summary="The one model served (OpenAI list shape)",
                responses={401: {"model": ErrorBody}})
    async def models() -> ModelList:
        card = ModelCard(id=info.model, backend=info.backend, device=info.device, max_length=info.max_length)
        return ModelList(data=[card])

    return router


async def _prepare(queue: ScoringQueue, query: str, documents: Sequence[str], instruction: str | None,
                   max_document_tokens: int | None = None) -> ScoringJob:
    return await run_in_threadpool(queue.prepare, query, documents, instruction, max_document_tokens)


async def _score(request: Request, queue: ScoringQueue, job: ScoringJob) -> Scored:
    """The job's scores; if the client disconnects first, the job is withdrawn and :class:`ClientGone` raised."""
    future = queue.submit(job)
    result: asyncio.Future[Scored] = asyncio.wrap_future(future)
    gone: asyncio.Future[None] = asyncio.ensure_future(_disconnected(request))
    either: list[asyncio.Future[Any]] = [result, gone]
    try:
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if result.done():
        return result.result()
    result.cancel()
    queue.withdraw(future)  # dropped if still waiting; if being scored, stopped before its next batch
    raise ClientGone()


async def _disconnected(request: Request) -> None:
    """Return when the client has closed the connection (the body has been read by then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _best_first(scores: list[float], top_n: int | None) -> list[int]:
    """Document indices by score, best first (ties keep input order), at most ``top_n``."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:top_n]


def _logit(p: float) -> float:
    """log(p / (1 - p)), the yes-minus-no logit behind p, kept finite at 0 and 1."""
    p = min(max(p, 1e-300), 1 - 2**-53)
    return math.log(p) - math.log1p(-p)


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(LocalRerankError, _refused)
    app.add_exception_handler(ClientGone, _client_gone)
    app.add_exception_handler(Exception, _crashed)


def _error(status: int, message: str, kind: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=message, error_type=kind, field=field).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return _error(400, f"the body is not valid JSON: {first['ctx']['error']}", "invalid_json")
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    read_as_json = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if tuple(first["loc"]) == ("body",) and not read_as_json:
        # FastAPI read the body as JSON only under those types (curl -d sends a form)
        return _error(415, "send the body as JSON with Content-Type: application/json "
                           f"(got {content_type or 'no Content-Type'})", "unsupported_media_type")
    field = ".".join(str(part) for part in first["loc"][1:]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return _error(422, f"{field}: {message}", "validation_error", field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    cause = exc.__cause__  # FastAPI's "There was an error parsing the body" hides what was wrong
    if isinstance(cause, UnicodeDecodeError):
        return _error(400, f"the body is not valid JSON: not UTF-8 (byte {cause.start})", "invalid_json")
    if isinstance(cause, RecursionError):
        return _error(400, "the body is not valid JSON: nested too deeply", "invalid_json")
    kind = "payload_too_large" if exc.status_code == 413 else "http_error"
    return _error(exc.status_code, str(exc.detail), kind, headers=dict(exc.headers or {}))


async def _refused(request: Request, exc: Exception) -> Response:
    if isinstance(exc, QueueFull):
        return _error(503, str(exc), "overloaded", headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, ShuttingDown):
        return _error(503, str(exc), "unavailable")
    if isinstance(exc, RequestTooLarge):
        return _error(413, str(exc), "payload_too_large", exc.field)
    if isinstance(exc, InputError):
        return _error(422, str(exc), "validation_error")
    _log.error("scoring failed: %s", exc)
    return _error(500, str(exc), "model_error")


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)  # nobody reads it; nginx's code for a client that closed the request


async def _crashed(request: Request, exc: Exception) -> Response:
    return _error(500, "internal error; the server's log has the details", "internal_error")
