"""The options that choose and run the model, written once for every command that loads one.

Each decorator adds its options in the order shown in ``--help``; the parameters keep the names
the commands take (``model_path``, ``instruction``, ``max_length``, ``backend``, ``device``,
``threads``, ``candidates``, ``no_rerank``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from local_rerank.backends import BACKENDS
from local_rerank.errors import InputError
from local_rerank.recipe import DEFAULT_MAX_LENGTH, MAX_MAX_LENGTH, MIN_MAX_LENGTH
from local_rerank.settings import DEVICES, MAX_CANDIDATES, MAX_THREADS, Settings, default_config_path

Command = Callable[..., Any]
Decorator = Callable[[Command], Command]

MODEL_FILE = "A GGUF file, an ONNX or OpenVINO export folder, or an installed model's name"
_ALL_CORES = "CPU threads (default: all available cores)."
_WEB_SEARCH = "Task instruction (default: web search passage retrieval)."


def model_option(help_text: str = f"{MODEL_FILE} (default: the `model` setting).") -> Decorator:
    """``--model``: a model file, export folder or installed name."""
    return click.option("--model", "model_path", help=help_text)


def instruction_option(help_text: str = _WEB_SEARCH) -> Decorator:
    """``--instruction``: the task instruction of every prompt."""
    return click.option("--instruction", help=help_text)


def _device(command: Command) -> Command:
    """``--device``: auto, cpu or cuda."""
    return click.option("--device", type=click.Choice(DEVICES), help="Where to run (default: auto).")(command)


def _threads(help_text: str = _ALL_CORES) -> Decorator:
    """``--threads``: CPU threads."""
    return click.option("--threads", type=click.IntRange(1, MAX_THREADS), help=help_text)


def engine_options(threads_help: str = _ALL_CORES) -> Decorator:
    """``--max-length``, ``--backend``, ``--device`` and ``--threads``: how a named model runs."""
    return _all(
        click.option("--max-length", type=click.IntRange(MIN_MAX_LENGTH, MAX_MAX_LENGTH),
                     help=f"Token budget per prompt (default {DEFAULT_MAX_LENGTH}); longer documents are cut "
                          "at the end."),
        click.option("--backend", type=click.Choice(BACKENDS), help="Override the backend chosen from the file."),
        _device,
        _threads(threads_help),
    )


def search_model_options(command: Command) -> Command:
    """``--model``, ``--instruction``, ``--candidates``, ``--no-rerank``, ``--device`` and ``--threads``:
    the model that reranks a search's BM25 candidates, if any."""
    return _all(
        model_option("A model file, export folder or installed name "
                     "(default: the `model` setting, else the default model if installed)."),
        instruction_option(),
        click.option("--candidates", type=click.IntRange(1, MAX_CANDIDATES),
                     help="How many BM25 candidates to rerank (default: 16 on a CPU, 100 on a GPU)."),
        click.option("--no-rerank", is_flag=True, help="The BM25 (keyword) order alone; no model is loaded."),
        _device,
        _threads(),
    )(command)


def named_model(settings: Settings) -> str:
    """The ``model`` setting, or an error naming the three ways to set it."""
    if settings.model is None:
        raise InputError(f"no model: pass --model, set LOCAL_RERANK_MODEL, or set model in {default_config_path()}")
    return settings.model


def _all(*options: Decorator) -> Decorator:
    """One decorator adding ``options`` in the order listed."""
    def decorate(command: Command) -> Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
