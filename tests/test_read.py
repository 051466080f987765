"""Stage read: real workbooks, as Excel, WPS and LibreOffice leave them after
staff filled them, read back into raw documents whose every value knows its cell."""
from __future__ import annotations

import re
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.styles import PatternFill

from conftest import D, make_form, make_table
from jxc_sheets.kinds import FORM_VERSION
from jxc_sheets.records import Seen
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.values import FormulaWithoutValue

HEADER = {"doc_no": "R-0601", "doc_date": D, "warehouse": "WH1", "supplier": "S01"}
LINES = [
    {"sku": "A001", "qty": 10, "unit_cost": 2.5},
    {"sku": "B002", "qty": 3, "unit": "盒", "unit_cost": 12, "remark": "急"},
]
# make_form lays a receipt out as templates/ does: header B3 E3 / B4 E4 / B5 E5 / B6,
# line labels in row 8, lines from row 9 in columns A sku, B qty, C unit, D unit_cost, E batch, F remark.


def read_one(path: Path):
    raws, problems = read_workbook(path)
    assert problems == []
    assert len(raws) == 1
    return raws[0]


def cells(raw, *keys: str) -> list[tuple]:
    """(row, value, where) of the given line fields, line by line."""
    return [tuple((raw.lines.value(k, i), raw.lines.ref(k, i)) for k in keys) for i in range(len(raw.lines))]


def codes(problems) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in problems]


def add_meta(wb, kind: str, version: object = FORM_VERSION, layout: str = "form") -> None:
    meta = wb.create_sheet("_meta")
    meta.append(["kind", kind])
    meta.append(["version", version])
    meta.append(["layout", layout])
    meta.sheet_state = "hidden"


def sheet_from_cells(path: Path, values: dict[str, object], kind: str | None = "receipt",
                     title: str = "明细") -> Path:
    """A workbook built cell by cell: {"A3": "单号 doc_no", ...}."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for ref, value in values.items():
        ws[ref] = value
    if kind:
        add_meta(wb, kind)
    wb.save(path)
    return path


# --- the plain form ------------------------------------------------------------

def test_form_reads_header_and_lines_each_with_its_cell(tmp_path):
    raw = read_one(make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES))
    assert (raw.kind, raw.layout, raw.sheet, raw.source) == ("receipt", "form", "明细", "r.xlsx")
    assert raw.header["doc_no"] == Seen("R-0601", "明细!B3")
    assert raw.header["doc_date"].where == "明细!E3"
    assert raw.header["doc_date"].value in (D, datetime(2026, 11, 3))
    assert raw.header["supplier"] == Seen("S01", "明细!E4")
    assert raw.header["ref_doc"] == Seen(None, "明细!B5")  # empty, but known where
    assert list(raw.lines.rows) == [9, 10]
    assert cells(raw, "sku", "qty", "unit") == [
        (("A001", "明细!A9"), (10, "明细!B9"), (None, "明细!C9")),
        (("B002", "明细!A10"), (3, "明细!B10"), ("盒", "明细!C10")),
    ]
    assert raw.lines.seen("remark", 1) == Seen("急", "明细!P10")  # after the price, the five tax, the four batch and the two inspection columns


def test_source_name_is_the_name_the_user_dropped(tmp_path):
    path = make_form(tmp_path / "claimed-1234.xlsx", "receipt", HEADER, LINES)
    raws, _ = read_workbook(path, "入库单 6月.xlsx")
    assert raws[0].source == "入库单 6月.xlsx"


def test_rows_between_lines_left_empty_are_skipped(tmp_path):
    raw = read_one(make_form(tmp_path / "r.xlsx", "receipt", HEADER, [LINES[0], {}, {}, LINES[1]]))
    assert list(raw.lines.rows) == [9, 12]


def test_a_sheet_whose_data_does_not_start_at_A1_keeps_its_cell_references(tmp_path):
    """No title row, everything shifted right: calamine's range then starts at C5,
    and every reference must still be the cell the user sees."""
    path = sheet_from_cells(tmp_path / "shifted.xlsx", {
        "C5": "单号 doc_no", "D5": "R1", "F5": "日期 doc_date", "G5": D,
        "C6": "仓库 warehouse", "D6": "WH1", "F6": "供应商 supplier", "G6": "S01",
        "C9": "物料编码 sku", "D9": "数量 qty", "F9": "单价成本 unit_cost",
        "C10": "A001", "D10": 4, "F10": 1.5,
        "C12": "B002", "D12": 6, "F12": 2,
    })
    raw = read_one(path)
    assert raw.header["doc_no"] == Seen("R1", "明细!D5")
    assert raw.header["supplier"] == Seen("S01", "明细!G6")
    assert cells(raw, "sku", "qty", "unit_cost") == [
        (("A001", "明细!C10"), (4, "明细!D10"), (1.5, "明细!F10")),
        (("B002", "明细!C12"), (6, "明细!D12"), (2, "明细!F12")),
    ]


# --- what spreadsheet programs leave behind --------------------------------------

def test_formatted_rows_down_to_row_1048576_read_only_the_real_lines(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    ws = wb["明细"]
    fill = PatternFill("solid", fgColor="FFFF00")
    for row in range(11, 5011):  # whole rows formatted, as Excel does when rows are selected
        ws.row_dimensions[row].fill = fill
    for row in range(11, 1011):
        for col in range(1, 7):
            ws.cell(row, col).fill = fill
    ws.cell(1048576, 1).fill = fill
    ws.cell(1048576, 6).fill = fill
    wb.save(path)
    started = time.perf_counter()
    raw = read_one(path)
    elapsed = time.perf_counter() - started
    assert list(raw.lines.rows) == [9, 10]
    print(f"formatted to row 1048576: read in {elapsed:.3f}s")


def test_a_stray_space_in_row_1048576_reads_only_the_real_lines(tmp_path):
    """A space typed at the very bottom makes the sheet's data range a million
    rows high; the reader must drop the blank rows as they stream by."""
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    wb["明细"].cell(1048576, 2).value = " "
    wb.save(path)
    started = time.perf_counter()
    raw = read_one(path)
    elapsed = time.perf_counter() - started
    assert list(raw.lines.rows) == [9, 10]
    print(f"a space in row 1048576: read in {elapsed:.3f}s")


def test_hidden_rows_are_read(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    wb["明细"].row_dimensions[10].hidden = True
    wb["明细"].row_dimensions[4].hidden = True
    wb.save(path)
    raw = read_one(path)
    assert list(raw.lines.rows) == [9, 10]
    assert raw.header["warehouse"] == Seen("WH1", "明细!B4")


def test_merged_cells_read_as_their_top_left_value_over_the_range(tmp_path):
    """No title row above (the data range starts at row 3), a header value merged
    over B3:C3, and an opening line's warehouse merged down over three lines."""
    path = sheet_from_cells(tmp_path / "opening.xlsx", {
        "A3": "单号 doc_no", "B3": "OP-1", "D3": "截至日期 doc_date", "E3": date(2025, 12, 31),
        "A6": "仓库 warehouse", "B6": "物料编码 sku", "C6": "数量 qty", "D6": "单位成本 unit_cost",
        "A7": "WH1", "B7": "A001", "C7": 5, "D7": 2,
        "B8": "B002", "C8": 6, "D8": 3,
        "B9": "00123", "C9": 7, "D9": 4,
        "A10": "WH2", "B10": "A001", "C10": 8, "D10": 2,
    }, kind="opening")
    wb = openpyxl.load_workbook(path)
    wb["明细"].merge_cells("B3:C3")
    wb["明细"].merge_cells("A7:A9")
    wb.save(path)
    raw = read_one(path)
    assert raw.header["doc_no"] == Seen("OP-1", "明细!B3")
    assert raw.header["doc_date"].where == "明细!E3"
    assert cells(raw, "warehouse", "sku") == [
        (("WH1", "明细!A7"), ("A001", "明细!B7")),
        (("WH1", "明细!A8"), ("B002", "明细!B8")),
        (("WH1", "明细!A9"), ("00123", "明细!B9")),
        (("WH2", "明细!A10"), ("A001", "明细!B10")),
    ]


def test_a_header_label_merged_over_two_cells_takes_the_value_after_the_merge(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    ws = wb["明细"]
    ws["B3"], ws["C3"] = None, "R-0602"
    ws.merge_cells("A3:B3")
    wb.save(path)
    assert read_one(path).header["doc_no"] == Seen("R-0602", "明细!C3")


def test_line_labels_merged_down_over_two_rows_are_not_a_line(tmp_path):
    """A two-row table head: labels merged over rows 8-9, a unit note under 单位 in row 9."""
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    ws = wb["明细"]
    ws.insert_rows(9)
    for col in "ABDEF":
        ws.merge_cells(f"{col}8:{col}9")
    ws["C9"] = "(箱/个)"
    wb.save(path)
    raw = read_one(path)
    assert list(raw.lines.rows) == [10, 11]
    assert raw.lines.seen("sku", 0) == Seen("A001", "明细!A10")


def test_the_label_row_pasted_again_between_lines_is_not_a_line(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, [LINES[0], {}, *LINES])
    wb = openpyxl.load_workbook(path)
    ws = wb["明细"]
    for col in range(1, 7):
        ws.cell(10, col).value = ws.cell(8, col).value
    wb.save(path)
    assert list(read_one(path).lines.rows) == [9, 11, 12]


# --- which sheet ---------------------------------------------------------------

def test_the_users_own_sheets_are_ignored_and_明细_is_read(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    notes = wb.create_sheet("我的笔记", 0)
    notes["A1"] = "物料编码 sku"  # looks like a table, but is not the form
    notes["A2"] = "ZZZ"
    wb.active = 0
    calc = wb.create_sheet("计算")
    calc["A1"] = "数量 qty"
    wb.save(path)
    raw = read_one(path)
    assert raw.sheet == "明细"
    assert raw.lines.columns["sku"] == ["A001", "B002"]


def test_without_明细_the_first_visible_sheet_is_read(tmp_path):
    wb = openpyxl.Workbook()
    draft = wb.active
    draft.title = "草稿"
    draft["A1"] = "物料编码 sku"
    draft["A2"] = "DRAFT"
    draft.sheet_state = "hidden"
    ws = wb.create_sheet("Sheet1")
    for j, label in enumerate(["物料编码 sku", "名称 name", "基本单位 unit"], start=1):
        ws.cell(1, j, label)
    ws.append(["A001", "复印纸", "包"])
    add_meta(wb, "items", layout="table")
    wb.move_sheet("_meta", -2)  # _meta first: still never taken for the main sheet
    path = tmp_path / "items.xlsx"
    wb.save(path)
    raw = read_one(path)
    assert (raw.sheet, raw.layout) == ("Sheet1", "table")
    assert raw.lines.seen("sku", 0) == Seen("A001", "Sheet1!A2")


# --- labels --------------------------------------------------------------------

@pytest.mark.parametrize("label", [
    "数量 qty", "数量", "qty", "QTY", "数量(qty)", "数量（qty）", "数量：", "数量:", "  数量   qty  ", "*数量",
    "数量\nqty", "数量/qty", "数量 ｑｔｙ",
])
def test_line_labels_spelled_variously_are_found(tmp_path, label):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    wb["明细"]["B8"] = label
    wb.save(path)
    raw = read_one(path)
    assert cells(raw, "qty") == [((10, "明细!B9"),), ((3, "明细!B10"),)]


@pytest.mark.parametrize("label", ["单号", "doc_no", "单号：", "单号(doc_no)", " 单号  doc_no ", "*单号:"])
def test_header_labels_spelled_variously_are_found(tmp_path, label):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    wb["明细"]["A3"] = label
    wb.save(path)
    assert read_one(path).header["doc_no"] == Seen("R-0601", "明细!B3")


def test_a_header_block_moved_down_still_reads(tmp_path):
    """Someone inserted rows above the header: the line table now starts at row 12."""
    raw = read_one(make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES, first_row=7))
    assert raw.header["doc_no"] == Seen("R-0601", "明细!B7")
    assert raw.header["supplier"] == Seen("S01", "明细!E8")
    assert list(raw.lines.rows) == [13, 14]
    assert raw.lines.seen("sku", 0) == Seen("A001", "明细!A13")


def test_columns_in_another_order_and_unknown_columns_read(tmp_path):
    path = sheet_from_cells(tmp_path / "r.xlsx", {
        "A1": "单号 doc_no", "B1": "R1", "A2": "日期 doc_date", "B2": D,
        "A4": "序号", "B4": "数量", "C4": "折扣", "D4": "物料编码", "E4": "单价成本",
        "A5": 1, "B5": 2, "C5": 9, "D5": "A001", "E5": 4.5,
    })
    raw = read_one(path)
    assert set(raw.lines.columns) == {"sku", "qty", "unit_cost"}  # only the columns the table has
    assert cells(raw, "sku", "qty", "unit_cost") == [(("A001", "明细!D5"), (2, "明细!B5"), (4.5, "明细!E5"))]


# --- formulas ------------------------------------------------------------------

def write_with_xlsxwriter(path: Path, values: dict[tuple[int, int], object], kind: str = "receipt") -> Path:
    """(row, col) 0-based → a value, or ("=FORMULA", cached) for a formula with its saved result."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    ws = wb.add_worksheet("明细")
    dates = wb.add_format({"num_format": "yyyy-mm-dd"})
    for (row, col), value in values.items():
        if isinstance(value, tuple):
            formula, cached = value
            ws.write_formula(row, col, formula, dates if "DATE" in formula else None, cached)
        elif isinstance(value, date):
            ws.write_datetime(row, col, datetime.combine(value, datetime.min.time()), dates)
        else:
            ws.write(row, col, value)
    meta = wb.add_worksheet("_meta")
    meta.write_row(0, 0, ["kind", kind])
    meta.write_row(1, 0, ["version", FORM_VERSION])
    meta.hide()
    wb.close()
    return path


def receipt_cells(**overrides: object) -> dict[tuple[int, int], object]:
    """A receipt as 0-based (row, col) cells: header in sheet rows 1-2, labels in row 4,
    a line in row 5; `overrides` are keyed "row_col", e.g. `**{"4_1": ("=2*6", 12)}`."""
    values: dict[tuple[int, int], object] = {
        (0, 0): "单号 doc_no", (0, 1): "R1", (0, 3): "日期 doc_date", (0, 4): D,
        (1, 0): "仓库 warehouse", (1, 1): "WH1", (1, 3): "供应商 supplier", (1, 4): "S01",
        (3, 0): "物料编码 sku", (3, 1): "数量 qty", (3, 2): "单价成本 unit_cost", (3, 3): "金额 amount",
        (4, 0): "A001", (4, 1): 12, (4, 2): 2.5,
    }
    for key, value in overrides.items():
        row, col = key.split("_")
        values[int(row), int(col)] = value
    return values


def test_formulas_read_their_saved_result(tmp_path):
    path = write_with_xlsxwriter(tmp_path / "r.xlsx", receipt_cells(**{
        "0_4": ("=DATE(2026,11,3)", 46329),
        "4_1": ("=2*6", 12),
        "4_3": ("=B5*C5", 30),
        "5_0": ("=\"A\"&\"002\"", "A002"), "5_1": ("=B5/4", 3), "5_2": 1.25,
    }))
    raw = read_one(path)
    assert raw.header["doc_date"].where == "明细!E1"
    assert raw.header["doc_date"].value in (D, datetime(2026, 11, 3), 46329)
    assert cells(raw, "sku", "qty") == [(("A001", "明细!A5"), (12, "明细!B5")),
                                        (("A002", "明细!A6"), (3, "明细!B6"))]


def test_a_formula_without_a_saved_result_is_flagged_with_its_text(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, [{"sku": "A001", "qty": "=2*6", "unit_cost": 1}])
    raw = read_one(path)
    seen = raw.lines.seen("qty", 0)
    assert seen.where == "明细!B9"
    assert isinstance(seen.value, FormulaWithoutValue)
    assert seen.value.shown == "=2*6"


def test_a_formula_whose_saved_result_is_empty_text_is_an_empty_cell(tmp_path):
    """`=IF(A6="","",…)` filled down a column, as Excel saves it: t="str" with an empty result."""
    path = write_with_xlsxwriter(tmp_path / "r.xlsx", receipt_cells(**{
        "4_3": ("=IF(A5=\"\",\"\",B5*C5)", 30),
        "5_2": ("=IF(A6=\"\",\"\",1)", ""),
        "6_2": ("=IF(A7=\"\",\"\",1)", ""),
    }))
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb'<c r="(C6|C7)"', rb'<c r="\1" t="str"', sheet)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    raw = read_one(path)
    assert list(raw.lines.rows) == [5]


# --- batch layout and kind columns -----------------------------------------------

BATCH_COLUMNS = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost"]


def test_batch_layout_is_one_flat_table(tmp_path):
    path = make_table(tmp_path / "batch.xlsx", "receipt", [
        {"doc_no": "R1", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "A001", "qty": 1, "unit_cost": 2},
        {"doc_no": "R2", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "B002", "qty": 3, "unit_cost": 4},
    ], columns=BATCH_COLUMNS, layout="batch")
    raw = read_one(path)
    assert (raw.layout, raw.header) == ("batch", {})
    assert cells(raw, "doc_no", "sku") == [(("R1", "明细!A2"), ("A001", "明细!E2")),
                                           (("R2", "明细!A3"), ("B002", "明细!E3"))]


def test_an_export_with_a_kind_column_reads_one_batch_per_kind(tmp_path):
    path = make_table(tmp_path / "export.xlsx", "receipt", [
        {"kind": "receipt", "doc_no": "R1", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "A001", "qty": 1},
        {"kind": "delivery", "doc_no": "D1", "doc_date": D, "warehouse": "WH1", "customer": "C01", "sku": "A001", "qty": 1},
        {"kind": "采购入库", "doc_no": "R1", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "B002", "qty": 2},
        {"kind": "Receipt", "doc_no": "R2", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "B002", "qty": 2},
    ], columns=["kind", "doc_no", "doc_date", "warehouse", "supplier", "customer", "sku", "qty"], meta=False)
    wb = openpyxl.load_workbook(path)
    wb["明细"]["A1"] = "单据类型 kind"
    wb.save(path)
    raws, problems = read_workbook(path)
    assert problems == []
    assert [(r.kind, r.layout) for r in raws] == [("receipt", "batch"), ("delivery", "batch")]
    receipt, delivery = raws
    assert [(receipt.lines.rows[i], receipt.lines.value("doc_no", i), receipt.lines.ref("supplier", i)) for i in range(len(receipt.lines))] == [
        (2, "R1", "明细!E2"), (4, "R1", "明细!E4"), (5, "R2", "明细!E5")]
    assert [(delivery.lines.rows[i], delivery.lines.value("customer", i)) for i in range(len(delivery.lines))] == [(3, "C01")]
    assert "customer" not in receipt.lines and "supplier" not in delivery.lines


def test_a_kind_column_naming_an_unknown_kind_is_reported_at_its_cell(tmp_path):
    path = sheet_from_cells(tmp_path / "export.xlsx", {
        "A1": "单据类型", "B1": "单号", "C1": "物料编码",
        "A2": "receipt", "B2": "R1", "C2": "A001",
        "A3": "报价单", "B3": "X1", "C3": "A001",
        "A4": "items", "B4": "X2", "C4": "A001",
    }, kind=None)
    raws, problems = read_workbook(path)
    assert raws == []
    assert [(p.where, p.code, p.value) for p in problems] == [
        ("明细!A3", "file-unknown-kind", "报价单"), ("明细!A4", "file-unknown-kind", "items")]


# --- files that are not forms --------------------------------------------------

def test_a_workbook_without_meta_or_kind_column_is_no_form(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES, meta=False)
    assert read_workbook(path) == ([], read_workbook(path)[1])
    assert codes(read_workbook(path)[1]) == [("", "file-no-form")]


def test_meta_naming_an_unknown_kind(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    wb["_meta"]["B1"] = "stocktake"
    wb.save(path)
    raws, problems = read_workbook(path)
    assert raws == []
    assert [(p.where, p.code, p.value) for p in problems] == [("_meta!B1", "file-unknown-kind", "stocktake")]


@pytest.mark.parametrize("kind", ["receipt", "stocktake"])
def test_meta_naming_a_newer_form_version(tmp_path, kind):
    """A newer form may name a kind this program does not know: the version is what to tell."""
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, LINES)
    wb = openpyxl.load_workbook(path)
    wb["_meta"]["B1"] = kind
    wb["_meta"]["B2"] = 99
    wb.save(path)
    raws, problems = read_workbook(path)
    assert raws == []
    assert [(p.where, p.code, p.value) for p in problems] == [("_meta!B2", "file-form-version", "99")]


@pytest.mark.parametrize("content", [b"", b"doc_no,qty\nR1,5\n", b"PK\x03\x04 broken zip", "单号\t数量".encode("gbk")])
def test_a_file_that_is_not_a_workbook_is_unreadable(tmp_path, content):
    path = tmp_path / "receipt.xlsx"
    path.write_bytes(content)
    raws, problems = read_workbook(path)
    assert raws == []
    assert codes(problems) == [("", "file-unreadable")]


def test_a_form_without_a_line_table(tmp_path):
    path = sheet_from_cells(tmp_path / "r.xlsx", {"A1": "单号 doc_no", "B1": "R1"})
    raws, problems = read_workbook(path)
    assert raws == []
    assert codes(problems) == [("明细", "file-no-table")]
