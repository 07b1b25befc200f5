"""Parquet input and output (pyarrow, imported on first use: ``pip install 'local-rerank[parquet]'``).

Row numbers count the file's rows from 1. Text columns are read as bytes, so a value that
is not UTF-8 makes a bad row instead of an error for the whole file. Output shards keep
every input column and its type, with ``score`` (float64; where the input has ``document``)
and ``scores`` (list of float64; where it has ``candidates``) added or replaced.

A file is read a row group at a time and each process keeps the last two it read, so
shards smaller than a row group do not decode it again and again.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from local_rerank.batch.rows import TEXT_FIELDS, BadRow
from local_rerank.batch.shard_spec import InputFile, ShardSpec
from local_rerank.errors import InputError, LocalRerankError
from local_rerank.files import sha256_file


def pyarrow_modules() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``.

    Raises:
        LocalRerankError: pyarrow is not installed.
    """
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as e:
        raise LocalRerankError("Parquet needs pyarrow: pip install 'local-rerank[parquet]'") from e
    return pyarrow, pyarrow.parquet


def scan_parquet(path: Path, shard_rows: int) -> tuple[InputFile, list[tuple[int, int, int]]]:
    """The file's sha256 and rows (from its footer), and (first row, rows, row index) of each shard.

    Raises:
        InputError: the file is not readable Parquet.
    """
    rows = _metadata(str(path)).num_rows
    info = InputFile(str(path), path.stat().st_size, sha256_file(path), rows)
    return info, [(start + 1, min(shard_rows, rows - start), start) for start in range(0, rows, shard_rows)]


def read_parquet_shard(spec: ShardSpec) -> ParquetShard:
    """The shard's rows, from the row groups that hold them.

    Raises:
        InputError: the file cannot be read, or is shorter than the shard (it changed).
    """
    pa, _ = pyarrow_modules()
    metadata = _metadata(spec.path)
    first, tables = 0, []
    for group in range(metadata.num_row_groups):
        size = metadata.row_group(group).num_rows
        if first < spec.start + spec.rows and spec.start < first + size:
            tables.append((first, _row_group(spec.path, group)))
        first += size
    if first < spec.start + spec.rows:
        raise InputError(f"{spec.path} changed while the job ran: it ends before row {spec.first_row + spec.rows - 1}")
    table = pa.concat_tables([t for _, t in tables]).slice(spec.start - tables[0][0], spec.rows)
    return ParquetShard(table, spec.first_row)


class ParquetShard:
    """Rows of a Parquet shard: an Arrow table and its text fields read as bytes."""

    def __init__(self, table: Any, first_row: int) -> None:
        self.table = table
        self.numbers = list(range(first_row, first_row + table.num_rows))
        self._bytes = _as_bytes(table)
        present = [name for name in TEXT_FIELDS if name in table.column_names]
        columns = {name: self._bytes.column(name).to_pylist() for name in present}
        self.fields: list[Mapping[str, Any] | BadRow] = [
            {name: columns[name][i] for name in present} for i in range(table.num_rows)]

    def record(self, position: int) -> Any:
        """The row's columns (text as bytes, which the rejects file writes as text)."""
        try:
            return self._bytes.slice(position, 1).to_pylist()[0]
        except (UnicodeDecodeError, ValueError) as e:  # text nested in a struct that is not UTF-8
            return {"unreadable": str(e)}

    def write(self, path: Path, kept: list[int], scores: list[float | list[float]]) -> None:
        """The kept rows, every column, with ``score`` and/or ``scores``."""
        pa, pq = pyarrow_modules()
        out = self.table.take(pa.array(kept, pa.int64()))
        if "document" in out.column_names:
            out = _put(out, "score", pa.array([s if isinstance(s, float) else None for s in scores], pa.float64()))
        if "candidates" in out.column_names:
            values = [s if isinstance(s, list) else None for s in scores]
            out = _put(out, "scores", pa.array(values, pa.list_(pa.float64())))
        pq.write_table(out, path)


def _put(table: Any, name: str, column: Any) -> Any:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, column)
    return table.append_column(name, column)


def _as_bytes(table: Any) -> Any:
    """``table`` with its string (and list-of-string) columns viewed as binary."""
    pa, _ = pyarrow_modules()
    swap = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary(), pa.string_view(): pa.binary_view()}
    columns = []
    for column in table.columns:
        kind = column.type
        if kind in swap:
            column = column.cast(swap[kind])
        elif (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and kind.value_type in swap:
            column = column.cast(_list_of(kind, swap[kind.value_type]))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _list_of(kind: Any, value_type: Any) -> Any:
    pa, _ = pyarrow_modules()
    return pa.large_list(value_type) if pa.types.is_large_list(kind) else pa.list_(value_type)


def _metadata(path: str) -> Any:
    pa, pq = pyarrow_modules()
    try:
        return pq.ParquetFile(path).metadata
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    except (pa.ArrowException, ValueError) as e:  # not Parquet, or a damaged footer
        raise InputError(f"{path} is not a readable Parquet file ({e})") from e


def _row_group(path: str, group: int) -> Any:
    """One row group, from this process's cache while the file is unchanged."""
    try:
        info = Path(path).stat()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    return _cached_row_group(path, group, info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=2)
def _cached_row_group(path: str, group: int, size: int, mtime_ns: int) -> Any:
    pa, pq = pyarrow_modules()
    try:
        return pq.ParquetFile(path).read_row_group(group)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    except (pa.ArrowException, ValueError) as e:  # damaged pages
        raise InputError(f"{path}: row group {group} is not readable Parquet ({e})") from e
