"""The OUTPUT folder's manifest, the job key that guards it, and resuming from shard records.

``_manifest.json`` says what the job is (input files and their sha256, the model's sha256,
token budget, default instruction, shard size: together the job key), which shards are
done, with their files' sha256, and the counts. It is written before any shard is scored,
so a re-run can tell whether OUTPUT holds this job (resume), another job (refused without
``--force``) or something else (always refused: nothing of the user's is deleted).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_rerank.batch.inputs import InputPlan
from local_rerank.batch.shard_spec import ShardSpec
from local_rerank.batch.shards import RECORDS, OutputLayout, ShardRecord
from local_rerank.errors import InputError
from local_rerank.files import remove_path, sha256_file

MANIFEST = "_manifest.json"
REJECTS = "_rejects.jsonl"
VERSION = 1


@dataclass(frozen=True)
class JobIdentity:
    """Everything that decides a job's output: a different value is a different job."""

    input_files: tuple[tuple[str, int, str], ...]  # (name, size, sha256)
    model_sha256: str
    max_length: int
    instruction: str | None
    shard_rows: int

    @property
    def key(self) -> str:
        """A short hash of all of it."""
        text = json.dumps([self.input_files, self.model_sha256, self.max_length, self.instruction, self.shard_rows])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def model_sha256(model: Path) -> str:
    """sha256 of a model file, or of an export folder's files (names and contents)."""
    if model.is_file():
        return sha256_file(model)
    digest = hashlib.sha256()
    for path in sorted(p for p in model.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(model)}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def identity_of(plan: InputPlan, model_digest: str, max_length: int, instruction: str | None,
                shard_rows: int) -> JobIdentity:
    """The identity of running ``plan`` with this model and these settings."""
    files = tuple((Path(f.path).name, f.size_bytes, f.sha256) for f in plan.files)
    return JobIdentity(files, model_digest, max_length, instruction, shard_rows)


def claim_output(folder: Path, identity: JobIdentity, force: bool) -> bool:
    """Make ``folder`` this job's: True when it already was (resume), False when it starts empty.

    Raises:
        InputError: it holds another job (without ``force``), or files that are not a job's, or
            it cannot be created.
    """
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} exists and is not a folder; OUTPUT is a folder of shards")
    if not folder.exists() or not any(folder.iterdir()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a parent that is a file, read-only or not there (/proc/...)
            raise InputError(f"cannot create the OUTPUT folder {folder}: {e.strerror or e}") from e
        return False
    manifest = _read_manifest(folder)
    if manifest.get("job") == identity.key:
        return True
    if not force:
        raise InputError(f"{folder} holds another job ({_difference(manifest, identity)}); "
                         "pass --force to replace it, or choose another OUTPUT")
    for path in folder.iterdir():
        remove_path(path)
    return False


def remove_temporaries(folder: Path) -> None:
    """Delete what killed runs left half-written (hidden ``*.tmp`` files)."""
    for place in (folder, folder / RECORDS):
        for path in place.glob(".*.tmp"):
            path.unlink(missing_ok=True)


def verified_records(layout: OutputLayout, shards: Iterable[ShardSpec]) -> dict[int, ShardRecord]:
    """The shards already done: a record of this job whose part file has the recorded size and sha256."""
    done = {}
    for spec in shards:
        record = _record(layout, spec)
        if record is not None:
            done[spec.index] = record
    return done


def write_manifest(layout: OutputLayout, identity: JobIdentity, plan: InputPlan, model: Path,
                   records: dict[int, ShardRecord]) -> dict[str, Any]:
    """Write ``_manifest.json`` (and, once all shards are done, ``_rejects.jsonl``); return the manifest."""
    complete = len(records) == len(plan.shards)
    done = [records[i] for i in sorted(records)]
    manifest = {
        "local_rerank_batch": VERSION, "job": identity.key, "status": "complete" if complete else "partial",
        "input": {"format": plan.fmt, "files": [vars(f) for f in plan.files]},
        "model": {"path": str(model), "sha256": identity.model_sha256, **_model_seen(done)},
        "max_length": identity.max_length, "instruction": identity.instruction, "shard_rows": identity.shard_rows,
        "counts": _counts(plan, done), "rejects_file": REJECTS if complete else None,
        "shards": [{k: v for k, v in vars(r).items() if k != "rejects"} for r in done],
    }
    if complete:
        _write_text(layout.folder / REJECTS, "".join(line + "\n" for r in done for line in r.rejects))
    _write_text(layout.folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest


def _counts(plan: InputPlan, done: list[ShardRecord]) -> dict[str, int]:
    return {"rows": plan.rows, "shards": len(plan.shards), "shards_done": len(done),
            "rows_scored": sum(r.rows_out for r in done), "rows_rejected": sum(len(r.rejects) for r in done),
            "pairs": sum(r.pairs for r in done), "truncated": sum(r.truncated for r in done)}


def _model_seen(done: list[ShardRecord]) -> dict[str, Any]:
    """Name, backends and devices that scored the shards (a resumed job may have used several)."""
    return {"name": done[0].model if done else None, "backends": sorted({r.backend for r in done}),
            "devices": sorted({r.device for r in done})}


def _record(layout: OutputLayout, spec: ShardSpec) -> ShardRecord | None:
    try:
        job, record = ShardRecord.from_json(layout.record(spec.index).read_text(encoding="utf-8"))
        part = layout.folder / record.file
        if (job != layout.job or record.index != spec.index or record.rows_in != spec.rows
                or part.stat().st_size != record.size_bytes or sha256_file(part) != record.sha256):
            return None
    except (OSError, ValueError, KeyError, TypeError):  # missing, damaged or foreign: score it again
        return None
    return record


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{folder} exists and is not a batch output (no readable {MANIFEST}); "
                         "choose an empty or new OUTPUT folder") from e
    if not isinstance(manifest, dict) or manifest.get("local_rerank_batch") != VERSION:
        raise InputError(f"{folder}/{MANIFEST} is not a batch manifest this version can resume")
    return manifest


def _difference(manifest: dict[str, Any], identity: JobIdentity) -> str:
    """What differs, in words: the model, the input, or the settings."""
    if manifest.get("model", {}).get("sha256") != identity.model_sha256:
        return f"another model, sha256 {str(manifest.get('model', {}).get('sha256'))[:12]}…"
    names = [[f.get("path", "").rsplit("/", 1)[-1], f.get("size_bytes"), f.get("sha256")]
             for f in manifest.get("input", {}).get("files", [])]
    if names != [list(f) for f in identity.input_files]:
        return "another input, or the input changed"
    return "other settings: max length, instruction or shard rows"


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
