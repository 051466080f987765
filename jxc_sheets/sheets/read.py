"""Stage read: a workbook → raw documents, every value carrying its `Sheet!A1`.

The kind comes from the hidden `_meta` sheet (or, for exports from other
systems, a `单据类型 kind` column); fields are found by their label text, so a
form whose rows were moved still reads. Values come through python-calamine,
streamed row by row: formatted-but-empty rows cost nothing, formulas give their
cached result. What the reader decides (README, 表单):
- the sheets read are those that carry the form's labels (`明细` always, and any
  sheet renamed or duplicated from it), found by their labels, not their place;
  other sheets are the user's own and are ignored;
- hidden rows are read like any other: hiding is not deleting;
- a merged range counts as its top-left value repeated over the range;
- a formula whose file holds no computed value is flagged, not read as empty;
- the content decides the format, not the name (sniff.py): a CSV or HTML table
  named `.xls` is read as a batch table when it has a kind column, and a file
  over the `reader:` limits, or carrying a DTD, is refused before it is parsed.
"""
from __future__ import annotations

import csv
from datetime import date
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import python_calamine
from defusedxml import DefusedXmlException, ElementTree
from openpyxl.utils import get_column_letter

from .. import kinds
from ..config import ReaderConfig
from ..kinds import Kind
from ..problems import problem
from ..records import LineTable, Problem, RawDocument, Seen
from ..values import CellError, FormulaWithoutValue, as_code, as_int, is_blank, Unparseable
from . import sniff, text_tables
from .sniff import Format

MAIN_SHEET = "明细"
META_SHEET = "_meta"
KIND_COLUMN = kinds.Field("kind", "单据类型", kinds.FieldType.CODE)
_LABEL_JUNK = re.compile(r"[\s*＊:：()（）/\\_\-]+")
HEADER_SEARCH_ROWS = 60
DEFAULT_LIMITS = ReaderConfig()


@dataclass(frozen=True)
class Identity:
    kind: str  # "" when the file mixes kinds through a kind column
    version: int
    layout: str


def read_workbook(path: Path, source: str | None = None,
                  limits: ReaderConfig = DEFAULT_LIMITS) -> tuple[list[RawDocument], list[Problem]]:
    """Everything in the workbook at `path` that looks like a form, or the problems that stop reading it."""
    source = source or path.name
    found = sniff.sniff(path)
    refused = sniff.too_large_file(path, limits) or sniff.refusal(path, found, limits)
    if refused is not None:
        return [], [refused]
    if found in (Format.TEXT, Format.HTML):
        return _read_text_table(path, source, found, limits)
    try:
        book = open_book(path, found)
    except python_calamine.PasswordError:
        return [], [sniff.unreadable(*sniff.PASSWORD)]
    except Exception as e:  # calamine raises several types for damaged files
        return [], [sniff.unreadable(_short(e), _short(e))]
    try:
        return _read_book(book, path, source, limits)
    except python_calamine.CalamineError as e:
        return [], [sniff.unreadable(_short(e), _short(e))]
    finally:
        book.close()


# The extensions calamine's own choice of parser gets right for each format.
_EXTENSIONS = {Format.ZIP: (".xlsx", ".xlsm", ".xltx", ".xltm", ".xlsb", ".xlam", ".ods"),
               Format.OLE: (".xls", ".xlt", ".xla")}


def open_book(path: Path, found: Format):
    """The workbook, parsed as the format sniffing found. calamine picks its parser by the
    name's extension; a file whose extension says otherwise (an .xls saved under .xlsx) is
    handed over as bytes, which calamine reads by their content. What it cannot read so
    is opened by the name after all: an .xlsx encrypted with a password is an OLE file
    too, and only calamine's xlsx parser says "password"."""
    if path.suffix.lower() in _EXTENSIONS.get(found, ()):
        return python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        with open(path, "rb") as f:
            return python_calamine.CalamineWorkbook.from_filelike(f)
    except Exception:  # calamine raises several types; the name's parser gives the answer
        return python_calamine.CalamineWorkbook.from_path(str(path))


def _read_book(book, path: Path, source: str, limits: ReaderConfig) -> tuple[list[RawDocument], list[Problem]]:
    found = _form_sheets(book, path, limits)
    if isinstance(found, Problem):
        return [], [found]
    kind, sheets = found
    documents, problems = [], []
    for name, rows in sheets:
        docs, seen = _read_sheet(kind, rows, name, source) if kind else _read_kind_column(rows, name, source)
        documents += docs
        problems += seen
    return documents, problems


def _form_sheets(book, path: Path, limits: ReaderConfig) -> tuple[Kind | None, list[tuple[str, list[Row]]]] | Problem:
    """The kind `_meta` names (None for an export with a kind column) and the sheets that
    carry its form, each with its rows: `明细` whatever it holds, and every other visible
    sheet whose labels make the form — a form sheet renamed (`11月入库`), or duplicated
    (`明细 (2)`) to hold a second document. The instructions sheet lists the labels one
    per row, which makes no form. With none of them, the first visible sheet answers
    for the file (no table…)."""
    names = _sheet_candidates(book)
    if not names:
        return problem("file-no-form")
    loaded: dict[str, list[Row] | Problem] = {}

    def rows_of(name: str) -> list[Row] | Problem:
        if name not in loaded:
            loaded[name] = _load_rows(book, path, name, limits)
        return loaded[name]

    first = rows_of(names[0])  # measured with _meta before _meta is read
    if isinstance(first, Problem) and names[0] == MAIN_SHEET:
        return first
    identity = _identity(book)
    kind = None
    if identity is not None:
        # The version first: a newer form may name a kind this program does not know yet.
        if identity.version > kinds.FORM_VERSION:
            return problem("file-form-version", f"{META_SHEET}!B2", identity.version, version=identity.version)
        kind = kinds.kind_of(identity.kind)
        if kind is None:
            return problem("file-unknown-kind", f"{META_SHEET}!B1", identity.kind, kind=identity.kind)
    forms = [n for n in names if n == MAIN_SHEET or _carries_form(kind, rows_of(n))] or names[:1]
    for name in forms:
        if isinstance(rows_of(name), Problem):
            return rows_of(name)
    return kind, [(name, rows_of(name)) for name in forms]


def _sheet_candidates(book) -> list[str]:
    """`明细` first, then the visible worksheets in their order, less the program's own (`_meta`, `_lists`)."""
    visible = [m.name for m in book.sheets_metadata
               if m.visible == python_calamine.SheetVisibleEnum.Visible and m.typ == python_calamine.SheetTypeEnum.WorkSheet
               and not m.name.startswith("_") and m.name != MAIN_SHEET]
    return ([MAIN_SHEET] if MAIN_SHEET in book.sheet_names else []) + visible


def _load_rows(book, path: Path, name: str, limits: ReaderConfig) -> list[Row] | Problem:
    """A sheet's non-blank rows, or the limit it passes (measured before it is loaded, where it can be)."""
    xml = _sheet_xml(path, name)
    refused = _too_large_parts(path, book, name, xml, limits)
    if refused is not None:
        return refused
    stand_ins, hidden = (_cells_without_value(xml), _hidden_rows(xml)) if xml else ({}, frozenset())
    del xml  # a 100,000-line sheet's part is 40 MB: not held beside calamine's copy of it
    sheet = book.get_sheet_by_name(name)
    refused = _too_large_loaded(sheet, name, limits)
    if refused is not None:
        return refused
    return _sheet_rows(sheet, stand_ins, hidden)


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*>")
_ROW_R = re.compile(rb'\br\s*=\s*["\']([0-9]{1,7})["\']')
_HIDDEN = re.compile(rb'\bhidden\s*=\s*["\'](?:1|true)["\']')


def _hidden_rows(sheet_xml: bytes) -> frozenset[int]:
    """The 1-based numbers of the rows the sheet hides (xlsx only: calamine does not say)."""
    if b"hidden" not in sheet_xml:
        return frozenset()
    found = set()
    for tag in _ROW_TAG.findall(sheet_xml):
        number = _ROW_R.search(tag)
        if number and _HIDDEN.search(tag):
            found.add(int(number[1]))
    return frozenset(found)


def reader_warnings(raws: Sequence[RawDocument]) -> list[Problem]:
    """What the reader did that the answer of a posted file tells: hidden lines posted
    (hiding is not deleting: "rows 5–6 were hidden and were posted"), a footer skipped."""
    found = []
    for raw in raws:
        for code, numbers in (("hidden-rows", raw.hidden_rows), ("footer-skipped", raw.footer_rows)):
            if numbers:
                spans = _spans(numbers)
                found.append(problem(code, f"{raw.sheet}!{spans[0][0]}:{spans[-1][1]}",
                                     rows=", ".join(f"{a}–{b}" if a != b else f"{a}" for a, b in spans)))
    return found


def _spans(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """[5, 6, 9] → [(5, 6), (9, 9)]."""
    spans: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    return spans


def _carries_form(kind: Kind | None, rows: list[Row] | Problem) -> bool:
    """The sheet's labels make the form: a line table of two columns or more with the key
    column and, on a document's form, its number and date labels above it (or in it: a batch)."""
    if isinstance(rows, Problem):
        return False
    if kind is None:
        return _has_kind_column(rows)
    table_labels = label_index(kind.lines if kind.is_master else (*kind.lines, *kind.header))
    found = _find_table(rows, table_labels, kind.key or "sku")
    if found is None or len(found[1]) < 2:
        return False
    if kind.is_master or "doc_no" in found[1].values():
        return True
    header = _header_values(rows[:found[0]], label_index(kind.header), "")
    return {"doc_no", "doc_date"} <= header.keys()


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:200]


def _identity(book) -> Identity | None:
    if META_SHEET not in book.sheet_names:
        return None
    values: dict[str, object] = {}
    for row in book.get_sheet_by_name(META_SHEET).iter_rows():
        if len(row) >= 2 and not is_blank(row[0]):
            values[as_code(row[0]).lower()] = row[1]
    kind = as_code(values.get("kind", ""))
    try:
        version = as_int(values.get("version", 1))
    except Unparseable:
        version = 1
    return Identity(kind, version, as_code(values.get("layout", "")))


# --- rows and cells ------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    number: int  # 1-based sheet row
    first_col: int  # 0-based column of values[0]
    values: Sequence[object]
    hidden: bool = False


def _sheet_rows(sheet, stand_ins: dict[tuple[int, int], object], hidden: frozenset[int] = frozenset()) -> list[Row]:
    """The sheet's non-blank rows, numbered as the user sees them.

    Blank rows are dropped as they stream by: a stray value in row 1,048,576
    makes calamine yield a million rows, and only the few with values matter."""
    start_row, start_col = sheet.start or (0, 0)
    end_row, end_col = sheet.end or (0, 0)
    kept: dict[int, list] = {}
    texts: dict[str, str] = {}  # a batch repeats its texts down the rows: each is kept once
    count = width = 0
    for i, values in enumerate(sheet.iter_rows()):
        count, width = i + 1, len(values)
        if values.count("") != width:
            kept[i] = [texts.setdefault(v, v) if type(v) is str else v for v in values]
    # Some calamine versions pad the rows above the data and some do not; the
    # count tells which, so cell references do not depend on the version.
    row_offset = 0 if count == end_row + 1 else start_row
    first_col = 0 if width == end_col + 1 else start_col
    grid = {i + row_offset: values for i, values in kept.items()}
    merged = sheet.merged_cell_ranges or []
    if stand_ins or merged:
        _patch(grid, stand_ins, merged, first_col, width)
    return [Row(r + 1, first_col, grid[r], r + 1 in hidden) for r in sorted(grid) if grid[r].count("") != len(grid[r])]


def _patch(grid: dict[int, list], stand_ins: dict[tuple[int, int], object], merged, first_col: int, width: int) -> None:
    """Mark formulas without a value and error cells, and repeat a merged range's top-left value over the range.

    `grid` maps 0-based sheet rows to their values from column `first_col` on."""

    def put(r: int, c: int, value: object) -> None:
        j = c - first_col
        if j < 0:
            return
        row = grid.setdefault(r, [""] * width)
        if j >= len(row):
            row.extend([""] * (j + 1 - len(row)))
        row[j] = value

    def get(r: int, c: int) -> object:
        row, j = grid.get(r, ()), c - first_col
        return row[j] if 0 <= j < len(row) else ""

    for (r, c), stand_in in stand_ins.items():
        if is_blank(get(r, c)):
            put(r, c, stand_in)
    for (r0, c0), (r1, c1) in merged:
        value = get(r0, c0)
        if is_blank(value):
            continue
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    put(r, c, value)


def _sheet_xml(path: Path, sheet_name: str) -> bytes | None:
    """The worksheet part of an xlsx/xlsm (None for other formats)."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet_name)
            return None if part is None else archive.read(part)
    except (zipfile.BadZipFile, KeyError, OSError, ElementTree.ParseError, DefusedXmlException):
        return None


def _too_large_parts(path: Path, book, sheet_name: str, xml: bytes | None, limits: ReaderConfig) -> Problem | None:
    """The sheets to be read, measured from their XML before calamine builds them:
    calamine holds a sheet as one dense block of rows x columns, so two values far
    apart would make it ask for memory no machine has (and abort, not raise)."""
    parts = [(sheet_name, xml)]
    if META_SHEET in book.sheet_names:
        parts.append((META_SHEET, _sheet_xml(path, META_SHEET)))
    for name, data in parts:
        extent = sniff.cell_extent(data) if data else None
        refused = extent and sniff.too_large_sheet(extent, name, limits)
        if refused:
            return refused
    return None


def _too_large_loaded(sheet, sheet_name: str, limits: ReaderConfig) -> Problem | None:
    """The same limits on a sheet already loaded (.xls, .ods: no XML to measure first)."""
    if sheet.start is None or sheet.end is None:
        return None
    (r0, c0), (r1, c1) = sheet.start, sheet.end
    return sniff.too_large_sheet(sniff.Extent(r0 + 1, r1 + 1, c0 + 1, c1 + 1), sheet_name, limits)


def _cells_without_value(data: bytes) -> dict[tuple[int, int], object]:
    """0-based (row, col) → what stands in for a cell calamine reads as empty but is not
    (xlsx only): a formula that carries no cached value, or a cell showing an error.

    A required field would then say "empty" where the truth is "recalculate and save"
    or "fix the formula". A cached empty text (t="str", as Excel saves
    `=IF(A9="","",…)` filled down a column) is a value, not a missing one. The sheet
    XML is searched for a formula or an error at all before it is parsed, so a plain
    form costs a byte scan."""
    if b"<f" not in data and b":f" not in data and b't="e"' not in data:
        return {}
    found: dict[tuple[int, int], object] = {}
    for _event, element in ElementTree.iterparse(_bytes_io(data), forbid_dtd=True):
        if element.tag.endswith("}c"):
            formula = next((child for child in element if child.tag.endswith("}f")), None)
            value = next((child for child in element if child.tag.endswith("}v")), None)
            shown = (value.text or "").strip() if value is not None else ""
            if element.get("t") == "e" and shown:
                found[_cell_index(element.get("r", ""))] = CellError(shown)
            elif formula is not None and element.get("t") not in ("str", "s", "inlineStr") and not shown:
                found[_cell_index(element.get("r", ""))] = FormulaWithoutValue((formula.text or "").strip())
            element.clear()
    return found


def _bytes_io(data: bytes):
    import io
    return io.BytesIO(data)


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    # forbid_dtd: the package check refused any DTD already; this parser would too.
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"), forbid_dtd=True)
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"), forbid_dtd=True)
    targets = {rel.get("Id"): rel.get("Target") for rel in rels}
    for sheet in workbook.iter():
        if sheet.tag.endswith("}sheet") and sheet.get("name") == sheet_name:
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def _cell_index(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    digits = "".join(ch for ch in ref if ch.isdigit())
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return int(digits) - 1, col - 1


_COLUMN_LETTERS: list[str] = []


def cell_ref(sheet: str, row: int | str, col0: int) -> str:
    """`明细!D7` for 1-based row and 0-based column (`明细!D` for row "")."""
    while len(_COLUMN_LETTERS) <= col0:
        _COLUMN_LETTERS.append(get_column_letter(len(_COLUMN_LETTERS) + 1))
    return f"{sheet}!{_COLUMN_LETTERS[col0]}{row}"


# --- labels --------------------------------------------------------------------

def label_key(text: str) -> str:
    return _LABEL_JUNK.sub("", as_code(text)).lower()


def label_index(fields: Sequence[kinds.Field]) -> dict[str, str]:
    """Every spelling a label may take → field key: `数量 qty`, `数量`, `qty`, `数量(qty)`."""
    index: dict[str, str] = {}
    for f in fields:
        for spelling in (f.label, f.zh, f.key, f.zh + f.key, *f.also, *(zh + f.key for zh in f.also)):
            index.setdefault(label_key(spelling), f.key)
    return index


def _find_table(rows: list[Row], labels: dict[str, str], anchor: str) -> tuple[int, dict[int, str]] | None:
    """The first row (within the first rows) naming the anchor field: its index and column → key."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = {}
        for j, value in enumerate(row.values):
            if isinstance(value, str) and value.strip():
                key = labels.get(label_key(value))
                if key and key not in columns.values():
                    columns[row.first_col + j] = key
        if anchor in columns.values():
            return i, columns
    return None


# --- one form ------------------------------------------------------------------

def _read_sheet(kind: Kind, rows: list[Row], sheet: str, source: str) -> tuple[list[RawDocument], list[Problem]]:
    anchor = kind.key or kind.anchor
    header_labels = label_index(kind.header)
    table_fields = kind.lines if kind.is_master else (*kind.lines, *kind.header)
    table_labels = label_index(table_fields)
    found = _find_table(rows, table_labels, anchor)
    if found is None:
        return [], [problem("file-no-table", sheet)]
    table_index, columns = found
    batch = "doc_no" in columns.values()
    if not batch and not kind.is_master:
        columns = {c: k for c, k in columns.items() if k in {f.key for f in kind.lines}}
    header = {} if batch or kind.is_master else _header_values(rows[:table_index], header_labels, sheet)
    keys = {anchor, "doc_no", *(f.key for f in table_fields if f.required)}
    body, footer = _without_footer(rows[table_index + 1:], columns, keys)
    lines = _line_table(body, columns, table_labels, sheet)
    layout = "table" if kind.is_master else ("batch" if batch else "form")
    table_at = cell_ref(sheet, rows[table_index].number, min(columns))
    return [RawDocument(kind.name, source, sheet, layout, header, lines, table_at, _hidden_lines(body, lines),
                        footer)], []


def _hidden_lines(rows: Sequence[Row], lines: LineTable) -> tuple[int, ...]:
    hidden = {row.number for row in rows if row.hidden}
    return tuple(number for number in lines.rows if number in hidden) if hidden else ()


def _header_values(rows: list[Row], labels: dict[str, str], sheet: str) -> dict[str, Seen]:
    """Label cells above the table, each with its value in the cell to the right."""
    header: dict[str, Seen] = {}
    for row in rows:
        for j, value in enumerate(row.values):
            if not isinstance(value, str):
                continue
            key = labels.get(label_key(value))
            if key is None or key in header:
                continue
            k = j + 1
            while k < len(row.values) and row.values[k] == value:  # the label merged over several cells
                k += 1
            right = row.values[k] if k < len(row.values) else None
            header[key] = Seen(None if is_blank(right) else right, cell_ref(sheet, row.number, row.first_col + k))
    return header


def _line_table(rows: Sequence[Row], columns: dict[int, str], labels: dict[str, str], sheet: str) -> LineTable:
    """The table's columns down every row with a value in one of them, an empty cell as
    None, each column knowing where its cells are; less any row that is labels too: a
    label merged down over two rows, or the label row pasted again with a second block
    of lines."""
    cells = [_column(rows, col) for col in columns]
    labelled = _label_rows(dict(zip(columns.values(), cells)), labels)
    kept = [i for i, line in enumerate(zip(*cells)) if line.count(None) != len(line) and i not in labelled]
    if len(kept) != len(rows):
        cells = [[column[i] for i in kept] for column in cells]
    return LineTable([rows[i].number for i in kept], dict(zip(columns.values(), cells)),
                     {key: cell_ref(sheet, "", col) for col, key in columns.items()})


def _column(rows: Sequence[Row], col: int) -> list:
    """The values of sheet column `col` (0-based) down `rows`, None for an empty cell."""
    values = [row.values[j] if 0 <= (j := col - row.first_col) < len(row.values) else None for row in rows]
    return [None if is_blank(value) else value for value in values]


def _label_rows(columns: dict[str, list], labels: dict[str, str]) -> set[int]:
    """The rows (indexes into the columns) where some column holds its own label."""
    keys: dict[str, str | None] = {}  # a batch repeats its texts: each is made a label key once
    found: set[int] = set()
    for key, column in columns.items():
        for i, value in enumerate(column):
            if isinstance(value, str):
                if value not in keys:
                    keys[value] = labels.get(label_key(value))
                if keys[value] == key:
                    found.add(i)
    return found


# --- exports with a kind column ------------------------------------------------

def _read_kind_column(rows: list[Row], sheet: str, source: str) -> tuple[list[RawDocument], list[Problem]]:
    """A flat export naming each row's kind (`单据类型 kind`): one batch table per kind found."""
    kind_labels = label_index((KIND_COLUMN,))
    found = _find_table(rows, kind_labels, "kind")
    if found is None:
        return [], [problem("file-no-form")]
    table_index, kind_columns = found
    kind_col = next(iter(kind_columns))
    by_kind: dict[str, list[Row]] = {}
    problems = []
    all_columns = _find_table([rows[table_index]], label_index(_ALL_FIELDS), "kind")[1]
    body, footer = _without_footer(rows[table_index + 1:], all_columns, {"kind", "sku", "doc_no", "qty"})
    for row in body:
        j = kind_col - row.first_col
        value = row.values[j] if 0 <= j < len(row.values) else None
        if is_blank(value):
            continue
        kind = _kind_named(as_code(value))
        if kind is None or kind.is_master:
            problems.append(problem("file-unknown-kind", cell_ref(sheet, row.number, kind_col), value, kind=value))
            continue
        by_kind.setdefault(kind.name, []).append(row)
    if problems:
        return [], problems
    documents = []
    label_row = rows[table_index]
    for name, kind_rows in by_kind.items():
        kind = kinds.KINDS[name]
        labels = label_index((*kind.lines, *kind.header))
        table = _find_table([label_row], labels, kind.anchor)
        if table is None:
            return [], [problem("file-no-table", sheet)]
        lines = _line_table(kind_rows, table[1], labels, sheet)
        table_at = cell_ref(sheet, label_row.number, min(table[1]))
        documents.append(RawDocument(name, source, sheet, "batch", {}, lines, table_at, _hidden_lines(kind_rows, lines),
                                     () if documents else footer))  # the footer told once, with the first
    return documents, []


_ALL_FIELDS = (KIND_COLUMN, *{f.key: f for k in kinds.KINDS.values() for f in (*k.lines, *k.header)}.values())


def _without_footer(rows: Sequence[Row], columns: dict[int, str], keys: set[str]) -> tuple[list[Row], tuple[int, ...]]:
    """The rows under a table less the footer a web system writes below its export
    (`导出时间 2026-11-20 10:00`, `制表人: 张三`), and the footer's row numbers. A footer is
    the block of last rows that each hold one text merged across the table, or only texts
    and dates with the table's key and required columns empty."""
    key_cols = [c for c, k in columns.items() if k in keys]
    end = len(rows)
    while end and _is_footer(rows[end - 1], key_cols):
        end -= 1
    return list(rows[:end]), tuple(row.number for row in rows[end:])


def _is_footer(row: Row, key_cols: list[int]) -> bool:
    values = [v for v in row.values if not is_blank(v)]
    if not values or not all(isinstance(v, (str, date)) for v in values):
        return False
    in_keys = any(0 <= (j := c - row.first_col) < len(row.values) and not is_blank(row.values[j]) for c in key_cols)
    merged_text = len(values) > 1 and len(set(values)) == 1 and isinstance(values[0], str)
    return not in_keys or merged_text


def _kind_named(text: str) -> Kind | None:
    for kind in kinds.KINDS.values():
        if text.lower() == kind.name or text == kind.zh:
            return kind
    return None


# --- CSV and HTML tables ---------------------------------------------------------

_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
_WHAT = {"csv": ("CSV", "a CSV"), "tab": ("制表符分隔的文本", "a tab-separated text"), "text": ("纯文本", "a plain text"),
         "html": ("HTML", "an HTML")}
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".htm", ".html")


def text_sheet_name(source: str) -> str:
    """The sheet a CSV or HTML table's cells are named on: the file's name, as a sheet may be named."""
    return _NOT_IN_SHEET_NAMES.sub("_", Path(source).stem).strip("' ")[:31] or MAIN_SHEET


def _read_text_table(path: Path, source: str, found: Format,
                     limits: ReaderConfig) -> tuple[list[RawDocument], list[Problem]]:
    """A CSV or HTML table is read when it is a batch table with a kind column, its
    cells named like a sheet's (`orders!C5`, the sheet named after the file)."""
    grid = text_grid(path, source, found, limits)
    if isinstance(grid, Problem):
        return [], [grid]
    sheet, rows, what = grid
    if not _has_kind_column(rows):
        return [], [_not_a_batch_table(what, source)]
    return _read_kind_column(rows, sheet, source)


def text_grid(path: Path, source: str, found: Format, limits: ReaderConfig) -> tuple[str, list[Row], str] | Problem:
    """The sheet name, the non-blank rows and what the file is ("csv", "tab", "text",
    "html") of a CSV or HTML file: of an HTML page, its first table with a kind column,
    else its first table."""
    text = text_tables.decode(path.read_bytes())
    if text is None:
        return sniff.refusal(path, Format.BINARY, limits)
    sheet = text_sheet_name(source)
    if found is Format.TEXT:
        delimiter = text_tables.delimiter_of(text)
        what = {None: "text", "\t": "tab"}.get(delimiter, "csv")
        tables = [text_tables.csv_rows(text)]
    else:
        what = "html"
        tables = [text_tables.html_rows(t, limits.max_columns) for t in text_tables.html_tables(text)]
        if not tables:
            return sniff.unreadable("这是 HTML 网页, 不是 Excel 工作簿, 其中也没有表格",
                                    "this is an HTML page, not an Excel workbook, and it holds no table")
    first = None
    for table in tables:
        try:
            rows = _within_limits(table, sheet, limits)
        except csv.Error as e:
            return sniff.unreadable(f"CSV 格式有误: {e}", f"malformed CSV: {e}")
        if isinstance(rows, Problem) or _has_kind_column(rows):
            return rows if isinstance(rows, Problem) else (sheet, rows, what)
        first = first or rows
    return sheet, first or [], what


def _within_limits(table: Iterator[list[str]], sheet: str, limits: ReaderConfig) -> list[Row] | Problem:
    """The table's non-blank rows, or the limit it passes (counted to its end, for the message)."""
    rows: list[Row] = []
    count = width = 0
    over = False
    for count, values in enumerate(table, start=1):
        width = max(width, len(values))
        over = over or count > limits.max_rows or width > limits.max_columns or count * width > limits.max_cells
        if not over and not all(is_blank(v) for v in values):
            rows.append(Row(count, 0, values))
    if over:
        return sniff.too_large_sheet(sniff.Extent(1, count, 1, width), sheet, limits)
    return rows


def _has_kind_column(rows: list[Row]) -> bool:
    return _find_table(rows, label_index((KIND_COLUMN,)), "kind") is not None


def _not_a_batch_table(what: str, source: str) -> Problem:
    what_zh, what_en = _WHAT[what]
    suffix = Path(source).suffix.lower()
    renamed = bool(suffix) and suffix not in _TABLE_SUFFIXES
    return sniff.unreadable(
        f"这是 {what_zh} 文件{f' (扩展名被改成了 {suffix})' if renamed else ''}, 不是 Excel 工作簿; "
        f"其中没有 '单据类型 kind' 列, 不能当作批量表格读取: 请在 Excel 中打开并另存为 .xlsx 工作簿, 或使用 templates/ 中的表单",
        f"this is {what_en} file{f' renamed {suffix}' if renamed else ''}, not an Excel workbook, and it has no "
        f"'单据类型 kind' column to read it as a batch table: open it in Excel and save it as an .xlsx workbook, "
        f"or use a form from templates/")


def sheet_grid(path: Path, source: str, limits: ReaderConfig = DEFAULT_LIMITS) -> tuple[str, list[Row]] | None:
    """The main sheet's name and non-blank rows, as the reader saw them, for a copy
    of a workbook that openpyxl cannot open (.xls, .ods, CSV, HTML); None when
    the file is not one to read."""
    found = sniff.sniff(path)
    if sniff.too_large_file(path, limits) or sniff.refusal(path, found, limits):
        return None
    if found in (Format.TEXT, Format.HTML):
        grid = text_grid(path, source, found, limits)
        return None if isinstance(grid, Problem) else grid[:2]
    try:
        with open_book(path, found) as book:
            forms = _form_sheets(book, path, limits)
            return None if isinstance(forms, Problem) else forms[1][0]
    except Exception:  # not readable after all: the copy lists the problems only
        return None
