"""File away (rejected): the annotated copy `NAME.errors.xlsx`.

A rejected workbook goes back to its user as a copy of itself: every bad cell
filled red with a comment saying what is wrong, and a new first sheet listing
every problem of the file with a link to its cell. The original is only read.

An .xlsx/.xlsm/.xltx/.xltm is copied by patching its own parts (package.py),
whatever its size: the sheets with bad cells are streamed and only those cells'
styles change; a red cell format is added per style a bad cell had, a comments
part and its drawing per annotated sheet, and the problem sheet in front.
Everything else — images, shapes, charts, sparklines, dropdowns, saved formula
results — is copied as it came. Macros are left out (the copy is an .xlsx), and
so is the calculation chain, which Excel rebuilds.

A file that is no such package but the reader could read (.xls, .ods, .xlsb, a
CSV or HTML table) is copied as its values into a fresh workbook, so the marks
still land on the user's data; so is a package this code cannot patch. When the
original cannot be read at all, or was refused unread (too large, a zip bomb, a
DTD), the copy is a fresh workbook holding the problem list alone: a file
refused unread is never opened here either.
"""
from __future__ import annotations

import copy
import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from ..records import Problem
from ..values import is_blank
from . import package as pk
from .forms import atomic_file, fit_to_page_width, save_atomically
from .read import sheet_grid

log = logging.getLogger(__name__)

PROBLEMS_SHEET = "问题 problems"
AUTHOR = "jxc"
WHOLE_FILE = "整个文件 whole file"
HEADER = ("位置 where", "代码 code", "问题 problem", "problem (en)", "所见值 value")
HEADER_ROW = 4
BAD_FILL = PatternFill(fill_type="solid", start_color="FFC7CE", end_color="FFC7CE")
BAD_FONT_COLOR = "9C0006"
# A user's own note on a bad cell is kept below ours, after this line, so that
# annotating a re-dropped errors copy can tell the two apart.
OLD_NOTE_MARK = "—— 原批注 original note ——"
MAX_CELL_TEXT = 32767  # Excel's limit for the text of one cell
REFUSED_UNREAD = frozenset({"file-too-large", "file-zip-bomb", "file-unsafe-xml", "sheet-too-large"})
_MAX_ROW, _MAX_COL = 1_048_576, 16_384


@dataclass(frozen=True, slots=True)
class CellRef:
    sheet: str
    row: int
    col: int

    @property
    def coordinate(self) -> str:
        return f"{get_column_letter(self.col)}{self.row}"

    @property
    def link(self) -> str:
        """The internal link location, e.g. `'明细'!D7` (no `#`: it is a location, not a URL)."""
        return f"{quote_sheet(self.sheet)}!{self.coordinate}"


def write_errors_copy(original: Path, dest: Path, problems: Sequence[Problem], source_name: str) -> Path:
    """Write `dest`: the annotated copy of `original` (never touched), always as .xlsx."""
    original, dest = Path(original), Path(dest)
    codes = {p.code for p in problems}
    if not codes & REFUSED_UNREAD and spreadsheet_package(original):
        try:
            with atomic_file(dest) as temporary, open(temporary, "wb") as out:
                write_patched_copy(original, out, problems, source_name)
            return dest
        except Exception:
            # a package this code cannot patch: its values are copied instead, below
            log.warning("patching a copy of %s failed; copying its values", source_name, exc_info=True)
    wb = None if codes & (REFUSED_UNREAD | {"file-unreadable"}) else values_copy(original, source_name)
    if wb is not None:
        try:
            annotate(wb, problems, source_name)
            return save_atomically(wb, dest)
        except Exception:
            log.warning("annotated copy of %s failed; writing the problem list only", source_name, exc_info=True)
    return save_atomically(problems_only(problems, source_name), dest)


# --- the patched copy of an .xlsx package -----------------------------------------------------------

MAIN_TYPES = ("sheet.main+xml", "template.main+xml", "sheet.macroEnabled.main+xml", "template.macroEnabled.main+xml",
              "addin.macroEnabled.main+xml")
RED_FILL = b'<fill><patternFill patternType="solid"><fgColor rgb="FFFFC7CE"/><bgColor rgb="FFFFC7CE"/></patternFill></fill>'
_TAB_SELECTED = re.compile(rb"""\stabSelected\s*=\s*["'](?:1|true)["']""")
_AFTER_LEGACY_DRAWING = re.compile(rb"<" + pk.PREFIX + rb"(?:legacyDrawingHF|drawingHF|picture|oleObjects|controls|"
                                   rb"webPublishItems|tableParts|extLst|AlternateContent)\b|</" + pk.PREFIX
                                   + rb"worksheet\s*>")
_AFTER_DEFINED_NAMES = re.compile(rb"<" + pk.PREFIX + rb"(?:calcPr|oleSize|customWorkbookViews|pivotCaches|"
                                  rb"smartTagPr|smartTagTypes|webPublishing|fileRecoveryPr|webPublishObjects|"
                                  rb"extLst)\b|</" + pk.PREFIX + rb"workbook\s*>")
_VML_SHAPE = re.compile(rb"<v:shape\b.*?</v:shape\s*>", re.S)
_VML_START = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
              'xmlns:x="urn:schemas-microsoft-com:office:excel">')
_VML_SHAPE_TYPE = ('<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
                   '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')


def spreadsheet_package(path: Path) -> bool:
    """Is the file an Office Open XML spreadsheet (.xlsx, .xlsm, .xltx, .xltm), whatever its name?"""
    try:
        with zipfile.ZipFile(path) as archive:
            package = pk.Package(archive)
            workbook = _workbook_part(package)
            types = pk.ContentTypes(package.read("[Content_Types].xml"))
            main = types.content_type(workbook) or ""
    except Exception:  # not a zip, truncated, no workbook: not one to patch
        return False
    return main.startswith("application/vnd.") and main.endswith(MAIN_TYPES)


def _workbook_part(package: pk.Package) -> str:
    for rel in package.rels(""):
        if rel.type.endswith("/officeDocument") and not rel.external:
            return rel.target
    raise pk.Unpatchable("no workbook part")


@dataclass
class SheetEntry:
    name: str
    index: int
    part: str | None
    kind: str  # worksheet, chartsheet, dialogsheet, …
    rid: str
    merged: list[tuple[int, int, int, int]] | None = None  # read when a problem points into the sheet


@dataclass
class Note:
    """A comment already on a cell: who wrote it, its text, and its XML as it was."""
    row: int
    col: int
    author: str
    text: str
    xml: bytes


@dataclass
class SheetWork:
    """What changes on one worksheet."""
    sheet: SheetEntry
    marks: dict[tuple[int, int], list[Problem]] = field(default_factory=dict)
    tail: bytes = b""
    notes: list[Note] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    comments_part: str | None = None
    comments_xml: bytes = b""
    vml_part: str | None = None


def write_patched_copy(original: Path, out, problems: Sequence[Problem], source_name: str) -> None:
    """The annotated copy of the package `original`, written to the open file `out`."""
    with zipfile.ZipFile(original) as archive:
        package = pk.Package(archive)
        _Patch(package, problems, source_name).apply()
        package.save(out)


class _Patch:
    def __init__(self, package: pk.Package, problems: Sequence[Problem], source_name: str):
        self.package, self.problems, self.source_name = package, problems, source_name
        self.types = pk.ContentTypes(pk.require_utf8(package.read("[Content_Types].xml"), "[Content_Types].xml"))
        self.workbook = _workbook_part(package)
        self.workbook_xml = pk.require_utf8(package.read(self.workbook), self.workbook)
        root = pk.tag_re(b"workbook").search(self.workbook_xml)
        if root is None or pk.MAIN_NS.encode() not in root.group(0):
            raise pk.Unpatchable("not a transitional SpreadsheetML workbook")
        self.workbook_rels = {rel.id: rel for rel in package.rels(self.workbook)}
        self.sheets = self._sheets()
        self.styles_part, self.styles = self._styles()

    def _sheets(self) -> list[SheetEntry]:
        found = []
        for element in pk.parse(self.workbook_xml).iter():
            if element.tag.endswith("}sheet"):
                rid = next((v for k, v in element.attrib.items() if k.endswith("}id")), "")
                rel = self.workbook_rels.get(rid)
                part = rel.target if rel is not None and not rel.external and self.package.has(rel.target) else None
                kind = rel.type.rsplit("/", 1)[-1] if rel is not None else ""
                found.append(SheetEntry(element.get("name", ""), len(found), part, kind, rid))
        return found

    def _styles(self) -> tuple[str, pk.Styles]:
        for rel in self.workbook_rels.values():
            if rel.type == pk.STYLES_TYPE and self.package.has(rel.target):
                return rel.target, pk.Styles.of(self.package.read(rel.target))
        raise pk.Unpatchable("no styles part")

    # --- the whole --------------------------------------------------------------------------------

    def apply(self) -> None:
        old = next((s for s in self.sheets if s.name == PROBLEMS_SHEET), None)
        sheets = [s for s in self.sheets if s is not old]
        refs = [self._resolve(p.where, sheets) for p in self.problems]
        work = {s.name: SheetWork(s) for s in sheets if s.kind == "worksheet" and s.part}
        for ref, cell_problems in group_by_cell(refs, self.problems).items():
            work[ref.sheet].marks[(ref.row, ref.col)] = cell_problems
        for entry in work.values():
            self._read_notes(entry)
        for entry in work.values():
            self._patch_sheet(entry)
        for sheet in sheets:
            if sheet.kind != "worksheet" and sheet.part:
                self.package.put(sheet.part, _TAB_SELECTED.sub(b"", self.package.read(sheet.part)))
        links = {index: ref for index, ref in enumerate(refs) if ref is not None}
        problems_part = self.package.unused_name("xl/worksheets/sheet{}.xml")
        self.package.put(problems_part, self._problem_sheet(links))
        self.types.override(problems_part, pk.WORKSHEET_CONTENT)
        rid = self.package.add_rel(self.workbook, pk.WORKSHEET_TYPE, problems_part)
        self._patch_workbook(rid, old)
        self._drop_macros_and_calc_chain()
        # the red cell formats are known once the sheets are written: the styles go last
        self.package.put(self.styles_part, lambda: iter([self.styles.to_bytes()]), late=True)
        self.package.put("[Content_Types].xml", self.types.xml)

    def _resolve(self, where: str, sheets: list[SheetEntry]) -> CellRef | None:
        parsed = parse_where(where)
        if parsed is None:
            return None
        name, row, col = parsed
        sheet = next((s for s in sheets if s.name == name), None)
        if sheet is None or sheet.kind != "worksheet" or sheet.part is None:
            return None
        if sheet.merged is None:
            sheet.merged = pk.merged_ranges(pk.sheet_tail(self.package.stream(sheet.part)))
        for r0, c0, r1, c1 in sheet.merged:
            if r0 <= row <= r1 and c0 <= col <= c1:
                return CellRef(name, r0, c0)
        return CellRef(name, row, col)

    # --- a worksheet: its cells, comments and their drawing ---------------------------------------------

    def _read_notes(self, entry: SheetWork) -> None:
        for rel in self.package.rels(entry.sheet.part):
            if rel.type == pk.COMMENTS_TYPE and not rel.external and self.package.has(rel.target):
                entry.comments_part = rel.target
                entry.comments_xml = pk.require_utf8(self.package.read(rel.target), rel.target)
        if entry.comments_part is None:
            return
        root = pk.parse(entry.comments_xml)
        authors = entry.authors = [(a.text or "") for a in root.iter() if a.tag.endswith("}author")]
        parsed = [c for c in root.iter() if c.tag.endswith("}comment")]
        raw = [m.group(0) for m in pk.element_re(b"comment").finditer(entry.comments_xml)]
        if len(raw) != len(parsed):
            raise pk.Unpatchable(f"{entry.comments_part}: comments not as parsed")
        for element, xml in zip(parsed, raw):
            row, col = pk.cell_index(element.get("ref", "").split(":")[0].encode())
            author_id = int(element.get("authorId", "0") or 0)
            author = authors[author_id] if 0 <= author_id < len(authors) else ""
            entry.notes.append(Note(row, col, author, _comment_text(element), xml))

    def _patch_sheet(self, entry: SheetWork) -> None:
        ours = {(n.row, n.col) for n in entry.notes if n.author == AUTHOR}
        changes: dict[tuple[int, int], pk.StyleChange] = {cell: self._red for cell in entry.marks}
        changes.update({cell: self._unred for cell in ours if cell not in entry.marks})
        part = entry.sheet.part
        if not changes:
            head = _sheet_head(self.package.stream(part))
            if _TAB_SELECTED.search(head):
                self.package.put(part, lambda: pk.patch_sheet(self.package.stream(part), pk.SheetPatch(
                    head=lambda h: _TAB_SELECTED.sub(b"", h))))
            return
        entry.tail = pk.sheet_tail(self.package.stream(part))
        new_vml_rid = self._write_comments(entry, ours)
        patch = pk.SheetPatch(changes, head=lambda h: _TAB_SELECTED.sub(b"", h),
                              tail=lambda t: _with_legacy_drawing(t, new_vml_rid) if new_vml_rid else t)
        self.package.put(part, lambda: pk.patch_sheet(self.package.stream(part), patch))

    def _red(self, style: int) -> int:
        font = self.styles.font(self.styles.font_of(style), drop=(b"color",),
                                add=b"<" + self.styles.prefix + b'color rgb="FF' + BAD_FONT_COLOR.encode() + b'"/>')
        return self.styles.variant(style, font=font, fill=_prefixed(RED_FILL, self.styles.prefix))

    def _unred(self, style: int) -> int:
        if not _is_red(self.styles.fill_of(style)):
            return style
        return self.styles.variant(style, font=self.styles.font(self.styles.font_of(style), drop=(b"color",)), fill_id=0)

    def _write_comments(self, entry: SheetWork, ours: set[tuple[int, int]]) -> str | None:
        """The sheet's comments part and its drawing, rewritten; the new drawing's
        relationship id when the sheet had none."""
        touched = set(entry.marks) | ours
        kept = [n for n in entry.notes if (n.row, n.col) not in touched]
        before = {(n.row, n.col): n for n in entry.notes}
        written: list[tuple[int, int, str, str]] = []  # row, col, author, text
        for (row, col), cell_problems in sorted(entry.marks.items()):
            text = "\n".join(f"{clean(p.zh)}\n{clean(p.en)} [{p.code}]" for p in cell_problems)
            previous = _users_note(before.get((row, col)))
            if previous:
                text = f"{text}\n{OLD_NOTE_MARK}\n{previous}"
            written.append((row, col, AUTHOR, text))
        for row, col in sorted(ours - set(entry.marks)):
            note = _users_note(before[(row, col)])
            if note:
                written.append((row, col, "", note))
        self._put_comments(entry, kept, written)
        return self._put_vml(entry, touched, written)

    def _put_comments(self, entry: SheetWork, kept: list[Note], written: list[tuple[int, int, str, str]]) -> None:
        if entry.comments_part is None:
            entry.comments_part = self.package.unused_name("xl/comments{}.xml")
            entry.comments_xml = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments xmlns="'
                                  + pk.MAIN_NS.encode() + b'"><authors></authors><commentList></commentList></comments>')
            self.package.add_rel(entry.sheet.part, pk.COMMENTS_TYPE, entry.comments_part)
            self.types.override(entry.comments_part, pk.COMMENTS_CONTENT)
        xml = entry.comments_xml
        prefix = pk.prefix_of(pk.tag_re(b"comments").search(xml).group(0))
        authors_block = pk.element_re(b"authors").search(xml)
        authors = list(entry.authors)
        added = [name for name in (AUTHOR, "") if name not in authors and any(w[2] == name for w in written)]
        if added:
            more = b"".join(b"<" + prefix + b"author>" + pk.xml_text(a) + b"</" + prefix + b"author>" for a in added)
            xml = pk.insert_before_close(xml, b"authors", more) if authors_block is not None else \
                pk.insert_first(xml, b"comments", b"<" + prefix + b"authors>" + more + b"</" + prefix + b"authors>")
            authors += added
        comments = b"".join(n.xml for n in kept) + b"".join(
            b"<" + prefix + b"comment ref=\"" + f"{get_column_letter(col)}{row}".encode() + b'" authorId="'
            + str(authors.index(author)).encode() + b'"><' + prefix + b"text><" + prefix + b't xml:space="preserve">'
            + pk.xml_text(text) + b"</" + prefix + b"t></" + prefix + b"text></" + prefix + b"comment>"
            for row, col, author, text in written)
        block = pk.element_re(b"commentList").search(xml)
        start = b"<" + prefix + b"commentList>"
        new_block = start + comments + b"</" + prefix + b"commentList>"
        if block is None:
            xml = pk.insert_before_close(xml, b"comments", new_block)
        else:
            xml = xml[:block.start()] + new_block + xml[block.end():]
        self.package.put(entry.comments_part, xml)

    def _put_vml(self, entry: SheetWork, touched: set[tuple[int, int]],
                 written: list[tuple[int, int, str, str]]) -> str | None:
        rid = _legacy_drawing_id(entry.tail)
        rel = next((r for r in self.package.rels(entry.sheet.part) if r.id == rid), None) if rid else None
        vml = self.package.read(rel.target) if rel is not None and self.package.has(rel.target) else None
        if vml is not None and not all(ns in vml for ns in (b'xmlns:v=', b'xmlns:o=', b'xmlns:x=')):
            vml = None  # a drawing this code cannot extend: a new one replaces it
        if vml is None:
            vml = (_VML_START + '<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="1"/></o:shapelayout>'
                   + _VML_SHAPE_TYPE + "</xml>").encode()
        else:
            vml = _VML_SHAPE.sub(lambda m: b"" if _note_cell(m.group(0)) in touched else m.group(0), vml)
            if b"_x0000_t202" not in vml:
                vml = vml.replace(b"</xml>", _VML_SHAPE_TYPE.encode() + b"</xml>")
        ids = [int(n) for n in re.findall(rb"_x0000_s(\d+)", vml)]
        next_id = max(ids + [1024]) + 1
        close = vml.rfind(b"</xml>")
        if close < 0:
            raise pk.Unpatchable("a drawing without </xml>")

        def drawing() -> Iterator[bytes]:  # streamed: one shape per comment
            yield vml[:close]
            for i, (row, col, _, text) in enumerate(written):
                yield _vml_note(next_id + i, row, col, text)
            yield vml[close:]
        if rel is not None:
            self.package.put(rel.target, drawing)
            return None
        if entry.vml_part is None:
            entry.vml_part = self.package.unused_name("xl/drawings/vmlDrawing{}.vml")
        self.package.put(entry.vml_part, drawing)
        self.types.default("vml", pk.VML_CONTENT)
        return self.package.add_rel(entry.sheet.part, pk.VML_TYPE, entry.vml_part)

    # --- the problem sheet --------------------------------------------------------------------------

    def _problem_sheet(self, links: dict[int, CellRef]) -> Callable[[], Iterator[bytes]]:
        styles = self.styles
        p = styles.prefix
        base = styles.fonts[0]
        title = styles.variant(0, font=styles.font(base, drop=(b"b", b"sz"), add=b"<" + p + b'b/><' + p + b'sz val="12"/>'))
        bold = styles.variant(0, font=styles.font(base, drop=(b"b",), add=b"<" + p + b"b/>"))
        link = styles.variant(0, font=styles.font(base, drop=(b"color", b"u"),
                                                  add=b"<" + p + b'u/><' + p + b'color rgb="FF0563C1"/>'))
        wrap = styles.variant(0, alignment=b"<" + p + b'alignment vertical="top" wrapText="1"/>')
        name = clean(self.source_name)
        count = len(self.problems)
        rows: list[list[tuple[str, int] | None]] = [
            [(f"文件 {name} 未过账, 其中任何内容都没有记入账簿。请修改标红的单元格, 然后把改好的文件重新放入收件箱(inbox)。", title)],
            [(f"{name} was not posted: nothing of it entered the ledger. "
              f"Fix the red cells and drop the corrected file into the inbox again.", bold)],
            [(f"共 {count} 个问题 / {count} problem(s)", 0)],
            [(title_text, bold) for title_text in HEADER],
        ]
        hyperlinks = []
        for offset, problem in enumerate(self.problems):
            ref = links.get(offset)
            row = HEADER_ROW + 1 + offset
            if ref is not None:
                hyperlinks.append(b'<hyperlink ref="A' + str(row).encode() + b'" location=' + pk.xml_attr(ref.link)
                                  + b" display=" + pk.xml_attr(clean(problem.where)) + b"/>")
            rows.append([(problem.where or WHOLE_FILE, link if ref is not None else 0), (problem.code, 0),
                         (problem.zh, wrap), (problem.en, wrap), (problem.value, wrap)])
        widths = [_column_width([r[col - 1][0] for r in rows[HEADER_ROW - 1:] if len(r) >= col], least, most)
                  for col, (least, most) in _WIDTH_LIMITS.items()]
        last = HEADER_ROW + max(count, 1)
        cols = "".join(f'<col min="{c}" max="{c}" width="{w}" customWidth="1"/>' for c, w in enumerate(widths, 1))
        first = HEADER_ROW + 1

        def sheet() -> Iterator[bytes]:  # streamed: a file with every line wrong has a long list
            yield (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   + f'<worksheet xmlns="{pk.MAIN_NS}" xmlns:r="{pk.REL_NS}">'
                     f'<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr><dimension ref="A1:E{last}"/>'
                     f'<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
                     f'<pane ySplit="{HEADER_ROW}" topLeftCell="A{first}" activePane="bottomLeft" state="frozen"/>'
                     f'<selection pane="bottomLeft" activeCell="A{first}" sqref="A{first}"/></sheetView></sheetViews>'
                     f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'.encode())
            for number, cells in enumerate(rows, start=1):
                yield f'<row r="{number}">'.encode() + b"".join(_text_cell(number, col, text, style)
                                                               for col, (text, style) in enumerate(cells, 1)) + b"</row>"
            yield f'</sheetData><autoFilter ref="A{HEADER_ROW}:E{last}"/>'.encode()
            if hyperlinks:
                yield b"<hyperlinks>" + b"".join(hyperlinks) + b"</hyperlinks>"
            yield (b'<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
                   b'<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
                   b"<headerFooter><oddFooter>&amp;R&amp;P / &amp;N</oddFooter></headerFooter></worksheet>")
        return sheet

    # --- the workbook ---------------------------------------------------------------------------------

    def _patch_workbook(self, rid: str, old: SheetEntry | None) -> None:
        xml = self.workbook_xml
        if old is not None:
            self._drop_sheet(old)
            tags = list(pk.element_re(b"sheet").finditer(xml))
            gone = tags[old.index]
            xml = xml[:gone.start()] + xml[gone.end():]
        sheets = pk.tag_re(b"sheets").search(xml)
        p = pk.prefix_of(sheets.group(0))
        sheet_ids = [int(i) for i in re.findall(rb"""<(?:[\w.-]+:)?sheet\b[^>]*?\ssheetId\s*=\s*["'](\d+)""", xml)]
        tag = (b"<" + p + b"sheet name=" + pk.xml_attr(PROBLEMS_SHEET) + b' sheetId="'
               + str(max(sheet_ids + [0]) + 1).encode() + b'" ' + _rel_id(xml, rid) + b"/>")
        xml = pk.insert_first(xml, b"sheets", tag)
        xml = pk.tag_re(b"workbookView").sub(
            lambda m: pk.set_attr(pk.set_attr(m.group(0), b"activeTab", None), b"firstSheet", None), xml)

        def shifted(m: re.Match) -> bytes:
            name = m.group(0)
            local = pk.attr(name, b"localSheetId")
            if local is None or not local.isdigit():
                return name
            index = int(local)
            if old is not None and index == old.index:
                return b""
            if old is not None and index > old.index:
                index -= 1
            start = re.match(rb"<[^>]*>", name).group(0)
            return pk.set_attr(start, b"localSheetId", str(index + 1).encode()) + name[len(start):]

        xml = pk.element_re(b"definedName").sub(shifted, xml)
        last = HEADER_ROW + max(len(self.problems), 1)
        ours = (b"<" + p + b'definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
                + pk.xml_text(f"{quote_sheet(PROBLEMS_SHEET)}!$A${HEADER_ROW}:$E${last}") + b"</" + p + b"definedName>"
                + b"<" + p + b'definedName name="_xlnm.Print_Titles" localSheetId="0">'
                + pk.xml_text(f"{quote_sheet(PROBLEMS_SHEET)}!${HEADER_ROW}:${HEADER_ROW}") + b"</" + p + b"definedName>")
        if pk.tag_re(b"definedNames").search(xml):
            xml = pk.insert_first(xml, b"definedNames", ours)
        else:
            end = pk.element_re(b"sheets").search(xml).end()
            at = _AFTER_DEFINED_NAMES.search(xml, end)
            xml = xml[:at.start()] + b"<" + p + b"definedNames>" + ours + b"</" + p + b"definedNames>" + xml[at.start():]
        self.package.put(self.workbook, xml)

    def _drop_sheet(self, old: SheetEntry) -> None:
        """The problem sheet of an earlier rejection (a corrected copy dropped again)."""
        if old.part:
            self.package.remove(old.part)
            self.types.drop(old.part)
        self.package.drop_rels(self.workbook, lambda rel: rel.id != old.rid)

    def _drop_macros_and_calc_chain(self) -> None:
        """The copy is a plain workbook: no macros; and no calculation chain, which names
        sheets by place (Excel rebuilds it)."""
        dropped = {rel.target for rel in self.workbook_rels.values()
                   if rel.type.endswith(("/vbaProject", "/calcChain")) and not rel.external}
        dropped |= {name for name in self.package.names() if "vbaproject" in name.lower()}
        for part in dropped:
            self.package.remove(part)
            self.types.drop(part)
        self.package.drop_rels(self.workbook, lambda rel: rel.target not in dropped)
        self.types.override(self.workbook, pk.WORKBOOK_CONTENT)


def _text_cell(row: int, col: int, text: str, style: int) -> bytes:
    ref = f"{get_column_letter(col)}{row}"
    if text == "":
        return f'<c r="{ref}" s="{style}"/>'.encode()
    return (f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">'.encode()
            + pk.xml_text(clean(text)) + b"</t></is></c>")


def _column_width(texts: list[str], least: int, most: int) -> int:
    """As set_widths sizes a column, stopping at the first text that reaches the limit."""
    widest = 0
    for text in texts:
        widest = max(widest, display_width(text[:most]))
        if widest + 2 >= most:
            return most
    return max(least, widest + 2)


def _sheet_head(chunks) -> bytes:
    head = b""
    for chunk in chunks:
        head += chunk
        if b"sheetData" in head or len(head) > 16 * pk.CHUNK:
            break
    return head.partition(b"sheetData")[0]


def _rel_id(xml: bytes, rid: str) -> bytes:
    """`r:id="…"` under the prefix the part's root declares for relationships, or declared here."""
    m = re.search(rb"""xmlns:([\w.-]+)\s*=\s*["']""" + re.escape(pk.REL_NS.encode()) + rb"""["']""", xml[:4096])
    if m:
        return m.group(1) + b':id="' + rid.encode() + b'"'
    return b'xmlns:r="' + pk.REL_NS.encode() + b'" r:id="' + rid.encode() + b'"'


def _legacy_drawing_id(tail: bytes) -> str | None:
    m = pk.tag_re(b"legacyDrawing").search(tail)
    if m is None:
        return None
    rid = re.search(rb"""\s[\w.-]+:id\s*=\s*["']([^"']*)["']""", m.group(0))
    return rid.group(1).decode() if rid else None


def _with_legacy_drawing(tail: bytes, rid: str) -> bytes:
    at = _AFTER_LEGACY_DRAWING.search(tail)
    if at is None:
        raise pk.Unpatchable("a worksheet without its end")
    end = re.search(rb"</(" + pk.PREFIX + rb")worksheet\s*>", tail)
    p = end.group(1) if end else b""
    tag = b"<" + p + b'legacyDrawing xmlns:r="' + pk.REL_NS.encode() + b'" r:id="' + rid.encode() + b'"/>'
    return tail[:at.start()] + tag + tail[at.start():]


def _comment_text(element) -> str:
    """The text of a comment as Excel shows it: its runs, without phonetic guides."""
    text = next((child for child in element if child.tag.endswith("}text")), None)
    if text is None:
        return ""
    parts = []
    for child in text:
        if child.tag.endswith("}t"):
            parts.append(child.text or "")
        elif child.tag.endswith("}r"):
            parts += [(t.text or "") for t in child if t.tag.endswith("}t")]
    return "".join(parts)


def _users_note(note: Note | None) -> str:
    if note is None:
        return ""
    if note.author != AUTHOR:
        return note.text
    _, mark, kept = note.text.partition(f"{OLD_NOTE_MARK}\n")
    return kept if mark else ""


def _prefixed(xml: bytes, prefix: bytes) -> bytes:
    return re.sub(rb"<(/?)", lambda m: b"<" + m.group(1) + prefix, xml)


def _is_red(fill: bytes) -> bool:
    return bool(re.search(rb"""patternType\s*=\s*["']solid["']""", fill)) and bool(
        re.search(rb"""fgColor\b[^>]*\brgb\s*=\s*["'](?:[0-9A-Fa-f]{2})?FFC7CE["']""", fill))


def _note_cell(shape: bytes) -> tuple[int, int] | None:
    if not re.search(rb"""ObjectType\s*=\s*["']Note["']""", shape):
        return None
    row = re.search(rb"<x:Row>\s*(\d+)\s*</x:Row>", shape)
    col = re.search(rb"<x:Column>\s*(\d+)\s*</x:Column>", shape)
    return (int(row.group(1)) + 1, int(col.group(1)) + 1) if row and col else None


def _vml_note(shape_id: int, row: int, col: int, text: str) -> bytes:
    return (f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute; margin-left:59.25pt;'
            f'margin-top:1.5pt;width:320px;height:{_comment_height(text)}px;z-index:1;visibility:hidden" '
            f'fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow color="black" obscured="t"/>'
            f'<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left"/>'
            f'</v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f'<x:AutoFill>False</x:AutoFill><x:Row>{row - 1}</x:Row><x:Column>{col - 1}</x:Column>'
            f'</x:ClientData></v:shape>').encode()


# --- a copy of the values (a file that is no package), made and marked with openpyxl -------------------

def values_copy(original: Path, source_name: str) -> Workbook | None:
    """A fresh workbook holding the values of the sheet the reader read, each in its
    own cell, or None when there is none."""
    grid = sheet_grid(original, source_name)
    if grid is None:
        return None
    sheet, rows = grid
    wb = Workbook()
    wb.active.title = sheet
    for row in rows:
        for j, value in enumerate(row.values):
            if not is_blank(value):
                put_value(wb.active.cell(row.number, row.first_col + j + 1), value)
    return wb


def put_value(cell, value: object) -> None:
    """A value as read: numbers, dates and booleans as they are, anything else as text."""
    if isinstance(value, (int, float, bool, date, time)):
        cell.value = value
    else:
        put_text(cell, str(value))


def problems_only(problems: Sequence[Problem], source_name: str) -> Workbook:
    wb = Workbook()
    wb.active.title = PROBLEMS_SHEET
    write_problem_sheet(wb.active, problems, source_name, links={})
    return wb


def annotate(wb: Workbook, problems: Sequence[Problem], source_name: str) -> None:
    """Mark the bad cells of `wb` and put the problem list first."""
    drop_previous_annotation(wb)
    refs = [resolve(wb, p.where) for p in problems]
    for ref, cell_problems in group_by_cell(refs, problems).items():
        mark_cell(wb[ref.sheet], ref, cell_problems)
    links = {index: ref for index, ref in enumerate(refs) if ref is not None}
    sheet = wb.create_sheet(PROBLEMS_SHEET, 0)
    write_problem_sheet(sheet, problems, source_name, links)
    make_first_active(wb)
    if wb.calculation is not None:
        # openpyxl keeps formulas but drops their saved results: have Excel recompute on open
        wb.calculation.fullCalcOnLoad = True


def group_by_cell(refs: Sequence[CellRef | None], problems: Sequence[Problem]) -> dict[CellRef, list[Problem]]:
    grouped: dict[CellRef, list[Problem]] = {}
    for ref, p in zip(refs, problems):
        if ref is not None:
            grouped.setdefault(ref, []).append(p)
    return grouped


def resolve(wb: Workbook, where: str) -> CellRef | None:
    """The worksheet cell a problem names (a merged range's top-left cell), or
    None for a whole-file problem, a sheet that does not exist or a bad reference."""
    parsed = parse_where(where)
    if parsed is None:
        return None
    sheet, row, col = parsed
    if sheet not in wb.sheetnames or sheet == PROBLEMS_SHEET:
        return None
    ws = wb[sheet]
    if not isinstance(ws, Worksheet):  # a chart sheet has no cells
        return None
    for merged in ws.merged_cells.ranges:
        if merged.min_row <= row <= merged.max_row and merged.min_col <= col <= merged.max_col:
            return CellRef(sheet, merged.min_row, merged.min_col)
    return CellRef(sheet, row, col)


def parse_where(where: str) -> tuple[str, int, int] | None:
    """`明细!D7`, `'my sheet'!$D$7` or `明细!D7:F7` → (sheet, row, col) of the
    (first) cell; None when `where` names no cell."""
    sheet, bang, cells = where.strip().rpartition("!")
    if not bang or not sheet or not cells:
        return None
    if len(sheet) >= 2 and sheet[0] == sheet[-1] == "'":
        sheet = sheet[1:-1].replace("''", "'")
    try:
        min_col, min_row, _, _ = range_boundaries(cells.replace("$", "").upper())
    except (ValueError, TypeError):
        return None
    if min_row is None or min_col is None or not (1 <= min_row <= _MAX_ROW and 1 <= min_col <= _MAX_COL):
        return None
    return sheet, min_row, min_col


def quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def mark_cell(ws: Worksheet, ref: CellRef, cell_problems: Sequence[Problem]) -> None:
    cell = ws.cell(row=ref.row, column=ref.col)
    cell.fill = BAD_FILL
    cell.font = recoloured(cell.font, BAD_FONT_COLOR)
    text = "\n".join(f"{clean(p.zh)}\n{clean(p.en)} [{p.code}]" for p in cell_problems)
    previous = users_note(cell.comment)
    if previous:
        text = f"{text}\n{OLD_NOTE_MARK}\n{previous}"
    cell.comment = Comment(text, AUTHOR, height=_comment_height(text), width=320)


def users_note(comment: Comment | None) -> str:
    """The user's own note on a cell, without any annotation of ours from an
    earlier rejection (a corrected errors copy dropped again)."""
    if comment is None:
        return ""
    if comment.author != AUTHOR:
        return comment.text or ""
    _, mark, note = (comment.text or "").partition(f"{OLD_NOTE_MARK}\n")
    return note if mark else ""


def drop_previous_annotation(wb: Workbook) -> None:
    """Undo the marks of an earlier rejection, when the user dropped a
    corrected errors copy: the old problem sheet and our red cells go."""
    if PROBLEMS_SHEET in wb.sheetnames:
        del wb[PROBLEMS_SHEET]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.comment is not None and cell.comment.author == AUTHOR:
                    _unmark(cell)


def _unmark(cell) -> None:
    note = users_note(cell.comment)
    cell.comment = Comment(note, "", height=cell.comment.height, width=cell.comment.width) if note else None
    if cell.fill == BAD_FILL:
        cell.fill = PatternFill()
        cell.font = recoloured(cell.font, None)


def recoloured(font: Font, color: str | None) -> Font:
    """The same font (size, bold, name kept) in another colour."""
    changed = copy.copy(font)
    changed.color = color
    return changed


def _comment_height(text: str) -> int:
    lines = sum(1 + display_width(line) // 48 for line in text.split("\n"))
    return min(max(80, 18 * lines), 600)


def write_problem_sheet(ws: Worksheet, problems: Sequence[Problem], source_name: str,
                        links: dict[int, CellRef]) -> None:
    """The first sheet: what happened, what to do, then one row per problem."""
    name = clean(source_name)
    put_text(ws.cell(1, 1), f"文件 {name} 未过账, 其中任何内容都没有记入账簿。"
                            f"请修改标红的单元格, 然后把改好的文件重新放入收件箱(inbox)。").font = Font(bold=True, size=12)
    put_text(ws.cell(2, 1), f"{name} was not posted: nothing of it entered the ledger. "
                            f"Fix the red cells and drop the corrected file into the inbox again.").font = Font(bold=True)
    put_text(ws.cell(3, 1), f"共 {len(problems)} 个问题 / {len(problems)} problem(s)")
    for col, title in enumerate(HEADER, start=1):
        put_text(ws.cell(HEADER_ROW, col), title).font = Font(bold=True)
    for offset, p in enumerate(problems, start=1):
        write_problem_row(ws, HEADER_ROW + offset, p, links.get(offset - 1))
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 1).coordinate
    last_row = HEADER_ROW + max(len(problems), 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(HEADER))}{last_row}"
    set_widths(ws)
    fit_to_page_width(ws, title_row=HEADER_ROW)


def write_problem_row(ws: Worksheet, row: int, p: Problem, ref: CellRef | None) -> None:
    where = ws.cell(row, 1)
    put_text(where, p.where or WHOLE_FILE)
    if ref is not None:
        where.hyperlink = Hyperlink(ref=where.coordinate, location=ref.link, display=p.where)
        where.font = Font(color="0563C1", underline="single")
    put_text(ws.cell(row, 2), p.code)
    put_text(ws.cell(row, 3), p.zh)
    put_text(ws.cell(row, 4), p.en)
    if p.value != "":
        put_text(ws.cell(row, 5), p.value)
    for col in (3, 4, 5):
        ws.cell(row, col).alignment = Alignment(wrap_text=True, vertical="top")


_WIDTH_LIMITS = {1: (12, 30), 2: (12, 24), 3: (20, 60), 4: (20, 70), 5: (12, 40)}


def set_widths(ws: Worksheet) -> None:
    for col, (least, most) in _WIDTH_LIMITS.items():
        widest = max((display_width(str(ws.cell(r, col).value or "")) for r in range(HEADER_ROW, ws.max_row + 1)),
                     default=0)
        ws.column_dimensions[get_column_letter(col)].width = min(max(least, widest + 2), most)


def display_width(text: str) -> int:
    """Columns the text takes: Chinese (wide) characters count twice."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ch >= "\u1100" and unicodedata.east_asian_width(ch) in "WF")


def put_text(cell, text: str):
    """Store `text` as a text cell, never a formula, whatever it starts with."""
    cell.value = clean(text)
    cell.data_type = "s"
    return cell


def clean(text: str) -> str:
    """Text Excel can store: no control characters, within the cell limit."""
    shown = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(text))
    return shown[:MAX_CELL_TEXT]


def make_first_active(wb: Workbook) -> None:
    # Only one tab may be selected: several selected tabs open in Excel as a
    # sheet group, where typing into one sheet writes into all of them.
    for ws in wb.worksheets:
        ws.sheet_view.tabSelected = False
    for chart_sheet in wb.chartsheets:
        for view in chart_sheet.sheetViews.sheetView:
            view.tabSelected = False
    wb.active = 0
    wb.worksheets[0].sheet_view.tabSelected = True
    for view in wb.views:
        view.firstSheet = 0
        view.activeTab = 0
