"""The input of a batch job: which files, in which format, cut into shards of rows.

INPUT is a Parquet or JSONL file, or a folder of such files (all of one format, taken in
name order; names starting with ``.`` or ``_`` are skipped). Each file is cut into shards
of ``shard_rows`` rows; a shard never spans two files. The plan is a pure function of the
files' content and ``shard_rows``, so a re-run finds the same shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from local_rerank.batch.jsonl import read_jsonl_shard, scan_jsonl
from local_rerank.batch.parquet import read_parquet_shard, scan_parquet
from local_rerank.batch.shard_spec import InputFile, Scanner, ShardData, ShardSpec
from local_rerank.errors import InputError

_SUFFIXES = (".parquet", ".pq", ".jsonl", ".ndjson", ".json")  # what a folder's input files are named
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class InputPlan:
    """The input's format, its files, and its shards in order."""

    fmt: str
    files: tuple[InputFile, ...]
    shards: tuple[ShardSpec, ...]

    @property
    def rows(self) -> int:
        """Rows in all files (blank JSONL lines are not rows)."""
        return sum(f.rows for f in self.files)


def plan_input(path: Path, shard_rows: int) -> InputPlan:
    """Read ``path`` through once (its sha256, its rows) and cut it into shards.

    Raises:
        InputError: the path is missing, unreadable, empty, or not Parquet or JSONL.
    """
    if shard_rows < 1:
        raise InputError(f"shard rows must be at least 1, got {shard_rows}")
    files = input_files(path)
    fmt = detect_format(files[0])
    if any(detect_format(f) != fmt for f in files[1:]):
        raise InputError(f"{path} mixes Parquet and JSONL files; give one format")
    scan = _scanner(fmt)
    planned: list[InputFile] = []
    shards: list[ShardSpec] = []
    for file in files:
        info, starts = scan(file, shard_rows)
        planned.append(info)
        shards += [ShardSpec(len(shards) + i, info.path, fmt, first_row, rows, start)
                   for i, (first_row, rows, start) in enumerate(starts)]
    if not shards:
        raise InputError(f"{path} holds no rows")
    return InputPlan(fmt, tuple(planned), tuple(shards))


def input_files(path: Path) -> list[Path]:
    """The file itself, or a folder's Parquet/JSONL files in name order.

    Raises:
        InputError: nothing there, or a folder without such files.
    """
    if path.is_file():
        return [path.resolve()]
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a file or a folder")
    files = sorted(p.resolve() for p in path.iterdir()
                   if p.suffix.lower() in _SUFFIXES and p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise InputError(f"{path} holds no .parquet or .jsonl files")
    return files


def detect_format(path: Path) -> str:
    """"parquet" when the file starts with Parquet's magic bytes, else "jsonl".

    Raises:
        InputError: the file cannot be read.
    """
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(PARQUET_MAGIC))
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    return "parquet" if head == PARQUET_MAGIC else "jsonl"


def read_shard(spec: ShardSpec) -> ShardData:
    """The rows of one shard, read from its input file.

    Raises:
        InputError: the file changed or cannot be read there.
    """
    return read_parquet_shard(spec) if spec.fmt == "parquet" else read_jsonl_shard(spec)


def _scanner(fmt: str) -> Scanner:
    return scan_parquet if fmt == "parquet" else scan_jsonl
