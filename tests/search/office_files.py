"""Writers of office documents, e-books and e-mail for tests: DOCX, PPTX and XLSX through python-docx,
python-pptx and openpyxl; ODT and EPUB with zipfile (a writer of our own); RTF and .eml as text."""

from __future__ import annotations

import zipfile
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape


def write_docx(path: Path) -> None:
    """A contract: a title, headings at two levels, paragraphs and a table."""
    import docx

    document = docx.Document()
    document.add_heading("Apartment lease", level=0)
    document.add_paragraph("Signed by both parties in March.")
    document.add_heading("Term", level=1)
    document.add_paragraph("The lease ends on 31 March 2027, unless renewed in writing.")
    document.add_heading("Early exit", level=2)
    document.add_paragraph("Either party may leave with three months of notice.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Deposit", "1900 euros"
    document.save(str(path))


def write_pptx(path: Path) -> None:
    """Two slides with titles and bullet text, and a third without a title."""
    import pptx

    deck = pptx.Presentation()
    slides = (("Harbour expansion", "Dredging resumes in spring."), ("Quay wall", "The quay wall is finished."))
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    slide.notes_slide.notes_text_frame.text = "Mention the fish survey."
    blank = deck.slides.add_slide(deck.slide_layouts[6])
    blank.shapes.add_textbox(0, 0, 100, 100).text_frame.text = "Questions about the estuary survey?"
    deck.save(str(path))


def write_xlsx(path: Path) -> None:
    """Two sheets: rent payments (with a date) and contacts."""
    import openpyxl

    book = openpyxl.Workbook()
    rent = book.active
    rent.title = "Rent"
    rent.append(["Month", "Amount", "Paid on"])
    rent.append(["March", 950, datetime(2026, 3, 1)])
    contacts = book.create_sheet("Contacts")
    contacts.append(["Landlord", "Ada Lovelace", None, "ada@example.org"])
    book.save(str(path))


_ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">
<office:body><office:text>{}</office:text></office:body></office:document-content>"""
_ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
ODT_BODY = ('<text:h text:outline-level="1">Garden</text:h>'
            '<text:p>Tomatoes need <text:span>six hours</text:span> of sun.<text:s text:c="2"/>'
            'Water twice a week.</text:p>'
            '<text:h text:outline-level="2">Pests</text:h>'
            '<text:list><text:list-item><text:p>Aphids<text:tab/>soap spray<text:line-break/>weekly</text:p>'
            '</text:list-item></text:list>')


def write_odt(path: Path, body: str = ODT_BODY) -> None:
    """An OpenDocument text holding ``body`` (text:h and text:p elements)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", _ODT_MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", _ODT_CONTENT.format(body), compress_type=zipfile.ZIP_DEFLATED)


_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""
_XHTML = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>{title}</title></head>
<body>{body}</body></html>"""
EPUB_CHAPTERS = [("The harbour", "<h1>The harbour</h1><p>Ships wait for the tide.</p><h2>At night</h2><p>Lamps.</p>"),
                 ("The estuary", "<p>Fish spawn in the estuary every spring.</p>")]


def write_epub(path: Path, chapters: list[tuple[str, str]] = EPUB_CHAPTERS, ncx: bool = False,
               encrypted: bool = False) -> None:
    """A book of (title, XHTML body) chapters, with an EPUB 3 navigation document (or an EPUB 2 NCX),
    whose chapters are marked encrypted when ``encrypted``."""
    items = "".join(f'<item id="c{n}" href="text/chapter{n}.xhtml" media-type="application/xhtml+xml"/>'
                    for n in range(len(chapters)))
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
    toc = _ncx(chapters) if ncx else _nav(chapters)
    toc_item = ('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>' if ncx else
                '<item id="nav" href="nav.xhtml" properties="nav" media-type="application/xhtml+xml"/>')
    spine_toc = ' toc="ncx"' if ncx else ""
    package = (f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
               f'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
               f'<dc:identifier id="id">test</dc:identifier><dc:title>Tides</dc:title></metadata>'
               f'<manifest>{toc_item}{items}</manifest><spine{spine_toc}>{spine}</spine></package>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", _CONTAINER)
        if encrypted:
            archive.writestr("META-INF/encryption.xml", _ENCRYPTION.format(
                "".join(_CIPHER.format(n) for n in range(len(chapters)))))
        archive.writestr("OEBPS/content.opf", package)
        archive.writestr("OEBPS/toc.ncx" if ncx else "OEBPS/nav.xhtml", toc)
        for n, (title, body) in enumerate(chapters):
            archive.writestr(f"OEBPS/text/chapter{n}.xhtml", _XHTML.format(title=escape(title), body=body))


_ENCRYPTION = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
               'xmlns:enc="http://www.w3.org/2001/04/xmlenc#">{}</encryption>')
_CIPHER = ('<enc:EncryptedData><enc:CipherData><enc:CipherReference URI="OEBPS/text/chapter{}.xhtml"/>'
           '</enc:CipherData></enc:EncryptedData>')


def _nav(chapters: list[tuple[str, str]]) -> str:
    links = "".join(f'<li><a href="text/chapter{n}.xhtml#start">{escape(title)}</a></li>'
                    for n, (title, _) in enumerate(chapters))
    return _XHTML.format(title="Contents", body=f'<nav epub:type="toc"><ol>{links}</ol></nav>')


def _ncx(chapters: list[tuple[str, str]]) -> str:
    points = "".join(f'<navPoint id="p{n}"><navLabel><text>{escape(title)}</text></navLabel>'
                     f'<content src="text/chapter{n}.xhtml"/></navPoint>' for n, (title, _) in enumerate(chapters))
    return (f'<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
            f'<navMap>{points}</navMap></ncx>')


RTF = (r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times;}}{\colortbl;\red0\green0\blue0;}"
       "\n" r"\f0\fs24 The invoice is due within thirty days.\par" "\n"
       r"Caf\'e9 cr\u232?me costs 4 euros.\par}")


def write_eml(path: Path, html: bool = False) -> None:
    """An e-mail with a plain-text body (or an HTML one) and an attachment."""
    message = EmailMessage()
    message["Subject"] = "Boiler repair"
    message["From"] = "Ada Lovelace <ada@example.org>"
    message["To"] = "tenant@example.org"
    message["Date"] = "Tue, 03 Mar 2026 09:30:00 +0100"
    if html:
        message.set_content("<h1>Visit</h1><p>The plumber comes on <b>Thursday</b> morning.</p>", subtype="html")
    else:
        message.set_content("The plumber comes on Thursday morning.\n\nPlease leave the cellar open.\n")
    message.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    path.write_bytes(bytes(message))
