"""Reading documents for `local-rerank rank`."""

from __future__ import annotations

import io

import pytest

from local_rerank.documents import read_documents
from local_rerank.errors import InputError


def read(data: bytes) -> list[str]:
    return read_documents(io.BytesIO(data), "docs.txt")


def test_jsonl_objects_give_their_text() -> None:
    assert read(b'{"text": "first"}\n\n{"text": "second \\u00e9", "id": 7}\n') == ["first", "second é"]


def test_plain_text_gives_one_document_per_non_blank_line() -> None:
    assert read("\ufeffone\r\n\ntwo 中文\n   \nthree".encode()) == ["one", "two 中文", "three"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no documents"),
        (b"\n \n", "no documents"),
        (b'{"text": "ok"}\n{"body": "no text field"}\n', "line 2"),
        (b'{"text": "ok"}\n{broken\n', "line 2: not valid JSON"),
        (b"caf\xe9 latin-1", "not valid UTF-8"),
        (b"\x7fELF\x00\x00binary", "binary"),
    ],
)
def test_bad_documents_files_are_input_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"text": "ok", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "line 1: JSON nested too deeply"),
        (b'{"text": "ok"}\n{"text": "x", "n": ' + b"9" * 5000 + b"}\n", "line 2: not usable JSON"),
    ],
)
def test_json_that_python_cannot_hold_is_an_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read(data)


def test_lone_surrogate_escapes_become_replacement_characters() -> None:
    assert read(b'{"text": "cut \\ud83d emoji"}\n{"text": "\\udcff"}\n') == ["cut \ufffd emoji", "\ufffd"]
    assert read(b'{"text": "pair \\ud83e\\udd80"}\n') == ["pair 🦀"]
