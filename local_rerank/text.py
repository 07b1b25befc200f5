"""Text that is safe to show on a terminal, and text that is safe to tokenize.

File names and passages come from other people's folders: a name such as
``"\\x1b]0;pwned\\x07.md"`` would retitle the terminal if printed as it is. Everything the
command line and the TUI print from a file goes through :func:`printable`.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls, DEL and C1 controls (terminal escapes), lone surrogates (undecodable bytes of a
# file name; they cannot be encoded for output), and the bidirectional embeddings, overrides
# and isolates that make text display in another order than it is stored.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BYTE = range(0xDC80, 0xDD00)  # how Python's surrogateescape keeps an undecodable byte


def printable(text: str) -> str:
    """``text`` with control characters, lone surrogates and bidirectional overrides written
    as escapes (``\\x1b``, ``\\u202e``; an undecodable byte of a file name as ``\\xff``).

    Every other character is kept, Chinese, Japanese and emoji included, so the result is
    one line that cannot move the cursor, recolour or retitle the terminal.
    """
    return _UNSAFE.sub(_escape, text)


def printable_text(text: str) -> str:
    """:func:`printable` line by line: the line breaks stay, everything else it escapes is escaped."""
    return "\n".join(printable(line) for line in text.split("\n"))


def printable_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``, but with the characters :func:`printable`
    escapes written as ``\\uXXXX``: the same JSON value, safe to print (json.dumps leaves
    DEL, C1 controls and lone surrogates raw)."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", json.dumps(value, ensure_ascii=False))


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds surrogate code points, which are not text (invalid UTF-8 in a
    command-line argument, or a ``\\ud800`` escape in JSON) and cannot be tokenized."""
    return _SURROGATE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """``text`` with each surrogate code point replaced by U+FFFD, as a decoder replaces bad bytes."""
    return _SURROGATE.sub("\ufffd", text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code in _ESCAPED_BYTE:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
