"""The model store: every import form, verification, no silent overwrites, offline behaviour."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from local_rerank.errors import InputError, ModelError
from local_rerank.store import (
    catalog,
    export_bundle,
    find,
    import_model,
    installed,
    network_problem,
    pull,
    remove,
    resolve_model,
    verify,
)

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
    bundle = export_bundle(model, tmp_path / "bundles" / "small.tar")  # its folder is made, as convert makes one
    other = tmp_path / "air-gapped"
    carried = import_model(bundle, other)
    assert carried.name == "small" and verify(carried) == []
    assert carried.path.read_bytes() == model.path.read_bytes()


def test_a_file_of_no_known_form_is_refused_naming_every_form(store: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("not a model")
    with pytest.raises(ModelError, match="can import .*a Hugging Face checkpoint folder or a bundle"):
        import_model(tmp_path / "mine.txt", store)


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
    converted = convert_into_store(checkpoint, store, quant="Q8_0")  # llama.cpp's spelling names it as q8_0
    assert (converted.name, converted.format) == ("tiny-q8_0", "gguf")
    assert resolve_model("tiny-q8_0", store) == converted.path and verify(converted) == []
    assert sorted(p.name for p in store.iterdir()) == ["tiny", "tiny-q8_0"]
    manifest = converted.path.with_name(converted.path.name + ".manifest.json")
    assert json.loads(manifest.read_text())["parity"]["passed"]


@pytest.fixture
def no_proxy(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:{port}", "https://no-such-host.invalid"])
def test_pull_without_network_fails_at_once_and_says_what_to_do(store: Path, monkeypatch, no_proxy,
                                                                 endpoint: str) -> None:
    monkeypatch.setenv("HF_ENDPOINT", endpoint.format(port=_closed_port()))
    name = catalog()[0]["name"]
    with pytest.raises(ModelError, match=f"^no network: cannot reach .*models import {name}.tar"):
        pull(name, store)
    assert not store.exists(), "nothing is written before the network answers"


def test_a_listening_hub_is_reachable(monkeypatch, no_proxy) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert network_problem() is None


def _bundle(tmp_path: Path, record: str, extra_member: str | None = None) -> Path:
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / "store.json").write_text(record)
    bundle = tmp_path / "bundle.tar"
    with tarfile.open(bundle, "w") as archive:
        archive.add(entry, arcname="small")
        if extra_member:
            archive.add(entry / "store.json", arcname=extra_member)
    return bundle


@pytest.mark.parametrize(("record", "extra_member", "message"), [
    ("not json", None, "damaged"),
    ("[]", None, "damaged"),
    ('{"name": "small", "format": "gguf", "payload": "/etc/passwd", "files": {}}', None, "damaged"),
    ('{"name": "small", "format": "gguf", "payload": "m.gguf", "files": {"m.gguf": "x"}}', None, "damaged"),
    ('{"name": "small", "format": "gguf", "payload": "m.gguf", "files": {}}', "../escape", "not a usable bundle"),
])
def test_a_damaged_bundle_is_refused(store: Path, tmp_path: Path, record: str, extra_member: str | None,
                                     message: str) -> None:
    with pytest.raises(ModelError, match=message):
        import_model(_bundle(tmp_path, record, extra_member), store)
    assert installed(store) == [] and not (tmp_path / "escape").exists()


def test_a_folder_holding_a_fifo_is_refused_not_copied(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07graph")
    os.mkfifo(folder / "pipe")  # copying it would wait for a writer
    with pytest.raises(ModelError, match="cannot copy .* named pipe"):
        import_model(folder, store)
    assert installed(store) == [] and [p.name for p in store.iterdir()] == []


def test_names_never_reach_outside_the_store(store: Path, tmp_path: Path, gguf_files) -> None:
    import_model(gguf_files["tied", "q8_0"], store, name="small")
    (tmp_path / "store.json").write_text("{}")  # beside the store: `..` must not find it
    assert find(store, "..") is None and find(store, "small/..") is None
    with pytest.raises(InputError, match="no installed model named '..'"):
        remove(store, "..")
    with pytest.raises(InputError, match="cannot write .*: (File exists|Not a directory)"):
        export_bundle(find(store, "small"), tmp_path / "store.json" / "small.tar")  # a file where a folder goes
    assert (tmp_path / "store.json").is_file() and [m.name for m in installed(store)] == ["small"]
