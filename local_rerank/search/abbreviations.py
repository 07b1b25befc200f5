"""Abbreviations that a text defines, as "Low-Rank Adaptation (LoRA)", and those a folder's index
holds, for query rewriting."""

from __future__ import annotations

import re
import sqlite3

_SHORT = r"([A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*)"
_ABBREVIATION = re.compile(rf"[(（]\s*{_SHORT}\s*[)）]")
_NOT_A_TERM = re.compile(r"[^\w\s'-]")
# Chinese and Japanese run an abbreviation into the text around it ("什么是LLM（大语言模型）"), so
# only a Latin letter or digit before it makes it part of a longer word.
_SHORT_FIRST = re.compile(rf"(?<![A-Za-z0-9_\u00c0-\u024f-]){_SHORT}\s*[(（]([^()（）]{{2,80}})[)）]")
# Chinese and Japanese (Korean spaces its words, so the Latin rules above serve it).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_TERM = re.compile(f"[{_CJK}]{{2,12}}")
_CJK_RUN_AT_END = re.compile(f"[{_CJK}]+$")
_KANA_PARTICLES = re.compile("[のはがをにでともへや]")  # where a Japanese term ends ("本稿では大規模言語モデル")
# Words that end the text before a Chinese term ("我们使用大语言模型（LLM）"): without a segmenter,
# the term is what follows the last of them. Only words that rarely sit inside a term.
_CHINESE_LEAD_INS = ("使用", "采用", "基于", "通过", "利用", "称为", "叫做", "简称", "即为", "的", "是")


def definitions_in(text: str) -> list[tuple[str, str]]:
    """(abbreviation, long form) pairs that ``text`` defines as "long form (ABBR)" or "ABBR (long
    form)", the long form found by Schwartz and Hearst's algorithm (each letter of the
    abbreviation, in order, in the words of the candidate; the first at the start of a word)."""
    found = []
    for match in _ABBREVIATION.finditer(text):
        short = match.group(1)
        before = text[:match.start()].rstrip()
        if _CJK_RUN_AT_END.search(before):
            found += _checked(short, _cjk_long_form(before))
            continue
        words = before.split()[-min(len(short) + 5, 2 * len(short)):]
        found += _checked(short, _long_form(short, " ".join(words)))
    for match in _SHORT_FIRST.finditer(text):
        short, inside = match.group(1), match.group(2).strip()
        if _CJK_TERM.fullmatch(inside):
            found += _checked(short, inside)
            continue
        long_form = _long_form(short, inside)
        found += _checked(short, long_form if long_form is not None and inside.endswith(long_form) else None)
    return found


def _cjk_long_form(before: str) -> str | None:
    """The Chinese or Japanese term that ends ``before``: its last run of CJK characters, from after
    the last kana particle (Japanese) or Chinese lead-in word; two to twelve characters, else None."""
    run = _CJK_RUN_AT_END.search(before)
    term = run.group(0) if run else ""
    term = term[max((m.end() for m in _KANA_PARTICLES.finditer(term)), default=0):]
    ends = [term.rfind(word) + len(word) for word in _CHINESE_LEAD_INS
            if 0 <= term.rfind(word) <= len(term) - len(word) - 2]
    term = term[max(ends, default=0):]
    return term if _CJK_TERM.fullmatch(term) else None


def _checked(short: str, long_form: str | None) -> list[tuple[str, str]]:
    """[(short, long form)] when ``short`` looks like an abbreviation (ten characters at most, at
    least two capitals and at least half its letters: LoRA, PAI-EAS, not TypedDict) and the long
    form is two words or more of letters, digits, hyphens and apostrophes, or a Chinese or
    Japanese term of two to twelve characters; else []."""
    letters = [character for character in short if character.isalpha()]
    capitals = sum(character.isupper() for character in letters)
    if long_form is None or len(short) > 10 or capitals < 2 or capitals * 2 < len(letters):
        return []
    if _CJK_TERM.fullmatch(long_form):
        return [(short, long_form)]
    long_form = " ".join(long_form.split())
    words_only = _NOT_A_TERM.search(long_form) is None
    return [(short, long_form)] if words_only and " " in long_form else []


def _long_form(short: str, candidate: str) -> str | None:
    letters = [character.lower() for character in short if character.isalnum()]
    position = len(candidate) - 1
    for index in range(len(letters) - 1, -1, -1):
        while position >= 0 and (candidate[position].lower() != letters[index]
                                 or (index == 0 and position > 0 and candidate[position - 1].isalnum())):
            position -= 1
        if position < 0:
            return None
        position -= 1
    start = candidate.rfind(" ", 0, position + 1) + 1
    return candidate[start:].strip(" ,;:")


def stored_definitions(connection: sqlite3.Connection) -> dict[str, str]:
    """The abbreviations that a folder's index holds (its ``definitions`` table, filled with
    :func:`definitions_in` as files are read): {abbreviation: its most frequent long form}."""
    rows = connection.execute("SELECT short, long, count(*) AS uses FROM definitions GROUP BY short, long "
                              "ORDER BY uses, long DESC").fetchall()
    return {short: long for short, long, _ in rows}  # the most frequent comes last and wins
