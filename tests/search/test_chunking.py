"""Passages: within the budget, opened by headings, named by their heading trail, line spans exact."""

from __future__ import annotations

from local_rerank.search.chunking import estimate_tokens, passages
from local_rerank.search.extract import extract
from local_rerank.search.text_blocks import markdown_blocks, paragraph_blocks
from local_rerank.tokenizer import Tokenizer
from tests.search.folders import COPY_PY, LEASE_MD


def test_each_heading_opens_a_passage_named_by_its_trail() -> None:
    found = list(passages(markdown_blocks(LEASE_MD)))
    assert [(p.heading, p.start_line, p.end_line) for p in found] == [
        ("", 1, 3), ("Apartment lease", 5, 7), ("Apartment lease", 9, 16)]
    assert found[1].text == "## Term\n\nThe lease ends on 31 March 2027, unless renewed in writing."


def test_passages_stay_within_the_budget_and_cover_every_line() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * (10 + i % 30) for i in range(200))
    found = list(passages(paragraph_blocks(text), budget=100))
    assert all(estimate_tokens(p.text) <= 100 for p in found)
    assert found[0].start_line == 1 and found[-1].end_line == len(text.splitlines())
    assert all(a.end_line < b.start_line for a, b in zip(found, found[1:]))


def test_a_single_huge_line_is_cut_and_keeps_its_line_number() -> None:
    text = "intro\n\n" + "x" * 5000 + "\n\noutro"
    found = list(passages(paragraph_blocks(text), budget=200))
    assert all(estimate_tokens(p.text) <= 200 for p in found)
    assert "".join(p.text for p in found).replace("\n", "") == "intro" + "x" * 5000 + "outro"
    assert [p.start_line for p in found][:2] == [1, 3] and found[-1].end_line == 5


def test_code_is_cut_at_definitions_once_a_passage_is_a_third_full() -> None:
    found = list(passages(extract("copy.py", COPY_PY.encode()).blocks, budget=80))
    assert [p.start_line for p in found] == [1, 9]
    assert found[1].text.startswith("class Backup")


def test_a_block_of_many_short_lines_is_cut_into_the_fullest_pieces_that_fit() -> None:
    text = "\n".join(str(i % 97) for i in range(20_000))  # one paragraph: a block far over the budget
    found = list(passages(paragraph_blocks(text), budget=50))
    lines = text.splitlines()
    assert "\n".join(p.text for p in found) == text
    for passage, following in zip(found, found[1:]):
        with_next_line = passage.text + "\n" + lines[following.start_line - 1]
        assert estimate_tokens(passage.text) <= 50 < estimate_tokens(with_next_line)


def test_the_estimate_is_an_upper_bound_in_every_script(tokenizer: Tokenizer) -> None:
    samples = {"zh": "租赁合同约定租期为两年，自二〇二五年四月一日起至二〇二七年三月三十一日止，"
                     "期满前三十日内可书面续约。",
               "ja": "本製品のGPUメモリは24GBです。"
                     "ドライバを更新してから、付属のユーティリティで設定を確認してください。",
               "ko": "임대차 계약은 2027년 3월 31일에 끝나며, 만료 30일 전까지 서면으로 갱신할 수 있습니다.",
               "th": "สัญญาเช่าสิ้นสุดวันที่ 31 มีนาคม 2570 เว้นแต่จะต่ออายุเป็นลายลักษณ์อักษร",
               "en": "The lease ends on 31 March 2027, unless renewed in writing thirty days before."}
    for language, text in samples.items():
        assert len(tokenizer.encode_plain([text])[0]) <= estimate_tokens(text), language


def test_a_long_line_is_cut_between_words() -> None:
    from local_rerank.search.chunking import _cut_at_spaces

    line = " ".join(f"word{i:03}" for i in range(300))
    pieces = list(_cut_at_spaces(line, 100))
    assert "".join(pieces) == line and all(len(piece) <= 100 for piece in pieces)
    assert all(piece.endswith(" ") for piece in pieces[:-1]), "no word is split"
    assert list(_cut_at_spaces("x" * 250, 100)) == ["x" * 100, "x" * 100, "x" * 50]
