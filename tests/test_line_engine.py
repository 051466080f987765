"""The columnar line engine against the row-at-a-time engine it replaced (tests/row_engine):
for random good and bad line tables, written as real workbooks and read back, both give
the same lines at the same cells, the same documents and master rows, and the same
problems, with the same codes, at the same cells, in the same order."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, example, given, settings, strategies as st

from jxc_sheets import kinds
from jxc_sheets.kinds import FieldType
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.validate import validate
from jxc_sheets.values import CellError, FormulaWithoutValue
from row_engine import read as row_read, validate as row_validate

from conftest import _meta

KINDS = ["receipt", "delivery", "transfer", "adjustment", "opening", "count", "exchange", "landed_cost", "items",
         "customers", "collection", "opening_ar_ap", "income_expense", "statement_confirmation", "sales_plan"]

ODD = st.one_of(
    st.sampled_from(["", "  ", "x", "12", "1.5", "-3", "1,000", "5箱", "2026/11/3", "yes", "否", "Y", "N", "是",
                     "0.123456789", "A" * 70, "99999999999999999999", "有异议", "退回", "换出", "13%"]),
    st.integers(-5, 10**15), st.floats(-1e6, 1e6, allow_nan=False), st.booleans(),
    st.sampled_from([datetime(2026, 11, 3), date(2026, 11, 4), 0.1 + 0.2, 1.0, True, 1, 0, -1]),
    st.sampled_from([CellError("#N/A"), CellError("#DIV/0!"), FormulaWithoutValue("A1*2")]))

PLAUSIBLE = {
    FieldType.CODE: st.sampled_from(["A001", "B002", "WH1", "WH2", "S01", "C01", "R1", "R2", "R3", "00123"]),
    FieldType.DATE: st.sampled_from([date(2026, 11, 3), datetime(2026, 11, 5), "2026-11-06", "2026/11/7"]),
    FieldType.QTY: st.sampled_from([1, 2, 10, 2.5, "3", 0.001, 1000]),
    FieldType.MONEY: st.sampled_from([1, 12.5, "8.00", 0.01, 100]),
    FieldType.COST: st.sampled_from([2.5, 1.2345, "3", 10]),
    FieldType.INT: st.sampled_from([1, 2, 3, "4"]),
    FieldType.RATE: st.sampled_from([0.13, "13%", 0.09, 0]),
    FieldType.BOOL: st.sampled_from(["Y", "N", "是", "否", True]),
}


def _cell(field: kinds.Field, clean: bool):
    likely = PLAUSIBLE.get(field.type, st.sampled_from(["x", "急", "箱", "remark text"]))
    return likely if clean else st.one_of(likely, likely, likely, ODD, st.none())


@st.composite
def tables(draw) -> tuple[str, str, list[str], list[list[Any]]]:
    """A kind, a layout, the table's columns (field keys) and its rows of cell values."""
    kind = kinds.KINDS[draw(st.sampled_from(KINDS))]
    layout = "table" if kind.is_master else draw(st.sampled_from(["form", "batch"]))
    fields = list(kind.lines) if layout != "batch" else [*kind.header, *kind.lines]
    keep = draw(st.lists(st.booleans(), min_size=len(fields), max_size=len(fields)))
    anchor = kind.key or kind.anchor
    with_required = draw(st.integers(0, 4)) > 0  # mostly: a table without them is answered once, "missing column"
    keys = [f.key for f, k in zip(fields, keep) if k or f.key in (anchor, "doc_no") or (f.required and with_required)]
    by_key = {f.key: f for f in fields}
    clean = draw(st.booleans())  # half the tables hold only good values: they post
    rows = draw(st.lists(st.one_of(st.tuples(*[_cell(by_key[k], clean) for k in keys]).map(list),
                                   st.just([None] * len(keys))), min_size=1, max_size=12))
    labels = [by_key[k].label for k in keys]
    again = draw(st.one_of(st.none(), st.tuples(st.integers(0, len(rows)), st.booleans())))
    if again is not None:  # the label row pasted again over a second block, or a label merged down a row
        at, whole = again
        rows.insert(at, labels if whole else labels[:1] + [None] * (len(keys) - 1))
    return kind.name, layout, keys, rows


GOOD_OR = lambda good, *bad: st.one_of(st.just(good), st.just(good), st.just(good), st.sampled_from(bad))  # noqa: E731
HEADER = st.fixed_dictionaries({
    "doc_no": GOOD_OR("R-1", "", 12, "X" * 70), "doc_date": GOOD_OR(date(2026, 11, 3), "11月3日", None),
    "warehouse": GOOD_OR("WH1", ""), "supplier": st.just("S01"), "customer": st.just("C01"), "account": st.just("BANK1"),
    "from_warehouse": st.just("WH1"), "to_warehouse": GOOD_OR("WH2", "WH1"), "month": GOOD_OR("2026-11", "x"),
    "amount": GOOD_OR(100, 0, "x"), "arrival_date": GOOD_OR(date(2026, 11, 9), date(2026, 11, 1)),
}, optional={"ref_doc": st.sampled_from(["PO-1", ""]), "finished_sku": st.just("A001"), "finished_qty": st.just(1)})


def _written(value: Any) -> Any:
    """What to put in an openpyxl cell so that the reader sees `value`."""
    if isinstance(value, CellError):
        return str(value)  # openpyxl stores an error code as an error cell
    if isinstance(value, FormulaWithoutValue):
        return "=" + str(value)  # a formula openpyxl saves without a computed value
    return value


def _workbook(path: Path, kind_name: str, layout: str, keys: list[str], rows: list[list[Any]],
              header: dict[str, Any]) -> Path:
    kind = kinds.KINDS[kind_name]
    fields = {f.key: f for f in (*kind.header, *kind.lines)}
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细"
    top = 1
    if layout == "form":
        for i, f in enumerate(kind.header, start=1):
            ws.cell(i, 1, f.label)
            if f.key in header:
                ws.cell(i, 2, _written(header[f.key]))
        top = len(kind.header) + 2
    for j, key in enumerate(keys, start=1):
        ws.cell(top, j, fields[key].label)
    for i, row in enumerate(rows, start=top + 1):
        for j, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(i, j, _written(value))
    _meta(wb, kind_name, layout)
    wb.save(path)
    return path


def _raw_view(raw) -> tuple:
    header = {k: (s.value, s.where) for k, s in raw.header.items()}
    return (raw.kind, raw.source, raw.sheet, raw.layout, header, raw.table_at, raw.hidden_rows, raw.footer_rows)


def _row_lines(raw) -> list:
    return [(line.row, {k: (line.cells[k].value, line.cells[k].where) for k in line.cells}) for line in raw.lines]


def _column_lines(raw) -> list:
    table = raw.lines
    return [(table.rows[i], {k: (table.value(k, i), table.ref(k, i)) for k in table.columns}) for i in range(len(table))]


def assert_same_answer(path: Path) -> None:
    old_raws, old_problems = row_read.read_workbook(path)
    new_raws, new_problems = read_workbook(path)
    assert new_problems == old_problems
    assert [_raw_view(r) for r in new_raws] == [_raw_view(r) for r in old_raws]
    assert [_column_lines(r) for r in new_raws] == [_row_lines(r) for r in old_raws]
    old, new = row_validate.validate(old_raws), validate(new_raws)
    assert [(p.code, p.where, p.value) for p in new.problems] == [(p.code, p.where, p.value) for p in old.problems]
    assert new.problems == old.problems  # the messages too
    assert new.documents == old.documents
    assert new.master == old.master


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables(), HEADER)
@example(("receipt", "batch", ["doc_no", "doc_date", "sku", "qty"],
          [["R1", date(2026, 11, 3), "A001", 1], ["R1", "2026/11/4", "B002", "x"], ["R2", None, "A001", 0]]), {})
@example(("collection", "form", ["settle_doc", "settle_amount"], [[None, None], ["R1", 0], ["R2", "x"]]),
         {"doc_no": "C-1", "doc_date": date(2026, 11, 3), "customer": "C01", "amount": 100})
@example(("items", "table", ["sku", "name", "unit"], [["A001", "纸", "包"], ["a001", "纸", "包"], ["B002", None, "支"]]), {})
def test_the_columnar_engine_answers_as_the_row_engine_did(tmp_path_factory, table, header):
    """Random line tables of every kind of form, batch and master table: good cells,
    bad ones (text in a number, too many decimals, error cells, formulas without a
    value, too long), blank cells and blank rows, columns left out, batch rows of
    several documents disagreeing on their header. The answer, line by line and problem
    by problem, is the row engine's."""
    kind_name, layout, keys, rows = table
    path = _workbook(tmp_path_factory.mktemp("engine") / f"{kind_name}.xlsx", kind_name, layout, keys, rows, header)
    assert_same_answer(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["receipt", "delivery", "入库", "销售出库", "receipt", "delivery", "bogus"]),
                          st.sampled_from(["R1", "D1", "R2", None]), st.sampled_from(["A001", "B002", None, 5]),
                          st.sampled_from([1, 2, 5, "x", 0, None])), min_size=1, max_size=8))
def test_an_export_naming_each_rows_kind_is_answered_as_before(tmp_path_factory, rows):
    """A flat export with a `单据类型 kind` column, split into one batch table per kind."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "导出"
    ws.append(["单据类型 kind", "单号 doc_no", "日期 doc_date", "仓库 warehouse", "物料编码 sku", "数量 qty",
               "供应商 supplier", "客户 customer"])
    for kind, doc_no, sku, qty in rows:
        ws.append([kind, doc_no, date(2026, 11, 3), "WH1", sku, qty, "S01", "C01"])
    path = tmp_path_factory.mktemp("export") / "export.xlsx"
    wb.save(path)
    assert_same_answer(path)
