"""Excel out (file away, rejected): an .xlsx package patched part by part.

The annotated copy of a rejected workbook is the user's own zip with a few
parts changed and a few added; every other part is copied as it came, so
images, shapes, charts, sparklines, dropdowns and saved formula results stay
as the user made them. Nothing here loads a workbook: the parts that change
are patched as bytes — a sheet's XML is streamed row by row and only the
cells asked for are touched — and the small parts whose content must be known
(the workbook, relationships, comments) are read with defusedxml, DTDs
forbidden. A part written by a generator this code cannot patch raises
`Unpatchable`; the caller decides what to answer instead.
"""
from __future__ import annotations

import collections
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from defusedxml import ElementTree

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_TYPE = REL_NS + "/"
WORKSHEET_TYPE = REL_TYPE + "worksheet"
COMMENTS_TYPE = REL_TYPE + "comments"
VML_TYPE = REL_TYPE + "vmlDrawing"
STYLES_TYPE = REL_TYPE + "styles"
WORKSHEET_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
COMMENTS_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
STYLES_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
VML_CONTENT = "application/vnd.openxmlformats-officedocument.vmlDrawing"
WORKBOOK_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CHUNK = 1 << 20


class Unpatchable(Exception):
    """A part this code cannot patch safely (not UTF-8, an element missing, …)."""


# --- bytes: tags and attributes ---------------------------------------------------------------------

PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"


def tag_re(local: bytes) -> re.Pattern[bytes]:
    """A start (or empty) tag of `local` in any namespace prefix."""
    return re.compile(rb"<" + PREFIX + local + rb"\b[^>]*?/?>")


def element_re(local: bytes) -> re.Pattern[bytes]:
    """A whole element of `local` that does not nest in itself."""
    return re.compile(rb"<(" + PREFIX + rb")" + local + rb"\b[^>]*?(?:/>|>.*?</\1" + local + rb"\s*>)", re.S)


def attr(tag: bytes, name: bytes) -> bytes | None:
    m = re.search(rb"\s" + name + rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""", tag)
    if m is None:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2)


def set_attr(tag: bytes, name: bytes, value: bytes | None) -> bytes:
    """The start tag with attribute `name` set to `value` (removed when None)."""
    pattern = re.compile(rb"\s" + name + rb"""\s*=\s*(?:"[^"]*"|'[^']*')""")
    tag = pattern.sub(b"", tag, count=1)
    if value is None:
        return tag
    end = len(tag) - (2 if tag.endswith(b"/>") else 1)
    return tag[:end].rstrip() + b" " + name + b'="' + value + b'"' + tag[end:]


def prefix_of(tag: bytes) -> bytes:
    """`x:` of `<x:row …>`, or b""."""
    m = re.match(rb"</?([A-Za-z_][\w.-]*:)?", tag)
    return (m.group(1) or b"") if m else b""


_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def xml_text(text: str) -> bytes:
    return text.translate(_TEXT_ESCAPES).encode("utf-8", "replace")


def xml_attr(text: str) -> bytes:
    """A quoted attribute value."""
    return b'"' + text.translate(_ATTR_ESCAPES).encode("utf-8", "replace") + b'"'


def require_utf8(data: bytes, part: str) -> bytes:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or re.match(rb"<\?xml[^>]*encoding=[\"'](?!utf-8)", data[:100], re.I):
        raise Unpatchable(f"{part} is not UTF-8")
    return data


def parse(data: bytes):
    return ElementTree.fromstring(data, forbid_dtd=True)


def column_letters(col: int) -> str:
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_index(ref: bytes) -> tuple[int, int]:
    """b"D7" → (7, 4)."""
    m = re.fullmatch(rb"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})", ref.strip())
    if m is None:
        raise Unpatchable(f"cell reference {ref!r}")
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ch - 64
    return int(m.group(2)), col


# --- the package: parts and relationships --------------------------------------------------------

@dataclass(frozen=True)
class Rel:
    id: str
    type: str
    target: str  # the part name it points to (resolved), or the URL when external
    external: bool


def rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target)).lstrip("/")


def relative(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part) or ".")


class Package:
    """The parts of a zip, read on demand; the changes to make, written by `save`."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        self.replaced: dict[str, bytes | Callable[[], Iterator[bytes]]] = {}
        self.added: dict[str, bytes | Callable[[], Iterator[bytes]]] = {}
        self.removed: set[str] = set()
        self.late: set[str] = set()  # written after the others: made from what writing them found

    def names(self) -> set[str]:
        return (set(self.infos) | set(self.added)) - self.removed

    def has(self, part: str) -> bool:
        return part in self.names()

    def read(self, part: str) -> bytes:
        current = self.added.get(part, self.replaced.get(part))
        if isinstance(current, bytes):
            return current
        return self.archive.read(self.infos[part])

    def stream(self, part: str, size: int = CHUNK) -> Iterator[bytes]:
        with self.archive.open(self.infos[part]) as f:
            while chunk := f.read(size):
                yield chunk

    def rels(self, part: str) -> list[Rel]:
        name = rels_name(part)
        if not self.has(name):
            return []
        found = []
        for rel in parse(self.read(name)):
            external = rel.get("TargetMode") == "External"
            target = rel.get("Target", "")
            found.append(Rel(rel.get("Id", ""), rel.get("Type", ""), target if external else resolve(part, target),
                             external))
        return found

    def unused_name(self, pattern: str) -> str:
        """`pattern` with `{}` the first number giving a name no part has (case-blind, as zip readers are)."""
        taken = {n.lower() for n in set(self.infos) | set(self.added)}
        n = 1
        while pattern.format(n).lower() in taken:
            n += 1
        return pattern.format(n)

    def put(self, part: str, data: bytes | Callable[[], Iterator[bytes]], late: bool = False) -> None:
        """`part`'s new content: bytes, or a function streaming it, called when the
        copy is written (after every other part when `late`)."""
        if late:
            self.late.add(part)
        if part in self.infos:
            self.replaced[part] = data
        else:
            self.added[part] = data

    def remove(self, part: str) -> None:
        self.removed.add(part)
        self.removed.add(rels_name(part))

    def add_rel(self, part: str, rel_type: str, target_part: str) -> str:
        """A relationship from `part` to `target_part`; its new id."""
        name = rels_name(part)
        existing = self.read(name) if self.has(name) else (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<Relationships xmlns="' + PKG_REL_NS.encode() + b'"></Relationships>')
        existing = require_utf8(existing, name)
        ids = {r.id for r in self.rels(part)} if self.has(name) else set()
        n = len(ids) + 1
        while f"rId{n}" in ids:
            n += 1
        rid = f"rId{n}"
        rel = (b'<Relationship Id="' + rid.encode() + b'" Type=' + xml_attr(rel_type)
               + b" Target=" + xml_attr(relative(part, target_part)) + b"/>")
        self.put(name, insert_before_close(existing, b"Relationships", rel))
        return rid

    def drop_rels(self, part: str, keep: Callable[[Rel], bool]) -> None:
        name = rels_name(part)
        if not self.has(name):
            return
        data = require_utf8(self.read(name), name)
        gone = {r.id for r in self.rels(part) if not keep(r)}
        if gone:
            self.put(name, element_re(b"Relationship").sub(
                lambda m: b"" if (attr(m.group(0), b"Id") or b"").decode() in gone else m.group(0), data))

    def save(self, out: BinaryIO, level: int = 6) -> None:
        """Every part in its order, unchanged ones as they came; the added ones last."""
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as dest:
            stamp = next(iter(self.infos.values())).date_time if self.infos else (1980, 1, 1, 0, 0, 0)
            infos = sorted(self.infos.items(), key=lambda item: item[0] in self.late)
            for name, info in infos:
                if name in self.removed:
                    continue
                new = zipfile.ZipInfo(name, info.date_time)
                new.compress_type = zipfile.ZIP_DEFLATED
                new.external_attr = info.external_attr
                content = self.replaced.get(name)
                with dest.open(new, "w", force_zip64=info.file_size > (1 << 30)) as f:
                    if content is None:
                        for chunk in self.stream(name):
                            f.write(chunk)
                    elif isinstance(content, bytes):
                        f.write(content)
                    else:
                        for chunk in content():
                            f.write(chunk)
            for name, data in self.added.items():
                if name not in self.removed:
                    new = zipfile.ZipInfo(name, stamp)
                    new.compress_type = zipfile.ZIP_DEFLATED
                    with dest.open(new, "w", force_zip64=True) as f:
                        for chunk in [data] if isinstance(data, bytes) else data():
                            f.write(chunk)


def insert_before_close(xml: bytes, local: bytes, content: bytes) -> bytes:
    """`content` as the last children of the (only) `local` element, which may be empty (`<x/>`)."""
    close = re.search(rb"</(" + PREFIX + rb")" + local + rb"\s*>", xml)
    if close is not None:
        return xml[:close.start()] + content + xml[close.start():]
    empty = re.search(rb"<(" + PREFIX + rb")" + local + rb"\b[^>]*?/>", xml)
    if empty is None:
        raise Unpatchable(f"no <{local.decode()}> element")
    start = empty.group(0)[:-2].rstrip()
    return xml[:empty.start()] + start + b">" + content + b"</" + empty.group(1) + local + b">" + xml[empty.end():]


def insert_first(xml: bytes, local: bytes, content: bytes) -> bytes:
    """`content` as the first children of the (only) `local` element."""
    start = re.search(rb"<(" + PREFIX + rb")" + local + rb"\b[^>]*?(/?)>", xml)
    if start is None:
        raise Unpatchable(f"no <{local.decode()}> element")
    if start.group(2):
        return insert_before_close(xml, local, content)
    return xml[:start.end()] + content + xml[start.end():]


# --- content types ----------------------------------------------------------------------------------

@dataclass
class ContentTypes:
    xml: bytes

    def override(self, part: str, content_type: str) -> None:
        self.drop(part)
        entry = b'<Override PartName=' + xml_attr("/" + part) + b" ContentType=" + xml_attr(content_type) + b"/>"
        self.xml = insert_before_close(self.xml, b"Types", entry)

    def default(self, extension: str, content_type: str) -> None:
        if re.search(rb"""<Default\b[^>]*\bExtension\s*=\s*["']""" + re.escape(extension.encode()) + rb"""["']""",
                     self.xml, re.I):
            return
        entry = b"<Default Extension=" + xml_attr(extension) + b" ContentType=" + xml_attr(content_type) + b"/>"
        self.xml = insert_first(self.xml, b"Types", entry)

    def drop(self, part: str) -> None:
        wanted = ("/" + part).lower().encode()
        self.xml = element_re(b"Override").sub(
            lambda m: b"" if (attr(m.group(0), b"PartName") or b"").lower() == wanted else m.group(0), self.xml)

    def content_type(self, part: str) -> str | None:
        wanted = ("/" + part).lower().encode()
        for m in element_re(b"Override").finditer(self.xml):
            if (attr(m.group(0), b"PartName") or b"").lower() == wanted:
                return (attr(m.group(0), b"ContentType") or b"").decode()
        return None


# --- styles: the cell formats (cellXfs) ------------------------------------------------------------

@dataclass
class Styles:
    """styles.xml, with cell formats appended: each a copy of an existing one with
    another fill, font or alignment. Existing entries are never changed, so every
    cell not asked for keeps its look."""
    xml: bytes
    prefix: bytes = b""
    fonts: list[bytes] = field(default_factory=list)
    fills: list[bytes] = field(default_factory=list)
    xfs: list[bytes] = field(default_factory=list)
    new_fonts: list[bytes] = field(default_factory=list)
    new_fills: list[bytes] = field(default_factory=list)
    new_xfs: list[bytes] = field(default_factory=list)
    _made: dict[tuple, int] = field(default_factory=dict)

    @classmethod
    def of(cls, xml: bytes) -> "Styles":
        xml = require_utf8(xml, "styles")
        root = tag_re(b"styleSheet").search(xml)
        if root is None:
            raise Unpatchable("styles without <styleSheet>")
        styles = cls(xml, prefix_of(root.group(0)))
        styles.fonts = cls._items(xml, b"fonts", b"font")
        styles.fills = cls._items(xml, b"fills", b"fill")
        styles.xfs = cls._items(xml, b"cellXfs", b"xf")
        if not styles.xfs or not styles.fonts or not styles.fills:
            raise Unpatchable("styles without fonts, fills or cell formats")
        return styles

    @staticmethod
    def _items(xml: bytes, block: bytes, item: bytes) -> list[bytes]:
        m = element_re(block).search(xml)
        if m is None:
            return []
        return [i.group(0) for i in element_re(item).finditer(m.group(0))]

    def xf(self, index: int) -> bytes:
        return self.xfs[index] if 0 <= index < len(self.xfs) else self.xfs[0]

    def font_of(self, index: int) -> bytes:
        font_id = int(attr(self.xf(index), b"fontId") or 0)
        return self.fonts[font_id] if font_id < len(self.fonts) else self.fonts[0]

    def fill_of(self, index: int) -> bytes:
        fill_id = int(attr(self.xf(index), b"fillId") or 0)
        return self.fills[fill_id] if fill_id < len(self.fills) else self.fills[0]

    def add_font(self, font: bytes) -> int:
        return self._add(("font", font), self.new_fonts, len(self.fonts), font)

    def add_fill(self, fill: bytes) -> int:
        return self._add(("fill", fill), self.new_fills, len(self.fills), fill)

    def add_xf(self, xf: bytes) -> int:
        return self._add(("xf", xf), self.new_xfs, len(self.xfs), xf)

    def _add(self, key: tuple, new: list[bytes], before: int, item: bytes) -> int:
        if key not in self._made:
            new.append(item)
            self._made[key] = before + len(new) - 1
        return self._made[key]

    def variant(self, index: int, *, font: bytes | None = None, fill: bytes | None = None,
                fill_id: int | None = None, alignment: bytes | None = None) -> int:
        """A new cell format: cell format `index` with another font, fill or alignment."""
        xf = self.xf(index)
        start = re.match(rb"<[^>]*?/?>", xf).group(0)
        body = b"" if start.endswith(b"/>") else xf[len(start):xf.rindex(b"</")]
        start = start[:-2] + b">" if start.endswith(b"/>") else start
        if font is not None:
            start = set_attr(set_attr(start, b"fontId", str(self.add_font(font)).encode()), b"applyFont", b"1")
        if fill is not None:
            fill_id = self.add_fill(fill)
        if fill_id is not None:
            start = set_attr(set_attr(start, b"fillId", str(fill_id).encode()), b"applyFill", b"1")
        if alignment is not None:
            body = element_re(b"alignment").sub(b"", body)
            body = alignment + body  # alignment comes first among an xf's children
            start = set_attr(start, b"applyAlignment", b"1")
        p = self.prefix
        return self.add_xf(start + body + b"</" + p + b"xf>")

    def font(self, raw: bytes, *, drop: tuple[bytes, ...] = (), add: bytes = b"") -> bytes:
        """A font element like `raw`, less the children named in `drop`, plus `add`."""
        p = self.prefix
        start = re.match(rb"<[^>]*?/?>", raw).group(0)
        body = b"" if start.endswith(b"/>") else raw[len(start):raw.rindex(b"</")]
        for local in drop:
            body = element_re(local).sub(b"", body)
        start = start[:-2] + b">" if start.endswith(b"/>") else start
        return start + body + add + b"</" + p + b"font>"

    def to_bytes(self) -> bytes:
        xml = self.xml
        for block, item, new, old in ((b"fonts", b"font", self.new_fonts, self.fonts),
                                      (b"fills", b"fill", self.new_fills, self.fills),
                                      (b"cellXfs", b"xf", self.new_xfs, self.xfs)):
            if not new:
                continue
            xml = insert_before_close(xml, block, b"".join(new))
            m = tag_re(block).search(xml)
            xml = xml[:m.start()] + set_attr(m.group(0), b"count", str(len(old) + len(new)).encode()) + xml[m.end():]
        return xml


# --- a worksheet's XML, streamed ------------------------------------------------------------------

_SHEET_DATA = re.compile(rb"<(" + PREFIX + rb")sheetData\b[^>]*?(/?)>")
_ROW_END = re.compile(rb"</" + PREFIX + rb"row\s*>")
_CELL = re.compile(rb"<(" + PREFIX + rb")c\b([^>]*?)(?:/>|>.*?</\1c\s*>)", re.S)
_R = re.compile(rb"""\sr\s*=\s*["']([^"']*)["']""")
_S = re.compile(rb"""\ss\s*=\s*["']([0-9]*)["']""")

StyleChange = Callable[[int], int]  # a cell's style index → the one it gets


@dataclass
class SheetPatch:
    """What changes in one worksheet: cells' styles ((row, col) → change), the head
    (before the rows) and the tail (after them)."""
    cells: dict[tuple[int, int], StyleChange] = field(default_factory=dict)
    head: Callable[[bytes], bytes] = lambda head: head
    tail: Callable[[bytes], bytes] = lambda tail: tail


def sheet_tail(chunks: Iterator[bytes]) -> bytes:
    """What follows the rows of a worksheet (merged cells, validations, drawings…),
    found by streaming past them."""
    end = re.compile(rb"</" + PREFIX + rb"sheetData\s*>|<" + PREFIX + rb"sheetData\b[^>]*/>")
    carry = b""
    for chunk in chunks:
        buf = carry + chunk
        at = buf.find(b"sheetData")  # a byte search first: the pattern alone is slow over megabytes
        m = end.search(buf, max(at - 64, 0)) if at >= 0 else None
        if m is not None:
            return buf[m.end():] + b"".join(chunks)
        carry = buf[-64:]
    return b""


def merged_ranges(tail: bytes) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col) of every merged range in a sheet's tail."""
    found = []
    for m in tag_re(b"mergeCell").finditer(tail):
        ref = attr(m.group(0), b"ref")
        if not ref:
            continue
        first, _, last = ref.partition(b":")
        try:
            (r0, c0), (r1, c1) = cell_index(first), cell_index(last or first)
        except Unpatchable:
            continue
        found.append((r0, c0, r1, c1))
    return found


def column_styles(head: bytes) -> dict[int, int]:
    """Column → its default style, from <cols> in a sheet's head."""
    styles = {}
    for m in tag_re(b"col").finditer(head):
        tag = m.group(0)
        style = attr(tag, b"style")
        if style and (lo := attr(tag, b"min")) and (hi := attr(tag, b"max")):
            for col in range(int(lo), min(int(hi), 16384) + 1):
                styles[col] = int(style)
    return styles


def patch_sheet(chunks: Iterator[bytes], patch: SheetPatch) -> Iterator[bytes]:
    """The worksheet XML from `chunks` with `patch` applied; a cell asked for that is
    not in the XML is added to its row, and a row that is not there is added too."""
    rows: dict[int, dict[int, StyleChange]] = {}
    for (row, col), change in patch.cells.items():
        rows.setdefault(row, {})[col] = change
    pending = collections.deque(sorted(rows))  # rows not met yet
    buf = b""
    chunks = iter(chunks)
    for chunk in chunks:  # the head, up to <sheetData>
        buf += chunk
        m = _SHEET_DATA.search(buf)
        if m is not None:
            break
        if len(buf) > 64 * CHUNK:
            raise Unpatchable("no <sheetData> in the first 64 MB")
    else:
        raise Unpatchable("no <sheetData>")
    prefix, empty = m.group(1), bool(m.group(2))
    head = patch.head(buf[:m.start()])
    cols = column_styles(head)
    if empty:
        start = m.group(0)[:-2].rstrip() + b">"
        yield head + start + b"".join(_new_row(prefix, r, rows[r], cols) for r in pending)
        yield b"</" + prefix + b"sheetData>"
        yield patch.tail(buf[m.end():] + b"".join(chunks))
        return
    yield head + m.group(0)
    buf = buf[m.end():]
    # the prefix is known now: patterns starting with a literal search fast
    row_tag = re.compile(b"<" + re.escape(prefix) + rb"row\b([^>]*?)(/?)>")
    row_end = re.compile(b"</" + re.escape(prefix) + rb"row\s*>")
    rows_end = b"</" + prefix + b"sheetData"
    last_row = 0
    while True:
        chunk = next(chunks, None)
        final = chunk is None
        buf += chunk or b""
        end_at = buf.find(rows_end)
        stop = end_at if end_at >= 0 else len(buf) if final else max(buf.rfind(b"<"), 0)  # tags before it are whole
        out, pos, search, hold = [], 0, 0, None
        while pending and (m := row_tag.search(buf, search, stop)) is not None:
            r = _R.search(m.group(0))
            number = int(r.group(1)) if r else last_row + 1
            if pending[0] < number:
                out.append(buf[pos:m.start()])
                while pending and pending[0] < number:
                    p = pending.popleft()
                    out.append(_new_row(prefix, p, rows[p], cols))
                pos = m.start()
            if pending and pending[0] == number:
                end = m.end() if m.group(2) else None
                if end is None:
                    close = row_end.search(buf, m.end())
                    if close is None:  # the rest of this row comes with the next chunk
                        hold = m.start()
                        break
                    end = close.end()
                out.append(buf[pos:m.start()])
                out.append(_patch_row(buf[m.start():end], m.end() - m.start(), number, rows[number], cols))
                pending.popleft()
                pos = search = end
            else:
                search = m.end()
            last_row = number
        if end_at >= 0 and hold is None:
            out.append(buf[pos:end_at])
            out += [_new_row(prefix, r, rows[r], cols) for r in pending]
            yield b"".join(out)
            yield patch.tail(buf[end_at:] + b"".join(chunks))
            return
        if final:
            raise Unpatchable("no </sheetData>")
        keep = hold if hold is not None else max(stop, pos)
        out.append(buf[pos:keep])
        yield b"".join(out)
        buf = buf[keep:]


def _patch_row(row: bytes, start_len: int, number: int, changes: dict[int, StyleChange],
               cols: dict[int, int]) -> bytes:
    start = row[:start_len]
    prefix = prefix_of(start)
    row_style = int(attr(start, b"s") or 0) if attr(start, b"customFormat") in (b"1", b"true") else None
    if start.endswith(b"/>"):
        start, body, end = start[:-2].rstrip() + b">", b"", b"</" + prefix + b"row>"
    else:
        close = row.rindex(b"</")
        body, end = row[start_len:close], row[close:]
    out, pos, col, left = [start], 0, 0, dict(changes)
    for m in _CELL.finditer(body):
        if not left:
            break  # the rest of the row stays as it is
        r = _R.search(m.group(2))
        col = _column_of(r.group(1)) if r else col + 1
        for c in sorted(c for c in left if c < col):
            out += [body[pos:m.start()], _new_cell(prefix, number, c, left.pop(c)(_base(row_style, cols, c)))]
            pos = m.start()
        if col in left:
            tag_end = m.start() + len(b"<" + m.group(1) + b"c") + len(m.group(2))
            tag = body[m.start():tag_end]
            s = _S.search(tag)
            style = int(s.group(1) or 0) if s else 0
            new = str(left.pop(col)(style)).encode()
            tag = _S.sub(b' s="' + new + b'"', tag, count=1) if s else tag + b' s="' + new + b'"'
            out += [body[pos:m.start()], tag]
            pos = tag_end
    out.append(body[pos:])
    for c in sorted(left):
        out.append(_new_cell(prefix, number, c, left[c](_base(row_style, cols, c))))
    out.append(end)
    return b"".join(out)


_COLUMNS: dict[bytes, int] = {}


def _column_of(ref: bytes) -> int:
    """The column of a cell reference (b"F12" → 6), its letters looked up once."""
    letters = ref.rstrip(b"0123456789")
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS[letters] = cell_index(letters + b"1")[1]
    return col


def _base(row_style: int | None, cols: dict[int, int], col: int) -> int:
    """The style an absent cell shows: its row's, else its column's, else the default."""
    return row_style if row_style is not None else cols.get(col, 0)


def _new_cell(prefix: bytes, row: int, col: int, style: int) -> bytes:
    return b"<" + prefix + b'c r="' + f"{column_letters(col)}{row}".encode() + b'" s="' + str(style).encode() + b'"/>'


def _new_row(prefix: bytes, number: int, changes: dict[int, StyleChange], cols: dict[int, int]) -> bytes:
    cells = b"".join(_new_cell(prefix, number, c, changes[c](cols.get(c, 0))) for c in sorted(changes))
    return b"<" + prefix + b'row r="' + str(number).encode() + b'">' + cells + b"</" + prefix + b"row>"
