"""`local-rerank search`, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.search.folders import build_mixed_folder


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml", **env}
    return subprocess.run([sys.executable, "-m", "local_rerank", *args], capture_output=True, text=True,
                          timeout=300, env=environment)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return build_mixed_folder(tmp_path / "docs", tmp_path / "elsewhere")


def test_json_lists_files_best_first_in_the_documented_shape(folder: Path) -> None:
    result = run("search", str(folder), "when does the lease end", "--json", "--no-rerank")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits[0] == {"path": "lease.md", "score": hits[0]["score"], "bm25_rank": 1,
                       "passage": {"start_line": 5, "end_line": 7,
                                   "text": "## Term\n\nThe lease ends on 31 March 2027, unless renewed in writing."}}
    assert [hit["bm25_rank"] for hit in hits] == list(range(1, len(hits) + 1))
    assert "indexed 7 files" in result.stderr and "skipped" in result.stderr


def test_pdf_passages_carry_their_page(folder: Path) -> None:
    hits = json.loads(run("search", str(folder), "dredging spawning season", "--json", "--no-rerank").stdout)
    assert hits[0]["path"] == "report.pdf" and hits[0]["passage"]["page"] == 1


def test_without_a_model_the_order_is_lexical_and_the_note_says_how_to_get_one(folder: Path,
                                                                                tmp_path: Path) -> None:
    result = run("search", str(folder), "tomatoes", "--top-k", "1", LOCAL_RERANK_MODELS=str(tmp_path / "no-models"))
    assert result.returncode == 0, result.stderr
    assert "no model installed" in result.stderr and "models pull" in result.stderr
    header, first = result.stdout.splitlines()
    assert "bm25" in header and "notes/garden.html:4-7" in first


@pytest.mark.parametrize(("args", "message"), [
    (("search", "{folder}", "   "), "error: the query is empty"),
    (("search", "{folder}", "?!"), "error: the query has no words to search for"),
    (("search", "{folder}/missing", "lease"), "does not exist"),
    (("search", "{folder}/lease.md", "lease"), "is not a folder"),
    (("search", "{folder}", "lease", "--model", "/nowhere/model.gguf"), "error: model"),
    (("search", "{folder}", "lease", "--candidates", "0"), "error:"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(folder: Path, args: tuple[str, ...], message: str) -> None:
    result = run(*(arg.format(folder=folder) for arg in args))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error")]) == 1


def test_a_truncated_model_file_is_one_clear_line(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "cut.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")  # the magic, then the header stops
    result = run("search", str(folder), "lease", "--model", str(tmp_path / "cut.gguf"))
    assert result.returncode == 1 and result.stderr.splitlines()[-1].startswith("error: cut.gguf is corrupt or truncated")
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_the_tui_outside_a_terminal_points_to_search(folder: Path) -> None:
    result = run("tui", str(folder))
    assert result.returncode != 0 and "local-rerank search" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_with_a_model_scores_are_probabilities_from_the_reranker(folder: Path, gguf_files: dict, llama_cpp) -> None:
    model = gguf_files["tied", "q8_0"]
    result = run("search", str(folder), "lease tomatoes estuary folder", "--json", "--model", str(model), "--candidates", "4")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 4
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and all(0 < score < 1 for score in scores)
    assert sorted(hit["bm25_rank"] for hit in hits) == [1, 2, 3, 4]
    again = json.loads(run("search", str(folder), "lease tomatoes estuary folder", "--json", "--model", str(model),
                           "--candidates", "4").stdout)
    assert again == hits, "the second run answers from the score cache with the same result"


@pytest.mark.slow
def test_the_default_model_is_used_once_installed(folder: Path, tmp_path: Path, gguf_files: dict, llama_cpp) -> None:
    from local_rerank.loading import DEFAULT_MODEL

    store = str(tmp_path / "store")
    installed = run("models", "import", str(gguf_files["tied", "q8_0"]), "--name", DEFAULT_MODEL,
                    LOCAL_RERANK_MODELS=store)
    assert installed.returncode == 0, installed.stderr
    result = run("search", str(folder), "tomatoes", "--json", LOCAL_RERANK_MODELS=store)
    assert result.returncode == 0 and "no model installed" not in result.stderr
    lexical = run("search", str(folder), "tomatoes", "--json", "--no-rerank", LOCAL_RERANK_MODELS=store)
    reranked_scores = [hit["score"] for hit in json.loads(result.stdout)]
    assert reranked_scores != [hit["score"] for hit in json.loads(lexical.stdout)]
