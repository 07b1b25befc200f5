"""Documents for ``local-rerank rank``: JSONL objects with a "text" field, or one per line."""

from __future__ import annotations

import json
from typing import BinaryIO

from local_rerank.errors import InputError
from local_rerank.text import replace_surrogates

MAX_DOCS_BYTES = 256 * 1024 * 1024


def read_documents(stream: BinaryIO, name: str) -> list[str]:
    """Read and parse a documents file (or stdin); ``name`` is used in error messages."""
    data = stream.read(MAX_DOCS_BYTES + 1)
    if len(data) > MAX_DOCS_BYTES:
        raise InputError(f"{name} is larger than {MAX_DOCS_BYTES // 2**20} MiB; split it or pre-filter the candidates")
    if b"\0" in data:
        raise InputError(f"{name} looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{name} is not valid UTF-8 text (bad byte at offset {e.start})") from e
    return parse_documents(text, name)


def parse_documents(text: str, name: str) -> list[str]:
    """JSONL when the first non-blank line is a JSON object, otherwise one document per line."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputError(f"{name} holds no documents")
    if lines[0][1].lstrip().startswith("{"):
        return [_jsonl_text(line, number, name) for number, line in lines]
    return [line for _, line in lines]


def _jsonl_text(line: str, number: int, name: str) -> str:
    """The "text" of one JSONL line; a lone surrogate escape (``"\\ud800"``), which is not
    text and cannot be tokenized, becomes U+FFFD."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"{name} line {number}: not valid JSON ({e.msg})") from e
    except ValueError as e:  # a number of more than 4300 digits
        raise InputError(f"{name} line {number}: not usable JSON ({e})") from e
    except RecursionError as e:
        raise InputError(f"{name} line {number}: JSON nested too deeply") from e
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise InputError(f'{name} line {number}: expected an object with a "text" string')
    return replace_surrogates(record["text"])
