"""The GGUF header reader on hostile files: every failure is a ValueError, never a hang."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest

from local_rerank.gguf_reader import read_header

UINT32, ARRAY = 4, 9


def gguf_bytes(key: str, value: bytes) -> bytes:
    """A GGUF v3 file with no tensors and one metadata field (``value`` starts with its type)."""
    encoded = key.encode()
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(encoded)) + encoded + value


def nested_arrays(depth: int) -> bytes:
    """An array of an array of ... of no uint32s."""
    return struct.pack("<I", ARRAY) + struct.pack("<IQ", ARRAY, 1) * (depth - 1) + struct.pack("<IQ", UINT32, 0)


CRASHES = Path(__file__).parent / "fuzz_crashes"  # inputs the fuzzer (tools/fuzz.py) found


@pytest.mark.parametrize(("content", "message"), [
    (gguf_bytes("general.alignment", struct.pack("<II", UINT32, 0)), "invalid general.alignment"),
    (gguf_bytes("deep", nested_arrays(100_000)), "nested too deeply"),
    (gguf_bytes("huge", struct.pack("<IIQ", ARRAY, UINT32, 2**62)), "runs past the end"),  # was OverflowError
    ((CRASHES / "gguf-array-count-overflow.gguf").read_bytes(), "runs past the end"),
])
def test_malformed_headers_are_value_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "hostile.gguf"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_header(path)


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_header(fifo)
        except ValueError as e:
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)  # opening a FIFO waits for a writer
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive() and "not a regular file" in str(outcome[0])
