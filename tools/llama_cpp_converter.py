"""llama.cpp's own converter, convert_hf_to_gguf.py, for interoperability tests.

Taken from the source distribution of the installed llama-cpp-python (which vendors
llama.cpp at the matching commit), with its own gguf-py beside it; fetched once with pip.

    python -m tools.llama_cpp_converter     # prints the script's path
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from tools.tokenizer_fixture import dev_cache_dir

_WANTED = ("vendor/llama.cpp/convert_hf_to_gguf.py", "vendor/llama.cpp/conversion/", "vendor/llama.cpp/gguf-py/")


def llama_cpp_converter_script() -> Path:
    """Path of convert_hf_to_gguf.py matching the installed llama-cpp-python."""
    version = metadata.version("llama-cpp-python")
    target = dev_cache_dir() / f"llama.cpp-converter-{version}"
    script = target / "convert_hf_to_gguf.py"
    if script.is_file():
        return script
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"llama-cpp-python=={version}", "--dest", tmp],
            check=True,
        )
        (sdist,) = Path(tmp).glob("llama_cpp_python-*.tar.gz")
        staging = Path(tmp) / "converter"
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                inner = member.name.split("/", 1)[-1]
                if member.isfile() and inner.startswith(_WANTED):
                    member.name = inner.removeprefix("vendor/llama.cpp/")
                    archive.extract(member, staging, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(staging, target)
    return script


if __name__ == "__main__":
    print(llama_cpp_converter_script())
