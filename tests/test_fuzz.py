"""A short coverage-guided fuzz run (atheris) of the parsers of files users bring: the GGUF reader
and model validation, and a ZIP-and-XML document reader (DOCX). `make fuzz` runs every reader longer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

pytestmark = pytest.mark.slow


def test_a_short_fuzz_run_finds_no_crash(tmp_path: Path) -> None:
    out = tmp_path / "fuzz.json"
    result = subprocess.run([sys.executable, "-m", "tools.fuzz", "--targets", "gguf,docx", "--runs", "1000",
                             "--out", str(out), "--crashes", str(tmp_path / "crashes")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [row["target"] for row in rows] == ["gguf", "docx"]
    assert all(row["executions"] >= 1000 and not row["crashed"] for row in rows), rows
    assert not list((tmp_path / "crashes").glob("*"))


def test_the_gguf_seed_holds_every_kind_of_metadata_and_cuts_are_refused_cleanly(tmp_path: Path) -> None:
    from local_rerank.gguf_reader import read_header
    from tools import fuzz

    seed = fuzz.gguf_seed(tmp_path / "seed.gguf")
    header = read_header(seed)
    assert header.fields["seed.nested"] == [[1, 2], [3]] and header.fields["seed.big"] == -2**40
    assert set(header.tensors) == {"token_embd.weight", "output_norm.weight"}
    data = seed.read_bytes()
    for cut in range(0, len(data), 97):  # every cut is refused with a documented error, never another
        fuzz.check_gguf(data[:cut], tmp_path)
