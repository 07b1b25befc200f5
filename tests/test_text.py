"""Text safe for a terminal: control characters escaped, everything else kept."""

from __future__ import annotations

import json
import re

import pytest

from local_rerank.text import has_surrogates, printable, printable_json, printable_text, replace_surrogates

RAW = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(("text", "shown"), [
    ("\x1b]0;pwned\x07.md", "\\x1b]0;pwned\\x07.md"),  # would retitle the terminal
    ("red\x1b[31m\x9b1m", "red\\x1b[31m\\x9b1m"),  # C0 ESC and the one-byte C1 CSI
    ("a\tb\nc\rd\x00\x7f", "a\\x09b\\x0ac\\x0dd\\x00\\x7f"),
    ("bad\udcff.md", "bad\\xff.md"),  # an undecodable byte of a file name, as os.fsdecode keeps it
    ("lone \ud800", "lone \\ud800"),
    ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),  # a right-to-left override
])
def test_what_could_steer_the_terminal_is_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(text).encode("utf-8")  # surrogates would fail here


def test_other_text_is_kept_as_it_is() -> None:
    text = "契約書のコピー 合同 📄👩‍💻 café — “quotes” \u00a0nbsp"
    assert printable(text) == text


def test_json_is_the_same_value_with_nothing_raw() -> None:
    value = [{"path": "\x1b]0;pwned\x07.md", "text": "del\x7f csi\x9b bad\udcff rlo\u202e 中文 🦀", "score": 0.5}]
    shown = printable_json(value)
    assert json.loads(shown) == value
    assert RAW.search(shown) is None
    assert "中文 🦀" in shown
    assert printable_json({"plain": "text"}) == json.dumps({"plain": "text"})


def test_surrogates_are_found_and_replaced() -> None:
    assert has_surrogates("x\udcffy") and has_surrogates("\ud800")
    assert not has_surrogates("emoji 🦀 and 中文")
    assert replace_surrogates("x\udcffy\ud800") == "x\ufffdy\ufffd"
    assert replace_surrogates("🦀") == "🦀"


def test_printable_text_keeps_line_breaks_only() -> None:
    assert printable_text("# 合同\n| a\x1b[2J |\n") == "# 合同\n| a\\x1b[2J |\n"
