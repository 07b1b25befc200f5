"""The ``local-rerank`` command line. It only calls the library and prints.

Every error a user can cause ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import click

from local_rerank.backends import BACKENDS
from local_rerank.cache import cache_root
from local_rerank.errors import InputError, LocalRerankError
from local_rerank.recipe import DEFAULT_MAX_LENGTH, MAX_MAX_LENGTH, MIN_MAX_LENGTH
from local_rerank.loading import open_reranker
from local_rerank.reranker import RankResult, Reranker
from local_rerank.search_cli import search_command, tui_command
from local_rerank.serve_cli import mcp_command, serve_command
from local_rerank.batch_cli import batch_command
from local_rerank.eval_cli import eval_command
from local_rerank.selector import Preferences
from local_rerank.settings import MAX_THREADS, MAX_TOP_K, default_config_path, resolve_settings
from local_rerank.store import StoredModel, resolve_model, store_dir
from local_rerank.text import printable, printable_json, replace_surrogates


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="local-rerank")
def cli() -> None:
    """Rank passages and files by relevance with a local Qwen3-Reranker model."""


@cli.command()
@click.option("--model", "model_path",
              help="A GGUF file, an ONNX or OpenVINO export folder, or an installed model's name (default: the `model` setting).")
@click.option("--query", "-q", required=True, help="What you are looking for.")
@click.option("--instruction", help="Task instruction (default: web search passage retrieval).")
@click.argument("documents", nargs=-1)
@click.option("--docs-file", type=click.Path(allow_dash=True, path_type=Path),
              help='JSONL objects with a "text" field, or plain text one per line; "-" for stdin.')
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), help="Show only the best K documents.")
@click.option("--max-length", type=click.IntRange(MIN_MAX_LENGTH, MAX_MAX_LENGTH),
              help=f"Token budget per prompt (default {DEFAULT_MAX_LENGTH}); longer documents are cut at the end.")
@click.option("--backend", type=click.Choice(BACKENDS), help="Override the backend chosen from the file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run (default: auto).")
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), help="CPU threads (default: all available cores).")
@click.option("--json", "as_json", is_flag=True, help="Print rerank-API JSON (Cohere/Jina/llama-server shape).")
@click.option("--return-documents", is_flag=True, help="With --json, include each document's text.")
def rank(model_path: str | None, query: str, instruction: str | None, documents: Sequence[str],
         docs_file: Path | None, top_k: int | None, max_length: int | None, backend: str | None, device: str | None,
         threads: int | None, as_json: bool, return_documents: bool) -> None:
    """Rank DOCUMENTS (arguments, --docs-file, or stdin) against --query.

    Unset options come from LOCAL_RERANK_* environment variables, then the config file
    (~/.config/local-rerank/config.toml or $LOCAL_RERANK_CONFIG), then the defaults.
    """
    settings = resolve_settings({"model": model_path, "backend": backend, "device": device, "threads": threads,
                                 "max_length": max_length})
    if settings.model is None:
        raise InputError(f"no model: pass --model, set LOCAL_RERANK_MODEL, or set model in {default_config_path()}")
    texts = _gather_documents(documents, docs_file)
    model = resolve_model(settings.model, store_dir())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reranker(model, settings) as reranker:
            ranked = reranker.rank(query, texts, instruction=instruction)
            payload = _rerank_json(reranker, ranked[:top_k], return_documents) if as_json else None
    for warning in caught:
        click.echo(f"warning: {printable(str(warning.message))}", err=True)
    truncated = sum(result.truncated for result in ranked)
    if truncated:
        click.echo(f"note: {truncated} document(s) were cut to the {settings.max_length}-token budget", err=True)
    click.echo(printable_json(payload) if as_json else _table(ranked[:top_k]))


def _gather_documents(arguments: Sequence[str], docs_file: Path | None) -> list[str]:
    from local_rerank.documents import read_documents

    if arguments and docs_file:
        raise InputError("give documents as arguments or with --docs-file, not both")
    if arguments:  # invalid UTF-8 in an argument arrives as surrogates: U+FFFD, as in JSONL documents
        return [replace_surrogates(argument) for argument in arguments]
    if docs_file is not None and str(docs_file) != "-":
        try:
            with open(docs_file, "rb") as stream:
                return read_documents(stream, str(docs_file))
        except OSError as e:
            raise InputError(f"cannot read {docs_file}: {e.strerror}") from e
    if docs_file is None and sys.stdin.isatty():
        raise InputError("no documents: pass them as arguments, with --docs-file, or on stdin")
    return read_documents(sys.stdin.buffer, "stdin")


def _rerank_json(reranker: Reranker, results: list[RankResult], return_documents: bool) -> dict[str, Any]:
    entries = []
    for result in results:
        entry: dict[str, Any] = {"index": result.index, "relevance_score": result.score}
        if return_documents:
            entry["document"] = {"text": result.text}
        entries.append(entry)
    return {**reranker.info.to_json(), "results": entries}


def _table(results: list[RankResult]) -> str:
    width = shutil.get_terminal_size((100, 24)).columns
    lines = [f"{'rank':>4}  {'score':>6}  {'doc':>4}  text"]
    for position, result in enumerate(results, start=1):
        first_line = printable(result.text.strip().splitlines()[0]) if result.text.strip() else "(empty)"
        prefix = f"{position:>4}  {result.score:6.4f}  {result.index:>4}  "
        room = max(width - len(prefix), 10)
        text = first_line if len(first_line) <= room else first_line[: room - 1] + "…"
        lines.append(prefix + text)
    return "\n".join(lines)


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["gguf", "onnx", "openvino"]), default="gguf", show_default=True)
@click.option("--quant", help="GGUF: q8_0 (INT8, default), f32, f16, bf16, or a llama.cpp type such as q4_k_m, "
                              "q6_k. ONNX: int8 (8-bit weights, default), int8-a8 (and 8-bit activations), fp32, fp16, "
                              "int8-dynamic, int4. OpenVINO: int8 (8-bit weights in groups of 32, 8-bit activations on VNNI CPUs; "
                              "default), fp32.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The file (GGUF) or folder (ONNX, OpenVINO) to write.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--no-parity", is_flag=True, help="Skip the parity check against the float32 reference.")
def convert(checkpoint: Path, fmt: str, quant: str | None, out: Path, force: bool, no_parity: bool) -> None:
    """Export a Hugging Face Qwen3-Reranker CHECKPOINT folder to a model file."""
    from local_rerank.manifest import manifest_path
    from local_rerank.convert.pipeline import convert_checkpoint

    with _progress_bar(f"converting to {fmt}") as progress:
        manifest = convert_checkpoint(checkpoint, out, fmt=fmt, quant=quant, force=force,
                                      check_parity=not no_parity, progress=progress)
    click.echo(_written(out, manifest))
    click.echo(f"{_parity_verdict(manifest['parity'])}; manifest {printable(str(manifest_path(out)))}")


def _parity_verdict(parity: dict[str, Any]) -> str:
    """The parity report of a conversion that was kept, in one line."""
    if "skipped" in parity:
        return f"parity: skipped ({parity['skipped']})"
    if parity.get("faithful", True):
        return f"parity: max error {parity['max_abs_error']:.4f} <= {parity['tolerance']:.3g}, no rank inversions"
    return (f"parity: max error {parity['max_abs_error']:.4f}, within {parity['tolerance']:.3g} (this format reaches "
            f"{parity['format_reach']:.4f} on this model) but beyond its fidelity bar {parity['fidelity_bar']:.3g}: "
            "faithful models are chosen before it")


def _written(out: Path, manifest: dict[str, Any]) -> str:
    """What ``convert`` wrote: a GGUF file with its sha256, or an export folder with its file count."""
    size = f"{manifest['size_bytes'] / 2**20:.1f} MiB"
    if manifest["sha256"] is None:  # a folder: each file's sha256 is in the manifest
        return f"wrote {printable(str(out))}/ ({size} in {len(manifest['files'])} files)"
    return f"wrote {printable(str(out))} ({size}, sha256 {manifest['sha256'][:16]}…)"


@cli.command()
@click.argument("models", nargs=-1)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--bench", is_flag=True, help="Measure MODELS (default: every installed model) here (about 10 s "
                                           "each for the 0.6B on two cores) and remember the speeds: the selector "
                                           "then orders formats by them.")
def doctor(models: Sequence[str], device: str, as_json: bool, bench: bool) -> None:
    """What this machine offers, what would run MODELS (paths or installed names) and why."""
    from local_rerank.calibration import load_speeds, save_speeds
    from local_rerank.doctor import bench_models, doctor_report, format_report, llama_kernels_line
    from local_rerank.hardware import probe_hardware
    from local_rerank.store import find, installed

    store = store_dir()
    paths = [Path(m) if Path(m).exists() or find(store, str(m)) is None else resolve_model(str(m), store) for m in models]
    probe = probe_hardware()
    if bench:
        paths = paths or [model.path for model in installed(store) if model.format != "hf"]
        if not paths:
            raise InputError("nothing to measure: name model files, or install one first")
        measurements = bench_models(probe, paths, Preferences(device=device), lambda line: click.echo(line, err=True))
        if measurements:
            click.echo(f"remembered in {printable(str(save_speeds(cache_root(), probe, measurements)))}", err=True)
    report = doctor_report(probe, paths, Preferences(device=device), load_speeds(cache_root(), probe),
                           llama_kernels_line(probe))
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))  # ASCII-escaped JSON
    if any("error" in model for model in report["models"]):
        raise SystemExit(1)  # the report says why; a script's `doctor MODEL && ...` stops here


@cli.group()
def models() -> None:
    """Models by name: list, pull, import, verify, remove, export-bundle."""


@models.command("list")
def models_list() -> None:
    """The catalog and the installed models."""
    from local_rerank.store import catalog, installed

    store = store_dir()
    present = {model.name: model for model in installed(store)}
    click.echo(f"store: {printable(str(store))}")
    for entry in catalog():
        mark = "installed" if entry["name"] in present else f"~{entry['approx_size_mib']} MiB to download"
        click.echo(f"  {entry['name']:<32} {entry['format']:<5} {mark:<22} {entry['description']}")
    for name, model in present.items():
        if name not in {entry["name"] for entry in catalog()}:
            click.echo(f"  {printable(name):<32} {model.format:<5} installed")


@models.command()
@click.argument("name")
@click.option("--offline", is_flag=True, help="Refuse any network access (as HF_HUB_OFFLINE=1 does).")
@click.option("--force", is_flag=True, help="Download again over an installed copy.")
@click.option("--convert", "convert_to", type=click.Choice(["gguf", "onnx", "openvino"]),
              help="Convert a downloaded checkpoint and install the result too.")
@click.option("--quant", help="With --convert: the weight type (default q8_0 for GGUF, int8 for ONNX and OpenVINO).")
def pull(name: str, offline: bool, force: bool, convert_to: str | None, quant: str | None) -> None:
    """Download catalog model NAME from the Hugging Face hub."""
    from local_rerank.store import convert_into_store
    from local_rerank.store import pull as pull_model

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
    from local_rerank.store import import_model

    model = import_model(source, store_dir(), name=name, force=force)
    click.echo(_installed(model))


@models.command("verify")
@click.argument("names", nargs=-1)
def verify_models(names: Sequence[str]) -> None:
    """Re-hash installed models (all, or NAMES) against their records."""
    from local_rerank.store import find, installed, verify

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
    from local_rerank.store import remove

    remove(store_dir(), name)
    click.echo(f"removed {printable(name)}")


@models.command("export-bundle")
@click.argument("name")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def export_bundle(name: str, out: Path, force: bool) -> None:
    """Pack installed model NAME into one archive for an air-gapped machine."""
    from local_rerank.store import export_bundle as bundle, find

    model = find(store_dir(), name) or _missing(name)
    click.echo(f"wrote {printable(str(bundle(model, out, force=force)))}")


def _installed(model: StoredModel) -> str:
    return printable(f"installed {model.name} ({model.format}) at {model.path}")


def _missing(name: str) -> Any:
    raise InputError(f"no installed model named {name!r}")


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing a bar on an interactive stderr; None otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        def progress(name: str, done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        yield progress


cli.add_command(search_command)
cli.add_command(tui_command)
cli.add_command(serve_command)
cli.add_command(mcp_command)
cli.add_command(batch_command)
cli.add_command(eval_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning known errors into one line."""
    # Their warnings (damaged PDFs, download retries) reach the user as our one-line errors.
    logging.getLogger("pypdf").addHandler(logging.NullHandler())
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")  # read when huggingface_hub is first imported
    try:
        cli.main(args=argv, prog_name="local-rerank", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.format_message())
    except click.ClickException as e:
        click.echo(f"error: {printable(e.format_message())}", err=True)
        sys.exit(e.exit_code)
    except LocalRerankError as e:  # a SettingsError exits 2, as a bad flag does
        click.echo(f"error: {printable(str(e))}", err=True)
        sys.exit(getattr(e, "exit_code", 1))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # a bug: still one line, with a way to get the traceback
        if os.environ.get("LOCAL_RERANK_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(e).__name__}: {printable(str(e))} (set LOCAL_RERANK_DEBUG=1 for a traceback)",
                   err=True)
        sys.exit(1)
