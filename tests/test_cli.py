"""The `local-rerank` command, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.files import sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("llama_cpp")]

DOCS = ["cp -r copies a folder recursively", "bananas are yellow", "rsync -a src/ dst/ copies directories"]


def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml", **env}
    return subprocess.run([sys.executable, "-m", "local_rerank", *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env=environment)


@pytest.fixture(scope="session")
def model(gguf_files) -> Path:
    return gguf_files["tied", "q8_0"]


def test_json_output_has_the_rerank_api_shape_and_the_librarys_scores(model: Path) -> None:
    from local_rerank import Reranker

    result = run("rank", "--model", str(model), "--query", "copy a folder", "--json", *DOCS)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["backend"] == "gguf" and payload["device"] == "cpu" and payload["model"]
    with Reranker.load(model) as reranker:
        expected = reranker.score("copy a folder", DOCS)
    scores = [r["relevance_score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)
    assert sorted(r["index"] for r in payload["results"]) == [0, 1, 2]
    for entry in payload["results"]:
        assert entry["relevance_score"] == pytest.approx(expected[entry["index"]], abs=1e-9)
        assert set(entry) == {"index", "relevance_score"}


def test_docs_file_top_k_and_returned_documents(model: Path, tmp_path: Path) -> None:
    docs_file = tmp_path / "candidates.jsonl"
    docs_file.write_text("".join(json.dumps({"text": d}) + "\n" for d in DOCS))
    result = run("rank", "--model", str(model), "-q", "copy a folder", "--docs-file", str(docs_file), "--json",
                 "--top-k", "2", "--return-documents")
    results = json.loads(result.stdout)["results"]
    assert len(results) == 2
    assert all(r["document"]["text"] == DOCS[r["index"]] for r in results)


def test_plain_text_on_stdin_and_a_table_for_people(model: Path) -> None:
    result = run("rank", "--model", str(model), "-q", "copy a folder", stdin="\n".join(DOCS) + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rank", "score", "doc", "text"]
    assert len(lines) == 4 and lines[1].split()[0] == "1"
    assert any(DOCS[0] in line for line in lines[1:])


def test_long_documents_are_reported_as_cut(model: Path) -> None:
    result = run("rank", "--model", str(model), "-q", "q", "--max-length", "128", "word " * 500, "short")
    assert result.returncode == 0
    assert "1 document(s) were cut to the 128-token budget" in result.stderr


BAD_INPUTS = ["empty query", "no documents", "missing model", "corrupt model", "not a model", "max length too small",
              "max length too large", "unreadable docs file", "binary docs file", "invalid UTF-8", "bad checkpoint",
              "unknown quant", "corrupt onnx model", "onnx folder without tokenizer"]


def _bad_input_args(model: Path, tmp: Path, tokenizer_dir: Path) -> dict[str, list[str]]:
    broken_onnx, untokenized_onnx = tmp / "broken-onnx", tmp / "untokenized-onnx"
    for folder in (broken_onnx, untokenized_onnx):
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"\x08\x07not a graph" * 50)
    (broken_onnx / "tokenizer.json").write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
    corrupt = tmp / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + bytes(range(256)) * 40)
    binary = tmp / "docs.bin"
    binary.write_bytes(b"\x00\x01\x02binary")
    latin1 = tmp / "docs.txt"
    latin1.write_bytes(b"caf\xe9\n")
    rank = ["rank", "--model", str(model)]
    return {
        "empty query": [*rank, "-q", " ", "doc"],
        "no documents": [*rank, "-q", "q", "--docs-file", "-"],
        "missing model": ["rank", "--model", str(tmp / "missing.gguf"), "-q", "q", "doc"],
        "corrupt model": ["rank", "--model", str(corrupt), "-q", "q", "doc"],
        "not a model": ["rank", "--model", str(latin1), "-q", "q", "doc"],
        "max length too small": [*rank, "-q", "q", "--max-length", "5", "doc"],
        "max length too large": [*rank, "-q", "q", "--max-length", "40000", "doc"],
        "unreadable docs file": [*rank, "-q", "q", "--docs-file", str(tmp / "none.jsonl")],
        "binary docs file": [*rank, "-q", "q", "--docs-file", str(binary)],
        "invalid UTF-8": [*rank, "-q", "q", "--docs-file", str(latin1)],
        "bad checkpoint": ["convert", str(tmp), "--out", str(tmp / "out.gguf")],
        "unknown quant": ["convert", str(tmp), "--quant", "q9_9", "--out", str(tmp / "out.gguf")],
        "corrupt onnx model": ["rank", "--model", str(broken_onnx), "-q", "q", "doc"],
        "onnx folder without tokenizer": ["rank", "--model", str(untokenized_onnx), "-q", "q", "doc"],
    }


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_one_line_and_a_nonzero_exit(model: Path, tmp_path: Path, tokenizer_dir: Path,
                                                    case: str) -> None:
    args = _bad_input_args(model, tmp_path, tokenizer_dir)
    assert set(args) == set(BAD_INPUTS)
    result = run(*args[case], stdin="")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_cuda_without_a_gpu_is_an_error_not_a_silent_cpu_run(model: Path, llama_cpp) -> None:
    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python has GPU support")
    result = run("rank", "--model", str(model), "-q", "q", "--device", "cuda", "doc")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --device cuda")


def test_convert_never_overwrites_without_force(tiny_tied: Path, tmp_path: Path) -> None:
    existing = tmp_path / "model.gguf"
    existing.write_bytes(b"precious")
    result = run("convert", str(tiny_tied), "--out", str(existing), "--no-parity")
    assert result.returncode == 1 and "--force" in result.stderr
    assert existing.read_bytes() == b"precious"


def test_onnx_folders_rank_through_the_onnx_backend(onnx_exports) -> None:
    result = run("rank", "--model", str(onnx_exports["tied", "int8"]), "-q", "copy a folder", "--json", *DOCS)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["backend"] == "onnx" and payload["device"] == "cpu"
    assert sorted(r["index"] for r in payload["results"]) == [0, 1, 2]


def test_settings_come_from_the_environment_and_the_config_file(model: Path, tmp_path: Path) -> None:
    assert run("rank", "-q", "q", "doc").stderr.startswith("error: no model: pass --model")
    result = run("rank", "-q", "copy", "--json", "doc", LOCAL_RERANK_MODEL=str(model))
    assert json.loads(result.stdout)["backend"] == "gguf"
    config = tmp_path / "config.toml"
    config.write_text(f'model = "{model}"\ndevice = "cpu"\n')
    assert json.loads(run("rank", "-q", "copy", "--json", "doc",
                          LOCAL_RERANK_CONFIG=str(config)).stdout)["device"] == "cpu"
    config.write_text('modle = "typo.gguf"\n')
    result = run("rank", "-q", "copy", "doc", LOCAL_RERANK_CONFIG=str(config))
    assert result.returncode == 2 and result.stderr.startswith("error: unknown setting 'modle'")


def test_convert_says_what_it_wrote_for_a_file_and_for_a_folder(tiny_tied: Path, tmp_path: Path) -> None:
    pytest.importorskip("optimum.exporters.onnx")
    gguf = run("convert", str(tiny_tied), "--out", str(tmp_path / "m.gguf"), "--no-parity")
    assert gguf.returncode == 0, gguf.stderr
    assert f"sha256 {sha256_file(tmp_path / 'm.gguf')[:16]}…" in gguf.stdout.splitlines()[0]
    onnx = run("convert", str(tiny_tied), "--format", "onnx", "--out", str(tmp_path / "m-onnx"), "--no-parity")
    assert onnx.returncode == 0, onnx.stderr
    assert onnx.stdout.splitlines()[0].startswith(f"wrote {tmp_path / 'm-onnx'}/ (")
    assert onnx.stdout.splitlines()[0].endswith(" MiB in 4 files)")
    assert f"manifest {tmp_path / 'm-onnx' / 'manifest.json'}" in onnx.stdout


def _run_bytes(*args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml"}
    return subprocess.run([sys.executable, "-m", "local_rerank", *args], input=stdin, capture_output=True,
                          timeout=300, env=environment)


@pytest.mark.parametrize(("args", "what"), [(["-q", b"copy \xff"], "query"),
                                            (["-q", "copy", "--instruction", b"rank \xff"], "instruction")])
def test_invalid_utf8_in_the_query_or_instruction_is_one_clear_line(model: Path, args: list, what: str) -> None:
    result = _run_bytes("rank", "--model", str(model), *args, "doc")
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"error: the {what} is not valid text (invalid UTF-8, or a lone surrogate escape)"]


def test_documents_that_are_not_text_get_replacement_characters(model: Path) -> None:
    argument = _run_bytes("rank", "--model", str(model), "-q", "copy", "--json", "--return-documents", b"cp \xff -r")
    assert argument.returncode == 0, argument.stderr
    assert json.loads(argument.stdout)["results"][0]["document"]["text"] == "cp \ufffd -r"
    jsonl = _run_bytes("rank", "--model", str(model), "-q", "copy", "--json", "--return-documents",
                       stdin=b'{"text": "cut \\ud83d"}\n{"text": "ok"}\n')
    assert jsonl.returncode == 0, jsonl.stderr
    assert {r["document"]["text"] for r in json.loads(jsonl.stdout)["results"]} == {"cut \ufffd", "ok"}
