"""`local-rerank search`, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.cli.search import _table
from local_rerank.search.chunking import Passage
from local_rerank.search.hits import SearchHit
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
    assert (result.returncode == 1
            and result.stderr.splitlines()[-1].startswith("error: cut.gguf is corrupt or truncated"))
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_the_tui_outside_a_terminal_points_to_search(folder: Path) -> None:
    result = run("tui", str(folder))
    assert result.returncode != 0 and "local-rerank search" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_with_a_model_scores_are_probabilities_from_the_reranker(folder: Path, gguf_files: dict, llama_cpp) -> None:
    model = gguf_files["tied", "q8_0"]
    result = run("search", str(folder), "lease tomatoes estuary folder", "--json", "--model", str(model),
                 "--candidates", "4")
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


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """File names and text with terminal escapes: OSC (retitles), CSI (clears), the 1-byte C1 CSI."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "\x1b]0;pwned\x07.md").write_text("lease notes\n\x1b[2J the lease ends in March\n")
    (folder / "契約 📄.md").write_text("lease\u009b31m renewal 中文\n")
    return folder


def test_file_names_and_passages_cannot_steer_the_terminal(hostile: Path) -> None:
    table = run("search", str(hostile), "lease", "--no-rerank")
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout and "\u009b" not in table.stdout
    assert "\\x1b]0;pwned\\x07.md:1-2" in table.stdout and "lease notes" in table.stdout
    assert "契約 📄.md" in table.stdout and "lease\\x9b31m renewal 中文" in table.stdout


def test_json_output_holds_no_raw_control_characters(hostile: Path) -> None:
    as_json = run("search", str(hostile), "lease", "--no-rerank", "--json")
    assert "\x1b" not in as_json.stdout and "\u009b" not in as_json.stdout
    assert {hit["path"] for hit in json.loads(as_json.stdout)} == {"\x1b]0;pwned\x07.md", "契約 📄.md"}


def test_skipped_files_are_counted_in_words_that_read_well() -> None:
    from local_rerank.cli.search import describe_index
    from local_rerank.search import IndexReport

    report = IndexReport(1, 1, 1, 0, 0, {"binary file": 47, "larger than 10 MiB": 1,
                                         "cannot be read (Permission denied)": 2})
    assert describe_index(report) == (
        "indexed 1 file (1 passage; 1 read, 0 unchanged, 0 removed) in 0.0 s; skipped 50 files "
        "(binary file: 47, cannot be read (Permission denied): 2, larger than 10 MiB: 1)")
    assert describe_index(IndexReport(2, 3, 0, 2, 0, {"no text": 1})).endswith("; skipped 1 file (no text: 1)")


def test_format_csv_md_and_json_hold_the_results(folder: Path) -> None:
    import csv
    import io

    as_csv = run("search", str(folder), "lease", "--no-rerank", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows and rows[0]["rank"] == "1" and rows[0]["query"] == "lease" and rows[0]["reranked"] == "False"
    as_md = run("search", str(folder), "lease", "--no-rerank", "--format", "md").stdout
    assert as_md.startswith("# lease\n") and "| rank | BM25 | BM25 rank | file | lines | passage |" in as_md
    data = json.loads(run("search", str(folder), "lease", "--no-rerank", "--format", "json").stdout)
    assert data["query"] == "lease" and data["model"] is None and data["results"][0]["path"] == rows[0]["path"]


def test_tui_docs_are_read_before_the_terminal_is_needed(tmp_path: Path) -> None:
    missing = run("tui", "--docs", str(tmp_path / "missing.jsonl"))
    assert (missing.returncode == 1 and missing.stderr.startswith("error: cannot read")
            and "Traceback" not in missing.stderr)
    listed = tmp_path / "list.txt"
    listed.write_text("one\ntwo\n")
    no_terminal = run("tui", "--docs", str(listed))
    assert no_terminal.returncode == 1 and "needs a terminal" in no_terminal.stderr


def test_document_mode_scores_each_file_as_one_text(folder: Path, gguf_files: dict, llama_cpp) -> None:
    model = gguf_files["tied", "q8_0"]
    args = ("search", str(folder), "lease tomatoes estuary folder", "--model", str(model), "--candidates", "4")
    passages = json.loads(run(*args, "--format", "json").stdout)
    documents = json.loads(run(*args, "--format", "json", "--unit", "document", "--document-tokens", "4000").stdout)
    assert passages["unit"] == "passage" and documents["unit"] == "document"
    assert {hit["path"] for hit in documents["results"]} == {hit["path"] for hit in passages["results"]}
    by_path = {hit["path"]: hit["score"] for hit in passages["results"]}
    # Files longer than their best passage read differently as a whole, so they score differently.
    assert any(abs(hit["score"] - by_path[hit["path"]]) > 1e-6 for hit in documents["results"])
    markdown = run(*args, "--format", "md", "--unit", "document").stdout
    assert "Reranked: each file's best passages packed together" in markdown


def test_the_table_shows_tiny_bm25_scores_in_figures_and_p_yes_to_four_places() -> None:
    hits = [SearchHit("common.md", Passage("the", 1, 1), "a", 1, 2.03e-06),
            SearchHit("reranked.md", Passage("the", 1, 1), "b", 2, 0.5, 0.93)]
    rows = _table(hits).splitlines()[1:]
    assert "2.03e-06" in rows[0] and "0.0000" not in rows[0]
    assert " 0.9300 " in rows[1]
