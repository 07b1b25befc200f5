"""What stands before the app: who may listen where, which Host and Origin may call it, the API
key, and the body size.

:class:`HostGuard` comes first, on every path: a request must name this server in its ``Host``
header (the address it arrived at, ``localhost`` for a loopback one, or a name given with
``--allowed-host``), and a request from a web page (an ``Origin`` header) must come from this
server's own pages or from an origin given with ``--cors-origin``. Otherwise a page the user
visits could rebind its own domain name to 127.0.0.1 (DNS rebinding) and call the API as
same-origin, or simply post to it from any site. Then :class:`Guard` checks the key and the body
size before any route reads the body, so a client without the key learns nothing else (a 401
comes before a 400, a 413 or a 404).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local_rerank.errors import InputError

OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DOCS_ASSETS = "/docs-assets"  # the scripts and styles of /docs and /redoc, open like them


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


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


_AUTHORITY = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]/\\\s@?#]+)(?::([0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_authority(value: str) -> tuple[str, int | None]:
    """``host[:port]`` -> (lower-case host without a trailing dot, port or None); IPv6 hosts keep
    their brackets. Anything else (a port that is not 1-5 ASCII digits, stray colons) -> ("", -1),
    which names no server."""
    match = _AUTHORITY.fullmatch(value.strip().lower())
    if match is None:
        return "", -1
    return match.group(1).rstrip("."), int(match.group(2)) if match.group(2) else None


def allowed_host(name: str) -> tuple[str, int | None]:
    """An ``--allowed-host`` value as (host, port or None).

    Raises:
        InputError: not ``name`` or ``name:port``.
    """
    host, port = split_authority(name)
    if not host:
        raise InputError(f"--allowed-host {name!r}: give a host name, optionally with a port (reranker.lan:8080)")
    return host, port


def normalize_origin(origin: str) -> str:
    """A web origin as browsers send it: lower case, no trailing slash, no default port.

    Raises:
        InputError: not ``http(s)://host[:port]``; ``null`` (any sandboxed page of any site) included.
    """
    scheme, _, authority = origin.strip().lower().rstrip("/").partition("://")
    host, port = split_authority(authority)
    if scheme not in _DEFAULT_PORTS or not host or port == -1:
        raise InputError(f"--cors-origin {origin!r}: give a web origin such as https://app.example "
                         "(scheme and host, no path; not null, which any sandboxed page sends)")
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, _DEFAULT_PORTS[scheme]) else "")


class HostGuard:
    """ASGI middleware: 403 for a ``Host`` that does not name this server, and for an ``Origin``
    that is neither this server nor one of ``cors_origins`` (see the module docstring).

    Args:
        allowed_hosts: names besides the address a request arrived at (and ``localhost`` for a
            loopback one): ``name`` (any port of this server) or ``name:port``.
        cors_origins: web origins (``https://app.example``) whose pages may call the API.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str] = (), cors_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.names = frozenset(allowed_host(name) for name in allowed_hosts)
        self.origins = frozenset(normalize_origin(origin) for origin in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers[b"origin"].decode("latin-1") if b"origin" in headers else None
        server = scope.get("server") or ("", 0)
        if not self._names_this_server(host, server):
            await _refuse(send, 403, f"Host {host!r} does not name this server (it answers to "
                          f"{', '.join(self._own_names(server))}); add a name with --allowed-host", "forbidden_host")
        elif origin is not None and not self._allowed_origin(origin, server):
            await _refuse(send, 403, f"requests from web pages are refused (Origin {origin!r}); allow an origin "
                          "with --cors-origin", "forbidden_origin")
        else:
            await self.app(scope, receive, send)

    def _names_this_server(self, host: str, server: tuple[str, int | None]) -> bool:
        name, port = split_authority(host)
        port = 80 if port is None else port
        if (name, port) in self.names:  # a name given with its port (a proxy's, a container's mapping)
            return True
        return port == server[1] and (name in self._own_hosts(server[0]) or (name, None) in self.names)

    def _allowed_origin(self, origin: str, server: tuple[str, int | None]) -> bool:
        """One of ``cors_origins``, or this server's own pages (http, as it serves them)."""
        try:
            origin = normalize_origin(origin)
        except InputError:
            return False
        scheme, _, authority = origin.partition("://")
        return origin in self.origins or scheme == "http" and self._names_this_server(authority, server)

    @staticmethod
    def _own_hosts(address: str) -> tuple[str, ...]:
        literal = f"[{address}]" if ":" in address else address
        return tuple(dict.fromkeys((literal, *LOOPBACK_NAMES))) if is_loopback(address) else (literal,)

    def _own_names(self, server: tuple[str, int | None]) -> list[str]:
        named = [f"{name}:{port or server[1]}" for name, port in sorted(self.names, key=str)]
        return [f"{host}:{server[1]}" for host in self._own_hosts(server[0])] + named


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
        path = scope["path"]
        open_path = path in OPEN_PATHS or path.startswith(DOCS_ASSETS + "/")
        if self.key is not None and not open_path and not self._authorized(headers):
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
