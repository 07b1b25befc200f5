"""Test helper: copies of a GGUF file with metadata changed or tensors left out.

Used to make the files other tools produce (llama.cpp's converter drops an untied output
matrix; community conversions lack the yes/no head) from one of ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import gguf

_HEADER_FIELDS = ("GGUF.version", "GGUF.tensor_count", "GGUF.kv_count")


def write_variant(source: Path, target: Path, *, drop_fields: Iterable[str] = (),
                  set_fields: dict[str, Any] | None = None,
                  drop_tensors: Iterable[str] = ()) -> Path:
    """Copy ``source`` to ``target`` with the given metadata and tensor changes."""
    reader = _reader(source)
    set_fields = set_fields or {}
    drop_fields, drop_tensors = set(drop_fields), set(drop_tensors)
    arch = set_fields.get("general.architecture", reader.fields["general.architecture"].contents())
    writer = gguf.GGUFWriter(target, arch)
    for name, field in reader.fields.items():
        if name in _HEADER_FIELDS or name in drop_fields or name == "general.architecture":
            continue
        value = set_fields.get(name, field.contents())
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, field.types[0], sub_type=sub_type)
    for name, value in set_fields.items():
        if name not in reader.fields and name != "general.architecture":
            writer.add_key_value(name, value, _value_type(value), sub_type=_sub_type(value))
    for tensor in reader.tensors:
        if tensor.name not in drop_tensors:
            writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


@lru_cache(maxsize=4)
def _reader(path: Path) -> gguf.GGUFReader:
    return gguf.GGUFReader(path)  # slow (seconds) on a 151k-token vocabulary: read each source once


def _value_type(value: Any) -> gguf.GGUFValueType:
    if isinstance(value, list):
        return gguf.GGUFValueType.ARRAY
    return gguf.GGUFValueType.get_type(value)


def _sub_type(value: Any) -> gguf.GGUFValueType | None:
    return gguf.GGUFValueType.get_type(value[0]) if isinstance(value, list) else None
