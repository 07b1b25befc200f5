"""Planning the input into shards, and reading a shard back, for JSONL and Parquet."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.batch.inputs import plan_input, read_shard
from local_rerank.batch.rows import BadRow
from local_rerank.errors import InputError
from tests.batch.conftest import pair_rows, write_jsonl


def test_jsonl_shards_count_rows_not_blank_lines_and_number_rows_by_line(tmp_path: Path) -> None:
    rows = pair_rows(1, 5)
    source = write_jsonl(tmp_path / "in.jsonl", [rows[0], "", rows[1], rows[2], "   ", rows[3], rows[4]])
    plan = plan_input(source, shard_rows=2)
    assert [(s.first_row, s.rows) for s in plan.shards] == [(1, 2), (4, 2), (7, 1)]
    assert plan.rows == 5 and plan.fmt == "jsonl"
    second = read_shard(plan.shards[1])
    assert second.numbers == [4, 6]
    assert [f["id"] for f in second.fields] == ["0-2", "0-3"]  # type: ignore[index]


def test_unreadable_jsonl_lines_become_bad_rows_not_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"query": "q", "document": "d"}\n[1, 2]\n{"query": "\xff"}\n{oops\n')
    shard = read_shard(plan_input(source, 10).shards[0])
    assert isinstance(shard.fields[0], dict)
    assert [str(f) for f in shard.fields[1:]] == ["expected a JSON object, got list",
                                                  "the line is not valid UTF-8 (bad byte at offset 11)",
                                                  "not valid JSON (Expecting property name enclosed in double quotes)"]
    assert all(isinstance(f, BadRow) for f in shard.fields[1:])
    assert shard.record(2) == '{"query": "\\xff"}'


def test_a_folder_is_its_files_in_name_order_and_shards_stay_within_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", pair_rows(1, 3))
    write_jsonl(folder / "a.jsonl", pair_rows(1, 1))
    write_jsonl(folder / "_skipped.jsonl", pair_rows(1, 1))
    (folder / "notes.txt").write_text("not input")
    plan = plan_input(folder, shard_rows=2)
    assert [(Path(s.path).name, s.first_row, s.rows) for s in plan.shards] == [("a.jsonl", 1, 1), ("b.jsonl", 1, 2),
                                                                               ("b.jsonl", 3, 1)]


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_text("\n\n"), p)[1], "holds no rows"),
    (lambda p: (p.write_bytes(b"\x00\x01binary"), p)[1], "looks like a binary file"),
    (lambda p: (p.write_bytes(b"PAR1 but no footer"), p)[1], "is not a readable Parquet file"),
    (lambda p: (p.mkdir(), p)[1], "holds no .parquet or .jsonl files"),
])
def test_unusable_input_is_one_input_error(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan_input(make(tmp_path / "input"), shard_rows=10)


def test_a_folder_mixing_formats_is_refused(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    folder = tmp_path / "mixed"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", pair_rows(1, 1))
    parquet.write_table(pa.Table.from_pylist(pair_rows(1, 1)), folder / "b.parquet")
    with pytest.raises(InputError, match="mixes Parquet and JSONL"):
        plan_input(folder, shard_rows=10)


def test_parquet_shards_cross_row_groups_and_read_text_as_bytes(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    rows = pair_rows(2, 5)
    table = pa.Table.from_pylist(rows)
    bad = pa.array([b"\xffbad"], pa.binary()).view(pa.string())  # a string column holding invalid UTF-8
    table = table.set_column(2, "document", pa.concat_arrays([table.column("document").combine_chunks().slice(0, 9),
                                                              bad]))
    parquet.write_table(table, tmp_path / "in.parquet", row_group_size=3)
    plan = plan_input(tmp_path / "in.parquet", shard_rows=4)
    assert plan.fmt == "parquet" and [(s.first_row, s.rows, s.start) for s in plan.shards] == [(1, 4, 0), (5, 4, 4),
                                                                                               (9, 2, 8)]
    second = read_shard(plan.shards[1])
    assert second.numbers == [5, 6, 7, 8]
    assert [f["query"] for f in second.fields] == [r["query"].encode() for r in rows[4:8]]  # type: ignore[index]
    last = read_shard(plan.shards[2])
    assert last.fields[1]["document"] == b"\xffbad"  # type: ignore[index]
    assert last.record(1)["id"] == b"1-4"
