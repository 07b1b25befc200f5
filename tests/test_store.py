"""The model store: every import form, verification, no silent overwrites, offline behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.errors import InputError, ModelError
from local_rerank.store import (catalog, export_bundle, find, import_model, installed, pull, remove, resolve_model,
                                verify)

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def test_each_form_is_imported_and_addressable_by_name(store: Path, gguf_files, onnx_exports, tiny_tied) -> None:
    gguf = import_model(gguf_files["tied", "q8_0"], store, name="small")
    onnx = import_model(onnx_exports["tied", "int8"], store)
    checkpoint = import_model(tiny_tied, store, name="checkpoint")
    assert [(m.name, m.format) for m in installed(store)] == [
        ("checkpoint", "hf"), ("small", "gguf"), (onnx_exports["tied", "int8"].name, "onnx")]
    assert resolve_model("small", store) == gguf.path and gguf.path.read_bytes()[:4] == b"GGUF"
    assert resolve_model(onnx.name, store) == onnx.path
    with pytest.raises(ModelError, match="convert it first"):
        resolve_model(checkpoint.name, store)
    assert all(verify(model) == [] for model in installed(store))


def test_a_bundle_carries_a_model_to_another_store(store: Path, tmp_path: Path, gguf_files) -> None:
    model = import_model(gguf_files["tied", "q8_0"], store, name="small")
    bundle = export_bundle(model, tmp_path / "small.tar")
    other = tmp_path / "air-gapped"
    carried = import_model(bundle, other)
    assert carried.name == "small" and verify(carried) == []
    assert carried.path.read_bytes() == model.path.read_bytes()


def test_verify_catches_a_flipped_byte(store: Path, gguf_files) -> None:
    model = import_model(gguf_files["tied", "q8_0"], store, name="small")
    data = bytearray(model.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.path.write_bytes(bytes(data))
    assert verify(model) == [f"{model.path.name} has changed (sha256 mismatch)"]


def test_a_truncated_gguf_is_refused(store: Path, tmp_path: Path, gguf_files) -> None:
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(gguf_files["tied", "q8_0"].read_bytes()[:1_000_000])
    with pytest.raises(ModelError, match="truncated"):
        import_model(truncated, store)
    assert installed(store) == []


def test_nothing_is_replaced_without_force(store: Path, gguf_files) -> None:
    first = import_model(gguf_files["tied", "q8_0"], store, name="m")
    with pytest.raises(InputError, match="already installed"):
        import_model(gguf_files["untied", "q8_0"], store, name="m")
    assert verify(first) == [] and find(store, "m").path.read_bytes() == gguf_files["tied", "q8_0"].read_bytes()
    replaced = import_model(gguf_files["untied", "q8_0"], store, name="m", force=True)
    assert replaced.path.read_bytes() == gguf_files["untied", "q8_0"].read_bytes()
    assert sorted(p.name for p in store.iterdir()) == ["m"]
    remove(store, "m")
    assert installed(store) == []


def test_offline_pull_says_how_to_bring_the_model_in(store: Path, monkeypatch) -> None:
    name = catalog()[0]["name"]
    with pytest.raises(ModelError, match=f"models import {name}.tar"):
        pull(name, store, offline=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="offline"):
        pull(name, store)
    with pytest.raises(ModelError, match=f"models pull {name}"):
        resolve_model(name, store)


def test_ranking_a_local_model_opens_no_socket(store: Path, gguf_files, tmp_path: Path) -> None:
    import_model(gguf_files["tied", "q8_0"], store, name="small")
    guard = (
        "import sys\n"
        "events = []\n"
        "sys.addaudithook(lambda event, args: events.append(event) if event.startswith('socket.') else None)\n"
        "from local_rerank.cli import main\n"
        "try:\n"
        "    main(['rank', '--model', 'small', '-q', 'copy a folder', '--json', 'cp -r', 'bananas'])\n"
        "finally:\n"
        "    print('SOCKET EVENTS', sorted(set(events)), file=sys.stderr)\n"
    )
    env = {"LOCAL_RERANK_MODELS": str(store), "LOCAL_RERANK_CONFIG": str(tmp_path / "none.toml"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert '"relevance_score"' in result.stdout
    assert "SOCKET EVENTS []" in result.stderr


def test_a_stored_checkpoint_converts_into_a_stored_gguf(store: Path, tiny_untied) -> None:
    from local_rerank.store import convert_into_store

    checkpoint = import_model(tiny_untied, store, name="tiny")
    converted = convert_into_store(checkpoint, store)
    assert (converted.name, converted.format) == ("tiny-q8_0", "gguf")
    assert resolve_model("tiny-q8_0", store) == converted.path and verify(converted) == []
    assert sorted(p.name for p in store.iterdir()) == ["tiny", "tiny-q8_0"]
    manifest = converted.path.with_name(converted.path.name + ".manifest.json")
    assert json.loads(manifest.read_text())["parity"]["passed"]
