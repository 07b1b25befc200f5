"""Where local-rerank keeps what it can rebuild: folder indexes, eval scores, measured speeds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    """Where caches live: $LOCAL_RERANK_CACHE, else the platform's user cache directory."""
    if environ.get("LOCAL_RERANK_CACHE"):
        return Path(environ["LOCAL_RERANK_CACHE"]).expanduser()
    return Path(platformdirs.user_cache_dir("local-rerank", appauthor=False))
