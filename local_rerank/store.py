"""The model store: models by name, brought in online (pull) or offline (import, bundles).

Layout: ``<store>/<name>/`` holds the model (a GGUF file, an ONNX export folder, or a
Hugging Face checkpoint folder) and ``store.json`` with its format and the sha256 of every
file, so that ``verify`` finds a flipped byte. The store is ``$LOCAL_RERANK_MODELS``, else
``models/`` in a checkout, else ``~/.local/share/local-rerank/models``. Nothing in it is
replaced without ``force``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_rerank.backends import UnknownFormat, detect_format
from local_rerank.convert.checkpoint import read_qwen3_config
from local_rerank.convert.pipeline import convert_checkpoint
from local_rerank.errors import ConversionError, InputError, ModelError
from local_rerank.files import file_records, move_into_place, remove_path, sha256_file
from local_rerank.formats import FORMATS
from local_rerank.gguf_file import read_gguf_model
from local_rerank.manifest import manifest_path
from local_rerank.settings import expand_home

STORE_FILE = "store.json"
CATALOG = Path(__file__).with_name("catalog.toml")
HUB = "https://huggingface.co"  # huggingface_hub's endpoint unless $HF_ENDPOINT says otherwise
NETWORK_TIMEOUT_S = 2.0  # to tell "offline" from "online" before huggingface_hub's retries (~20 s)


@dataclass(frozen=True)
class StoredModel:
    """A model in the store: its name, format ("gguf", "onnx", "openvino" or "hf") and payload path."""

    name: str
    format: str
    path: Path
    record: dict[str, Any]


def store_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where models are stored (see the module docstring)."""
    if environ.get("LOCAL_RERANK_MODELS"):
        return expand_home(environ["LOCAL_RERANK_MODELS"], "LOCAL_RERANK_MODELS")
    checkout = Path(__file__).resolve().parents[1] / "models"
    if (checkout / "catalog.toml").is_file():
        return checkout
    base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "local-rerank" / "models"


def catalog() -> list[dict[str, Any]]:
    """The catalog of known models (models/catalog.toml)."""
    return tomllib.loads(CATALOG.read_text(encoding="utf-8"))["model"]


def installed(store: Path) -> list[StoredModel]:
    """Every model in the store, by name."""
    if not store.is_dir():
        return []
    return [_stored(entry) for entry in sorted(store.iterdir()) if (entry / STORE_FILE).is_file()]


def find(store: Path, name: str) -> StoredModel | None:
    """The stored model with this name, or None (also for a path, which is no model name)."""
    if not _is_name(name):
        return None
    entry = store / name
    return _stored(entry) if (entry / STORE_FILE).is_file() else None


def resolve_model(reference: str, store: Path) -> Path:
    """A path as given, or the payload of the stored model with that name.

    Raises:
        ModelError: neither exists; the message says how to bring the model in.
        SettingsError: the reference starts with ``~user`` for an unknown user.
    """
    path = expand_home(reference, f"model {reference!r}")
    if path.exists():
        return path
    stored = find(store, reference)
    if stored is not None:
        if stored.format == "hf":
            raise ModelError(f"{reference} is a Hugging Face checkpoint; convert it first: local-rerank convert "
                             f"{stored.path} --out {reference}-q8_0.gguf && "
                             f"local-rerank models import {reference}-q8_0.gguf")
        return stored.path
    known = {entry["name"] for entry in catalog()}
    how = (f"download it with `local-rerank models pull {reference}`, or on an air-gapped machine bring a "
           f"bundle made by `local-rerank models export-bundle` and run `local-rerank models import BUNDLE`"
           if reference in known else "give a path, or a name from `local-rerank models list`")
    raise ModelError(f"model {reference!r} is neither a file nor an installed model; {how}")


def import_model(source: Path, store: Path, name: str | None = None, force: bool = False) -> StoredModel:
    """Copy a GGUF file, an ONNX export folder, a Hugging Face checkpoint folder or a bundle into the store.

    Raises:
        ModelError: the source is none of these, or fails validation.
        InputError: the name is taken and ``force`` is not set.
    """
    source = Path(source)
    if source.is_file() and tarfile.is_tarfile(source):
        return _import_bundle(source, store, force)
    fmt = _validate(source)
    name = name or (source.stem if source.is_file() else source.name)
    with _Staging(store, name, force) as staging:
        target = staging / source.name
        try:
            _copy_model(source, target)
        except OSError as e:  # unreadable, or a FIFO inside a folder (shutil refuses special files)
            raise ModelError(f"cannot copy {source} into the store: {e}") from e
        _write_record(staging, name, fmt, target.name, {"imported_from": str(source.resolve())})
    return _stored(store / name)


def _copy_model(source: Path, target: Path) -> None:
    """Copy a model folder, or a model file with the manifest ``convert`` wrote beside it."""
    if source.is_dir():
        shutil.copytree(source, target)
        return
    shutil.copy2(source, target)
    manifest = manifest_path(source)
    if manifest.is_file():
        shutil.copy2(manifest, target.with_name(manifest.name))


def pull(name: str, store: Path, *, offline: bool = False, force: bool = False) -> StoredModel:
    """Download a catalog model with huggingface_hub (progress bars, resumable) into the store.

    Raises:
        InputError: not a catalog name, or already installed without ``force``.
        ModelError: offline (``offline`` or HF_HUB_OFFLINE), or the download failed.
    """
    entry = next((e for e in catalog() if e["name"] == name), None)
    if entry is None:
        raise InputError(f"unknown model {name!r}; `local-rerank models list` shows the catalog")
    if offline or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelError(f"offline: {name} cannot be downloaded here. {_carry_it_over(name)}")
    if find(store, name) is not None and not force:
        raise InputError(f"{name} is already installed; pass --force to download it again")
    problem = network_problem()
    if problem is not None:
        raise ModelError(f"no network: {problem}, so {name} cannot be downloaded here. {_carry_it_over(name)}")
    download = store / f".{name}.download"  # kept across attempts, so an interrupted download resumes
    download.mkdir(parents=True, exist_ok=True)
    payload = _download(entry, download)
    model = import_model(payload, store, name=name, force=force)
    shutil.rmtree(download, ignore_errors=True)
    return model


def _carry_it_over(name: str) -> str:
    return (f"On a machine with network run `local-rerank models pull {name}` and "
            f"`local-rerank models export-bundle {name} {name}.tar`, carry {name}.tar over, "
            f"then run `local-rerank models import {name}.tar`")


def network_problem(timeout: float = NETWORK_TIMEOUT_S) -> str | None:
    """Why the hub (``$HF_ENDPOINT``, or the HTTPS proxy in the way) cannot be reached, or None.

    One connection attempt, name lookup included, bounded by ``timeout`` seconds: offline,
    this answers at once where huggingface_hub would retry for about 20 seconds.
    """
    host, port = _hub_address(os.environ.get("HF_ENDPOINT") or HUB)
    outcome: list[str | None] = []
    attempt = threading.Thread(target=lambda: outcome.append(_connect(host, port, timeout)), daemon=True)
    attempt.start()
    attempt.join(timeout)
    return outcome[0] if outcome else f"no answer from {host}:{port} within {timeout:g} s"


def _hub_address(endpoint: str) -> tuple[str, int]:
    """The host and port a download connects to first: the endpoint's, or its proxy's."""
    url = urllib.parse.urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxy_url.hostname or "", proxy_url.port or 80
    return host, port


def _connect(host: str, port: int, timeout: float) -> str | None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return f"cannot reach {host}:{port} ({e.strerror or e})"
    return None


def _download(entry: dict[str, Any], folder: Path) -> Path:
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as e:
        raise ModelError("downloads need huggingface_hub: pip install huggingface_hub") from e
    try:
        if entry["format"] == "gguf":
            return Path(hf_hub_download(entry["repo"], entry["file"], local_dir=folder))
        target = folder / entry["repo"].split("/")[-1]
        snapshot_download(entry["repo"], local_dir=target,
                          allow_patterns=["*.json", "*.safetensors", "*.txt", "*.md", "merges.txt"])
        return target
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
        raise ModelError(f"could not download {entry['repo']}: {e}") from e


def convert_into_store(stored: StoredModel, store: Path, fmt: str = "gguf", quant: str | None = None,
                       force: bool = False) -> StoredModel:
    """Convert a stored Hugging Face checkpoint and install the result as ``<name>-<quant>``."""
    if stored.format != "hf":
        raise InputError(f"{stored.name} is already a {stored.format} model; only checkpoints are converted")
    quant = (quant or FORMATS[fmt].default_quant).lower()  # as convert_checkpoint names it: Q8_0 is q8_0
    single_file = FORMATS[fmt].layout == "file"
    name = f"{stored.name}-{quant}" if single_file else f"{stored.name}-{fmt}-{quant}"
    with tempfile.TemporaryDirectory(dir=store) as tmp:
        out = Path(tmp) / (f"{name}.{fmt}" if single_file else name)
        convert_checkpoint(stored.path, out, fmt=fmt, quant=quant)
        return import_model(out, store, name=name, force=force)


def verify(stored: StoredModel) -> list[str]:
    """Problems found by re-hashing every file against store.json (empty: all good)."""
    problems = []
    entry = stored.path.parent
    for relative, expected in stored.record["files"].items():
        path = entry / relative
        if not path.is_file():
            problems.append(f"{relative} is missing")
        elif path.stat().st_size != expected["size_bytes"] or sha256_file(path) != expected["sha256"]:
            problems.append(f"{relative} has changed (sha256 mismatch)")
    return problems


def remove(store: Path, name: str) -> None:
    """Delete a stored model."""
    if find(store, name) is None:
        raise InputError(f"no installed model named {name!r}")
    shutil.rmtree(store / name)


def export_bundle(stored: StoredModel, out: Path, force: bool = False) -> Path:
    """One tar archive (model + store.json) to carry to another machine and import there."""
    if out.exists() and not force:
        raise InputError(f"{out} already exists; pass --force to replace it")
    problems = verify(stored)
    if problems:
        raise ModelError(f"{stored.name} does not verify, so it is not bundled: {problems[0]}")
    partial = out.with_name(f".{out.name}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(partial, "w") as archive:
            archive.add(stored.path.parent, arcname=stored.name)
        os.replace(partial, out)
    except OSError as e:
        if partial.is_file():
            partial.unlink()
        raise InputError(f"cannot write {out}: {e.strerror}") from e
    return out


def _is_name(name: str) -> bool:
    """Whether ``name`` can name a model: one entry inside the store, not hidden."""
    return bool(name) and "/" not in name and not name.startswith(".")


def _stored(entry: Path) -> StoredModel:
    """The model recorded in ``entry/store.json``.

    Raises:
        ModelError: the record is unreadable or not one this program wrote.
    """
    path = entry / STORE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise ModelError(f"{path} is damaged: {e}") from e
    if not _is_record(record):
        raise ModelError(f"{path} is damaged: not a local-rerank model record")
    return StoredModel(record["name"], record["format"], entry / record["payload"], record)


def _is_record(record: Any) -> bool:
    """Whether ``record`` has the shape :func:`_write_record` gives, its payload a name inside the entry."""
    if (not isinstance(record, dict)
            or not all(isinstance(record.get(key), str) for key in ("name", "format", "payload"))):
        return False
    payload, files = record["payload"], record.get("files")
    plain_name = payload not in ("", ".", "..") and Path(payload).name == payload
    return plain_name and isinstance(files, dict) and all(
        isinstance(f, dict) and isinstance(f.get("sha256"), str) and isinstance(f.get("size_bytes"), int)
        for f in files.values())


def _validate(source: Path) -> str:
    if (source.is_dir() and (source / "config.json").is_file()
            and not any((source / name).is_file() for name in ("model.onnx", "model.xml"))):
        try:
            read_qwen3_config(source)
        except ConversionError as e:
            raise ModelError(str(e)) from e
        return "hf"
    try:
        fmt = detect_format(source)
    except UnknownFormat as e:
        raise ModelError(f"{source} is not a model local-rerank can import (expected a GGUF file, an "
                         "ONNX or OpenVINO export folder, a Hugging Face checkpoint folder or a bundle from "
                         "`models export-bundle`)") from e
    if fmt == "gguf":
        read_gguf_model(source)
    return fmt


class _Staging:
    """A temporary folder in the store that becomes ``<store>/<name>`` only if all went well."""

    def __init__(self, store: Path, name: str, force: bool) -> None:
        if not _is_name(name):
            raise InputError(f"invalid model name {name!r}")
        self.store, self.target, self.force = store, store / name, force

    def __enter__(self) -> Path:
        if self.target.exists() and not self.force:
            raise InputError(f"a model named {self.target.name!r} is already installed; pass --force to replace it")
        self.store.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.store))
        self.staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users
        return self.staging

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is not None:
            remove_path(self.staging)
        else:
            move_into_place(self.staging, self.target)


def _write_record(entry: Path, name: str, fmt: str, payload: str, source: dict[str, Any]) -> None:
    files = file_records(entry, (p for p in sorted(entry.rglob("*")) if p.is_file() and p.name != STORE_FILE))
    record = {"name": name, "format": fmt, "payload": payload, "source": source, "files": files}
    (entry / STORE_FILE).write_text(json.dumps(record, indent=2) + "\n")


def _import_bundle(bundle: Path, store: Path, force: bool) -> StoredModel:
    with tempfile.TemporaryDirectory(dir=store if store.is_dir() else None) as tmp:
        try:
            with tarfile.open(bundle) as archive:
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:  # a cut-short archive, or a member leaving the folder
            raise ModelError(f"{bundle} is not a usable bundle: {e}") from e
        entries = [p for p in Path(tmp).iterdir() if (p / STORE_FILE).is_file()]
        if len(entries) != 1:
            raise ModelError(f"{bundle} is not a local-rerank bundle (expected one model with {STORE_FILE})")
        bundled = _stored(entries[0])
        problems = verify(bundled)
        if problems:
            raise ModelError(f"{bundle} is damaged: {problems[0]}")
        with _Staging(store, bundled.name, force) as staging:
            shutil.rmtree(staging)
            shutil.copytree(entries[0], staging)
    return _stored(store / bundled.name)
