"""Office documents, e-books and e-mail: text and structure per format, damaged, encrypted and
oversized files refused with a reason, a missing extra counted, and a folder of them searchable."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from local_rerank.search.blocks import NotIndexable
from local_rerank.search.extract import extract, file_kind
from local_rerank.search.index import FolderIndex
from local_rerank.search.office import BUFFER_BYTES, EXTRA, MAX_UNPACKED_BYTES
from tests.search.office_files import RTF, write_docx, write_eml, write_epub, write_odt, write_pptx, write_xlsx

pytest.importorskip("openpyxl")
pytest.importorskip("striprtf")
pytest.importorskip("docx")
pytest.importorskip("pptx")

WRITERS = {"docx": write_docx, "pptx": write_pptx, "xlsx": write_xlsx, "odt": write_odt, "epub": write_epub,
           "rtf": lambda path: path.write_text(RTF), "eml": write_eml}


def _blocks_of(name: str, data: bytes) -> list[tuple[str, int, int | None]]:
    return [(block.text, block.heading, block.page) for block in extract(name, data).blocks]


def _blocks(path: Path) -> list[tuple[str, int, int | None]]:
    return _blocks_of(path.name, path.read_bytes())


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


_DOCUMENT = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
             b"<w:body>%s</w:body></w:document>")


@pytest.fixture
def documents(tmp_path: Path) -> Path:
    folder = tmp_path / "documents"
    folder.mkdir()
    for kind, write in WRITERS.items():
        write(folder / f"sample.{kind}")
    return folder


def test_each_document_suffix_is_its_own_kind() -> None:
    assert [file_kind(f"a.{kind.upper()}") for kind in WRITERS] == list(WRITERS)


def test_word_headings_come_from_heading_styles_and_tables_are_read(documents: Path) -> None:
    assert _blocks(documents / "sample.docx") == [
        ("Apartment lease", 1, None), ("Signed by both parties in March.", 0, None), ("Term", 1, None),
        ("The lease ends on 31 March 2027, unless renewed in writing.", 0, None), ("Early exit", 2, None),
        ("Either party may leave with three months of notice.", 0, None), ("Deposit", 0, None),
        ("1900 euros", 0, None)]


def test_word_styles_based_on_a_heading_are_headings_of_its_level(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    chapter = document.styles.add_style("Kapitel", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = document.styles["Heading 2"]
    document.add_paragraph("Mietdauer", style="Kapitel")
    document.add_paragraph("Der Vertrag endet 2027.", style="Body Text")
    document.save(str(tmp_path / "vertrag.docx"))
    assert _blocks(tmp_path / "vertrag.docx") == [("Mietdauer", 2, None), ("Der Vertrag endet 2027.", 0, None)]


def test_word_text_leaves_out_deletions_field_codes_and_the_fallback_copy_of_a_text_box() -> None:
    box = b"<w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p></w:txbxContent>"
    paragraph = (b'<w:p xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:r><w:t>Rent </w:t>'
                 b"</w:r><w:del><w:r><w:delText>900</w:delText></w:r></w:del><w:r><w:instrText>PAGE</w:instrText>"
                 b"<w:t>950</w:t><w:tab/><w:t>euros</w:t></w:r><w:r><mc:AlternateContent><mc:Choice>%s</mc:Choice>"
                 b"<mc:Fallback>%s</mc:Fallback></mc:AlternateContent></w:r></w:p>") % (box, box)
    data = _zip({"_rels/.rels": b"<Relationships/>", "word/document.xml": _DOCUMENT % paragraph})
    assert _blocks_of("box.docx", data) == [("Rent 950\teuros\nBoxed note", 0, None)]


def test_slides_are_headed_by_their_titles_and_numbered_as_pages_with_their_notes(documents: Path) -> None:
    assert _blocks(documents / "sample.pptx") == [
        ("Harbour expansion", 1, 1), ("Dredging resumes in spring.", 0, 1), ("Quay wall", 1, 2),
        ("The quay wall is finished.", 0, 2), ("Mention the fish survey.", 0, 2), ("Slide 3", 1, 3),
        ("Questions about the estuary survey?", 0, 3)]


def test_sheets_are_headed_by_their_names_with_a_block_per_row(documents: Path) -> None:
    assert _blocks(documents / "sample.xlsx") == [
        ("Rent", 1, None), ("Month | Amount | Paid on", 0, None), ("March | 950 | 2026-03-01", 0, None),
        ("Contacts", 1, None), ("Landlord | Ada Lovelace | ada@example.org", 0, None)]


def test_opendocument_headings_keep_their_outline_level_and_spacing(documents: Path) -> None:
    assert _blocks(documents / "sample.odt") == [
        ("Garden", 1, None), ("Tomatoes need six hours of sun.  Water twice a week.", 0, None), ("Pests", 2, None),
        ("Aphids\tsoap spray\nweekly", 0, None)]


@pytest.mark.parametrize("ncx", [False, True])
def test_epub_chapters_are_headed_by_their_table_of_contents_titles(tmp_path: Path, ncx: bool) -> None:
    write_epub(tmp_path / "book.epub", ncx=ncx)
    assert _blocks(tmp_path / "book.epub") == [
        ("The harbour", 1, None), ("Ships wait for the tide.", 0, None), ("At night", 3, None), ("Lamps.", 0, None),
        ("The estuary", 1, None), ("Fish spawn in the estuary every spring.", 0, None)]


def test_a_table_of_contents_that_is_not_xml_leaves_chapters_untitled(tmp_path: Path) -> None:
    write_epub(tmp_path / "book.epub")
    with zipfile.ZipFile(tmp_path / "book.epub") as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["OEBPS/nav.xhtml"] = members["OEBPS/nav.xhtml"].replace(b"<ol>", b"<ol>&nbsp;")
    assert [(text, heading) for text, heading, _ in _blocks_of("book.epub", _zip(members))][:3] == [
        ("The harbour", 1), ("Ships wait for the tide.", 0), ("At night", 2)]


def test_rtf_text_is_decoded_from_its_code_page_and_unicode_escapes(documents: Path) -> None:
    assert _blocks(documents / "sample.rtf") == [
        ("The invoice is due within thirty days.", 0, None), ("Café crème costs 4 euros.", 0, None)]


@pytest.mark.parametrize(("html", "body"), [
    (False, [("The plumber comes on Thursday morning.", 0), ("Please leave the cellar open.", 0)]),
    (True, [("Visit", 2), ("The plumber comes on Thursday morning.", 0)]),
])
def test_email_is_headed_by_subject_sender_and_date_and_attachments_are_left_out(
        tmp_path: Path, html: bool, body: list[tuple[str, int]]) -> None:
    write_eml(tmp_path / "m.eml", html=html)
    assert _blocks(tmp_path / "m.eml") == [
        ("Boiler repair — Ada Lovelace <ada@example.org> — Tue, 03 Mar 2026 09:30:00 +0100", 1, None),
        *((text, heading, None) for text, heading in body)]


def test_lines_count_in_the_extracted_text_written_out_with_blank_lines_between_blocks(documents: Path) -> None:
    blocks = list(extract("sample.odt", (documents / "sample.odt").read_bytes()).blocks)
    assert [(block.start_line, block.end_line) for block in blocks] == [(1, 1), (3, 3), (5, 5), (7, 8)]


@pytest.mark.parametrize("kind", ["docx", "pptx", "xlsx", "odt", "epub"])
def test_truncated_or_random_archives_are_refused_as_damaged(documents: Path, kind: str) -> None:
    data = (documents / f"sample.{kind}").read_bytes()
    for damaged in (data[:len(data) // 2], os.urandom(4096), b""):
        with pytest.raises(NotIndexable, match=f"damaged {kind.upper()}"):
            extract(f"x.{kind}", damaged)


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("x.rtf", b"plain text, not RTF", "damaged RTF"),
    ("x.eml", b"\x00\x01 random bytes \xff" * 20, "damaged e-mail"),
])
def test_text_formats_that_are_not_what_their_suffix_says_are_refused(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(NotIndexable, match=reason):
        extract(name, data)


def test_damage_after_a_long_valid_start_is_refused_before_any_block_is_handed_out() -> None:
    paragraph = b"<w:p><w:r><w:t>" + b"harbour " * 100 + b"</w:t></w:r></w:p>"
    body = paragraph * (BUFFER_BYTES // 800 + 10) + b"<w:p><w:r>broken"
    data = _zip({"_rels/.rels": b"<Relationships/>", "word/document.xml": _DOCUMENT % body})
    with pytest.raises(NotIndexable, match="damaged DOCX"):
        extract("long.docx", data)


def test_a_long_valid_document_is_streamed_whole() -> None:
    paragraphs = BUFFER_BYTES // 800 + 10
    body = b"<w:p><w:r><w:t>" + b"harbour " * 100 + b"</w:t></w:r></w:p>"
    data = _zip({"_rels/.rels": b"<Relationships/>", "word/document.xml": _DOCUMENT % (body * paragraphs)})
    assert sum(1 for _ in extract("long.docx", data).blocks) == paragraphs


def test_a_zip_bomb_is_refused_by_its_unpacked_size() -> None:
    data = _zip({"_rels/.rels": b"<Relationships/>", "word/document.xml": b" " * (MAX_UNPACKED_BYTES + 1)})
    assert len(data) < MAX_UNPACKED_BYTES // 500
    with pytest.raises(NotIndexable, match="zip bomb"):
        extract("bomb.docx", data)


def test_entity_expansion_is_refused_as_damage() -> None:
    entities = b"".join(b'<!ENTITY e%d "%s">' % (level, b"&e%d;" % (level - 1) * 10) for level in range(1, 10))
    laughs = (b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY e0 "lol">' + entities + b"]>" +
              _DOCUMENT.split(b"?>", 1)[1] % b"<w:p><w:r><w:t>&e9;</w:t></w:r></w:p>")
    with pytest.raises(NotIndexable, match="damaged DOCX"):  # a billion laughs, stopped by expat
        extract("laughs.docx", _zip({"_rels/.rels": b"<Relationships/>", "word/document.xml": laughs}))


def test_a_sheet_that_claims_the_largest_extent_is_read_by_the_cells_it_has(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Readings")
    for number in range(20_000):
        sheet.append([f"meter {number}", number])
    book.save(str(tmp_path / "readings.xlsx"))
    with zipfile.ZipFile(tmp_path / "readings.xlsx") as source:
        members = {name: source.read(name) for name in source.namelist()}
    honest = _zip(members)
    claim = b'<dimension ref="A1:XFD1048576"/><sheetViews>'  # were it believed: 16,384 columns a row
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"].replace(b"<sheetViews>", claim, 1)
    started = time.perf_counter()
    assert _blocks_of("honest.xlsx", honest)[:2] == [("Readings", 1, None), ("meter 0 | 0", 0, None)]
    honest_seconds, started = time.perf_counter() - started, time.perf_counter()
    blocks = _blocks_of("claims.xlsx", _zip(members))
    assert time.perf_counter() - started < 3 * honest_seconds + 0.5  # believed, the claim costs 8 times as much
    assert [text for text, _, _ in blocks[:3]] == ["Readings", "meter 0 | 0", "meter 1 | 1"]
    assert len(blocks) == 20_001


def test_encrypted_documents_are_refused_as_encrypted(tmp_path: Path) -> None:
    with pytest.raises(NotIndexable, match="encrypted DOCX"):  # what Word writes for a password: an OLE file
        extract("secret.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    manifest = b'<manifest:manifest><manifest:encryption-data manifest:checksum="x"/></manifest:manifest>'
    with pytest.raises(NotIndexable, match="encrypted ODT"):
        extract("secret.odt", _zip({"META-INF/manifest.xml": manifest, "content.xml": b"\x8f\x02 ciphertext"}))
    write_epub(tmp_path / "drm.epub", encrypted=True)
    with pytest.raises(NotIndexable, match="encrypted EPUB"):
        extract("drm.epub", (tmp_path / "drm.epub").read_bytes())


@pytest.mark.parametrize(("kind", "module"), [("xlsx", "openpyxl"), ("rtf", "striprtf")])
def test_without_the_office_extra_its_formats_are_skipped_with_the_reason(
        documents: Path, monkeypatch: pytest.MonkeyPatch, kind: str, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what importlib sees when the package is not installed
    with pytest.raises(NotIndexable, match=EXTRA.replace("[", r"\[")):
        extract(f"sample.{kind}", (documents / f"sample.{kind}").read_bytes())


def test_a_folder_of_documents_is_searchable_and_damaged_ones_are_counted(documents: Path) -> None:
    (documents / "damaged.docx").write_bytes((documents / "sample.docx").read_bytes()[:500])
    (documents / "random.epub").write_bytes(os.urandom(2048))
    index = FolderIndex.open(documents)
    report = index.update()
    assert report.files == len(WRITERS)
    assert report.skipped == {"damaged DOCX": 1, "damaged EPUB": 1}
    queries = {"quay wall finished": ("sample.pptx", 2), "landlord lovelace": ("sample.xlsx", None),
               "plumber thursday": ("sample.eml", None), "lease ends renewed": ("sample.docx", None),
               "aphids soap": ("sample.odt", None), "fish spawn": ("sample.epub", None),
               "invoice thirty days": ("sample.rtf", None)}
    for query, (path, page) in queries.items():
        best = index.lexical(query, 3)[0]
        assert (best.path, best.passage.page) == (path, page), query
    assert index.lexical("aphids", 1)[0].passage.heading == "Garden"
    assert index.file_kind("sample.pptx") == "pptx"


_PEAK_MEMORY = """
import re, sys
from local_rerank.search.chunking import passages
from local_rerank.search.extract import extract

def kib(field):
    with open("/proc/self/status") as status:
        return int(re.search(field + r":\\s+(\\d+) kB", status.read()).group(1))

data = open(sys.argv[1], "rb").read()
resident = kib("VmRSS")
for passage in passages(extract(sys.argv[1], data).blocks):
    pass
print((kib("VmHWM") - resident) * 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak resident size from /proc")
def test_extraction_memory_is_bounded_whatever_the_unpacked_size(tmp_path: Path) -> None:
    unpacked = 10 * 2**20  # 250,000 tiny paragraphs, which a tree of elements would hold at ~10 times this
    paragraph = b"<w:p><w:r><w:t>a harbour</w:t></w:r></w:p>"
    body = paragraph * (unpacked // len(paragraph))
    (tmp_path / "tiny.docx").write_bytes(
        _zip({"_rels/.rels": b"<Relationships/>", "word/document.xml": _DOCUMENT % body}))
    run = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, str(tmp_path / "tiny.docx")], capture_output=True,
                         text=True, timeout=120, check=True)
    # the blocks kept while the file is checked, and the modules its reading imports; not the XML
    assert int(run.stdout) < 3 * BUFFER_BYTES, f"peak memory {int(run.stdout) / unpacked:.1f} times the unpacked XML"
