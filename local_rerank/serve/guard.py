"""What stands before the app: who may listen where, the API key, and the body size.

Both are checked in an ASGI middleware before any route reads the body, so a client without
the key learns nothing else (a 401 comes before a 400, a 413 or a 404).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local_rerank.errors import InputError

OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key.

    Raises:
        InputError: ``host`` is not a loopback address and no key is set, or the key is empty.
    """
    if api_key is not None and not api_key.strip():
        raise InputError("the API key is empty")
    if api_key is None and not is_loopback(host):
        raise InputError(f"listening on {host} lets other machines use the model: set an API key with --api-key "
                         "or LOCAL_RERANK_API_KEY, or keep the default host 127.0.0.1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class Guard:
    """ASGI middleware: a Bearer ``api_key`` on every path but :data:`OPEN_PATHS` (None: no key),
    checked in constant time before any route runs, and at most ``max_body_bytes`` of body: a
    larger declared Content-Length is refused at once, a streamed body as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.key = api_key.encode() if api_key is not None else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.key is not None and scope["path"] not in OPEN_PATHS and not self._authorized(headers):
            await _refuse(send, 401, "a missing or wrong API key (send Authorization: Bearer <key>)",
                          "authentication_error", {"www-authenticate": "Bearer"})
        elif _declared_length(headers) > self.max_body_bytes:
            await _refuse(send, 413, f"the request body is over {self.max_body_bytes} bytes", "payload_too_large")
        else:
            await self.app(scope, self._counting(receive), send)

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key or b"")

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b"")) if message["type"] == "http.request" else 0
            if seen > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            return message

        return counted


class BodyTooLarge(HTTPException):
    """A streamed body passed the limit; an HTTPException, so that FastAPI passes it on to its handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes")


def _declared_length(headers: dict[bytes, bytes]) -> int:
    """The Content-Length, or 0 where there is none (the server's HTTP parser refuses malformed ones)."""
    value = headers.get(b"content-length", b"").strip()
    return int(value) if value.isdigit() else 0


async def _refuse(send: Send, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message, "error_type": kind}).encode()
    raw: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
