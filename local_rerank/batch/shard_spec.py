"""What a batch job's input is cut into and read as: shards of rows of planned files.

Shared by the plan (:mod:`~local_rerank.batch.inputs`) and the format readers
(:mod:`~local_rerank.batch.jsonl`, :mod:`~local_rerank.batch.parquet`), which it imports nothing of.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from local_rerank.batch.rows import BadRow


@dataclass(frozen=True)
class ShardSpec:
    """One shard: rows ``first_row`` on of one input file (row numbers count from 1; in a
    JSONL file they are line numbers). ``start`` is where reading begins: a byte offset in a
    JSONL file, a 0-based row index in a Parquet file."""

    index: int
    path: str
    fmt: str
    first_row: int
    rows: int
    start: int


@dataclass(frozen=True)
class InputFile:
    """One input file as it was planned: its identity and its row count."""

    path: str
    size_bytes: int
    sha256: str
    rows: int


class ShardData(Protocol):
    """The rows of one shard as its format reads them.

    ``numbers`` holds each row's number; ``fields`` its text fields (see
    :func:`~local_rerank.batch.rows.parse_row`), or why they could not be read.
    """

    numbers: list[int]
    fields: list[Mapping[str, Any] | BadRow]

    def record(self, position: int) -> Any:
        """The row at ``position`` as JSON-able data, for the rejects file."""
        ...

    def write(self, path: Path, kept: list[int], scores: list[float | list[float]]) -> None:
        """Write the rows at ``kept`` (in that order) to ``path``, each with its ``score``
        (a float: a pair) or ``scores`` (a list: candidates)."""
        ...


# (file, shard rows) -> the file's identity, and (first row, rows, start) per shard
Scanner = Callable[[Path, int], tuple[InputFile, list[tuple[int, int, int]]]]
