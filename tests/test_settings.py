"""Settings: flag > environment > config file > default, and refusals that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.errors import InputError
from local_rerank.settings import Settings, default_config_path, resolve_settings

NO_FLAGS = {"model": None, "device": None, "threads": None}


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    assert resolve_settings(NO_FLAGS, {}, tmp_path / "missing.toml") == Settings()


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    path = config(tmp_path, 'device = "cpu"\nthreads = 2\nmax_length = 1024\nmodel = "from-file.gguf"\n')
    environ = {"LOCAL_RERANK_THREADS": "6", "LOCAL_RERANK_MODEL": "from-env.gguf"}
    settings = resolve_settings({"model": "from-flag.gguf", "threads": None}, environ, path)
    assert settings == Settings(model="from-flag.gguf", device="cpu", threads=6, max_length=1024)


def test_home_is_expanded_in_model_paths(tmp_path: Path) -> None:
    assert resolve_settings({"model": "~/m.gguf"}, {}, tmp_path / "none").model == str(Path.home() / "m.gguf")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('modle = "x"', "unknown setting 'modle'"),
        ("threads = 'four'", "must be int"),
        ("threads = 0", "at least 1"),
        ('device = "gpu"', "one of auto, cpu, cuda"),
        ('backend = "pytorch"', "one of gguf, onnx"),
        ("max_length = 50", "max length must be between"),
        ("not toml at all [", "cannot read config file"),
    ],
)
def test_bad_config_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_settings(NO_FLAGS, {}, config(tmp_path, text))


def test_bad_environment_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="LOCAL_RERANK_THREADS must be a whole number"):
        resolve_settings(NO_FLAGS, {"LOCAL_RERANK_THREADS": "many"}, tmp_path / "none")


def test_config_path_follows_the_environment(tmp_path: Path) -> None:
    assert default_config_path({"LOCAL_RERANK_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert default_config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "local-rerank" / "config.toml"
