"""Builders of test folders: a mixed folder with every kind of file and trap, a folder of every
entry that once stopped indexing, and a PDF writer."""

from __future__ import annotations

import os
from pathlib import Path

LEASE_MD = """\
# Apartment lease

Signed by both parties in March.

## Term

The lease ends on 31 March 2027, unless renewed in writing.

## Rent

Rent of 950 euros is due on the first day of every month.

```python
def late_fee(days):
    return 5 * days
```
"""

COPY_PY = '''\
import shutil


def copy_folder(source, target):
    """Copy a folder with all its files, recursively."""
    shutil.copytree(source, target)


class Backup:
    """Nightly backups of the photo library."""

    def run(self):
        copy_folder("photos", "backup")
'''

GARDEN_HTML = """\
<html>
<head><title>Garden</title><style>body { color: green; }</style><script>var tomato = 1;</script></head>
<body>
<h1>Growing tomatoes</h1>
<p>Tomatoes need six hours of sun
and deep watering twice a week.</p>
<ul><li>Stake the plants early.</li></ul>
</body>
</html>
"""

PDF_PAGES = [
    ["Quarterly report on the harbour expansion project, which", "covers dredging, the new quay wall and the environ-",
     "mental survey of the estuary.", "", "The quay wall is finished."],
    ["Dredging resumes in spring after the fish spawning", "season ends in the estuary."],
]


def write_pdf(path: Path, pages: list[list[str]]) -> None:
    """A minimal PDF with one Helvetica text line per string (an empty string leaves a gap)."""
    page_numbers = [4 + 2 * i for i in range(len(pages))]  # 1 catalog, 2 page tree, 3 font, then page + content
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{' '.join(f'{n} 0 R' for n in page_numbers)}] /Count {len(pages)} >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for number, lines in zip(page_numbers, pages):
        body = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {number + 1} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)


def build_mixed_folder(root: Path, outside: Path) -> Path:
    """A folder with text, Markdown, code, HTML, PDF and every kind of file the indexer must skip."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "notes").mkdir()
    (root / "lease.md").write_text(LEASE_MD)
    (root / "notes" / "copy.py").write_text(COPY_PY)
    (root / "notes" / "garden.html").write_text(GARDEN_HTML)
    (root / "notes" / "todo.txt").write_text("Buy seeds.\n\nCall the landlord about the heating.\n")
    write_pdf(root / "report.pdf", PDF_PAGES)
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "data.dat").write_bytes(b"header\0\0\0binary payload")
    (root / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me recipe: whisk the eggs.\n".encode("latin-1"))
    (root / "huge.log").write_bytes(b"x" * (2 * 2**20 + 1))
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (root / ".gitignore").write_text("ignored.txt\nbuild/\n")
    (root / "ignored.txt").write_text("secret tomato plans")
    (root / "build").mkdir()
    (root / "build" / "out.txt").write_text("tomato build output")
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "index.js").write_text("// tomato")
    (root / ".hidden.md").write_text("# tomato hidden")
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "outside.txt").write_text("tomato from outside the folder")
    os.symlink(outside, root / "escape")
    os.symlink(root / "notes", root / "notes" / "loop")
    os.symlink(root / "missing-target", root / "dangling")
    return root


# Once, each of these made a whole folder unsearchable: "<![ " raised AssertionError in
# html.parser, and the tag left open at the end took it time quadratic in its length.
AWKWARD_HTML = ("<html><body><h1>Pilot boats</h1>\n" + "<p>a\n" * 20_000 + "<![ marked section ]>\n"
                + "<p>The lantern is lit at dusk.</p>\n" + "<a b='1'\n" * 20_000)

# The word that finds each normal file of the folder of horrors, and that file's path.
HORROR_WORDS = {
    "lighthouse": "notes.md",
    "港口扩建": "港口笔记.md",
    "議事録": "日本語メモ.txt",
    "meadow": "with space.txt",
    "orchard": "quote's \"name\".md",
    "vineyard": "-leading-dash.txt",
    "seedling": "emoji 🌱.md",
    "bakery": "caf\\xe9.txt",  # the name's Latin-1 byte, escaped
    "warehouse": "d\\xe9p\\xf4t/inside.md",
    "lantern": "awkward.html",
}


def build_horror_folder(root: Path) -> Path:
    """Normal files with odd names among every entry that once stopped indexing: names that are
    not UTF-8, a .gitignore with lines pathspec refuses, a folder and a file nobody may read
    (as long as the indexer does not run as root), a FIFO, awkward HTML and binary files."""
    root.mkdir(parents=True)
    (root / "notes.md").write_text("# Lighthouse\n\nThe lighthouse keeper logs the weather.\n")
    (root / "港口笔记.md").write_text("# 港口\n\n港口扩建，三月开始。疏浚工程，春天继续。\n")
    (root / "日本語メモ.txt").write_text("議事録、港湾、拡張工事について。\n\n次回、四月。\n")
    (root / "with space.txt").write_text("A meadow by the sea.\n")
    (root / "quote's \"name\".md").write_text("An orchard of quinces.\n")
    (root / "-leading-dash.txt").write_text("A vineyard on the slope.\n")
    (root / "emoji 🌱.md").write_text("Each seedling in its pot.\n")
    (root / "awkward.html").write_text(AWKWARD_HTML)
    raw = os.fsencode(root)
    Path(os.fsdecode(raw + b"/caf\xe9.txt")).write_text("The bakery opens at six.\n")
    os.mkdir(raw + b"/d\xe9p\xf4t")
    Path(os.fsdecode(raw + b"/d\xe9p\xf4t/inside.md")).write_text("The warehouse inventory.\n")
    (root / ".gitignore").write_text("!\n[z-a]\nsecret\\\n*.log\n")  # three lines pathspec refuses, one it takes
    (root / "lighthouse.log").write_text("lighthouse, but ignored\n")
    (root / "locked").mkdir()
    (root / "locked" / "inside.md").write_text("lighthouse, but locked away\n")
    (root / "locked").chmod(0)
    (root / "private.txt").write_text("lighthouse, but private\n")
    (root / "private.txt").chmod(0)
    os.mkfifo(root / "pipe.txt")
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "data.dat").write_bytes(b"header\0\0\0binary payload")
    return root
