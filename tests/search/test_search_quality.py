"""First-stage quality on documents none of us wrote: the Python standard library's module docs.

Each module with a docstring becomes one file (its docstring without the one-line summary, then
the docstrings of its public functions and classes), named by a neutral number so the file
name gives nothing away; the removed summary line is the query, and the module's file is the
one known item to find. BM25 must rank it high (MRR@10) and keep it among the candidates the
reranker sees (recall at the default candidate cap).
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest

from local_rerank.search import FolderIndex
from local_rerank.search.pipeline import CPU_CANDIDATES
from tests.search.known_items import known_item_quality

# Measured on CPython 3.11.7's standard library (96 queries): MRR@10 0.797, recall@16 0.979.
# The bounds leave room for another 3.11 patch release, not for a worse first stage.
MIN_MRR_AT_10 = 0.72
MIN_RECALL_AT_CAP = 0.94


def build_stdlib_collection(folder: Path) -> dict[str, str]:
    """Write the collection into ``folder``; returns {query: relpath of the known item}."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    queries: dict[str, str] = {}
    sources = sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/__init__.py"))
    for source in sources:
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        summary, _, body = (ast.get_docstring(tree) or "").partition("\n")
        summary = summary.strip()
        if len(summary.split()) < 3 or len(body.split()) < 15 or summary in queries:
            continue
        parts = [body.strip()] + [f"{node.name}\n{ast.get_docstring(node)}" for node in tree.body
                                  if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                                  and not node.name.startswith("_") and ast.get_docstring(node)]
        relpath = f"doc-{len(queries):03}.txt"
        (folder / relpath).write_text("\n\n".join(parts), encoding="utf-8")
        queries[summary] = relpath
    return queries


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[FolderIndex, dict[str, str]]:
    folder = tmp_path_factory.mktemp("stdlib-docs")
    queries = build_stdlib_collection(folder)
    index = FolderIndex.open(folder, cache=tmp_path_factory.mktemp("stdlib-index"))
    index.update()
    return index, queries


def test_known_items_are_found_by_bm25(collection: tuple[FolderIndex, dict[str, str]],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    index, queries = collection
    assert len(queries) >= 80, "the standard library should give eighty queries or more"
    mrr, recall = known_item_quality(index, queries, CPU_CANDIDATES)
    with capsys.disabled():
        print(f"\nfirst-stage quality, Python {sysconfig.get_python_version()} stdlib docs, {len(queries)} known-item "
              f"queries: MRR@10 {mrr:.3f}, recall@{CPU_CANDIDATES} {recall:.3f}")
    assert mrr >= MIN_MRR_AT_10 and recall >= MIN_RECALL_AT_CAP
