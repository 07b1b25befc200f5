"""Read and write safetensors checkpoints with numpy alone, bfloat16 included.

The ``safetensors`` package cannot hand bfloat16 to numpy, and real Qwen3 checkpoints are
bfloat16, so the few lines of this simple format live here: an 8-byte header length, a
JSON header of name -> dtype, shape and byte range, then the raw little-endian data.
Reading memory-maps the files, so an 8B checkpoint is never loaded whole.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from local_rerank.errors import ConversionError

_NUMPY_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64}


@dataclass(frozen=True)
class CheckpointTensor:
    """One tensor of a checkpoint: its shape, and a function that reads it as float32."""

    shape: tuple[int, ...]
    load: Callable[[], np.ndarray]


def read_checkpoint(folder: Path) -> dict[str, CheckpointTensor]:
    """Every tensor of a (possibly sharded) checkpoint folder, read lazily."""
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    else:
        raise ConversionError(f"{folder} has no model.safetensors (or index): not a Hugging Face checkpoint")
    tensors: dict[str, CheckpointTensor] = {}
    for shard in shards:
        tensors.update(_read_shard(folder / shard))
    return tensors


def _read_shard(path: Path) -> Iterator[tuple[str, CheckpointTensor]]:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            (header_length,) = struct.unpack("<Q", f.read(8))
            if header_length > size - 8:  # garbage in the first 8 bytes, or a cut file
                raise ConversionError(f"{path} is corrupt or truncated: its header claims {header_length} bytes, "
                                      f"the file has {size}")
            header = json.loads(f.read(header_length))
    except (OSError, ValueError, struct.error) as e:
        raise ConversionError(f"cannot read {path}: {e}") from e
    if not isinstance(header, dict):
        raise ConversionError(f"{path} is corrupt: its header is not a JSON object")
    data_size = size - 8 - header_length
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_length) if data_size else np.empty(0, np.uint8)
    for name, info in header.items():
        if name != "__metadata__":
            yield name, CheckpointTensor(_checked_shape(path, name, info, data_size), _loader(data, info))


def _checked_shape(path: Path, name: str, info: object, data_size: int) -> tuple[int, ...]:
    """The shape of tensor ``name``, once its dtype is known and its bytes lie within the file."""
    try:
        dtype, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]  # type: ignore[index]
        if not all(isinstance(n, int) and n >= 0 for n in (*shape, begin, end)):
            raise TypeError
    except (KeyError, TypeError, ValueError) as e:
        raise ConversionError(f"{path} is corrupt: tensor {name} has no usable dtype, shape and data offsets") from e
    if dtype not in _NUMPY_DTYPES:
        raise ConversionError(f"{path.name}: tensor {name} has unsupported dtype {dtype}")
    needed = math.prod(shape) * np.dtype(_NUMPY_DTYPES[dtype]).itemsize
    if end - begin != needed or end > data_size:
        raise ConversionError(f"{path} is corrupt or truncated: tensor {name} needs bytes {begin}-{begin + needed}, "
                              f"the file's data has {data_size}")
    return shape


def _loader(data: np.ndarray, info: Mapping) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        begin, end = info["data_offsets"]
        raw = data[begin:end].view(_NUMPY_DTYPES[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return raw.astype(np.float32)

    return load


def write_safetensors(
    path: Path, tensors: Iterable[tuple[str, tuple[int, ...], Callable[[], np.ndarray]]], dtype: str
) -> None:
    """Write tensors produced one at a time (name, shape, make) as ``dtype`` (F32, F16, BF16)."""
    items = list(tensors)
    itemsize = 4 if dtype == "F32" else 2
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in items:
        size = int(np.prod(shape)) * itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded)
        for _, shape, make in items:
            f.write(_encode(np.asarray(make(), dtype=np.float32).reshape(shape), dtype).tobytes())


def patch_rows(path: Path, name: str, rows: list[int], values: np.ndarray) -> None:
    """Overwrite selected rows of a 2-D tensor in a safetensors file, in place."""
    with open(path, "r+b") as f:
        (header_length,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(header_length))[name]
        encoded = _encode(np.asarray(values, dtype=np.float32), info["dtype"])
        row_bytes = encoded[0].nbytes
        for row, data in zip(rows, encoded):
            f.seek(8 + header_length + info["data_offsets"][0] + row * row_bytes)
            f.write(data.tobytes())


def _encode(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":  # round to nearest even, as torch does
        bits = values.view(np.uint32).astype(np.uint64)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return values.astype(np.float16 if dtype == "F16" else np.float32)
