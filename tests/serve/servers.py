"""A real uvicorn server on 127.0.0.1 in a thread, and a `local-rerank serve` subprocess, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from local_rerank.serve.runner import address, bind


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@contextmanager
def running(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 while the block runs; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started)
        yield address(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def serve_process(model: Path, *arguments: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m local_rerank serve --model MODEL --port 0 ARGUMENTS` until it is ready; yields it and its URL."""
    command = [sys.executable, "-m", "local_rerank", "serve", "--model", str(model), "--port", "0", *arguments]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = _announced_url(process)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _announced_url(process: subprocess.Popen[str]) -> str:
    """The URL from the "serving ... at URL" line on stderr (up to 120 lines read)."""
    assert process.stderr is not None
    seen = []
    for _ in range(120):
        line = process.stderr.readline()
        seen.append(line)
        if line.startswith("serving "):
            return line.split(" at ")[1].split(" ")[0]
        if not line and process.poll() is not None:
            break
    raise AssertionError("the server did not start:\n" + "".join(seen))
