"""Report stage, the base every report shares: the atomic write, and workbooks of
plain tables. refresh.py is the orchestrator that calls the reports.

Each output is written to a hidden temporary name in its own folder and then
renamed over the old file, so nobody ever opens half a report. Workbooks are
made by xlsxwriter, except the rows of big tables, which are streamed as sheet
XML straight from the query (Book.add_table).
"""
from __future__ import annotations

import io
import itertools
import logging
import operator
import os
import re
import secrets
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import xlsxwriter
try:
    from isal import isal_zlib
except ImportError:  # a dependency; without it zlib compresses as before
    isal_zlib = None
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet


log = logging.getLogger(__name__)


TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CHARS = 32_767
ZIP64_FROM = 1 << 31  # a part this big needs the zip64 format

WORKBOOK_OPTIONS = {
    # Big tables never pass through xlsxwriter (Book.add_table), so it can keep its
    # small part in memory; strings it does write stay text.
    "in_memory": True,
    "strings_to_formulas": False,  # user text like "=1+1" stays text
    "strings_to_numbers": False,
    "strings_to_urls": False,
    "remove_timezone": True,
}

# Every tab reads Chinese first, then its sheet's English key as its last word
# (`库存 stock`): people read the first, programs find a sheet by the second (sheet_key).
SHEET_TITLES = {
    "accuracy": "盘点准确率", "aging": "账龄", "aging_by_layer": "库龄", "all": "全部", "ar_ap": "应收应付",
    "audit": "审计", "balances": "余额", "batches": "批次", "below_safety": "低于安全库存",
    "bottom_customers": "末位客户", "bottom_items": "末位物料", "by_category": "按类别", "by_customer": "按客户",
    "by_item": "按物料", "by_month": "按月", "by_salesperson": "按业务员", "by_site": "按地点", "by_warehouse": "按仓库",
    "checks": "核对", "cogs_by_customer": "销售成本按客户", "cogs_by_item": "销售成本按物料",
    "cogs_by_site": "销售成本按地点", "components": "组件", "cost_corrections": "成本调整", "count_variance": "盘点差异",
    "customer_trend": "客户趋势", "customers": "客户", "disputes": "争议", "due_soon": "即将到期", "expired": "已过期",
    "feedback_monthly": "每月反馈", "fifo_layers": "先进先出层", "funds": "资金", "group": "集团", "in_transit": "在途",
    "journal": "流水", "kits": "套件", "ledger": "明细账", "log": "日志", "monthly_rates": "月度单价",
    "movements": "出入库", "near_expiry": "临期", "open": "未结", "open_by_owner": "未结按负责人",
    "opening_balances": "期初余额", "origin": "来源", "plan": "计划", "purchase_orders": "采购订单", "reorder": "补货建议",
    "repairs": "维修", "return_rate_item": "退货率按物料", "return_rate_reason": "退货率按原因", "sales": "销售",
    "sales_by_customer": "销售按客户", "sales_by_item": "销售按物料", "sales_orders": "销售订单",
    "salesperson_plan": "业务员计划", "serials": "序列号", "slow_batches": "呆滞批次", "stock": "库存",
    "summary": "汇总", "suppliers": "供应商", "this_week": "本周", "top_customers": "前列客户", "top_items": "前列物料",
    "vouchers": "凭证", "write_down": "跌价准备",
}


def tab(key: str) -> str:
    """The tab of the sheet `key` (`stock` → `库存 stock`); a name without a title
    (one already reading Chinese first) is its own tab."""
    title = SHEET_TITLES.get(re.sub(r"_\d+$", "", key))  # a long table continues on `ledger_2`
    return f"{title} {key}" if title else key


def sheet_key(title: str) -> str:
    """The English key of a tab: its last word (`库存 stock` → `stock`)."""
    return title.rsplit(" ", 1)[-1]


NUMBER_FORMATS = {
    "qty": "#,##0.00##",  # thousands apart, up to the ledger's 4 places
    "money": "#,##0.00",
    "cost": "#,##0.0000",
    "int": "#,##0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}


# --- the atomic write ---------------------------------------------------------

@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary path beside `dest`; renamed onto `dest` when the block succeeds,
    removed when it fails."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and *.tmp, so watchers and sync tools leave it alone. Not mkstemp:
    # its 0600 mode would hide the report from colleagues on a shared folder.
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        yield temp
        _replace(temp, dest)
    finally:
        temp.unlink(missing_ok=True)


class ReportLocked(OSError):
    """The report could not be replaced: someone has it open (Excel on Windows locks it)."""


def _replace(temp: Path, dest: Path, attempts: int = 5) -> None:
    # A report open in Excel on Windows cannot be replaced; it is often closed a moment later.
    for attempt in range(attempts):
        try:
            os.replace(temp, dest)
            return
        except PermissionError as e:
            if attempt == attempts - 1:
                raise ReportLocked(f"{dest}: {e}") from e
            time.sleep(0.1 * (attempt + 1))


def remove_stale_temps(folder: Path, older_than: float = STALE_TEMP_SECONDS) -> None:
    """Temporary files left by a run that was killed mid-write."""
    if not folder.is_dir():
        return
    cutoff = time.time() - older_than
    for temp in folder.rglob(f".*{TEMP_SUFFIX}"):
        try:
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
        except OSError:
            pass  # taken by another process meanwhile


# --- plain tables ---------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    type: str = "text"  # text | qty | money | cost | int | date | datetime
    width: float = 12

    @property
    def label(self) -> str:
        return f"{self.zh} {self.key}"


class Book:
    """A report workbook: xlsxwriter for the formats, labels, charts and small
    tables; big plain tables streamed straight to sheet XML (see add_table)."""

    def __init__(self, path: Path, rows_per_sheet: int = EXCEL_MAX_ROWS - 1, kind: str | None = None):
        self.path = path
        self.kind = kind  # named in a hidden _meta sheet, last, when the book is closed
        self.rows_per_sheet = rows_per_sheet
        self._skeleton = io.BytesIO()
        self.workbook = xlsxwriter.Workbook(self._skeleton, WORKBOOK_OPTIONS)
        self.header_format = self.workbook.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "valign": "vcenter"})
        self.bold = self.workbook.add_format({"bold": True})
        self.formats = {"text": None} | {
            kind: self.workbook.add_format({"num_format": fmt}) for kind, fmt in NUMBER_FORMATS.items()}
        self.total_formats = {"text": self.workbook.add_format({"bold": True, "top": 1})} | {
            kind: self.workbook.add_format({"num_format": fmt, "bold": True, "top": 1})
            for kind, fmt in NUMBER_FORMATS.items()}
        self._spools: dict[str, _Spool] = {}  # sheet part name → its rows
        self._table_sheets: set[str] = set()  # sheets whose first row is the labels: repeated on each page

    def __enter__(self) -> Book:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self._discard_spools()

    def close(self) -> None:
        """Writes the workbook to `path`."""
        try:
            if self.kind and "_meta" not in self.workbook.sheetnames:
                self.add_meta(self.kind)
            for sheet in self.workbook.worksheets():
                set_up_pages(sheet, table=sheet.name in self._table_sheets)
            self.workbook.close()
            with zipfile.ZipFile(self._skeleton) as skeleton, \
                    zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
                for entry in skeleton.infolist():
                    spool = self._spools.get(entry.filename)
                    if spool is None:
                        out.writestr(entry, skeleton.read(entry))
                    else:
                        _splice_rows(out, entry, skeleton.read(entry).decode("utf-8"), spool)
        finally:
            self._discard_spools()

    def _discard_spools(self) -> None:
        for spool in self._spools.values():
            spool.file.close()

    def add_table(self, name: str, columns: tuple[Column, ...], rows: Iterable[Any],
                  head: tuple[str, int] | None = None) -> list[Worksheet]:
        """A sheet whose first row is the labels and the rows below it the data:
        the plain table other programs read. Rows are result rows or records with
        an attribute per column key, or rows encoded ahead (`encoder`). Past Excel's
        row limit the table continues on `name_2`, `name_3`, … With `head=(NAME, n)`
        a sheet NAME before it holds the table's first n rows, written once for both."""
        # xlsxwriter spends ~15 µs a cell; 200,000 stock rows would take half a
        # minute. The rows go to sheet XML directly instead, and are spliced into
        # the workbook xlsxwriter writes around them when the book is closed.
        if head and head[1] > self.rows_per_sheet:  # a head of more than one sheet is written on its own
            rows = list(rows)
            self.add_table(head[0], columns, rows[:head[1]])
            head = None
        encoder = self.encoder(columns)
        spools, head_size = _spool_rows(encoder, rows, self.rows_per_sheet, head[1] if head else None)
        if head:
            self._spooled_sheet(head[0], columns, _Spool(spools[0].file, len(columns), head[1], head_size))
        return [self._spooled_sheet(name if part == 1 else f"{name}_{part}", columns, spool)
                for part, spool in enumerate(spools, start=1)]

    def encoder(self, columns: tuple[Column, ...]) -> _RowEncoder:
        """What add_table encodes rows with; rows encoded ahead by it (with ROW_MARK for
        the row number) may be given to add_table as they are."""
        return _RowEncoder(columns, [self._style_id(c.type) for c in columns])

    def _spooled_sheet(self, name: str, columns: tuple[Column, ...], spool: _Spool) -> Worksheet:
        sheet = self._table_sheet(name, columns, spool.rows)
        self._spools[f"xl/worksheets/sheet{sheet.index + 1}.xml"] = spool
        return sheet

    def _style_id(self, type_: str) -> int:
        cell_format = self.formats[type_]
        # The index xlsxwriter gives a format on its first use; asked early
        # because the streamed cells are written before the workbook is.
        return 0 if cell_format is None else cell_format._get_xf_index()

    def _table_sheet(self, name: str, columns: tuple[Column, ...], rows: int) -> Worksheet:
        sheet = self.add_sheet(name)
        self._table_sheets.add(sheet.name)
        for col, column in enumerate(columns):
            sheet.set_column(col, col, column.width, self.formats[column.type])
        self.write_labels(sheet, 0, 0, columns)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(rows, 1), len(columns) - 1)
        return sheet

    def add_sheet(self, key: str) -> Worksheet:
        """A sheet of its own layout, its tab Chinese first (`tab`)."""
        return self.workbook.add_worksheet(tab(key))

    def add_meta(self, kind: str, version: int = 1, **more: str) -> None:
        """A hidden `_meta` sheet naming what the workbook is, so a program never has to go by its file name;
        `more`: further keys (analysis.xlsx keeps what it was written from)."""
        sheet = self.workbook.add_worksheet("_meta")
        for row, (key, value) in enumerate((("kind", kind), ("version", version), *more.items())):
            sheet.write_string(row, 0, key)
            sheet.write(row, 1, value)
        sheet.hide()

    def write_labels(self, sheet: Worksheet, row: int, col: int, columns: tuple[Column, ...]) -> None:
        for offset, column in enumerate(columns):
            sheet.write_string(row, col + offset, column.label, self.header_format)

    def write_row(self, sheet: Worksheet, row_no: int, col: int, columns: tuple[Column, ...], row: Any,
                  formats: dict | None = None) -> None:
        """One row of a small table through xlsxwriter (summaries, totals)."""
        formats = formats or self.formats
        for offset, column in enumerate(columns):
            value = getattr(row, column.key)
            if value is None or value == "":
                continue
            cell_format = formats[column.type]
            if column.type in ("date", "datetime"):
                sheet.write_datetime(row_no, col + offset, value, cell_format)
            elif column.type == "text":
                sheet.write_string(row_no, col + offset, str(value), cell_format)
            else:
                # Exact Decimals in the ledger; Excel only holds floats, so convert here and nowhere earlier.
                sheet.write_number(row_no, col + offset, float(value), cell_format)


# --- the printed page --------------------------------------------------------------

PORTRAIT_PIXELS = 700  # what an A4 page holds across in portrait, at Excel's 96 pixels an inch
ROW_PIXELS = 20
A4 = 9


def written_from(path: Path) -> str | None:
    """The `source` a report keeps in its `_meta` sheet (what it was written from), or None:
    missing, damaged, locked, or written before it kept one."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True)
        try:
            meta = dict(row[:2] for row in book["_meta"].iter_rows(max_col=2, values_only=True))
        finally:
            book.close()
    except Exception:
        return None
    source = meta.get("source")
    return None if source is None else str(source)


def set_up_pages(sheet: Worksheet, table: bool = False) -> None:
    """Every report prints on A4, one page wide and as long as it needs, landscape when
    it is wider than a portrait page, page numbers in the footer; a table's label row
    on every page; and the print area reaching round its charts, so none is cut off."""
    if not hasattr(sheet, "fit_to_pages"):  # a chart sheet prints as one page anyway
        return
    sheet.set_paper(A4)
    sheet.fit_to_pages(1, 0)
    sheet.set_footer("&L&A&R&P / &N")
    sheet.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    columns, rows = _drawn_extent(sheet)
    if _columns_width(sheet, columns) > PORTRAIT_PIXELS:
        sheet.set_landscape()
    if table and not sheet.repeat_row_range:
        sheet.repeat_rows(0)
    if sheet.charts and not sheet.print_area_range:
        sheet.print_area(0, 0, max(rows, sheet.dim_rowmax or 0), max(columns, sheet.dim_colmax or 0))


def _columns_width(sheet: Worksheet, last_col: int) -> int:
    widths = [sheet.col_info[col].width if col in sheet.col_info and sheet.col_info[col].width is not None else 64
              for col in range(last_col + 1)]
    return sum(widths)


def _drawn_extent(sheet: Worksheet) -> tuple[int, int]:
    """The last column and row that hold data or a chart."""
    last_col, last_row = sheet.dim_colmax or 0, sheet.dim_rowmax or 0
    for chart in sheet.charts:
        row, col, drawn = chart[0], chart[1], chart[2]
        x_scale, y_scale = chart[5], chart[6]
        right = _columns_width(sheet, col - 1) + chart[3] + drawn.width * x_scale
        while _columns_width(sheet, last_col) < right:
            last_col += 1
        last_row = max(last_row, row + int((chart[4] + drawn.height * y_scale) // ROW_PIXELS) + 1)
    return last_col, last_row


# --- streamed sheet XML ----------------------------------------------------------

@dataclass
class _Spool:
    """The <row> elements of one sheet, in a temporary file."""

    file: IO[bytes]
    columns: int
    rows: int = 0
    size: int | None = None  # the bytes of `file` that are this sheet's (a head's); None: all of them


_EXCEL_EPOCH = datetime(1899, 12, 30)
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]|_x[0-9a-fA-F]{4}_")
_ESCAPED_LOOKALIKE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _text_xml(value: Any) -> str:
    """A user's text as an inline string: always text, never a formula ("" for no text)."""
    text = str(value)[:EXCEL_MAX_CHARS]
    if not text:
        return ""
    if _NEEDS_ESCAPE.search(text):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        # Readers decode _xHHHH_ as a character: keep such text literal, and
        # write the control characters XML cannot hold the same way Excel does.
        text = _ESCAPED_LOOKALIKE.sub(r"_x005F\1", text)
        text = _CONTROL.sub(lambda m: f"_x{ord(m[0]):04X}_", text)
    if text[0].isspace() or text[-1].isspace():
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


def _number_xml(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"<v>{value:f}</v>"  # the exact decimal; Excel reads it to the nearest double
    if isinstance(value, float):
        return f"<v>{value!r}</v>"
    return f"<v>{int(value)}</v>"


def _date_xml(value: date | datetime) -> str:
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - _EXCEL_EPOCH
        return f"<v>{delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400!r}</v>"
    return f"<v>{(value - _EXCEL_EPOCH.date()).days}</v>"


_REMEMBERED = 50_000  # values per column whose XML is kept while one table is written
_SHORT = 64


def _remembered(to_xml: Callable[[Any], str], kind: type) -> Callable[[Any], str]:
    """`to_xml` that remembers the XML of short texts and of dates: a column of codes,
    names or days repeats them on many rows."""
    seen: dict[Any, str] = {}

    def cached(value: Any) -> str:
        xml = seen.get(value) if type(value) is kind else None
        if xml is None:
            xml = to_xml(value)
            if type(value) is kind and len(seen) < _REMEMBERED and (kind is not str or len(value) <= _SHORT):
                seen[value] = xml
        return xml

    cached.seen = seen  # for callers that look a value up first, without a call
    return cached


ROW_MARK = "\x00"
"""The row number of a row encoded ahead (Book.encoder): filled in when it is placed."""

_NUMBER_SLOTS = {Decimal: "%s", int: "%d", bool: "%d", float: "%r", type(None): "%.0s"}
"""How a row template writes a number cell's value, by its type: str() of a Decimal is its
exact digits unless it turns to scientific notation (checked on each row); "%.0s" takes
a None and writes nothing (the cell is left out)."""
_WHOLE_CELL_TYPES = {str, date, datetime, type(None), Decimal, int, float, bool}
"""What a text or date cell of a row template may hold: values the encoder may look up in a dict."""
_EXPONENT = re.compile(rb"E[+-]")  # quick to rule out; the next one says if it is in a number
_SCIENTIFIC = re.compile(rb"<v>[^<]*E[+-]")
_MARK = ROW_MARK.encode("utf-8")


class _RowEncoder:
    """Rows of one table as <row> XML: text as inline strings, numbers and
    dates with the column's number format. A row that is a str was encoded ahead,
    with ROW_MARK for its number."""

    def __init__(self, columns: tuple[Column, ...], style_ids: list[int]):
        self.keys = [c.key for c in columns]
        self.cells = [
            (f'<c r="{xl_col_to_name(i)}',
             '" t="inlineStr">' if c.type == "text" else f'" s="{style}">',
             _remembered(_text_xml, str) if c.type == "text" else _remembered(_date_xml, date)
             if c.type in ("date", "datetime") else _number_xml)
            for i, (c, style) in enumerate(zip(columns, style_ids))
        ]
        self.cells_signature = tuple((start, attributes) for start, attributes, _ in self.cells)
        self._values = None
        # A row is one %-format of a template chosen by the types of its values (the
        # per-cell work done in C); its text and date cells are given whole.
        self._whole_cells = [
            (i, whole_cell.seen, whole_cell)
            for i, ((start, attributes, to_xml), c) in enumerate(zip(self.cells, columns)) if to_xml is not _number_xml
            for whole_cell in [_remembered(partial(_whole_cell, start, attributes,
                                                   _text_xml if c.type == "text" else _date_xml),
                                           str if c.type == "text" else date)]]
        self._templates: dict[tuple[type, ...], str | None] = {}

    def values(self, row: Any) -> tuple:
        if self._values is None:
            fields = getattr(row, "_fields", None)  # result rows are tuples: index, faster than names
            getter = (tuple if fields and list(fields) == self.keys  # the columns in order already
                      else operator.itemgetter(*[fields.index(k) for k in self.keys]) if fields
                      else operator.attrgetter(*self.keys))
            self._values = getter if len(self.keys) > 1 or getter is tuple else (lambda r, g=getter: (g(r),))
        return self._values(row)

    def encode(self, row_no: int | str, row: Any) -> str:
        return self._utf8(row).replace(_MARK, str(row_no).encode("utf-8")).decode("utf-8")

    def encode_rows(self, first: int, rows: Iterable[Any]) -> bytes:
        """Rows numbered from `first` on, as UTF-8: what a sheet part holds."""
        return b"".join([self._utf8(row).replace(_MARK, b"%d" % n) for n, row in enumerate(rows, first)])

    def _utf8(self, row: Any) -> bytes:
        """The row's XML in UTF-8, ROW_MARK for its number."""
        if type(row) is str:
            return row.encode("utf-8")
        values = (self._values or self.values)(row)
        types = tuple(map(type, values))
        template = self._templates.get(types, "")
        if template == "":
            template = self._templates[types] = self._template(types)
        if template is not None:
            args = list(values)
            for i, seen, whole_cell in self._whole_cells:
                args[i] = seen.get(args[i]) or whole_cell(args[i])
            xml = (template % tuple(args)).encode("utf-8")
            if not _EXPONENT.search(xml) or not _SCIENTIFIC.search(xml):
                return xml
        return self._encode_cell_by_cell(ROW_MARK, values).encode("utf-8")

    def _template(self, types: tuple[type, ...]) -> str | None:
        """The row's XML with a %-slot per value, ROW_MARK for its number; None when a
        column holds a value of another type (the row is written cell by cell)."""
        parts = [f'<row r="{ROW_MARK}">']
        for (start, attributes, to_xml), kind in zip(self.cells, types):
            if to_xml is not _number_xml:
                if kind not in _WHOLE_CELL_TYPES:
                    return None
                parts.append("%s")
            elif kind is type(None):
                parts.append(_NUMBER_SLOTS[kind])
            elif kind in _NUMBER_SLOTS:
                parts.append(f"{start}{ROW_MARK}{attributes}<v>{_NUMBER_SLOTS[kind]}</v></c>")
            else:
                return None
        parts.append("</row>")
        return "".join(parts)

    def _encode_cell_by_cell(self, n: str, values: tuple) -> str:
        parts = [f'<row r="{n}">']
        for (start, attributes, to_xml), value in zip(self.cells, values):
            if value is not None and (content := to_xml(value)):
                parts.append(f'{start}{n}{attributes}{content}</c>')
        parts.append("</row>")
        return "".join(parts)


def _whole_cell(start: str, attributes: str, to_xml: Callable[[Any], str], value: Any) -> str:
    """A text or date cell with ROW_MARK for its row number; "" for none."""
    content = "" if value is None else to_xml(value)
    return f"{start}{ROW_MARK}{attributes}{content}</c>" if content else ""


def _spool_rows(encoder: _RowEncoder, rows: Iterable[Any], per_sheet: int,
                head: int | None = None) -> tuple[list[_Spool], int]:
    """The rows as XML in temporary files, a new one every `per_sheet` rows; and the
    size of the first `head` rows (head ≤ per_sheet)."""
    spools = [_Spool(tempfile.TemporaryFile(), len(encoder.cells))]
    head_size = 0
    rows = iter(rows)
    while True:
        spool = spools[-1]
        full = spool.rows == per_sheet
        limit = min(_BATCH, per_sheet if full else per_sheet - spool.rows)
        if head and len(spools) == 1 and spool.rows < head:
            limit = min(limit, head - spool.rows)
        batch = list(itertools.islice(rows, limit))
        if not batch:
            return spools, head_size
        if full:
            spool = _Spool(tempfile.TemporaryFile(), len(encoder.cells))
            spools.append(spool)
        spool.file.write(encoder.encode_rows(spool.rows + 2, batch))  # row 1 is the labels
        spool.rows += len(batch)
        if spool.rows == head and len(spools) == 1:
            head_size = spool.file.tell()


_BATCH = 2000  # rows encoded and written at a time


def _faster_deflate(part: IO[bytes]) -> None:
    """The zip part's deflate done by ISA-L (isal) instead of zlib: the same format, a
    third of the CPU time at the fastest level, for hundreds of MB of sheet XML. zipfile
    keeps the compressor of a part it writes in `_compressor`; left as it is elsewhere."""
    if isal_zlib is not None and getattr(part, "_compressor", None) is not None:
        part._compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)


_DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')


def _splice_rows(out: zipfile.ZipFile, entry: zipfile.ZipInfo, sheet_xml: str, spool: _Spool) -> None:
    """The sheet xlsxwriter wrote (labels only) with the spooled rows after the labels."""
    head, tail = sheet_xml.split("</sheetData>", 1)
    last_cell = f"{xl_col_to_name(spool.columns - 1)}{spool.rows + 1}"
    head = _DIMENSION.sub(f'<dimension ref="A1:{last_cell}"/>', head, count=1)
    size = spool.file.seek(0, os.SEEK_END) if spool.size is None else spool.size
    spool.file.seek(0)
    # The fastest level: big and repetitive XML, it still shrinks it ~8 times.
    with out.open(entry.filename, "w", force_zip64=size > ZIP64_FROM) as sheet:
        _faster_deflate(sheet)
        sheet.write(head.encode("utf-8"))
        while size > 0:
            chunk = spool.file.read(min(size, 1 << 20))
            if not chunk:
                break
            sheet.write(chunk)
            size -= len(chunk)
        sheet.write(("</sheetData>" + tail).encode("utf-8"))
