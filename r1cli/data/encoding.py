"""Decoding user files as UTF-8, with one-line errors that point at the bad byte.

Every text file ``r1`` reads from a user (data in JSONL/JSON/CSV, config and preset YAML, DeepSpeed
JSON, eval results) is decoded here. A byte that is not UTF-8 raises :class:`~r1cli.errors.R1Error`
with the file, the line, and the **byte offset within the file** (0-based, what ``xxd -s`` and
``dd skip=`` take), plus the offset within the line. A UTF-8 byte-order mark at the start of the
file (Excel and Notepad write one) is dropped; a UTF-16 byte-order mark is reported as such, since
decoding such a file byte by byte would only ever say "not UTF-8 at byte 0".
"""

from __future__ import annotations

import os

from r1cli.errors import R1Error

UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def strip_bom(path: str | os.PathLike, data: bytes) -> tuple[bytes, int]:
    """``(data without a UTF-8 BOM, bytes dropped)``; a UTF-16 BOM is an R1Error."""
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM):], len(UTF8_BOM)
    if data.startswith(_UTF16_BOMS):
        raise R1Error(f"{path}: UTF-16 text (byte-order mark at byte offset 0 of the file); r1 reads UTF-8: "
                      "re-encode it (iconv -f utf-16 -t utf-8)")
    return data, 0


def not_utf8(path: str | os.PathLike, lineno: int, file_offset: int, line_offset: int, byte: int) -> R1Error:
    """The one-line error for a byte that is not UTF-8 (offsets 0-based, in bytes)."""
    return R1Error(f"{path}:{lineno}: not UTF-8: byte 0x{byte:02x} at byte offset {file_offset} of the file "
                   f"(byte {line_offset} of line {lineno}); re-encode the file as UTF-8 "
                   "(e.g. iconv -f latin1 -t utf-8)")


def decode_line(path: str | os.PathLike, raw: bytes, lineno: int, start: int) -> str:
    """One line of a file (``raw`` bytes starting at byte offset ``start`` of the file) as text."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise not_utf8(path, lineno, start + e.start, e.start, raw[e.start]) from None


def decode_utf8(path: str | os.PathLike, data: bytes) -> str:
    """A whole file's bytes as text (BOM dropped); a bad byte is an R1Error with its line and offset."""
    body, skipped = strip_bom(path, data)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = body.rfind(b"\n", 0, e.start) + 1
        lineno = body.count(b"\n", 0, e.start) + 1
        raise not_utf8(path, lineno, skipped + e.start, e.start - line_start, body[e.start]) from None


def read_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of the file at ``path`` (see :func:`decode_utf8`)."""
    with open(path, "rb") as f:
        return decode_utf8(path, f.read())
