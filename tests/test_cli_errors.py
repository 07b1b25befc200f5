"""Bad input to `local-rerank`, without any model: one line on stderr, the documented exit
status, never a traceback or an `unexpected` error (tests/test_cli.py covers bad models)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.cli import main
from local_rerank.settings import MAX_CANDIDATES, MAX_THREADS, MAX_TOP_K

ABOVE = {"--threads": MAX_THREADS + 1, "--candidates": MAX_CANDIDATES + 1, "--top-k": MAX_TOP_K + 1,
         "--max-length": 32769}
NUMERIC_FLAGS = [("rank", "--top-k"), ("rank", "--max-length"), ("rank", "--threads"), ("search", "--top-k"),
                 ("search", "--candidates"), ("search", "--threads"), ("tui", "--candidates"), ("tui", "--threads")]
BAD_NUMBERS = ["0", "-1", "1" + "0" * 30, "many", "2.5"]


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_RERANK_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("LOCAL_RERANK_MODELS", str(tmp_path / "store"))
    for name in ("MODEL", "BACKEND", "DEVICE", "THREADS", "MAX_LENGTH"):
        monkeypatch.delenv(f"LOCAL_RERANK_{name}", raising=False)


def failure(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The exit status and the one line on stderr of a command that must fail."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "unexpected" not in err and "Traceback" not in err
    return exit_.value.code, lines[0]


def command(name: str, folder: Path, *options: str) -> list[str]:
    if name == "rank":
        return ["rank", *options, "-q", "q", "doc"]
    return [name, str(folder), "lease", *options] if name == "search" else [name, str(folder), *options]


@pytest.mark.parametrize("value", [*BAD_NUMBERS, "above"])
@pytest.mark.parametrize(("name", "flag"), NUMERIC_FLAGS)
def test_numeric_flags_out_of_range_exit_2(tmp_path: Path, capsys, name: str, flag: str, value: str) -> None:
    value = str(ABOVE[flag]) if value == "above" else value
    status, line = failure(command(name, tmp_path, flag, value), capsys)
    assert status == 2 and f"'{flag}'" in line


@pytest.mark.parametrize("raw", ["0", "-1", "65536", "many"])
@pytest.mark.parametrize("variable", ["LOCAL_RERANK_THREADS", "LOCAL_RERANK_MAX_LENGTH"])
@pytest.mark.parametrize("name", ["rank", "search"])
def test_numeric_environment_variables_out_of_range_exit_2(tmp_path: Path, capsys, monkeypatch, name: str,
                                                            variable: str, raw: str) -> None:
    monkeypatch.setenv(variable, raw)
    status, line = failure(command(name, tmp_path), capsys)
    assert status == 2 and variable in line


@pytest.mark.parametrize(("text", "message"), [
    ("threads = 65536", "at most 512"),
    ("max_length = 0", "max length must be between"),
    ('model = "~no-such-user-local-rerank/m.gguf"', "cannot expand '~no-such-user-local-rerank'"),
])
def test_config_file_values_exit_2(tmp_path: Path, capsys, monkeypatch, text: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text + "\n")
    monkeypatch.setenv("LOCAL_RERANK_CONFIG", str(config))
    status, line = failure(command("rank", tmp_path), capsys)
    assert status == 2 and message in line


def test_file_names_in_errors_cannot_steer_the_terminal(tmp_path: Path, capsys) -> None:
    hostile = tmp_path / "\x1b]0;pwned\x07.txt"
    hostile.write_text("not a model\n")
    status, line = failure(["rank", "--model", str(hostile), "-q", "q", "doc"], capsys)
    assert status == 1 and "\\x1b]0;pwned\\x07.txt is not a model" in line and "\x1b" not in line


@pytest.mark.parametrize("args", [["rank", "--model", "{fifo}", "-q", "q", "doc"], ["doctor", "{fifo}"],
                                  ["models", "import", "{fifo}"]])
def test_a_fifo_as_the_model_is_refused_without_waiting_for_a_writer(tmp_path: Path, args: list[str]) -> None:
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "local_rerank", *(a.format(fifo=fifo) for a in args)],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    output = result.stdout + result.stderr
    assert f"{fifo} is neither a regular file nor a folder" in output and "Traceback" not in output
    assert result.returncode == 1  # doctor prints its report, then fails: the model named cannot run
