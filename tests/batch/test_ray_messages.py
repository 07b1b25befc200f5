"""How the Ray runner turns what comes back from actors into our errors (no Ray needed)."""

from __future__ import annotations

import json

import pytest

from local_rerank.batch.ray_runner import _record, _translate
from local_rerank.errors import InputError, LocalRerankError, ModelError


def test_an_actors_own_error_is_raised_as_its_class() -> None:
    with pytest.raises(ModelError, match="^tiny.gguf is not a reranker$"):
        _record(json.dumps({"error": "ModelError", "message": "tiny.gguf is not a reranker"}))


def test_an_unknown_error_class_is_raised_as_the_root() -> None:
    with pytest.raises(LocalRerankError) as caught:
        _record(json.dumps({"error": "RequestTooLarge", "message": "too big"}))
    assert type(caught.value) is LocalRerankError and not isinstance(caught.value, InputError)


def test_a_ray_failure_becomes_the_exception_line_of_its_remote_traceback() -> None:
    text = ("ray::MapWorker(MapBatches(RayShardScorer)).submit() (pid=1, ip=192.0.2.2)\n"
            '  File "shards.py", line 1, in run\n    1 / 0\nZeroDivisionError: division by zero\n\n'
            "Failed to apply UDF transform after 1/1 attempts.\n")
    assert str(_translate(RuntimeError(text))) == "the Ray job failed: ZeroDivisionError: division by zero"
    assert str(_translate(RuntimeError("node died"))) == "the Ray job failed: node died"
