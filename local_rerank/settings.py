"""One typed settings object, resolved as flag > environment > config file > default.

The config file is TOML (``$LOCAL_RERANK_CONFIG``, else ``~/.config/local-rerank/config.toml``
or under ``$XDG_CONFIG_HOME``); environment variables are ``LOCAL_RERANK_<FIELD>``.
Unknown keys and values of the wrong type are refused with a message that names them.

    # ~/.config/local-rerank/config.toml
    model = "~/models/qwen3-reranker-0.6b-q8_0.gguf"
    device = "cpu"
    threads = 4
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, cast

from local_rerank.errors import InputError, SettingsError
from local_rerank.formats import FORMAT_NAMES as BACKENDS
from local_rerank.recipe import DEFAULT_MAX_LENGTH, check_max_length

ENV_PREFIX = "LOCAL_RERANK_"
DEVICES = ("auto", "cpu", "cuda")
# Bounds of the numbers a user gives, checked before any native code sees them.
MAX_THREADS = 512  # llama.cpp's GGML_MAX_N_THREADS: more aborts the process
MAX_CANDIDATES = 1000  # files the reranker scores for one search query
MAX_TOP_K = 100_000  # results shown; a bound so that SQLite's LIMIT never overflows


@dataclass(frozen=True)
class Settings:
    """Everything a user may set once instead of passing it every time.

    Attributes:
        model: the model file or export folder used when ``--model`` is not given.
        backend: "gguf", "onnx" or "openvino" to override the format read from the model; None reads it.
        device: "auto" (GPU when usable), "cpu" or "cuda" (an error without a usable GPU).
        threads: CPU threads; None uses the physical cores.
        max_length: token budget of one prompt (128 to 32768).
    """

    model: str | None = None
    backend: str | None = None
    device: str = "auto"
    threads: int | None = None
    max_length: int = DEFAULT_MAX_LENGTH


_TYPES: dict[str, type] = {"model": str, "backend": str, "device": str, "threads": int, "max_length": int}
_ENVIRONMENT = "environment"


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the config file is looked for.

    Raises:
        SettingsError: ``$LOCAL_RERANK_CONFIG`` starts with ``~user`` for an unknown user.
    """
    if environ.get(ENV_PREFIX + "CONFIG"):
        return expand_home(environ[ENV_PREFIX + "CONFIG"], ENV_PREFIX + "CONFIG")
    base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "local-rerank" / "config.toml"


def expand_home(path: str, source: str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; ``source`` names where it came from.

    Raises:
        SettingsError: the home directory of that user is unknown.
    """
    try:
        return Path(path).expanduser()
    except RuntimeError as e:  # pathlib's "Could not determine home directory."
        user = path.split("/", 1)[0]
        raise SettingsError(f"{source}: cannot expand {user!r} in {path!r}: no such user's home directory") from e


def resolve_settings(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ,
                     config_file: Path | None = None) -> Settings:
    """Settings from flags (None means "not given"), environment, config file and defaults.

    Raises:
        SettingsError: an unknown key in the config file, or a value of the wrong type or range
            (an :class:`InputError` whose command-line exit status is 2, as for a bad flag).
    """
    path = config_file or default_config_path(environ)
    settings = Settings()
    for source, values in ((str(path), _read_file(path)), (_ENVIRONMENT, _from_environment(environ)),
                           ("command line", {k: v for k, v in flags.items() if v is not None})):
        settings = replace(settings, **{key: _checked(key, value, _where(source, key))
                                        for key, value in values.items()})
    return settings


def _where(source: str, key: str) -> str:
    """Where a value came from, as the user would look for it: the file, or the variable."""
    return ENV_PREFIX + key.upper() if source == _ENVIRONMENT else source


def _read_file(path: Path) -> dict[str, Any]:
    try:
        if not path.exists():
            return {}
        if not path.is_file():  # a folder, or a FIFO that would block the read
            raise SettingsError(f"config file {path} is not a regular file")
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"cannot read config file {path}: {e}") from e
    unknown = sorted(set(values) - set(_TYPES))
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r} in {path}; known: {', '.join(_TYPES)}")
    return values


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in fields(Settings):
        raw = environ.get(ENV_PREFIX + field.name.upper())
        if raw:
            values[field.name] = _parse_env(field.name, raw)
    return values


def _parse_env(key: str, raw: str) -> Any:
    if _TYPES[key] is int:
        try:
            return int(raw)
        except ValueError as e:
            raise SettingsError(f"{ENV_PREFIX}{key.upper()} must be a whole number, got {raw!r}") from e
    return raw


def _checked(key: str, value: Any, source: str) -> Any:
    if key not in _TYPES:
        raise SettingsError(f"unknown setting {key!r} from {source}")
    if type(value) is not _TYPES[key]:  # exactly: True is an int to isinstance
        raise SettingsError(f"setting {key!r} from {source} must be {_TYPES[key].__name__}, got {value!r}")
    if key == "backend" and value not in BACKENDS:
        raise SettingsError(f"setting 'backend' from {source} must be one of {', '.join(BACKENDS)}, got {value!r}")
    if key == "device" and value not in DEVICES:
        raise SettingsError(f"setting 'device' from {source} must be one of {', '.join(DEVICES)}, got {value!r}")
    if key == "threads" and not 1 <= cast(int, value) <= MAX_THREADS:
        raise SettingsError(f"setting 'threads' from {source} must be at least 1 and at most {MAX_THREADS}, "
                            f"got {value}")
    if key == "max_length":
        try:
            check_max_length(cast(int, value))
        except InputError as e:
            raise SettingsError(f"setting 'max_length' from {source}: {e}") from e
    if key == "model":
        value = str(expand_home(str(value), f"setting 'model' from {source}"))
    return value
