"""Schemathesis (a property-based API tester none of us wrote) against a live `local-rerank serve` on
the tiny GGUF model: every operation of the published OpenAPI schema, hundreds of generated cases
each, conforming and not. No 5xx, every response as the schema says, and the server still answers
a normal request after."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("schemathesis")

from tests.serve.servers import serve_process

pytestmark = pytest.mark.slow

CASES = 300  # per operation and phase
# What is checked: nothing but the schema's word. `positive_data_acceptance` is left out: a request the
# schema allows may still exceed a limit set on the command line (--max-documents, --max-request-tokens:
# a documented 413) or hold a lone surrogate escape (\ud800, not text: a documented 422).
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method")


def test_the_api_survives_its_own_schema_fuzzed(gguf_files, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    events = tmp_path / "events.ndjson"
    with serve_process(gguf_files["tied", "q8_0"], "--max-length", "512") as (process, url):
        result = subprocess.run([st, "run", f"{url}/openapi.json", "--checks", CHECKS, "--mode", "all",
                                 "--max-examples", str(CASES), "--phases", "examples,coverage,fuzzing",
                                 "--workers", "1", "--seed", "20261204", "--no-color", "--request-timeout", "60",
                                 "--generation-database", "none", "--report", "ndjson",
                                 "--report-ndjson-path", str(events)],
                                capture_output=True, text=True, timeout=1500, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:]
        assert process.poll() is None, "the server died"
        normal = httpx.post(f"{url}/v1/rerank", json={"query": "copy a folder", "documents": ["cp -r", "bananas"]},
                            timeout=60)
        assert normal.status_code == 200 and len(normal.json()["results"]) == 2
    cases = _cases_per_operation(events)
    assert set(cases) == {"POST /v1/rerank", "POST /v2/rerank", "POST /rerank", "GET /health", "GET /v1/models"}
    assert all(cases[operation] >= CASES for operation in cases if operation.startswith("POST")), cases


def _cases_per_operation(events: Path) -> Counter[str]:
    """Generated cases per operation, from schemathesis's event log."""
    cases: Counter[str] = Counter()
    for line in events.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if finished:
            cases[finished["recorder"]["label"]] += len(finished["recorder"].get("cases", {}))
    return cases
