"""Extraction speed per document format: a file of each kind with about the same text (paragraphs
of common words under headings) is written, then extracted and cut into passages; the best of three
runs is reported as a Markdown table.

    python -m tools.extract_benchmark [--words 200000]

Needs the ``office`` and ``test`` extras (the writers are python-docx, python-pptx and openpyxl).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

from local_rerank.search.chunking import passages
from local_rerank.search.extract import extract
from tests.search.office_files import write_epub, write_odt

_WORDS = ("lease rent harbour quay tide estuary invoice boiler plumber garden tomato deposit notice tenant "
          "landlord survey dredging spring winter contract payment month renewal clause party signed").split()


def _paragraphs(words: int, seed: int = 0) -> list[str]:
    """About ``words`` words of text, in paragraphs of 40 to 120 words."""
    rng = random.Random(seed)
    out: list[str] = []
    while words > 0:
        size = rng.randint(40, 120)
        out.append(" ".join(rng.choice(_WORDS) for _ in range(size)).capitalize() + ".")
        words -= size
    return out


def _sections(words: int) -> list[tuple[str, list[str]]]:
    """The text as (heading, paragraphs) sections of eight paragraphs."""
    paragraphs = _paragraphs(words)
    return [(f"Section {n // 8 + 1}", paragraphs[n:n + 8]) for n in range(0, len(paragraphs), 8)]


def write_all(folder: Path, words: int) -> list[Path]:
    """A file of each format holding the same sections; their paths."""
    import docx
    import openpyxl
    import pptx

    sections = _sections(words)
    document = docx.Document()
    deck = pptx.Presentation()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sheet 1")
    for number, (heading, paragraphs) in enumerate(sections):
        document.add_heading(heading, level=1)
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = heading
        slide.placeholders[1].text = "\n".join(paragraphs)
        if number and number % 50 == 0:  # sheets of 400 rows
            sheet = book.create_sheet(f"Sheet {number // 50 + 1}")
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
            tokens = paragraph.split(" ")
            sheet.append([" ".join(tokens[n:n + 10]) for n in range(0, len(tokens), 10)])
    paths = {kind: folder / f"bench.{kind}" for kind in ("docx", "pptx", "xlsx", "odt", "epub", "rtf", "eml", "md")}
    document.save(str(paths["docx"]))
    deck.save(str(paths["pptx"]))
    book.save(str(paths["xlsx"]))
    write_odt(paths["odt"], "".join(f'<text:h text:outline-level="1">{h}</text:h>' +
                                    "".join(f"<text:p>{escape(p)}</text:p>" for p in ps) for h, ps in sections))
    write_epub(paths["epub"], [(h, "".join(f"<p>{escape(p)}</p>" for p in ps)) for h, ps in sections])
    paths["rtf"].write_text(r"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Times;}}" + "".join(
        rf"{{\b {h}}}\par " + "".join(rf"{p}\par " for p in ps) for h, ps in sections) + "}")
    message = EmailMessage()
    message["Subject"], message["From"] = "Benchmark", "a@example.org"
    message.set_content("\n\n".join(p for _, ps in sections for p in ps))
    paths["eml"].write_bytes(bytes(message))
    paths["md"].write_text("".join(f"# {h}\n\n" + "".join(f"{p}\n\n" for p in ps) for h, ps in sections))
    return list(paths.values())


def measure(path: Path) -> tuple[float, int]:
    """Seconds (best of three) to extract ``path`` and cut it into passages, and the characters of text."""
    data = path.read_bytes()
    best, characters = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        characters = sum(len(passage.text) for passage in passages(extract(path.name, data).blocks))
        best = min(best, time.perf_counter() - started)
    return best, characters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=200_000)
    words = parser.parse_args().words
    with tempfile.TemporaryDirectory() as folder:
        print("| format | file | text | seconds | text MB/s |\n|---|---|---|---|---|")
        for path in write_all(Path(folder), words):
            seconds, characters = measure(path)
            print(f"| {path.suffix[1:].upper()} | {path.stat().st_size / 2**20:.2f} MiB | {characters / 1e6:.2f} MB | "
                  f"{seconds:.2f} | {characters / 1e6 / seconds:.1f} |")


if __name__ == "__main__":
    main()
