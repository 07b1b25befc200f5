"""The score cache: both stores keep what they were given, a key saved again takes the new score,
and a file of scores outlives the object that wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.search.score_cache import MemoryScores, ScoreCache, SqliteScores


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ScoreCache:
    return SqliteScores.file(tmp_path / "new" / "scores.sqlite3") if request.param == "sqlite" else MemoryScores()


def test_a_store_returns_the_scores_it_holds_among_the_keys_asked(store: ScoreCache) -> None:
    scores = {f"key{i}": i / 1000 for i in range(1200)}  # more keys than one SQL statement takes
    store.save_scores(scores)
    store.save_scores({"key3": 0.5})
    asked = [f"key{i}" for i in range(0, 1300, 3)]
    assert store.cached_scores(asked) == {key: (0.5 if key == "key3" else scores[key]) for key in asked
                                          if key in scores}
    assert store.cached_scores([]) == {}


def test_a_file_of_scores_is_read_again_by_a_new_store(tmp_path: Path) -> None:
    SqliteScores.file(tmp_path / "scores.sqlite3").save_scores({"a": 0.25})
    assert SqliteScores.file(tmp_path / "scores.sqlite3").cached_scores(["a", "b"]) == {"a": 0.25}
