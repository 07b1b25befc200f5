"""What one input row asks for, or why it cannot be scored.

A row is a pair (``query``, ``document``) or a query with a list of ``candidates``, each
with an optional ``instruction`` (and any other fields, such as ``id``, which are carried
through untouched). Text arrives as ``str`` (JSON) or as ``bytes`` (Parquet text columns
are read as bytes, so that invalid UTF-8 is caught here rather than inside pyarrow).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_rerank.text import has_surrogates

TEXT_FIELDS = ("query", "document", "candidates", "instruction")


@dataclass(frozen=True)
class Request:
    """One row's scoring work: a query, its documents, and its instruction (None: the default).

    ``candidates`` says whether the row gave a list (its output is ``scores``) or one
    document (its output is ``score``).
    """

    query: str
    documents: tuple[str, ...]
    instruction: str | None
    candidates: bool


@dataclass(frozen=True)
class Reject:
    """A row that was not scored: where it is, why, and what it held (for the rejects file)."""

    file: str
    row: int
    reason: str
    record: Any

    def to_json(self) -> str:
        """One line of the rejects file."""
        return json.dumps({"file": self.file, "row": self.row, "reason": self.reason, "record": self.record},
                          default=_jsonable)  # ASCII: a lone surrogate in another field stays writable


class BadRow(ValueError):
    """Why a row cannot be scored, in words for the rejects file."""


def parse_row(fields: Mapping[str, Any], default_instruction: str | None) -> Request:
    """The scoring work one row asks for.

    Raises:
        BadRow: a missing or empty field, a field of the wrong type, or text that is not text.
    """
    query = _text(fields, "query")
    instruction = default_instruction if fields.get("instruction") is None else _text(fields, "instruction")
    has_document, has_candidates = fields.get("document") is not None, fields.get("candidates") is not None
    if has_document and has_candidates:
        raise BadRow("the row has both 'document' and 'candidates'; give one")
    if has_candidates:
        return Request(query, _candidates(fields["candidates"]), instruction, candidates=True)
    if not has_document:
        raise BadRow("missing field 'document' (or 'candidates')")
    return Request(query, (_text(fields, "document"),), instruction, candidates=False)


def _text(fields: Mapping[str, Any], name: str) -> str:
    if fields.get(name) is None:
        raise BadRow(f"missing field {name!r}")
    return _checked_text(fields[name], repr(name))


def _candidates(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise BadRow("'candidates' must be a list of texts")
    if not value:
        raise BadRow("'candidates' is an empty list")
    return tuple(_checked_text(item, f"candidate {position}") for position, item in enumerate(value))


def _checked_text(value: Any, name: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRow(f"{name} is not valid UTF-8 (bad byte at offset {e.start})") from e
    if not isinstance(value, str):
        raise BadRow(f"{name} is {type(value).__name__}, not text")
    if has_surrogates(value):
        raise BadRow(f"{name} is not valid text (it holds a lone surrogate, such as a \\ud800 escape)")
    if not value.strip():
        raise BadRow(f"{name} is empty")
    return value


def _jsonable(value: Any) -> Any:
    """How the rejects file writes what JSON has no type for: bytes as text, the rest as str()."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
