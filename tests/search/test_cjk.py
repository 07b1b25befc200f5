"""Every script finds its documents: Chinese, Japanese, Korean, Thai, mixed-script and full-width
queries match through the index's analysis, and previews mark what matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.search.cjk import analyze, marked_words, query_terms
from local_rerank.search.index import FolderIndex
from local_rerank.search.lexical import fts_query

DOCUMENTS = {
    "租赁合同.md": "# 房屋租赁合同\n\n租期为两年，自2025年4月1日起至2027年3月31日止。期满前三十日内可书面续约。",
    "报销.txt": "差旅发票报销须在出差结束后十五日内提交，附原始发票和审批单。",
    "gpu-notes.md": "# 显卡选型\n\n训练7B模型至少需要24GB GPU显存；推理可以用量化模型。",
    "マニュアル.txt": "本製品のドライバを更新してから、付属のユーティリティで設定を確認してください。",
    "계약.txt": "임대차 계약은 2027년 3월 31일에 끝나며 만료 30일 전까지 갱신할 수 있습니다.",
    "thai.txt": "สัญญาเช่าสิ้นสุดวันที่ 31 มีนาคม เว้นแต่จะต่ออายุเป็นลายลักษณ์อักษร",
    "lease.md": "# Apartment lease\n\nThe lease ends on 31 March 2027, unless renewed in writing.",
}


@pytest.fixture
def index(tmp_path: Path) -> FolderIndex:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index = FolderIndex.open(folder, cache=tmp_path / "cache")
    index.update()
    return index


@pytest.mark.parametrize("query, expected", [
    ("租赁合同什么时候到期", "租赁合同.md"), ("租期", "租赁合同.md"), ("发票报销", "报销.txt"),
    ("GPU显存", "gpu-notes.md"), ("ＧＰＵ显存", "gpu-notes.md"), ("ドライバの更新", "マニュアル.txt"),
    ("임대차 계약 갱신", "계약.txt"), ("สัญญาเช่า", "thai.txt"), ("when does the lease end", "lease.md"),
])
def test_each_script_finds_its_document_first(index: FolderIndex, query: str, expected: str) -> None:
    assert index.lexical(query, 3)[0].path == expected


def test_a_renamed_cjk_file_leaves_no_stale_grams(index: FolderIndex) -> None:
    folder = index.folder
    (folder / "报销.txt").rename(folder / "expenses.txt")
    index.update()
    assert [hit.path for hit in index.lexical("发票报销", 5)] == ["expenses.txt"]


def test_runs_become_bigrams_and_characters_and_text_is_normalised() -> None:
    assert analyze("租期ＧＰＵ") == " 租期 租 期 GPU"
    assert query_terms("GPU显存 is") == ["gpu", "显存", "显", "存", "is"]
    assert fts_query("显存 of the GPU") == '"显存" OR "显" OR "存" OR "gpu"'


def test_previews_mark_words_and_bigrams_but_not_single_characters() -> None:
    assert marked_words("does it support CUDA 它支持吗") == ["does", "support", "cuda", "它支", "支持", "持吗"]
