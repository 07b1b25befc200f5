"""Text analysis for the first stage in every script: what the BM25 index and its queries see.

SQLite's ``unicode61`` tokenizer splits words at spaces and punctuation, so a run of Chinese,
Japanese or Thai (written without spaces) becomes one long "word" that no query matches. As
Lucene's CJK analyzer does, :func:`analyze` replaces each such run by its overlapping character
bigrams, and also by its single characters (measured on People's Daily and Wikinews known-item
sets: MRR@10 0.344 against 0.315 with bigrams alone in Chinese, 0.361 against 0.345 in Japanese;
jieba's segmentation gave 0.313 and 0.337), and leaves everything else to the tokenizer's
stemming; text and queries are NFKC-normalised first, so full-width and half-width forms
(``ＧＰＵ``/``GPU``, ``１２``/``12``, ``ｶﾀｶﾅ``/``カタカナ``) meet. Korean words are split too,
so that a stem matches whatever particle is attached to it.
"""

from __future__ import annotations

import re
import unicodedata

# Scripts written without spaces between words (and Hangul, whose words carry particles):
# Han (with extensions and compatibility ideographs), kana, Hangul, Thai, Lao, Myanmar, Khmer.
_UNSPACED = (r"\u1100-\u11ff\u3040-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3131-\u318e\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
             r"\uac00-\ud7af\uf900-\ufaff\u0e00-\u0e4f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"
             r"\U00020000-\U0003134f\u3005")
# Part of the index's schema version: change it with the analysis, since removing a passage from
# the full-text index repeats the analysis and must produce the tokens that were stored.
ANALYSIS = "analysis nfkc+cjk-grams 2"
UNSPACED_RUN = re.compile(f"[{_UNSPACED}]+")
_FIRST_UNSPACED = "\u0e00"  # the lowest code point in _UNSPACED
_WORD = re.compile(r"\w+")


def normalize(text: str) -> str:
    """``text`` in NFKC form (full-width Latin and digits, half-width kana and ligatures folded)."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def grams(run: str) -> list[str]:
    """The overlapping character bigrams of an unspaced ``run``, then its characters."""
    return [run[i:i + 2] for i in range(len(run) - 1)] + list(run)


def analyze(text: str) -> str:
    """What the index stores for ``text``: NFKC-normalised, every unspaced run replaced by its
    grams separated by spaces (the tokenizer then sees each gram as a word)."""
    if text.isascii():  # the common case, at memory speed
        return text
    text = normalize(text)
    if max(text) < _FIRST_UNSPACED:  # European scripts: nothing to split
        return text
    return UNSPACED_RUN.sub(lambda run: f" {' '.join(grams(run.group()))} ", text)


def query_terms(query: str) -> list[str]:
    """The terms to search for: the words of ``query`` outside unspaced runs (lower-cased) and the
    grams of its unspaced runs (:func:`grams`), each once, in order of appearance."""
    terms: list[str] = []
    for piece in analyze(query).lower().split():
        terms += [piece] if is_gram(piece) else _WORD.findall(piece)
    return list(dict.fromkeys(terms))


def is_gram(term: str) -> bool:
    """Whether ``term`` comes from an unspaced run (a bigram or a character)."""
    return UNSPACED_RUN.fullmatch(term) is not None


def marked_words(query: str) -> list[str]:
    """The pieces of ``query`` to mark in a preview: words of three or more letters and the
    bigrams of unspaced runs (NFKC-normalised: a full-width word in the file is not marked)."""
    return [term for term in query_terms(query) if len(term) >= (2 if is_gram(term) else 3)]
