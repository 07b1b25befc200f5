"""Labelled collections for ``local-rerank eval``, in three forms:

* a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``): the corpus is written
  once as one file per document under the cache directory and indexed like any folder;
* a JSONL file of ``{"query", "positives": [text], "candidates": [text]}``: one pool per query
  (each text once; a positive counts as relevant wherever it is listed);
* a folder and a JSONL file of ``{"query", "relevant": path or [paths]}`` (paths relative to it).

Every problem with the files is an :class:`~local_rerank.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_rerank.errors import InputError
from local_rerank.eval.pools import PoolCorpus
from local_rerank.search.corpus import Corpus
from local_rerank.search.index import FolderIndex
from local_rerank.search.score_cache import ScoreCache, SqliteScores


@dataclass(frozen=True)
class EvalQuery:
    """A query, the corpus it searches, and the grade of each relevant document (by hit path)."""

    text: str
    corpus: Corpus
    relevance: dict[str, int]


@dataclass(frozen=True)
class EvalSet:
    """The queries of a collection; ``indexes`` are the folder indexes to bring up to date first."""

    name: str
    queries: list[EvalQuery]
    indexes: list[FolderIndex]


def load_eval_set(source: Path, queries_file: Path | None, cache: Path) -> EvalSet:
    """The collection at ``source`` (see the module docstring); scores and BEIR files go under ``cache``.

    Raises:
        InputError: a file is missing, malformed, or names nothing to evaluate.
    """
    if source.is_dir() and queries_file is not None:
        return _folder_set(source, queries_file, cache)
    if source.is_dir() and (source / "corpus.jsonl").is_file():
        return _beir_set(source, cache)
    if source.is_file() and queries_file is None:
        return _pool_set(source, SqliteScores.file(cache / "eval-scores.sqlite3"))
    if source.is_dir():
        raise InputError(f"{source} holds no corpus.jsonl (a BEIR folder); for a folder of files give --queries")
    raise InputError(f"{source} does not exist" if not source.exists() else f"{source}: give a folder with --queries")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of ``path``.

    Raises:
        InputError: the file cannot be read, or a line is not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from e
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{number}: not JSON ({e.msg})") from e
        if not isinstance(record, dict):
            raise InputError(f"{path}:{number}: expected a JSON object")
        yield number, record


def _field(path: Path, number: int, record: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = record.get(name)
    if not isinstance(value, kind) or (isinstance(value, (str, list)) and not value):
        raise InputError(f"{path}:{number}: \"{name}\" is missing or empty")
    return value


def _texts(path: Path, number: int, record: dict[str, Any], name: str) -> list[str]:
    values = record.get(name, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise InputError(f"{path}:{number}: \"{name}\" must be a list of texts")
    return values


def _pool_set(path: Path, cache: ScoreCache) -> EvalSet:
    queries = []
    for number, record in read_jsonl(path):
        query = _field(path, number, record, "query", str)
        positives = _texts(path, number, record, "positives")
        if not positives:
            raise InputError(f"{path}:{number}: \"positives\" is missing or empty")
        # Each text once: a positive that the candidates repeat is still relevant (and not also a
        # non-relevant copy of itself ranked beside it).
        positives = list(dict.fromkeys(positives))
        pool = [text for text in dict.fromkeys(_texts(path, number, record, "candidates")) if text not in positives]
        pool += positives
        first = len(pool) - len(positives) + 1
        relevance = {f"#{i}": 1 for i in range(first, len(pool) + 1)}
        queries.append(EvalQuery(query, PoolCorpus(pool, f"{path}:{number}", cache), relevance))
    if not queries:
        raise InputError(f"{path} holds no queries")
    return EvalSet(path.name, queries, [])


def unindexed_relevant(eval_set: EvalSet) -> list[str]:
    """The relevant paths that a query over a folder names but the folder's index does not hold
    (misspelt, or skipped by the walk): they can only score as misses. Call after the update."""
    missing = {path for query in eval_set.queries if query.corpus.has_files
               for path in query.relevance if query.corpus.file_kind(path) is None}
    return sorted(missing)


def _folder_set(folder: Path, queries_file: Path, cache: Path) -> EvalSet:
    index = FolderIndex.open(folder, cache=cache)
    queries = []
    for number, record in read_jsonl(queries_file):
        query = _field(queries_file, number, record, "query", str)
        relevant = _field(queries_file, number, record, "relevant", (str, list))
        paths = [relevant] if isinstance(relevant, str) else relevant
        if not all(isinstance(item, str) for item in paths):
            raise InputError(f"{queries_file}:{number}: \"relevant\" must be a path or a list of paths")
        queries.append(EvalQuery(query, index, {Path(item).as_posix(): 1 for item in paths}))
    if not queries:
        raise InputError(f"{queries_file} holds no queries")
    return EvalSet(f"{folder.name} + {queries_file.name}", queries, [index])


def _beir_set(folder: Path, cache: Path) -> EvalSet:
    corpus_file = folder / "corpus.jsonl"
    digest = hashlib.sha256(f"{corpus_file.resolve()}|{corpus_file.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    slug = re.sub(r"[^\w.-]+", "_", folder.name)[:40]
    documents = cache / "eval-corpora" / f"{slug}-{digest}"
    names = _write_corpus(corpus_file, documents)
    index = FolderIndex.open(documents, cache=cache)
    texts = {_field(folder / "queries.jsonl", n, r, "_id", str): _field(folder / "queries.jsonl", n, r, "text", str)
             for n, r in read_jsonl(folder / "queries.jsonl")}
    queries = [EvalQuery(texts[qid], index, {names[doc]: grade for doc, grade in grades.items() if doc in names})
               for qid, grades in _qrels(folder).items() if qid in texts]
    if not queries:
        raise InputError(f"{folder}: no query of queries.jsonl has judgements in qrels/")
    return EvalSet(folder.name, queries, [index])


def _write_corpus(corpus_file: Path, documents: Path) -> dict[str, str]:
    """Write each document as a file (once; skipped when the folder is complete); {doc id: file name}."""
    names: dict[str, str] = {}
    done = documents / ".complete"
    documents.mkdir(parents=True, exist_ok=True)
    for number, record in read_jsonl(corpus_file):
        doc_id = _field(corpus_file, number, record, "_id", str)
        names[doc_id] = f"{len(names):07}.txt"
        if not done.exists():
            title = record.get("title") or ""
            text = f"{title}\n\n{record.get('text') or ''}" if title else str(record.get("text") or "")
            (documents / names[doc_id]).write_text(text, encoding="utf-8")
    done.touch()
    return names


def _qrels(folder: Path) -> dict[str, dict[str, int]]:
    """{query id: {doc id: grade}} from qrels/test.tsv (or the one TSV there)."""
    files = sorted((folder / "qrels").glob("*.tsv"))
    chosen = next((file for file in files if file.name == "test.tsv"), files[0] if len(files) == 1 else None)
    if chosen is None:
        raise InputError(f"{folder}/qrels holds {'no' if not files else 'several'} .tsv files and no test.tsv")
    grades: dict[str, dict[str, int]] = {}
    for number, line in enumerate(chosen.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("\t")
        if number == 1 and parts[-1].strip() == "score" or not line.strip():
            continue
        if len(parts) != 3 or not parts[2].strip().lstrip("-").isdigit():
            raise InputError(f"{chosen}:{number}: expected query-id, corpus-id and an integer score, tab-separated")
        grades.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return grades
