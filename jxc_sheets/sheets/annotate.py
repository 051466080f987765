"""File away (rejected): the annotated copy `NAME.errors.xlsx`.

A rejected workbook goes back to its user as a copy of itself: every bad cell
filled red with a comment saying what is wrong, and a new first sheet listing
every problem of the file with a link to its cell. The original is only read.
A file openpyxl cannot open but the reader could read (.xls, .ods, a CSV or
HTML table) is copied as its values, so the marks still land on the user's
data. When the original cannot be read at all, or was refused unread (too
large, a zip bomb, a DTD), the copy is a fresh workbook holding the problem
list alone: a file refused unread is never opened here either.
"""
from __future__ import annotations

import copy
import io
import logging
import unicodedata
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Sequence

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from ..records import Problem
from ..values import is_blank
from .forms import fit_to_page_width, save_atomically
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
    wb = copy_to_annotate(original, problems, source_name)
    if wb is not None:
        try:
            annotate(wb, problems, source_name)
            return save_atomically(wb, dest)
        except Exception:
            # openpyxl read it but cannot rewrite it: the problem list still
            # reaches the user, which is what matters.
            log.warning("annotated copy of %s failed; writing the problem list only", source_name, exc_info=True)
    return save_atomically(problems_only(problems, source_name), dest)


def copy_to_annotate(original: Path, problems: Sequence[Problem], source_name: str) -> Workbook | None:
    codes = {p.code for p in problems}
    if codes & REFUSED_UNREAD:
        return None
    wb = open_copy(original)
    if wb is None and "file-unreadable" not in codes:
        wb = values_copy(original, source_name)
    return wb


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


def open_copy(original: Path) -> Workbook | None:
    """The original as an editable workbook without macros or external links,
    or None when openpyxl cannot open it (not a zip, CSV renamed, truncated,
    encrypted with a password, ...)."""
    try:
        # From bytes, so the file name's extension decides nothing and the
        # original is read once and never held open.
        data = io.BytesIO(original.read_bytes())
        wb = load_workbook(data, keep_vba=False, keep_links=False, rich_text=True)
    except Exception:  # any failure here means "not a workbook we can copy"
        log.info("cannot open %s as a workbook; the errors copy lists the problems only", original, exc_info=True)
        return None
    wb.template = False  # an .xltx/.xltm original is still saved as a plain .xlsx
    wb.vba_archive = None
    return wb


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
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


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
