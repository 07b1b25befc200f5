"""RTF documents (through striprtf, the ``office`` extra) and e-mail (.eml, the standard library's
``email``) as pieces of text."""

from __future__ import annotations

import email
import email.message
import email.policy
from collections.abc import Iterator

from local_rerank.search.blocks import NotIndexable
from local_rerank.search.office.base import Piece, under_heading
from local_rerank.search.text_blocks import html_blocks, paragraph_blocks, split_lines


def rtf_pieces(data: bytes) -> Iterator[Piece]:
    """The lines of an RTF document's text."""
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise NotIndexable("damaged RTF")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        source = data.decode("cp1252", errors="replace")
    for line in split_lines(rtf_to_text(source, errors="replace")):
        yield line, 0, None


def eml_pieces(data: bytes) -> Iterator[Piece]:
    """An e-mail's subject, sender and date as a heading over its body (plain text preferred,
    else HTML; attachments left out)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    fields = [str(message.get(name, "")).strip() for name in ("subject", "from", "date")]
    if not any(fields) and not message.get("to"):
        raise NotIndexable("damaged e-mail (no headers)")
    yield " — ".join(field for field in fields if field), 1, None
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return
    text = _body_text(body)
    yield from under_heading(html_blocks(text) if body.get_content_subtype() == "html" else paragraph_blocks(text))


def _body_text(body: email.message.MIMEPart) -> str:
    """A text part's content, decoded as UTF-8 when its charset is unknown."""
    try:
        return str(body.get_content())
    except LookupError:
        return bytes(body.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
