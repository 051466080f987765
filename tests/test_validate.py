"""Stage validate, fed by the real reader: workbooks as staff fill them → typed
documents and master rows, or problems at the exact cell with the value typed."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, strategies as st

from conftest import D, make_form, make_table
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.validate import Validated, validate
from jxc_sheets.values import CellError, FormulaWithoutValue, is_blank

HEADER = {"doc_no": "R-0601", "doc_date": D, "warehouse": "WH1", "supplier": "S01"}
# make_form: header B3 doc_no, E3 doc_date, B4 warehouse, E4 supplier; lines from row 9 in
# columns A sku, B qty, C unit, D unit_cost (receipt) — for an adjustment: A sku, B qty, C unit, D unit_cost.


def validated(path: Path) -> Validated:
    raws, problems = read_workbook(path)
    assert problems == []
    return validate(raws)


def receipt(tmp_path: Path, lines, header=None, kind: str = "receipt") -> Validated:
    return validated(make_form(tmp_path / f"{kind}.xlsx", kind, header or HEADER, lines))


def where_code_value(result: Validated) -> list[tuple[str, str, str]]:
    return [(p.where, p.code, p.value) for p in result.problems]


def where_code(result: Validated) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in result.problems]


# --- numbers -------------------------------------------------------------------

def test_numbers_stored_as_text_read_as_numbers(tmp_path):
    result = receipt(tmp_path, [
        {"sku": "A001", "qty": "1,200", "unit_cost": "1,234.50"},
        {"sku": "A001", "qty": "１２", "unit_cost": " 5 "},
        {"sku": "A001", "qty": "+3", "unit_cost": "０．５"},
        {"sku": "A001", "qty": " 7 ", "unit_cost": 2.75},
    ])
    assert result.problems == ()
    (document,) = result.documents
    assert [(line.qty, line.unit_cost) for line in document.lines] == [
        (Decimal("1200"), Decimal("1234.50")), (Decimal("12"), Decimal("5")),
        (Decimal("3"), Decimal("0.5")), (Decimal("7"), Decimal("2.75"))]
    assert all(isinstance(line.qty, Decimal) and isinstance(line.unit_cost, Decimal) for line in document.lines)


def test_a_unit_typed_into_the_qty_cell_is_not_a_number(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 5, "unit_cost": 1},
                                {"sku": "B002", "qty": "12箱", "unit_cost": 1}])
    assert where_code_value(result) == [("明细!B10", "not-a-number", "12箱")]


def test_a_decimal_comma_is_not_read_as_a_thousands_separator(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": "1,5", "unit_cost": "12,50"}])
    assert where_code_value(result) == [("明细!B9", "not-a-number", "1,5"), ("明细!D9", "not-a-number", "12,50")]


def test_every_bad_cell_of_the_file_is_reported_in_one_round(tmp_path):
    result = receipt(tmp_path, [
        {"sku": "A001", "qty": 1.23456, "unit_cost": 1},
        {"sku": "A001", "qty": 2, "unit_cost": -1.5},
        {"sku": "A001", "qty": 0, "unit_cost": 1},
        {"sku": "A001", "qty": -4, "unit_cost": 1},
        {"sku": "A001", "qty": "-4", "unit_cost": "1.1234567"},
        {"sku": "A001", "qty": 1},  # no cost, and no order to take it from
        {"qty": 1, "unit_cost": 1},
    ])
    assert where_code_value(result) == [
        ("明细!B9", "too-many-decimals", "1.23456"),
        ("明细!D10", "negative", "-1.5"),
        ("明细!B11", "qty-positive", "0"),
        ("明细!B12", "qty-positive", "-4"),
        ("明细!D13", "too-many-decimals", "1.1234567"),
        ("明细!B13", "qty-positive", "-4"),
        ("明细!D14", "required", ""),
        ("明细!A15", "required", ""),
    ]


def test_four_decimal_places_of_qty_are_allowed(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 1.2345, "unit_cost": "0.123456"},
                                {"sku": "A001", "qty": "1.23450000", "unit_cost": 1}])
    assert result.problems == ()
    assert [line.qty for line in result.documents[0].lines] == [Decimal("1.2345"), Decimal("1.2345")]
    assert result.documents[0].lines[0].unit_cost == Decimal("0.123456")


def test_adjustment_qty_is_signed_but_never_zero(tmp_path):
    header = {"doc_no": "ADJ-1", "doc_date": D, "warehouse": "WH1", "reason": "报损"}
    result = receipt(tmp_path, [{"sku": "A001", "qty": -3}, {"sku": "A001", "qty": 0}, {"sku": "B002", "qty": "+2"},
                                {"sku": "B002", "qty": "-0"}], header, kind="adjustment")
    assert where_code_value(result) == [("明细!B9", "qty-nonzero", "0"), ("明细!B11", "qty-nonzero", "-0")]
    assert [line.qty for line in result.documents[0].lines] == [Decimal(-3), Decimal(2)]


# --- codes ---------------------------------------------------------------------

def test_a_sku_saved_as_a_number_reads_as_its_digits(tmp_path):
    result = receipt(tmp_path, [{"sku": 123, "qty": 1, "unit_cost": 1}, {"sku": 123.0, "qty": 1, "unit_cost": 1},
                                {"sku": "00123", "qty": 1, "unit_cost": 1}, {"sku": " ａ００１ ", "qty": 1, "unit_cost": 1}])
    assert result.problems == ()
    assert [line.sku for line in result.documents[0].lines] == ["123", "123", "00123", "a001"]


def test_codes_in_the_header_are_normalised(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 1, "unit_cost": 1}],
                     {"doc_no": 20260601, "doc_date": D, "warehouse": " ＷＨ１ ", "supplier": "S01"})
    assert result.problems == ()
    (document,) = result.documents
    assert (document.doc_no, document.header["warehouse"]) == ("20260601", "WH1")


# --- dates ---------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    D, datetime(2026, 11, 3, 14, 30), 46329, "2026/11/3", "2026-11-03", "2026.11.3", "2026年11月3日",
    "20261103", 20261103, "２０２６/１１/３",
])
def test_doc_date_as_staff_type_it(tmp_path, typed):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 1, "unit_cost": 1}], dict(HEADER, doc_date=typed))
    assert result.problems == ()
    assert result.documents[0].doc_date == D
    assert result.documents[0].where["doc_date"] == "明细!E3"


@pytest.mark.parametrize("typed, shown", [("2026-13-01", "2026-13-01"), ("明天", "明天"), ("2026-02-30", "2026-02-30"),
                                          ("11/3", "11/3"), (-5, "-5")])
def test_a_doc_date_that_is_not_a_date(tmp_path, typed, shown):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 1, "unit_cost": 1}], dict(HEADER, doc_date=typed))
    assert where_code_value(result) == [("明细!E3", "not-a-date", shown)]
    assert result.documents == ()


def test_a_date_with_a_time_stays_that_date(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", dict(HEADER, doc_date=datetime(2026, 11, 3, 23, 59, 59)),
                     [{"sku": "A001", "qty": 1, "unit_cost": 1}])
    assert validated(path).documents[0].doc_date == D


# --- formulas and empty fields -------------------------------------------------

def test_a_formula_without_a_saved_result_on_a_required_field(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": "=2*6", "unit_cost": 1},
                                {"sku": "A001", "qty": 1, "unit_cost": "=SUM(1,2)"}])
    assert where_code_value(result) == [("明细!B9", "formula-no-value", "=2*6"),
                                        ("明细!D10", "formula-no-value", "=SUM(1,2)")]


def test_a_formula_without_a_saved_result_in_the_header(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 1, "unit_cost": 1}], dict(HEADER, doc_date="=TODAY()"))
    assert where_code_value(result) == [("明细!E3", "formula-no-value", "=TODAY()")]


def test_an_empty_required_header_field_is_reported_at_its_value_cell(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": 1, "unit_cost": 1}], {"doc_no": "R1", "doc_date": D})
    assert where_code(result) == [("明细!B4", "required"), ("明细!E4", "required")]


def test_a_header_label_missing_from_the_form_is_reported_once(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, [{"sku": "A001", "qty": 1, "unit_cost": 1}])
    wb = openpyxl.load_workbook(path)
    wb["明细"]["D4"] = None  # the supplier label deleted
    wb["明细"]["E4"] = None
    wb.save(path)
    assert where_code(validated(path)) == [("明细", "missing-field")]


def test_a_line_column_missing_from_the_table_is_reported_once(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", HEADER, [{"sku": "A001", "qty": 1, "unit_cost": 1},
                                                             {"sku": "B002", "qty": 2, "unit_cost": 1}])
    wb = openpyxl.load_workbook(path)
    for ref in ("B8", "B9", "B10"):  # the qty column emptied, label and all
        wb["明细"][ref] = None
    wb.save(path)
    assert where_code(validated(path)) == [("明细!A8", "missing-column")]


def test_a_form_with_no_lines(tmp_path):
    result = receipt(tmp_path, [])
    assert where_code(result) == [("明细", "file-no-lines")]


def test_every_problem_keeps_the_value_exactly_as_typed(tmp_path):
    result = receipt(tmp_path, [{"sku": "A001", "qty": "１２ 箱", "unit_cost": "¥5.00"},
                                {"sku": "A001", "qty": " 3 个", "unit_cost": "-0.50"}])
    assert where_code_value(result) == [
        ("明细!B9", "not-a-number", "１２ 箱"), ("明细!D9", "not-a-number", "¥5.00"),
        ("明细!B10", "not-a-number", "3 个"), ("明细!D10", "negative", "-0.50")]


# --- batch layout --------------------------------------------------------------

BATCH_COLUMNS = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost"]


def batch_row(doc_no: str, sku: str, qty: object = 1, **more) -> dict:
    return {"doc_no": doc_no, "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": sku, "qty": qty,
            "unit_cost": 2, **more}


def test_batch_rows_group_into_documents_by_doc_no(tmp_path):
    path = make_table(tmp_path / "batch.xlsx", "receipt", [
        batch_row("R1", "A001"), batch_row("R2", "B002", 5), batch_row("R1", "B002", 3),
    ], columns=BATCH_COLUMNS, layout="batch")
    result = validated(path)
    assert result.problems == ()
    assert [(d.doc_no, [(line.sku, line.qty) for line in d.lines]) for d in result.documents] == [
        ("R1", [("A001", Decimal(1)), ("B002", Decimal(3))]), ("R2", [("B002", Decimal(5))])]
    assert result.documents[0].lines[1].where["qty"] == "明细!F4"
    assert result.documents[0].where["doc_date"] == "明细!B2"


def test_batch_rows_of_one_document_disagreeing_on_its_date(tmp_path):
    path = make_table(tmp_path / "batch.xlsx", "receipt", [
        batch_row("R1", "A001"), batch_row("R1", "B002", doc_date=date(2026, 11, 4)), batch_row("R2", "B002"),
        batch_row("R1", "A001", warehouse="WH2"),
    ], columns=BATCH_COLUMNS, layout="batch")
    assert where_code_value(validated(path)) == [
        ("明细!B3", "conflicting-header", "2026-11-04"), ("明细!C5", "conflicting-header", "WH2")]


def test_batch_rows_agreeing_on_a_date_written_differently_do_not_conflict(tmp_path):
    path = make_table(tmp_path / "batch.xlsx", "receipt", [
        batch_row("R1", "A001"), batch_row("R1", "B002", doc_date="2026/11/3"), batch_row("R1", "A001", doc_date=46329),
        batch_row("R1", "A001", warehouse=" wh1 ".upper()),
    ], columns=BATCH_COLUMNS, layout="batch")
    result = validated(path)
    assert result.problems == ()
    assert len(result.documents[0].lines) == 4


def test_a_batch_without_a_required_header_column_says_so_once(tmp_path):
    path = make_table(tmp_path / "batch.xlsx", "receipt", [batch_row("R1", "A001"), batch_row("R2", "A001")],
                      columns=["doc_no", "doc_date", "warehouse", "sku", "qty", "unit_cost"], layout="batch")
    assert where_code(validated(path)) == [("明细!A1", "missing-column")]


def test_an_export_mixing_kinds_validates_each_kind(tmp_path):
    path = make_table(tmp_path / "export.xlsx", "receipt", [
        {"kind": "receipt", "doc_no": "R1", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "A001",
         "qty": 1, "unit_cost": 2},
        {"kind": "采购入库", "doc_no": "R1", "doc_date": "2026-11-03", "warehouse": "WH1", "supplier": "S01",
         "sku": "B002", "qty": "2", "unit_cost": 2},
        {"kind": "delivery", "doc_no": "D1", "doc_date": D, "warehouse": "WH1", "customer": "C01", "sku": "A001",
         "qty": "1,000"},
        {"kind": "销售出库", "doc_no": "D2", "doc_date": D, "warehouse": "WH1", "customer": "C01", "sku": "A001",
         "qty": 0},
    ], columns=["kind", "doc_no", "doc_date", "warehouse", "supplier", "customer", "sku", "qty", "unit_cost"],
        meta=False)
    wb = openpyxl.load_workbook(path)
    wb["明细"]["A1"] = "单据类型 kind"
    wb.save(path)
    result = validated(path)
    assert where_code_value(result) == [("明细!H5", "qty-positive", "0")]
    assert [(d.kind, d.doc_no, len(d.lines)) for d in result.documents] == [("receipt", "R1", 2), ("delivery", "D1", 1)]
    assert result.documents[1].lines[0].qty == Decimal(1000)


# --- master data ---------------------------------------------------------------

ITEM_COLUMNS = ["sku", "name", "unit", "alt_units", "active", "safety_stock", "lead_time_days"]


def items(tmp_path: Path, rows) -> Validated:
    return validated(make_table(tmp_path / "items.xlsx", "items", rows, columns=ITEM_COLUMNS))


def item(sku: object, **more) -> dict:
    return {"sku": sku, "name": f"物料 {sku}", "unit": "个", **more}


def test_items_read_units_and_yes_no(tmp_path):
    result = items(tmp_path, [
        item("A001", alt_units="箱=24; 包=6", active="Y"), item("A002", active="N"), item("A003", active="是"),
        item("A004", active="否"), item("A005"), item(123, alt_units="箱＝12", safety_stock="1,000", lead_time_days="7"),
        item("00123"),
    ])
    assert result.problems == ()
    rows = {row.key: row.values for row in result.master}
    assert rows["A001"]["alt_units"] == (("箱", Decimal(24)), ("包", Decimal(6)))
    assert [rows[k]["active"] for k in ("A001", "A002", "A003", "A004", "A005")] == [True, False, True, False, None]
    assert (rows["123"]["alt_units"], rows["123"]["safety_stock"], rows["123"]["lead_time_days"]) == (
        (("箱", Decimal(12)),), Decimal(1000), 7)
    assert "00123" in rows and [row.row for row in result.master] == [2, 3, 4, 5, 6, 7, 8]


def test_items_with_bad_cells(tmp_path):
    result = items(tmp_path, [
        item("A001", alt_units="箱=abc"), item("A002", active="maybe"), item("A003", safety_stock=-5),
        item("A004", lead_time_days=2.5), item("A005", alt_units="箱=24; 箱=12"),
    ])
    assert where_code_value(result) == [
        ("明细!D2", "bad-units", "箱=abc"), ("明细!E3", "not-yes-no", "maybe"), ("明细!F4", "negative", "-5"),
        ("明细!G5", "not-an-integer", "2.5"), ("明细!D6", "bad-units", "箱=24; 箱=12")]


def test_a_sku_repeated_in_one_file_names_the_other_cell(tmp_path):
    result = items(tmp_path, [item("A001"), item("B002"), item("a001"), item(123), item("123")])
    assert where_code_value(result) == [("明细!A4", "duplicate-key", "a001"), ("明细!A6", "duplicate-key", "123")]
    assert "明细!A2" in result.problems[0].zh and "明细!A2" in result.problems[0].en
    assert "明细!A5" in result.problems[1].en


def test_an_item_row_without_its_code(tmp_path):
    result = items(tmp_path, [item("A001"), {"name": "无编码", "unit": "个"}])
    assert where_code(result) == [("明细!A3", "required")]
    assert [row.key for row in result.master] == ["A001"]


def test_a_master_table_without_a_required_column(tmp_path):
    path = make_table(tmp_path / "items.xlsx", "items", [item("A001")], columns=["sku", "name"])
    assert where_code(validated(path)) == [("明细!A1", "missing-column")]


CELL_VALUES = st.one_of(
    st.sampled_from(["", "  ", "x", "SKU1", "12", "1.5", "-3", "1e3", "1,000", "5箱", "2026-11-03", "2026/11/3", "yes",
                     "否", "0.123456789", "A" * 70, "99999999999999999999"]),
    st.integers(-10, 10**16), st.floats(-1e6, 1e6, allow_nan=False), st.booleans(),
    st.sampled_from([datetime(2026, 11, 3), date(2026, 11, 4), 0.1 + 0.2, 1.0, True, 1]),
    st.sampled_from([CellError("#N/A"), FormulaWithoutValue("A1*2")]))


@given(st.sampled_from(["receipt", "delivery", "transfer", "purchase_order", "count", "items"]),
       st.lists(st.lists(CELL_VALUES, min_size=12, max_size=12), min_size=1, max_size=30), st.integers(0, 3))
def test_a_column_typed_at_once_gives_what_each_cell_typed_alone_gives(kind_name, rows, first_col):
    """validate._typed_column (each distinct value a field accepts worked out once, a cell's
    reference only for a problem) against typed_cell of every cell: the same values, and
    the same problems (code, cell, value seen) on the same lines, for random good and bad
    cells, blank ones, error cells and formulas without a value, in every field of a kind,
    its table holding some of the fields."""
    from jxc_sheets import kinds
    from jxc_sheets.records import LineTable
    from jxc_sheets.validate import _typed_column, typed_cell

    fields = [f for f in kinds.KINDS[kind_name].lines if not f.info]
    present = fields[::2]  # the others have no column in this table
    columns = {f.key: [None if is_blank(values[j]) else values[j] for values in rows] for j, f in enumerate(present)}
    table = LineTable([i + 2 for i in range(len(rows))], columns,
                      {f.key: f"明细!{chr(65 + first_col + j)}" for j, f in enumerate(present)})
    for f in fields:
        bad: dict = {}
        column = _typed_column(f, table, bad)
        for i in range(len(table)):
            alone: list = []
            assert column[i] == typed_cell(f, table, i, alone) and type(column[i]) is type(typed_cell(f, table, i, []))
            assert [(p.code, p.where, p.value) for p in bad.get(i, [])] == [(p.code, p.where, p.value) for p in alone]
