"""The program for an air-gapped laptop: `make wheelhouse`, then pip with the index switched off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("llama_cpp")]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["cp -r copies a folder recursively", "bananas are yellow"]


def _venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    return folder / "bin"


def _offline_install(bin_dir: Path, wheelhouse: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}
    return subprocess.run([str(bin_dir / "pip"), "install", "--no-index", "--find-links", str(wheelhouse),
                           "local-rerank[gguf]"], capture_output=True, text=True, timeout=900, env=environment)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse") / "wheelhouse"
    built = subprocess.run(["make", "-s", "--no-print-directory", "wheelhouse", f"WHEELHOUSE={folder}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    return folder


def test_the_wheelhouse_installs_with_no_index_and_ranks(wheelhouse: Path, gguf_files, tmp_path: Path) -> None:
    from local_rerank import Reranker

    names = {path.name.split("-")[0].lower() for path in wheelhouse.glob("*.whl")}
    assert {"local_rerank", "llama_cpp_python", "numpy", "textual", "tokenizers"} <= names
    assert not any(wheelhouse.glob("*.tar.gz")), "every package must be a wheel: the laptop cannot build"
    bin_dir = _venv(tmp_path / "venv")
    installed = _offline_install(bin_dir, wheelhouse)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    model = gguf_files["tied", "q8_0"]
    ranked = subprocess.run([str(bin_dir / "local-rerank"), "rank", "--model", str(model), "--query", "copy a folder",
                             "--json", *DOCS], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "LOCAL_RERANK_CONFIG": "/nonexistent/config.toml"})
    assert ranked.returncode == 0, ranked.stderr
    with Reranker.load(model) as reranker:
        expected = reranker.score("copy a folder", DOCS)
    for result in json.loads(ranked.stdout)["results"]:
        assert result["relevance_score"] == pytest.approx(expected[result["index"]], abs=1e-6)
    doctor = subprocess.run([str(bin_dir / "local-rerank"), "doctor"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert "chosen for this CPU among" in doctor.stdout, doctor.stdout + doctor.stderr


def test_a_wheelhouse_missing_a_wheel_names_it(wheelhouse: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(wheelhouse, partial)
    for wheel in partial.glob("pathspec-*.whl"):
        wheel.unlink()
    installed = _offline_install(_venv(tmp_path / "venv"), partial)
    assert installed.returncode != 0
    assert "No matching distribution found for pathspec" in installed.stderr
