"""Listening and serving: bind a socket, run the app under uvicorn, stop gracefully on SIGTERM.

On SIGTERM or Ctrl-C uvicorn stops accepting connections, lets the requests in flight finish
(their jobs are scored) and returns. uvicorn then raises the signal again, for the handler it
found; for SIGTERM that handler is ours and does nothing, so a stop asked by a service
manager ends with exit status 0 instead of death by signal. A second Ctrl-C forces the exit.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from local_rerank.errors import InputError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port; see :func:`address`).

    Raises:
        InputError: the host is unknown, or the port is taken or not allowed.
    """
    try:
        family, _, _, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        return socket.create_server(where[:2], family=family, backlog=2048)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def address(sock: socket.socket) -> str:
    """The URL a client would use to reach ``sock``."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(app: ASGIApp, sock: socket.socket, *, access_log: bool = False) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or Ctrl-C, finishing the requests in flight."""
    config = uvicorn.Config(app, log_level="info" if access_log else "warning", access_log=access_log,
                            timeout_graceful_shutdown=None, lifespan="off")
    with _quiet_sigterm():
        uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def _quiet_sigterm() -> Iterator[None]:
    """SIGTERM does nothing while this lasts (uvicorn's own handler takes over inside it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
