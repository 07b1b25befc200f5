"""The numpy safetensors reader and writer, bfloat16 included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from local_rerank.convert.safetensors_io import patch_rows, read_checkpoint, write_safetensors
from local_rerank.errors import ConversionError


def _tensors(values: dict[str, np.ndarray]):
    return [(name, array.shape, lambda array=array: array) for name, array in values.items()]


@pytest.mark.parametrize(("dtype", "atol"), [("F32", 0), ("F16", 1e-3), ("BF16", 1e-2)])
def test_round_trip(tmp_path: Path, dtype: str, atol: float) -> None:
    values = {"a": np.linspace(-2, 2, 24, dtype=np.float32).reshape(4, 6), "b": np.arange(5, dtype=np.float32)}
    write_safetensors(tmp_path / "model.safetensors", _tensors(values), dtype)
    loaded = read_checkpoint(tmp_path)
    assert {name: t.shape for name, t in loaded.items()} == {"a": (4, 6), "b": (5,)}
    for name, array in values.items():
        np.testing.assert_allclose(loaded[name].load(), array, atol=atol, rtol=atol)


def test_safetensors_package_reads_our_files(tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    values = {"w": np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)}
    write_safetensors(tmp_path / "model.safetensors", _tensors(values), "F32")
    np.testing.assert_array_equal(safetensors_numpy.load_file(tmp_path / "model.safetensors")["w"], values["w"])


def test_sharded_checkpoints_are_read_through_their_index(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "part-1.safetensors", _tensors({"x": np.ones((2, 2), np.float32)}), "BF16")
    write_safetensors(tmp_path / "part-2.safetensors", _tensors({"y": np.zeros(3, np.float32)}), "BF16")
    index = {"weight_map": {"x": "part-1.safetensors", "y": "part-2.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert sorted(read_checkpoint(tmp_path)) == ["x", "y"]


def test_patch_rows_changes_only_those_rows(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "model.safetensors", _tensors({"e": np.zeros((5, 4), np.float32)}), "BF16")
    patch_rows(tmp_path / "model.safetensors", "e", [1, 3], np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32))
    patched = read_checkpoint(tmp_path)["e"].load()
    np.testing.assert_array_equal(patched[[0, 2, 4]], 0)
    np.testing.assert_array_equal(patched[[1, 3]], [[1, 2, 3, 4], [5, 6, 7, 8]])


def test_a_folder_without_weights_is_a_conversion_error(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="not a Hugging Face checkpoint"):
        read_checkpoint(tmp_path)


def _corrupted(folder: Path, damage: str) -> Path:
    write_safetensors(folder / "model.safetensors", _tensors({"w": np.ones((64, 32), np.float32)}), "BF16")
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    if damage == "cut":
        data = data[:len(data) - 100]
    elif damage == "garbage length":
        data[:8] = b"XXXXXXXX"
    elif damage == "wrong shape":
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
        header["w"]["shape"] = [64, 64]  # twice the bytes its offsets hold
        encoded = json.dumps(header).encode()
        data = bytearray(len(encoded).to_bytes(8, "little")) + encoded + data[8 + length:]
    path.write_bytes(bytes(data))
    return folder


@pytest.mark.parametrize("damage", ["cut", "garbage length", "wrong shape"])
def test_a_damaged_file_is_refused_as_corrupt_before_any_tensor_is_read(tmp_path: Path, damage: str) -> None:
    with pytest.raises(ConversionError, match="is corrupt"):
        read_checkpoint(_corrupted(tmp_path, damage))
