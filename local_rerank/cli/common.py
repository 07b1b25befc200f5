"""Helpers shared by several commands: documents from a file, a table's lines, a missing extra."""

from __future__ import annotations

from pathlib import Path

from local_rerank.documents import read_documents
from local_rerank.errors import InputError, LocalRerankError


def documents_in(path: Path) -> list[str]:
    """The documents of a JSONL or plain-text file, or a one-line error if it cannot be read."""
    try:
        with open(path, "rb") as stream:
            return read_documents(stream, str(path))
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e


def fitted(prefix: str, text: str, width: int) -> str:
    """``prefix`` and ``text``, cut with an ellipsis to ``width`` columns (but keeping 10 of the text)."""
    room = max(width - len(prefix), 10)
    return prefix + (text if len(text) <= room else text[:room - 1] + "…")


def missing_extra(command: str, extra: str, error: ImportError) -> LocalRerankError:
    """The one-line error for ``command`` run without the optional dependencies of ``extra``."""
    return LocalRerankError(f"`local-rerank {command}` needs the {extra} extra ({error.name} is missing): "
                            f"pip install 'local-rerank[{extra}]'")
