"""What every benchmark writes beside its table: the JSON report, with the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The cores, processor (model and the flags that decide matrix speed) and Python a measurement
    was taken with."""
    from local_rerank.hardware import probe_cpu

    model, features, _ = probe_cpu()
    return {"cpu_count": os.cpu_count(), "processor": model, "cpu_features": sorted(features),
            "python": platform.python_version()}


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` and :func:`machine` as JSON to ``path`` (its folder made if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**report, "machine": machine()}, indent=2))
