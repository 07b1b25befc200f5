"""``local-rerank models``: list, pull, import, verify, remove and export-bundle models by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from local_rerank.errors import InputError, LocalRerankError
from local_rerank.store import (
    StoredModel,
    catalog,
    convert_into_store,
    find,
    import_model,
    installed,
    remove,
    store_dir,
    verify,
)
from local_rerank.store import export_bundle as bundle
from local_rerank.store import pull as pull_model
from local_rerank.text import printable


@click.group("models")
def models() -> None:
    """Models by name: list, pull, import, verify, remove, export-bundle."""


@models.command("list")
def models_list() -> None:
    """The catalog and the installed models."""
    store = store_dir()
    present = {model.name: model for model in installed(store)}
    click.echo(f"store: {printable(str(store))}")
    for entry in catalog():
        mark = "installed" if entry["name"] in present else f"~{entry['approx_size_mib']} MiB to download"
        click.echo(f"  {entry['name']:<32} {entry['format']:<5} {mark:<22} {entry['description']}")
    for name, model in present.items():
        if name not in {entry["name"] for entry in catalog()}:
            click.echo(f"  {printable(name):<32} {model.format:<5} installed")


@models.command("pull")
@click.argument("name")
@click.option("--offline", is_flag=True, help="Refuse any network access (as HF_HUB_OFFLINE=1 does).")
@click.option("--force", is_flag=True, help="Download again over an installed copy.")
@click.option("--convert", "convert_to", type=click.Choice(["gguf", "onnx", "openvino"]),
              help="Convert a downloaded checkpoint and install the result too.")
@click.option("--quant", help="With --convert: the weight type (default q8_0 for GGUF, int8 for ONNX and OpenVINO).")
def pull(name: str, offline: bool, force: bool, convert_to: str | None, quant: str | None) -> None:
    """Download catalog model NAME from the Hugging Face hub."""
    store = store_dir()
    model = pull_model(name, store, offline=offline, force=force)
    click.echo(_installed(model))
    if convert_to:
        converted = convert_into_store(model, store, convert_to, quant, force=force)
        click.echo(_installed(converted))


@models.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--name", help="The name to install it under (default: the file or folder name).")
@click.option("--force", is_flag=True, help="Replace an installed model of that name.")
def import_(source: Path, name: str | None, force: bool) -> None:
    """Install a GGUF file, an ONNX or OpenVINO folder, a Hugging Face folder or a bundle, without network."""
    model = import_model(source, store_dir(), name=name, force=force)
    click.echo(_installed(model))


@models.command("verify")
@click.argument("names", nargs=-1)
def verify_models(names: Sequence[str]) -> None:
    """Re-hash installed models (all, or NAMES) against their records."""
    store = store_dir()
    chosen = [find(store, n) or _missing(n) for n in names] if names else installed(store)
    broken = 0
    for model in chosen:
        problems = verify(model)
        broken += bool(problems)
        click.echo(printable(f"{model.name}: " + ("ok" if not problems else "; ".join(problems))))
    if broken:
        raise LocalRerankError(f"{broken} model(s) failed verification")


@models.command("remove")
@click.argument("name")
def remove_model(name: str) -> None:
    """Delete installed model NAME."""
    remove(store_dir(), name)
    click.echo(f"removed {printable(name)}")


@models.command("export-bundle")
@click.argument("name")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def export_bundle(name: str, out: Path, force: bool) -> None:
    """Pack installed model NAME into one archive for an air-gapped machine."""
    model = find(store_dir(), name) or _missing(name)
    click.echo(f"wrote {printable(str(bundle(model, out, force=force)))}")


def _installed(model: StoredModel) -> str:
    return printable(f"installed {model.name} ({model.format}) at {model.path}")


def _missing(name: str) -> NoReturn:
    raise InputError(f"no installed model named {name!r}")
