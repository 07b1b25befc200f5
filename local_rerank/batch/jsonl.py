"""JSONL input and output: one JSON object per line; blank lines are not rows.

Row numbers are line numbers. A line that is not UTF-8, not JSON or not an object is a bad
row (it goes to the rejects file); output lines are the input objects with ``score`` or
``scores`` added (a field of that name is replaced).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_rerank.batch.rows import BadRow
from local_rerank.batch.shard_spec import InputFile, ShardSpec
from local_rerank.errors import InputError

_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192
_RAW_CHARS = 2000  # how much of an unparsable line the rejects file keeps


def scan_jsonl(path: Path, shard_rows: int) -> tuple[InputFile, list[tuple[int, int, int]]]:
    """The file's sha256 and rows, and (first line, rows, byte offset) of each shard.

    Raises:
        InputError: the file cannot be read, or looks binary.
    """
    digest, offset, rows = hashlib.sha256(), 0, 0
    starts: list[list[int]] = []
    try:
        with open(path, "rb") as stream:
            if b"\0" in stream.read(_SNIFF_BYTES):
                raise InputError(f"{path} looks like a binary file, not JSONL or Parquet")
            stream.seek(0)
            for number, line in enumerate(stream, start=1):
                digest.update(line)
                if line.strip():
                    if rows % shard_rows == 0:
                        starts.append([number, 0, offset])
                    starts[-1][1] += 1
                    rows += 1
                offset += len(line)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    return InputFile(str(path), offset, digest.hexdigest(), rows), [(a, b, c) for a, b, c in starts]


def read_jsonl_shard(spec: ShardSpec) -> JsonlShard:
    """The shard's rows: each line's object, or why it is not one.

    Raises:
        InputError: the file cannot be read, or ends before the shard does (it changed).
    """
    shard = JsonlShard([], [], [])
    try:
        with open(spec.path, "rb") as stream:
            stream.seek(spec.start)
            for number, line in enumerate(stream, start=spec.first_row):
                if line.strip():
                    shard.add(number, line)
                    if len(shard.numbers) == spec.rows:
                        return shard
    except OSError as e:
        raise InputError(f"cannot read {spec.path}: {e.strerror}") from e
    raise InputError(f"{spec.path} changed while the job ran: it ends before row {spec.first_row + spec.rows - 1}")


@dataclass
class JsonlShard:
    """Rows of a JSONL shard: their line numbers, their objects (or why not), their raw text."""

    numbers: list[int]
    fields: list[Mapping[str, Any] | BadRow]
    raw: list[str]

    def add(self, number: int, line: bytes) -> None:
        """Parse one non-blank line."""
        if number == 1:
            line = line.removeprefix(_BOM)
        self.numbers.append(number)
        self.raw.append(line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")[:_RAW_CHARS])
        self.fields.append(_parse(line))

    def record(self, position: int) -> Any:
        """The parsed object, or the line's text where it is not a JSON object."""
        fields = self.fields[position]
        return self.raw[position] if isinstance(fields, BadRow) else fields

    def write(self, path: Path, kept: list[int], scores: list[float | list[float]]) -> None:
        """The kept objects with their scores, one per line."""
        with open(path, "wb") as stream:
            for position, score in zip(kept, scores):
                row = dict(self.fields[position])  # type: ignore[arg-type]
                row["scores" if isinstance(score, list) else "score"] = score
                stream.write(_json_line(row))


def _parse(line: bytes) -> Mapping[str, Any] | BadRow:
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as e:
        return BadRow(f"the line is not valid UTF-8 (bad byte at offset {e.start})")
    except json.JSONDecodeError as e:
        return BadRow(f"not valid JSON ({e.msg})")
    except (ValueError, RecursionError) as e:  # a number of over 4300 digits; deep nesting
        return BadRow(f"not usable JSON ({e})")
    return value if isinstance(value, dict) else BadRow(f"expected a JSON object, got {type(value).__name__}")


def _json_line(row: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON, or ASCII-escaped where a field holds a lone surrogate (not encodable)."""
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row) + "\n").encode("ascii")
