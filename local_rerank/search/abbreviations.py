"""Abbreviations that a text defines, as "Low-Rank Adaptation (LoRA)", for query rewriting."""

from __future__ import annotations

import re

_SHORT = r"([A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*)"
_ABBREVIATION = re.compile(rf"[(（]\s*{_SHORT}\s*[)）]")
_NOT_A_TERM = re.compile(r"[^\w\s'-]")
_SHORT_FIRST = re.compile(rf"(?<![\w-]){_SHORT}\s*[(（]([^()（）]{{3,80}})[)）]")


def definitions_in(text: str) -> list[tuple[str, str]]:
    """(abbreviation, long form) pairs that ``text`` defines as "long form (ABBR)" or "ABBR (long
    form)", the long form found by Schwartz and Hearst's algorithm (each letter of the
    abbreviation, in order, in the words of the candidate; the first at the start of a word)."""
    found = []
    for match in _ABBREVIATION.finditer(text):
        short = match.group(1)
        words = text[:match.start()].split()[-min(len(short) + 5, 2 * len(short)):]
        found += _checked(short, _long_form(short, " ".join(words)))
    for match in _SHORT_FIRST.finditer(text):
        short, inside = match.group(1), match.group(2).strip()
        long_form = _long_form(short, inside)
        found += _checked(short, long_form if long_form is not None and inside.endswith(long_form) else None)
    return found


def _checked(short: str, long_form: str | None) -> list[tuple[str, str]]:
    """[(short, long form)] when ``short`` looks like an abbreviation (ten characters at most, at
    least two capitals and at least half its letters: LoRA, PAI-EAS, not TypedDict) and the long
    form is two words or more of letters, digits, hyphens and apostrophes; else []."""
    letters = [character for character in short if character.isalpha()]
    capitals = sum(character.isupper() for character in letters)
    if long_form is None or len(short) > 10 or capitals < 2 or capitals * 2 < len(letters):
        return []
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
