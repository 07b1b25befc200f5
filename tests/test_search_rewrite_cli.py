"""`local-rerank search --rewrite`, run as a user runs it: the variants are shown and searched."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_search_cli import run


def test_rewrite_searches_the_long_form_the_folder_defines_and_reports_it(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "glossary.md").write_text("Fine-tuning with Low-Rank Adaptation (LoRA) trains small matrices.")
    (folder / "paper.md").write_text("Low-rank adaptation freezes the pretrained weights.")
    (folder / "garden.md").write_text("Roses need pruning in March.")
    plain = json.loads(run("search", str(folder), "ＬｏＲＡ", "--no-rerank", "--format", "json").stdout)
    assert [hit["path"] for hit in plain["results"]] == ["glossary.md"] and "variants" not in plain
    result = run("search", str(folder), "ＬｏＲＡ", "--no-rerank", "--rewrite", "--format", "json")
    assert result.returncode == 0, result.stderr
    rewritten = json.loads(result.stdout)
    assert rewritten["variants"] == ["LoRA", "Low-Rank Adaptation (LoRA)"]
    assert {hit["path"] for hit in rewritten["results"]} == {"glossary.md", "paper.md"}
    assert "also searched: Low-Rank Adaptation (LoRA) (abbreviations expanded)" in result.stderr
