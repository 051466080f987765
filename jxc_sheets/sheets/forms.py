"""The forms: blank and filled workbooks that staff fill in and drop into the inbox.

This module owns the layout contract of every form (where each label and value
sits); the reader finds fields by their label text, the demo and the tests by
`form_layout`. Layouts:

- "form"  (stock kinds): title, note, a header block of label/value pairs, a line table;
- "table" (master kinds): one table, labels in row 1;
- "batch" (stock kinds): one flat table, header fields repeated on every row.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from ..kinds import FORM_VERSION, KINDS, Category, Field, FieldType, Kind
from ..ledger import schema
from ..ledger.db import reading

MAIN_SHEET = "明细"
HELP_SHEET = "填写说明"
META_SHEET = "_meta"
LISTS_SHEET = "_lists"

HEADER_FIRST_ROW = 3
VALIDATED_ROWS = 1000  # validations are one range each, so they can reach further

NUMBER_FORMATS: dict[FieldType, str] = {
    FieldType.TEXT: "@",
    FieldType.CODE: "@",
    FieldType.UNITS: "@",
    FieldType.BOOL: "@",
    FieldType.DATE: "yyyy-mm-dd",
    FieldType.QTY: "General",
    FieldType.COST: "#,##0.00####",
    FieldType.MONEY: "#,##0.00",
    FieldType.INT: "0",
    FieldType.MONTH: "@",  # as text: Excel would turn a typed 2026-12 into a date
    FieldType.RATE: "0%",  # Excel turns a typed 13 into 13% (0.13) in a percent cell
}

TYPE_NAMES: dict[FieldType, str] = {
    FieldType.TEXT: "文本 text",
    FieldType.CODE: "编码 code",
    FieldType.DATE: "日期 date",
    FieldType.QTY: "数量 quantity",
    FieldType.MONEY: "金额 money",
    FieldType.COST: "单价 unit price/cost",
    FieldType.INT: "整数 whole number",
    FieldType.BOOL: "是否 Y/N",
    FieldType.UNITS: "辅助单位 units",
    FieldType.MONTH: "月份 month (2026-12)",
    FieldType.RATE: "税率 VAT rate (13%)",
}

REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
OPTIONAL_FILL = PatternFill("solid", fgColor="EDEDED")
TITLE_FONT = Font(bold=True, size=14)
NOTE_FONT = Font(italic=True, color="595959")
BOLD = Font(bold=True)

HELP_WIDTHS = (24, 12, 20, 56, 18)  # the instructions sheet: label, required, type, hint, place

FORM_NOTE = ("加粗黄底的标签为必填项; 填写说明见「填写说明」工作表 / "
             "bold labels on yellow are required; instructions are on the 填写说明 sheet")

# the master whose codes a field's `ref` names → the Choices attribute and its _lists column
LIST_COLUMNS: dict[str, tuple[str, str]] = {
    "items": ("skus", "sku"),
    "warehouses": ("warehouses", "warehouse"),
    "suppliers": ("suppliers", "supplier"),
    "customers": ("customers", "customer"),
    "funds_accounts": ("funds_accounts", "funds_account"),
}


@dataclass(frozen=True)
class FormLayout:
    kind: str
    layout: str  # "form" | "table" | "batch"
    header_cells: Mapping[str, str]  # header field key -> value cell, e.g. {"doc_no": "B3"}; empty for table/batch
    table_row: int  # 1-based row of the line table's labels
    columns: Mapping[str, int]  # field key -> 1-based column of the line table (batch: header fields too)


@dataclass(frozen=True)
class Choices:
    """Master codes for the dropdowns."""

    skus: tuple[str, ...] = ()
    warehouses: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    funds_accounts: tuple[str, ...] = ()


# --- layout ------------------------------------------------------------------

def form_layout(kind: Kind, batch: bool = False) -> FormLayout:
    """Where every label and value of `kind`'s form sits."""
    if kind.category is Category.MASTER:
        return FormLayout(kind.name, "table", {}, 1, _numbered(f.key for f in kind.lines))
    if batch:
        return FormLayout(kind.name, "batch", {}, 1, _numbered(f.key for f in batch_fields(kind)))
    header_cells = {f.key: _header_value_cell(i) for i, f in enumerate(kind.header)}
    header_rows = (len(kind.header) + 1) // 2
    table_row = HEADER_FIRST_ROW + header_rows + 1
    return FormLayout(kind.name, "form", header_cells, table_row, _numbered(f.key for f in kind.lines))


def batch_fields(kind: Kind) -> tuple[Field, ...]:
    """The columns of the batch layout: header fields (less those the lines also
    have, such as remark), then the line fields."""
    line_keys = {f.key for f in kind.lines}
    return tuple(f for f in kind.header if f.key not in line_keys) + kind.lines


def layout_fields(kind: Kind, layout: FormLayout) -> tuple[Field, ...]:
    """The fields of the line table of `layout`, in column order."""
    return batch_fields(kind) if layout.layout == "batch" else kind.lines


def _numbered(keys) -> dict[str, int]:
    return {key: column for column, key in enumerate(keys, start=1)}


def _header_label_position(index: int) -> tuple[int, int]:
    """(row, column) of the label of the index-th header field: two per row, in A and D."""
    return HEADER_FIRST_ROW + index // 2, 1 if index % 2 == 0 else 4


def _header_value_cell(index: int) -> str:
    row, column = _header_label_position(index)
    return f"{get_column_letter(column + 1)}{row}"


# --- master codes ------------------------------------------------------------

def choices_from_ledger(engine) -> Choices:
    """The codes of the ledger's master data, sorted: active items, warehouses, suppliers, customers."""
    with reading(engine) as conn:
        return choices_from(conn)


def choices_from(conn) -> Choices:
    def codes(statement) -> tuple[str, ...]:
        return tuple(sorted(str(code) for code in conn.execute(statement).scalars()))

    return Choices(
        skus=codes(select(schema.items.c.sku).where(schema.items.c.active.is_(True))),
        warehouses=codes(select(schema.warehouses.c.code)),
        suppliers=codes(select(schema.suppliers.c.code)),
        customers=codes(select(schema.customers.c.code)),
        funds_accounts=codes(select(schema.funds_accounts.c.code)),
    )


# --- writing -----------------------------------------------------------------

def write_templates(dest: Path, choices: Choices | None = None) -> list[Path]:
    """dest/{kind}.xlsx for every kind, and dest/batch/{kind}.xlsx for every kind of documents."""
    written = [write_form(dest / f"{name}.xlsx", kind, choices) for name, kind in KINDS.items() if kind.template]
    written += [write_form(dest / "batch" / f"{name}.xlsx", kind, choices, batch=True)
                for name, kind in KINDS.items() if kind.template and not kind.is_master]
    return written


LISTS_MARK = ".jxc-lists"  # in the templates folder: a digest of the codes its dropdowns list


def refresh_templates(dest: Path, choices: Choices, always: bool = False) -> list[Path]:
    """Rewrites the templates when the master codes differ from those they list (or a
    form is missing): after a batch that posted master data, the dropdowns show it."""
    digest = hashlib.sha256(repr(choices).encode("utf-8")).hexdigest()
    mark = dest / LISTS_MARK
    expected = [dest / f"{name}.xlsx" for name, kind in KINDS.items() if kind.template]
    try:
        if not always and mark.read_text(encoding="ascii") == digest and all(p.exists() for p in expected):
            return []
    except OSError:
        pass  # never written
    written = _from_last_written(dest, digest)
    if not written:
        written = write_templates(dest, choices)
        _LAST_WRITTEN.clear()
        _LAST_WRITTEN[digest] = {path.relative_to(dest): path.read_bytes() for path in written}
    mark.write_text(digest, encoding="ascii")
    return written


_LAST_WRITTEN: dict[str, dict[Path, bytes]] = {}  # the digest → the bytes of the forms last written for it


def _from_last_written(dest: Path, digest: str) -> list[Path]:
    """The forms this process wrote last for the same codes, copied rather than made again
    (a second workspace, or codes that came back)."""
    forms = _LAST_WRITTEN.get(digest, {})
    return [_write_bytes_atomically(dest / relative, content) for relative, content in forms.items()]


def _write_bytes_atomically(path: Path, content: bytes) -> Path:
    """Written under a hidden temporary name beside `path`, then renamed: nobody opens half a file."""
    with atomic_file(path) as temporary:
        temporary.write_bytes(content)
    return path


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A hidden temporary path beside `path`, renamed onto it when the block succeeds and
    removed when it fails. Not mkstemp: its 0600 mode would hide the file from colleagues
    on a share."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # the name's first 60 characters: a long name plus the suffix would not fit in 255 bytes
    temporary = path.with_name(f".{path.name[:60]}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_form(path: Path, kind: Kind, choices: Choices | None = None, *,
               header: Mapping[str, Any] | None = None,
               lines: Sequence[Mapping[str, Any]] = (), batch: bool = False,
               finish: Callable[[Workbook, FormLayout], None] | None = None) -> Path:
    """A form of `kind` at `path`: blank, or filled with `header` values and `lines`
    (each a field key → value mapping); `finish` may add to it before it is saved.
    Written to a temporary name and renamed."""
    layout = form_layout(kind, batch)
    header = dict(header or {})
    if header and layout.layout == "table":
        raise ValueError(f"{kind.name} is a table: it has no header fields")
    wb = Workbook()
    ws = wb.active
    ws.title = MAIN_SHEET
    if layout.layout == "form":
        _write_form_head(ws, kind, layout)
    _write_table_labels(ws, layout_fields(kind, layout), layout.table_row)
    _format_lines(ws, kind, layout, len(lines))
    _fill(ws, kind, layout, header, lines)
    _write_help(wb.create_sheet(HELP_SHEET), kind, layout)
    lists = _write_lists(wb.create_sheet(LISTS_SHEET), choices or Choices())
    _add_validations(ws, kind, layout, lists)
    _write_meta(wb.create_sheet(META_SHEET), kind, layout)
    _set_widths(ws, kind, layout)
    ws.freeze_panes = f"A{layout.table_row + 1}"
    fit_to_page_width(ws, title_row=layout.table_row)
    if finish is not None:
        finish(wb, layout)
    wb.active = 0
    return save_atomically(wb, path)


def _write_form_head(ws: Worksheet, kind: Kind, layout: FormLayout) -> None:
    ws["A1"] = f"{kind.zh}单 {kind.name}"
    ws["A1"].font = TITLE_FONT
    ws["A2"] = FORM_NOTE
    ws["A2"].font = NOTE_FONT
    for index, field in enumerate(kind.header):
        row, column = _header_label_position(index)
        _style_label(ws.cell(row, column, field.label), field, fill_optional=False)
        value = ws[layout.header_cells[field.key]]
        value.number_format = NUMBER_FORMATS[field.type]
        value.alignment = Alignment(horizontal="left")


def _write_table_labels(ws: Worksheet, fields: Sequence[Field], row: int) -> None:
    for column, field in enumerate(fields, start=1):
        cell = ws.cell(row, column, field.label)
        _style_label(cell, field, fill_optional=True)
        cell.alignment = Alignment(horizontal="center", vertical="center")


def _style_label(cell, field: Field, fill_optional: bool) -> None:
    if field.required:
        cell.font = BOLD
        cell.fill = REQUIRED_FILL
    elif fill_optional:
        cell.fill = OPTIONAL_FILL


def _format_lines(ws: Worksheet, kind: Kind, layout: FormLayout, rows: int) -> None:
    """Each line column's number format is the column's own style, so every row a user
    types in gets it (Excel and LibreOffice give an empty cell its column's style); the
    `rows` filled here carry it on their cells, which a cell with a value needs."""
    for field in layout_fields(kind, layout):
        column = layout.columns[field.key]
        fmt = NUMBER_FORMATS[field.type]
        ws.column_dimensions[get_column_letter(column)].number_format = fmt
        for row in range(layout.table_row + 1, layout.table_row + 1 + rows):
            ws.cell(row, column).number_format = fmt


def _fill(ws: Worksheet, kind: Kind, layout: FormLayout,
          header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> None:
    for key, value in header.items():
        if layout.layout == "form":
            put_cell(ws[layout.header_cells[_known(kind, layout, key, header=True)]], value)
    for offset, line in enumerate(lines, start=1):
        values = {**header, **line} if layout.layout == "batch" else line
        for key, value in values.items():
            put_cell(ws.cell(layout.table_row + offset, layout.columns[_known(kind, layout, key)]), value)


def _known(kind: Kind, layout: FormLayout, key: str, header: bool = False) -> str:
    known = layout.header_cells if header else layout.columns
    if key not in known:
        raise ValueError(f"{kind.name} ({layout.layout}) has no field {key!r} there")
    return key


def put_cell(cell, value: Any) -> None:
    """Write a value as what it is: numbers as numbers, dates as dates, text always as text."""
    if value is None:
        return
    value = _cell_value(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    elif isinstance(value, date):
        cell.number_format = NUMBER_FORMATS[FieldType.DATE]


def _cell_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, Decimal):
        # a Decimal becomes a number only when a float holds it exactly, else its text
        as_float = float(value)
        return as_float if value.is_finite() and Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, (int, float, str, date)):
        return value
    return str(value)


def _write_lists(ws: Worksheet, choices: Choices) -> dict[str, str]:
    """The master codes in columns; returns ref → the range a dropdown lists."""
    ws.sheet_state = "hidden"
    ranges = {}
    for column, (ref, (attribute, title)) in enumerate(LIST_COLUMNS.items(), start=1):
        ws.cell(1, column, title)
        codes = getattr(choices, attribute)
        for row, code in enumerate(codes, start=2):
            ws.cell(row, column, code).data_type = "s"
        if codes:
            letter = get_column_letter(column)
            ranges[ref] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(codes) + 1}"
    return ranges


def _add_validations(ws: Worksheet, kind: Kind, layout: FormLayout, lists: Mapping[str, str]) -> None:
    validations: dict[str, DataValidation] = {}
    for field, cells in _value_ranges(kind, layout):
        key = field.ref if field.ref in lists else f"options:{field.key}" if field.options else field.type.value
        if key not in validations:
            made = _validation(field, lists)
            if made is None:
                continue
            validations[key] = made
            ws.add_data_validation(made)
        validations[key].add(cells)


def _value_ranges(kind: Kind, layout: FormLayout):
    """(field, cell range) of every value cell: header values and line columns."""
    for key, cell in layout.header_cells.items():
        yield kind.field(key), cell
    first, last = layout.table_row + 1, layout.table_row + VALIDATED_ROWS
    for field in layout_fields(kind, layout):
        letter = get_column_letter(layout.columns[field.key])
        yield field, f"{letter}{first}:{letter}{last}"


def _validation(field: Field, lists: Mapping[str, str]) -> DataValidation | None:
    # warnings rather than stops: a code registered in the same drop is not in the list yet
    common = dict(allow_blank=True, showErrorMessage=True, errorStyle="warning")
    if field.ref in lists:
        return DataValidation(type="list", formula1=lists[field.ref], errorTitle="未登记的编码 / unknown code",
                              error="请从下拉列表选择已登记的编码 / choose a registered code from the list", **common)
    if field.options:
        return DataValidation(type="list", formula1='"' + ",".join(field.options) + '"', errorTitle=field.zh,
                              error=f"请从下拉列表选择: {'、'.join(field.options)} / choose from the list", **common)
    if field.type is FieldType.DATE:
        return DataValidation(type="date", operator="between",
                              formula1=str(int(to_excel(date(1990, 1, 1)))),
                              formula2=str(int(to_excel(date(2099, 12, 31)))),
                              errorTitle="日期 / date", error="请填写日期, 如 2026-11-03 / enter a date such as 2026-11-03",
                              **common)
    if field.type is FieldType.BOOL:
        return DataValidation(type="list", formula1='"Y,N"', errorTitle="Y/N",
                              error="只能填 Y 或 N / Y or N only", **common)
    return None


def _write_meta(ws: Worksheet, kind: Kind, layout: FormLayout) -> None:
    ws.sheet_state = "hidden"
    for row, (key, value) in enumerate((("kind", kind.name), ("version", FORM_VERSION),
                                        ("layout", layout.layout)), start=1):
        ws.cell(row, 1, key)
        ws.cell(row, 2, value)


# --- the instructions sheet --------------------------------------------------

def _write_help(ws: Worksheet, kind: Kind, layout: FormLayout) -> None:
    title = {"form": f"{kind.zh}单 {kind.name}", "table": f"{kind.zh} {kind.name}",
             "batch": f"{kind.zh} 批量导入 {kind.name} (batch)"}[layout.layout]
    ws["A1"] = f"{title} — 填写说明 / how to fill in this form"
    ws["A1"].font = TITLE_FONT
    row = 3
    for topic, text in _help_paragraphs(kind, layout):
        ws.cell(row, 1, topic).font = BOLD
        ws.cell(row, 1).alignment = Alignment(vertical="top")
        ws.cell(row, 2, text).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=len(HELP_WIDTHS))
        lines = -(-display_width(text) // (sum(HELP_WIDTHS[1:]) - 4))
        ws.row_dimensions[row].height = 16 * lines
        row += 1
    row += 1
    for column, title in enumerate(("字段 label", "必填 required", "类型 type", "说明 hint", "位置 place"), start=1):
        cell = ws.cell(row, column, title)
        cell.font = BOLD
        cell.fill = OPTIONAL_FILL
    for field, place in _help_fields(kind, layout):
        row += 1
        label = ws.cell(row, 1, field.label)
        _style_label(label, field, fill_optional=False)
        for column, value in enumerate(("Y" if field.required else "N", TYPE_NAMES[field.type],
                                        _hint(field), place), start=2):
            if value:
                ws.cell(row, column, value).data_type = "s"
    for column, width in enumerate(HELP_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width
    fit_to_page_width(ws)


def _help_paragraphs(kind: Kind, layout: FormLayout) -> list[tuple[str, str]]:
    purpose = kind.description or f"{kind.zh}主数据, 每行一条, 以 {kind.field(kind.key).label} 区分 / " \
                                  f"{kind.name} master data, one row each, identified by {kind.key}"
    how = {
        "form": (f"在表头(第 {HEADER_FIRST_ROW} 行起)填写单号、日期等, 值填在标签右边的格子; "
                 f"从第 {layout.table_row + 1} 行起每行填写一个物料 / fill the header (from row {HEADER_FIRST_ROW}) "
                 f"in the cell right of each label; from row {layout.table_row + 1}, one item per row"),
        "table": "从第 2 行起每行填写一条记录 / one record per row, from row 2",
        "batch": ("一行一条明细, 每行重复单据的表头字段; 单号相同的行构成一张单据 / one line per row, "
                  "repeating the document's header fields; rows with the same doc_no form one document"),
    }[layout.layout]
    return [
        ("用途 / purpose", purpose),
        ("怎么填 / how to fill", how),
        ("格式 / values", "加粗黄底为必填; 数量与单价填数字; 日期填 2026-11-03 这样的日期; 不要改动标签文字, "
                         "不要删除隐藏的 _meta 工作表 / bold on yellow is required; numbers as numbers, dates such as "
                         "2026-11-03; keep the label text and the hidden _meta sheet"),
        ("放到哪里 / where to drop", "保存后放入 inbox 收件文件夹, 程序会自动处理 / save it and drop it into the "
                                    "inbox folder; it is processed automatically"),
        ("结果 / the answer", "成功: 文件移入 archive/, outbox/ 中的报表随之更新; 有错误: 文件移入 rejected/, 并生成 "
                             "NAME.errors.xlsx, 出错的单元格标红并附批注, 改正后重新放入 inbox / accepted: the file "
                             "moves to archive/ and the reports in outbox/ are updated; rejected: it moves to "
                             "rejected/ with NAME.errors.xlsx, the bad cells red with a comment; fix and drop again"),
    ]


def _help_fields(kind: Kind, layout: FormLayout) -> list[tuple[Field, str]]:
    if layout.layout == "form":
        return ([(f, f"表头 header {layout.header_cells[f.key]}") for f in kind.header]
                + [(f, f"明细 lines {get_column_letter(layout.columns[f.key])}") for f in kind.lines])
    return [(f, f"列 column {get_column_letter(layout.columns[f.key])}") for f in layout_fields(kind, layout)]


def _hint(field: Field) -> str:
    if field.hint:
        return field.hint
    if field.ref:
        return f"已登记的编码, 可从下拉列表选择 / a registered code ({field.ref})"
    return ""


# --- a filled form with xlsxwriter -------------------------------------------

YELLOW = "#FFFF00"


def write_filled_form(path: Path, kind: Kind, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], *,
                      title: str | None = None, highlight: Sequence[str] = ()) -> Path:
    """A filled form of `kind` (layout "form") as `write_form` lays it out — title, header
    block, line table, instructions, `_meta`, one page wide — written by xlsxwriter in
    memory: a few milliseconds where openpyxl takes tens, for the outbox's many filled
    forms (statements). No dropdowns: nothing in it names master codes to choose.
    `highlight`: line columns filled yellow from their label down to the last line, the
    ones to fill; the instructions explain only them.""" 
    import xlsxwriter

    layout = form_layout(kind)
    with atomic_file(path) as temporary:
        book = xlsxwriter.Workbook(str(temporary), {"in_memory": True, "strings_to_formulas": False,
                                                    "strings_to_urls": False, "strings_to_numbers": False})
        formats: dict[tuple, Any] = {}

        def fmt(**props):
            key = tuple(sorted(props.items()))
            if key not in formats:
                formats[key] = book.add_format(props)
            return formats[key]

        def label_format(field: Field, fill_optional: bool, **more):
            if field.required:
                return fmt(**{"bold": True, "bg_color": "#FFF2CC", **more})
            if fill_optional:
                return fmt(**{"bg_color": "#EDEDED", **more})
            return fmt(**more) if more else None

        def put(sheet, row: int, column: int, value: Any, field: Field, **more) -> None:
            if value is None:
                if more:
                    sheet.write_blank(row, column, None, fmt(num_format=NUMBER_FORMATS[field.type], **more))
                return
            value = _cell_value(value)
            cell = fmt(num_format=NUMBER_FORMATS[field.type], **more)
            if isinstance(value, str):
                sheet.write_string(row, column, value, cell)
            elif isinstance(value, date):
                sheet.write_datetime(row, column, value, fmt(num_format=NUMBER_FORMATS[FieldType.DATE], **more))
            else:
                sheet.write_number(row, column, value, cell)

        ws = book.add_worksheet(MAIN_SHEET)
        ws.write_string(0, 0, title or f"{kind.zh}单 {kind.name}", fmt(bold=True, font_size=14))
        ws.write_string(1, 0, FORM_NOTE, fmt(italic=True, font_color="#595959"))
        for index, field in enumerate(kind.header):
            row, column = _header_label_position(index)
            ws.write_string(row - 1, column - 1, field.label, label_format(field, fill_optional=False))
            put(ws, row - 1, column, header.get(field.key), field, align="left")
        table = layout.table_row - 1
        fields = kind.lines
        marked = {layout.columns[key] - 1 for key in highlight}
        for field in fields:
            column = layout.columns[field.key] - 1
            more = {"bg_color": YELLOW} if column in marked else {}
            ws.write_string(table, column, field.label,
                            label_format(field, fill_optional=True, align="center", valign="vcenter", **more))
        for offset, line in enumerate(lines, start=1):
            for field in fields:
                column = layout.columns[field.key] - 1
                more = {"bg_color": YELLOW} if column in marked else {}
                put(ws, table + offset, column, line.get(field.key), field, **more)
        widths: dict[int, int] = {}
        for field in fields:
            widths[layout.columns[field.key]] = max(10, min(display_width(field.label) + 4, 36))
        for index, field in enumerate(kind.header):
            _, column = _header_label_position(index)
            widths[column] = max(widths.get(column, 10), min(display_width(field.label) + 4, 36))
            widths[column + 1] = max(widths.get(column + 1, 0), 16)
        for column, width in widths.items():
            ws.set_column(column - 1, column - 1, width)
        ws.freeze_panes(layout.table_row, 0)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.set_footer("&R&P / &N")
        ws.repeat_rows(table)
        help_sheet = book.add_worksheet(HELP_SHEET)
        help_sheet.write_string(0, 0, f"{kind.zh}单 {kind.name} — 填写说明 / how to fill in this form",
                                fmt(bold=True, font_size=14))
        row = 2
        for topic, text in _help_paragraphs(kind, layout):
            help_sheet.write_string(row, 0, topic, fmt(bold=True, valign="top"))
            help_sheet.merge_range(row, 1, row, len(HELP_WIDTHS) - 1, text, fmt(text_wrap=True, valign="top"))
            help_sheet.set_row(row, 16 * -(-display_width(text) // (sum(HELP_WIDTHS[1:]) - 4)))
            row += 1
        # the fields to fill only (the rest is filled in already): each cell of the instructions
        # costs time over thousands of workbooks
        for field, place in _help_fields(kind, layout):
            if field.key not in highlight:
                continue
            row += 1
            help_sheet.write_string(row, 0, field.label, label_format(field, fill_optional=False))
            help_sheet.merge_range(row, 1, row, len(HELP_WIDTHS) - 1, f"{_hint(field)} ({place})",
                                   fmt(text_wrap=True, valign="top"))
        for column, width in enumerate(HELP_WIDTHS):
            help_sheet.set_column(column, column, width)
        help_sheet.set_landscape()
        help_sheet.set_paper(9)
        help_sheet.fit_to_pages(1, 0)
        meta = book.add_worksheet(META_SHEET)
        for row, (key, value) in enumerate((("kind", kind.name), ("version", FORM_VERSION), ("layout", "form"))):
            meta.write_string(row, 0, key)
            meta.write(row, 1, value)
        meta.hide()
        ws.activate()
        book.close()
    return path


# --- widths and saving -------------------------------------------------------

def _set_widths(ws: Worksheet, kind: Kind, layout: FormLayout) -> None:
    texts: dict[int, list[str]] = {}
    for field in layout_fields(kind, layout):
        texts.setdefault(layout.columns[field.key], []).append(field.label)
    minimum: dict[int, int] = {}
    for index, field in enumerate(kind.header if layout.layout == "form" else ()):
        _, column = _header_label_position(index)
        texts.setdefault(column, []).append(field.label)
        minimum[column + 1] = 16  # header values: dates and document numbers
    for column, labels in texts.items():
        widest = max(display_width(label) for label in labels) + 4
        ws.column_dimensions[get_column_letter(column)].width = max(10, minimum.get(column, 0), min(widest, 36))
    for column, width in minimum.items():
        if column not in texts:
            ws.column_dimensions[get_column_letter(column)].width = width


def fit_to_page_width(ws: Worksheet, title_row: int | None = None) -> None:
    """A printed form is A4, one page wide, as long as it needs, its table's label row on
    every page and the page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.oddFooter.right.text = "&P / &N"
    if title_row:
        ws.print_title_rows = f"{title_row}:{title_row}"


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def save_atomically(wb: Workbook, path: Path) -> Path:
    """Saved in memory, then written as _write_bytes_atomically writes."""
    buffer = io.BytesIO()
    wb.save(buffer)
    return _write_bytes_atomically(path, buffer.getvalue())
