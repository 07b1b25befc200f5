"""Settings: flag > environment > config file > default, and refusals that name the problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_rerank.errors import InputError, SettingsError
from local_rerank.settings import MAX_THREADS, Settings, default_config_path, resolve_settings

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


NOT_NUMBERS = ["-1", "99999999999999999999", "four", "2.5", "1e3", " "]
OUT_OF_RANGE = {"LOCAL_RERANK_THREADS": ["0", str(MAX_THREADS + 1), "65536", *NOT_NUMBERS],
                "LOCAL_RERANK_MAX_LENGTH": ["0", "127", "32769", *NOT_NUMBERS]}
NO_SUCH_USER = "~no-such-user-local-rerank"


@pytest.mark.parametrize(("variable", "raw"), [(v, raw) for v, values in OUT_OF_RANGE.items() for raw in values])
def test_numbers_from_the_environment_are_bounded(tmp_path: Path, variable: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=variable) as refused:
        resolve_settings(NO_FLAGS, {variable: raw}, tmp_path / "none")
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("text", [f"threads = {MAX_THREADS + 1}", "threads = -1", "threads = 99999999999999999999",
                                  "threads = 2.5", "max_length = 99999999999999999999", 'max_length = "8192"'])
def test_numbers_from_the_config_file_are_bounded(tmp_path: Path, text: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(SettingsError, match=str(path)):
        resolve_settings(NO_FLAGS, {}, path)


def test_the_bounds_themselves_are_accepted(tmp_path: Path) -> None:
    settings = resolve_settings(NO_FLAGS, {"LOCAL_RERANK_THREADS": str(MAX_THREADS)}, config(tmp_path, "threads = 1"))
    assert settings.threads == MAX_THREADS


def test_every_config_problem_exits_like_a_bad_flag(tmp_path: Path) -> None:
    for text in ('modle = "x"', "not toml [", 'device = "gpu"'):
        with pytest.raises(SettingsError) as refused:
            resolve_settings(NO_FLAGS, {}, config(tmp_path, text))
        assert isinstance(refused.value, InputError) and refused.value.exit_code == 2


def test_a_home_that_cannot_be_expanded_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=f"cannot expand '{NO_SUCH_USER}'"):
        resolve_settings(NO_FLAGS, {}, config(tmp_path, f'model = "{NO_SUCH_USER}/m.gguf"'))
    with pytest.raises(SettingsError, match="LOCAL_RERANK_MODEL: cannot expand"):
        resolve_settings(NO_FLAGS, {"LOCAL_RERANK_MODEL": f"{NO_SUCH_USER}/m.gguf"}, tmp_path / "none")
    with pytest.raises(SettingsError, match="LOCAL_RERANK_CONFIG: cannot expand"):
        default_config_path({"LOCAL_RERANK_CONFIG": f"{NO_SUCH_USER}/config.toml"})


def test_a_config_path_that_is_no_regular_file_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    for path in (tmp_path, fifo):
        with pytest.raises(SettingsError, match="not a regular file"):
            resolve_settings(NO_FLAGS, {}, path)
