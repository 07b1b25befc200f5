"""The house's rules, read from the source: what may import or touch what."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "local_rerank" / "reranker.py"
BACKENDS = ROOT / "local_rerank" / "backends"


def _sources() -> list[Path]:
    return sorted(path for folder in ("local_rerank", "tui", "tools") for path in (ROOT / folder).rglob("*.py"))


def test_only_the_engine_touches_a_rerankers_backend_or_encoder() -> None:
    """Scoring goes through :class:`~local_rerank.reranker.Reranker` (prepare, score_prompts, info):
    no caller reaches through it to the backend or the prompt encoder."""
    reach = re.compile(r"reranker\.(backend|encoder)\b")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in _sources() if path != ENGINE and not path.is_relative_to(BACKENDS)
             for number, line in enumerate(path.read_text().splitlines(), start=1) if reach.search(line)]
    assert len(_sources()) > 50 and found == []
