"""Stage read, before anything is parsed: what a dropped file really is, and
whether it is safe to read.

A file's name decides nothing: web systems save CSV and HTML tables as `.xls`,
and a zip bomb is named like any workbook. The first bytes tell the format.
A workbook (a zip) is then checked against the `reader:` limits before any
parser sees it: sizes and compression from the zip's own directory, then one
streamed pass over every part that proves those sizes true (Python's zipfile
stops at the declared size and checks the CRC) and looks for a DTD. The
package conventions (OPC) forbid DTDs and Excel never writes one, so a part
with one — the carrier of XML entity expansion and external entities — is
refused before anything reads it.
"""
from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterator

from openpyxl.utils import get_column_letter

from ..config import ReaderConfig
from ..problems import problem
from ..records import Problem

MB = 1024 * 1024
HEAD_BYTES = 64 * 1024
# A part smaller than this cannot hurt, whatever its ratio: tiny XML parts of
# repeated markup legitimately compress a hundredfold.
RATIO_FLOOR_BYTES = 10 * MB
_CHUNK = MB
_DTD_NEEDLES = tuple(word.encode(encoding) for word in ("<!DOCTYPE", "<!doctype")
                     for encoding in ("utf-8", "utf-16-le", "utf-16-be"))
_OVERLAP = max(len(n) for n in _DTD_NEEDLES)
BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


class Format(Enum):
    EMPTY = "empty"
    ZIP = "zip"  # xlsx, xlsm, xltx, ods… (or a zip that is no workbook)
    OLE = "ole"  # legacy .xls, or an OOXML workbook encrypted with a password
    TEXT = "text"  # CSV, tab-separated or plain text
    HTML = "html"
    EXCEL_2003_XML = "excel-2003-xml"
    XML = "xml"
    BINARY = "binary"


def sniff(path: Path) -> Format:
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    if not head:
        return Format.EMPTY
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return Format.ZIP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Format.OLE
    text = head_text(head)
    if text is None:
        return Format.BINARY
    start = text.lstrip().lower()
    if not start.startswith("<"):
        return Format.TEXT
    if re.search(r"<(html|!doctype\s+html)\b", start):
        return Format.HTML
    if "urn:schemas-microsoft-com:office:spreadsheet" in start:  # it has <Table> elements too
        return Format.EXCEL_2003_XML
    return Format.HTML if re.search(r"<table\b", start) else Format.XML


def head_text(head: bytes) -> str | None:
    """The first bytes as text, enough to tell markup from a table; None for binary content."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore")
    if b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="ignore") if _utf8_start(head) else head.decode("gb18030", errors="replace")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    return None if controls > len(text) // 100 else text


def _utf8_start(head: bytes) -> bool:
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # only a character cut in two at the end of the sample


def unreadable(reason_zh: str, reason: str) -> Problem:
    return problem("file-unreadable", reason_zh=reason_zh, reason=reason)


def too_large_file(path: Path, limits: ReaderConfig) -> Problem | None:
    size = path.stat().st_size
    if size > limits.max_file_mb * MB:
        return problem("file-too-large", what_zh="大小", what="size", actual=_mb(size), limit=_number(limits.max_file_mb),
                       key="max_file_mb")
    return None


def _mb(size: float) -> str:
    return f"{size / MB:,.1f}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


# --- a workbook's package --------------------------------------------------------

DAMAGED = ("文件不完整或已损坏 (保存或复制时被中断?), 请重新保存后再放入",
           "the file is incomplete or damaged (cut short while saving or copying?): save it again and drop it in again")
PASSWORD = ("文件有密码, 请另存为无密码的文件后再放入", "the workbook is password-protected: save it without a password")


def check_package(path: Path, limits: ReaderConfig) -> Problem | None:
    """The first reason not to let a parser near this zip, or None when it is safe to read."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            return (_not_a_workbook(archive.namelist()) or _too_large_package(infos, limits)
                    or next(filter(None, (_scan_part(archive, info) for info in infos)), None))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError):
        return unreadable(*DAMAGED)


def _not_a_workbook(names: list[str]) -> Problem | None:
    if any(n.startswith("xl/") for n in names) or "content.xml" in names:
        return None
    if any(n.startswith("word/") for n in names):
        return unreadable("这是 Word 文档, 不是 Excel 工作簿", "this is a Word document, not an Excel workbook")
    if any(n.startswith("ppt/") for n in names):
        return unreadable("这是 PowerPoint 演示文稿, 不是 Excel 工作簿", "this is a PowerPoint presentation, not an Excel workbook")
    return unreadable("这是 zip 压缩包, 不是 Excel 工作簿; 请解压后放入其中的工作簿",
                      "this is a zip archive, not an Excel workbook: unpack it and drop the workbook inside")


def _too_large_package(infos: list[zipfile.ZipInfo], limits: ReaderConfig) -> Problem | None:
    if any(info.flag_bits & 0x1 for info in infos):
        return unreadable(*PASSWORD)
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_mb * MB:
        return problem("file-too-large", what_zh="解压后的大小", what="unpacked size", actual=_mb(total),
                       limit=_number(limits.max_uncompressed_mb), key="max_uncompressed_mb")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            return problem("file-zip-bomb", part=info.filename, actual=f"{ratio:,.0f}",
                           limit=_number(limits.max_compression_ratio))
    return None


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Problem | None:
    """Reads the part once, in chunks: a DTD anywhere in it refuses the file, and a
    part longer than its declared size fails its CRC (BadZipFile) on the way."""
    tail = b""
    with archive.open(info) as part:
        while chunk := part.read(_CHUNK):
            window = tail + chunk
            if any(needle in window for needle in _DTD_NEEDLES):
                return problem("file-unsafe-xml", part=info.filename)
            tail = window[-_OVERLAP:]
    return None


# --- a sheet's data range ----------------------------------------------------------

@dataclass(frozen=True)
class Extent:
    """The rows and columns (1-based, inclusive) that hold values."""

    first_row: int
    last_row: int
    first_col: int
    last_col: int

    @property
    def rows(self) -> int:
        return self.last_row - self.first_row + 1

    @property
    def columns(self) -> int:
        return self.last_col - self.first_col + 1

    @property
    def ref(self) -> str:
        return f"{get_column_letter(self.first_col)}{self.first_row}:{get_column_letter(self.last_col)}{self.last_row}"


# A cell with content: `<c r="D7" …>…</c>`, not the self-closing `<c r="D7" s="3"/>`
# of a cell that is only formatted (calamine skips those too). The declared
# `<dimension>` is a hint that may say A1:J1048576 for three rows: it is taken only
# once the cells bear it out (_declared_extent).
_PLAIN_VALUE_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>/]*>')  # as Excel and most libraries write it
_VALUE_CELL = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=\s*["\']([A-Z]{1,3})([0-9]{1,7})["\'][^>]*(?<!/)>')
_ANY_VALUE_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?:\s[^>]*)?(?<!/)>")
_ROW_NUMBER = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*?\br\s*=\s*["\']([0-9]{1,7})["\']')


def cell_extent(sheet_xml: bytes) -> Extent | None:
    """The data range of a worksheet part, from its cell references alone (a regular
    expression over the bytes: no parser, so nothing in the part can make it slow).
    Cells without a reference (allowed, rare) widen the range as far as they could reach."""
    plain = _plainly_written(sheet_xml)
    declared = _declared_extent(sheet_xml) if plain else None
    if declared is not None:
        return declared
    row_refs, column_refs, count, unreferenced = set(), set(), 0, 0
    for piece in _pieces(sheet_xml):  # a list of all cells at once would hold a million of them
        cells = (_PLAIN_VALUE_CELL if plain else _VALUE_CELL).findall(piece)
        count += len(cells)
        column_refs.update(c for c, _ in cells)
        row_refs.update(r for _, r in cells)
        unreferenced += 0 if plain else len(_ANY_VALUE_CELL.findall(piece)) - len(cells)
    if not count and not unreferenced:
        return None
    rows = [int(r) for r in row_refs]
    if unreferenced:  # such a cell sits in its row's `r`, or counts on from the row before
        rows += [int(r) for r in _ROW_NUMBER.findall(sheet_xml)]
    columns = [_column_number(letters) for letters in column_refs]
    return Extent(min(rows, default=1), max(rows, default=1) + unreferenced,
                  min(columns, default=1), max(columns, default=1) + unreferenced)


_DIMENSION = re.compile(rb'<dimension ref="A1:([A-Z]{1,3})([0-9]{1,7})"')


def _declared_extent(sheet_xml: bytes) -> Extent | None:
    """The extent the part declares (`<dimension ref="A1:J100001"/>`, as Excel and
    xlsxwriter write it), when its cells, all plainly written, bear it out: none lies
    outside it, and value cells sit in its first and last row and column. That costs a
    few searches that find nothing, not a match per cell (a 100,000-line batch has a
    million). None when it does not hold: the cells are then measured one by one."""
    found = _DIMENSION.search(sheet_xml, 0, 4096)  # it comes before the sheet's data
    if found is None:
        return None
    letters, digits = found[1], found[2]
    last_col, last_row = _column_number(letters), int(digits)
    if last_row < 1 or letters.decode() != get_column_letter(last_col):
        return None
    outside = rb'<c r="(?:(?:%s)[0-9]|[A-Z]{1,3}(?:0[0-9]*|%s)")' % (_letters_above(letters.decode()), _numbers_above(digits.decode()))
    if re.search(outside, sheet_xml):
        return None
    corners = (rb'<c r="A[0-9]{1,7}"', rb'<c r="[A-Z]{1,3}1"', rb'<c r="%s[0-9]{1,7}"' % letters, rb'<c r="[A-Z]{1,3}%s"' % digits)
    if not all(re.search(corner + rb"[^>/]*>", sheet_xml) for corner in corners):
        return None
    return Extent(1, last_row, 1, last_col)


def _numbers_above(digits: str) -> bytes:
    """A pattern of the numbers written without leading zeros that are greater than `digits`'."""
    options = [f"[1-9][0-9]{{{len(digits)},}}"]  # longer
    options += [f"{digits[:i]}[{int(d) + 1}-9][0-9]{{{len(digits) - i - 1}}}" for i, d in enumerate(digits) if d != "9"]
    return "|".join(options).encode()


def _letters_above(letters: str) -> bytes:
    """A pattern of the column letters after `letters`'."""
    options = [f"[A-Z]{{{len(letters) + 1},}}"]
    options += [f"{letters[:i]}[{chr(ord(ch) + 1)}-Z][A-Z]{{{len(letters) - i - 1}}}"
                for i, ch in enumerate(letters) if ch != "Z"]
    return "|".join(options).encode()


def _pieces(sheet_xml: bytes, size: int = 1 << 22) -> Iterator[bytes]:
    """The part in pieces of about `size` bytes, each cut just before a `</`, which no
    start tag holds: every cell's start tag lies whole in one piece."""
    start = 0
    while start < len(sheet_xml):
        cut = sheet_xml.find(b"</", start + size)
        end = len(sheet_xml) if cut < 0 else cut
        yield sheet_xml[start:end]
        start = end


def _plainly_written(sheet_xml: bytes) -> bool:
    """Every cell tag is `<c r="…` (no namespace prefix, the reference first): the
    quick expression then finds them all. Counting bytes costs next to nothing."""
    tags = sheet_xml.count(b"<c ") + sheet_xml.count(b"<c>")
    return tags == sheet_xml.count(b'<c r="') and not sheet_xml.count(b":c ") and not sheet_xml.count(b":c>")


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def too_large_sheet(extent: Extent, sheet: str, limits: ReaderConfig) -> Problem | None:
    for actual, limit, key, what_zh, what in (
            (extent.rows, limits.max_rows, "max_rows", "行", "rows"),
            (extent.columns, limits.max_columns, "max_columns", "列", "columns"),
            (extent.rows * extent.columns, limits.max_cells, "max_cells", "个单元格", "cells")):
        if actual > limit:
            return problem("sheet-too-large", sheet, extent=extent.ref, actual=f"{actual:,}", limit=f"{limit:,}",
                           key=key, what_zh=what_zh, what=what)
    return None


def refusal(path: Path, found: Format, limits: ReaderConfig) -> Problem | None:
    """Why a file in this format is not handed to a workbook parser, or None.
    (Text and HTML go to the table reader instead.)"""
    if found is Format.EMPTY:
        return unreadable("文件是空的 (0 字节)", "the file is empty (0 bytes)")
    if found is Format.EXCEL_2003_XML:
        return unreadable("这是 Excel 2003 XML 电子表格, 请在 Excel 中打开并另存为 .xlsx 工作簿",
                          "this is an Excel 2003 XML spreadsheet: open it in Excel and save it as an .xlsx workbook")
    if found is Format.XML:
        return unreadable("这是 XML 文件, 不是 Excel 工作簿", "this is an XML file, not an Excel workbook")
    if found is Format.BINARY:
        return unreadable("文件内容不是 jxc 能读的格式 (xlsx, xlsm, xls, ods, CSV, HTML 表格)",
                          "the content is in no format jxc reads (xlsx, xlsm, xls, ods, CSV, an HTML table)")
    if found is Format.ZIP:
        return check_package(path, limits)
    return None
