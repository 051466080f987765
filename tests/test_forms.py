"""The forms: layout contract of the blank templates, filled forms read back exactly,
and the committed forms/ folder kept in step with the code."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from jxc_sheets.kinds import FORM_VERSION, KINDS
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.sheets.forms import (
    Choices, batch_fields, choices_from_ledger, form_layout, refresh_templates, write_form, write_templates,
)

SHEETS = ["明细", "填写说明", "_lists", "_meta"]
DOCUMENT_KINDS = [k for k in KINDS.values() if k.template and not k.is_master]
CHOICES = Choices(skus=("00123", "A-100"), warehouses=("WH-SH1", "WH-SZ"), suppliers=("SUP01",),
                  customers=("CUS01", "CUS02"))
COMMITTED = Path(__file__).parents[1] / "forms"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, list[Path]]:
    dest = tmp_path_factory.mktemp("templates")
    return dest, write_templates(dest)


@pytest.fixture(scope="module")
def templates(written) -> Path:
    return written[0]


@pytest.fixture(scope="module")
def with_choices(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("choices")
    for name in ("receipt", "transfer", "items"):
        write_form(dest / f"{name}.xlsx", KINDS[name], CHOICES)
    return dest


def all_forms():
    """(relative path, kind, batch) of every template."""
    return ([(f"{name}.xlsx", kind, False) for name, kind in KINDS.items() if kind.template]
            + [(f"batch/{kind.name}.xlsx", kind, True) for kind in DOCUMENT_KINDS])


def validations_at(ws, coordinate: str):
    return [dv for dv in ws.data_validations.dataValidation if coordinate in dv.sqref]


def test_write_templates_writes_every_kind_and_batch_forms(written):
    dest, paths = written
    expected = {path for path, _, _ in all_forms()}
    assert {p.relative_to(dest).as_posix() for p in paths} == expected
    assert {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} == expected


@pytest.mark.parametrize("path,kind,batch", all_forms(), ids=[p for p, _, _ in all_forms()])
def test_sheets_meta_and_labels(templates, path, kind, batch):
    wb = openpyxl.load_workbook(templates / path)
    assert wb.sheetnames == SHEETS
    assert wb.active.title == "明细"
    assert [wb[name].sheet_state for name in SHEETS] == ["visible", "visible", "hidden", "hidden"]
    layout = form_layout(kind, batch)
    meta = wb["_meta"]
    assert [[c.value for c in row] for row in meta.iter_rows()] == [
        ["kind", kind.name], ["version", FORM_VERSION], ["layout", layout.layout]]
    ws = wb["明细"]
    fields = batch_fields(kind) if batch else kind.lines
    assert [ws.cell(layout.table_row, col).value for col in range(1, len(fields) + 1)] == [f.label for f in fields]
    assert ws.cell(layout.table_row, len(fields) + 1).value is None
    assert ws.freeze_panes == f"A{layout.table_row + 1}"
    for key, cell in layout.header_cells.items():
        label_cell = ws[cell].offset(column=-1)
        assert label_cell.value == kind.field(key).label
        assert ws[cell].value is None


def test_layout_positions_are_the_contract():
    receipt = form_layout(KINDS["receipt"])
    assert receipt.layout == "form"
    assert dict(receipt.header_cells) == {"doc_no": "B3", "doc_date": "E3", "warehouse": "B4", "supplier": "E4",
                                          "ref_doc": "B5", "prepared_by": "E5", "remark": "B6", "invoice_type": "E6"}
    assert receipt.table_row == 8
    assert receipt.columns["sku"] == 1 and receipt.columns["qty"] == 2
    assert form_layout(KINDS["transfer"]).table_row == 8  # 到货日期 arrival_date took a header row; forms are read by their labels
    items = form_layout(KINDS["items"])
    assert (items.layout, items.table_row, dict(items.header_cells)) == ("table", 1, {})
    batch = form_layout(KINDS["delivery"], batch=True)
    assert (batch.layout, batch.table_row) == ("batch", 1)
    assert list(batch.columns)[:6] == ["doc_no", "doc_date", "warehouse", "customer", "ref_doc", "prepared_by"]
    assert list(batch.columns).count("remark") == 1 and batch.columns["salesperson"] == 7  # 业务员 took a column
    assert batch.columns["sku"] == 8  # batch files are read by their labels, not by position


def test_stock_form_title_note_and_header_block(templates):
    ws = openpyxl.load_workbook(templates / "receipt.xlsx")["明细"]
    assert ws["A1"].value == "采购入库单 receipt" and ws["A1"].font.b
    assert "必填" in ws["A2"].value and "填写说明" in ws["A2"].value
    assert [ws[c].value for c in ("A3", "D3", "A4", "D4", "A5", "D5", "A6")] == [
        "单号 doc_no", "日期 doc_date", "仓库 warehouse", "供应商 supplier", "关联单号 ref_doc",
        "制单人 prepared_by", "备注 remark"]
    assert all(ws.cell(7, col).value is None for col in range(1, 8))


def test_required_labels_are_bold_on_yellow(templates):
    ws = openpyxl.load_workbook(templates / "receipt.xlsx")["明细"]
    required, optional = ws["A3"], ws["A5"]  # doc_no, ref_doc
    assert required.font.b and required.fill.fgColor.rgb.endswith("FFF2CC")
    assert not optional.font.b and optional.fill.fill_type is None
    sku, batch = ws["A8"], ws["E8"]
    assert sku.font.b and sku.fill.fgColor.rgb.endswith("FFF2CC")
    assert not batch.font.b


def _typed_format(ws, row: int, column: int) -> str:
    """The format a value typed into an empty cell takes: the cell's own style if it has
    one, else its column's (as Excel and LibreOffice apply it)."""
    cell = ws.cell(row, column)
    if cell.has_style:
        return cell.number_format
    return ws.column_dimensions[get_column_letter(column)].number_format


def test_number_formats(templates):
    """Line columns carry their format as the column's style: row 9 and row 5,000 alike."""
    ws = openpyxl.load_workbook(templates / "receipt.xlsx")["明细"]
    for row in (9, 308, 5000):
        assert _typed_format(ws, row, 1) == "@"  # sku: text keeps leading zeros
        assert _typed_format(ws, row, 2) == "General"
        assert _typed_format(ws, row, 4) == "#,##0.00####"
    assert ws["E3"].number_format == "yyyy-mm-dd"
    assert ws["B3"].number_format == "@"
    items = openpyxl.load_workbook(templates / "items.xlsx")["明细"]
    layout = form_layout(KINDS["items"])
    fmt = {key: _typed_format(items, 2, col) for key, col in layout.columns.items()}
    assert (fmt["sku"], fmt["safety_stock"], fmt["lead_time_days"], fmt["std_cost"]) == (
        "@", "General", "0", "#,##0.00####")
    opening = openpyxl.load_workbook(templates / "batch" / "opening.xlsx")["明细"]
    assert _typed_format(opening, 2, form_layout(KINDS["opening"], batch=True).columns["doc_date"]) == "yyyy-mm-dd"


def test_filled_lines_carry_their_formats_on_their_cells(tmp_path):
    """A cell with a value does not take its column's style, so filled lines format their own."""
    path = write_form(tmp_path / "r.xlsx", KINDS["receipt"], header={"doc_no": "RK-1"},
                      lines=[{"sku": "00123", "unit_cost": 2.5}])
    ws = openpyxl.load_workbook(path)["明细"]
    columns = form_layout(KINDS["receipt"]).columns
    sku, price = ws.cell(9, columns["sku"]), ws.cell(9, columns["unit_cost"])
    assert (sku.value, sku.number_format) == ("00123", "@")
    assert (price.value, price.number_format) == (2.5, "#,##0.00####")


def test_dropdowns_from_choices(with_choices):
    wb = openpyxl.load_workbook(with_choices / "receipt.xlsx")
    lists = wb["_lists"]
    assert [lists.cell(r, 1).value for r in range(1, 4)] == ["sku", "00123", "A-100"]
    assert [lists.cell(r, 2).value for r in range(1, 4)] == ["warehouse", "WH-SH1", "WH-SZ"]
    assert [lists.cell(r, 4).value for r in range(1, 4)] == ["customer", "CUS01", "CUS02"]
    ws = wb["明细"]
    (sku,) = validations_at(ws, "A9")
    assert (sku.type, sku.formula1) == ("list", "'_lists'!$A$2:$A$3")
    assert validations_at(ws, "A308")
    (warehouse,) = validations_at(ws, "B4")
    assert warehouse.formula1 == "'_lists'!$B$2:$B$3"
    (supplier,) = validations_at(ws, "E4")
    assert supplier.formula1 == "'_lists'!$C$2:$C$2"
    (when,) = validations_at(ws, "E3")
    assert when.type == "date"
    assert validations_at(ws, "B9") == []  # qty: no dropdown
    transfer = openpyxl.load_workbook(with_choices / "transfer.xlsx")["明细"]
    assert [dv.formula1 for dv in validations_at(transfer, "B4") + validations_at(transfer, "E4")] == [
        "'_lists'!$B$2:$B$3"] * 2
    items = openpyxl.load_workbook(with_choices / "items.xlsx")["明细"]
    supplier_col = get_column_letter(form_layout(KINDS["items"]).columns["default_supplier"])
    assert validations_at(items, f"{supplier_col}2")[0].formula1 == "'_lists'!$C$2:$C$2"
    assert validations_at(items, "A2") == []  # the item's own code is not a reference


def test_no_dropdowns_without_choices(templates):
    ws = openpyxl.load_workbook(templates / "receipt.xlsx")["明细"]
    assert all(dv.type != "list" for dv in ws.data_validations.dataValidation)


def test_instructions_list_every_field(templates):
    ws = openpyxl.load_workbook(templates / "delivery.xlsx")["填写说明"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    table_at = next(i for i, row in enumerate(rows) if row[0] == "字段 label")
    fields = rows[table_at + 1:]
    kind = KINDS["delivery"]
    assert [row[0] for row in fields] == [f.label for f in kind.fields]
    assert [row[1] for row in fields] == ["Y" if f.required else "N" for f in kind.fields]
    assert fields[[f.key for f in kind.fields].index("qty")][3] == kind.field("qty").hint
    text = " ".join(str(row[1]) for row in rows[:table_at])
    assert "inbox" in text and "outbox/" in text and "rejected/" in text and "errors.xlsx" in text


def test_filled_form_reads_back_exactly(tmp_path):
    path = write_form(
        tmp_path / "r.xlsx", KINDS["receipt"], CHOICES,
        header={"doc_no": "CG20261103-01", "doc_date": date(2026, 11, 3), "warehouse": "WH-SH1",
                "supplier": "SUP01", "remark": "=HYPERLINK(\"x\")"},
        lines=[{"sku": "00123", "qty": Decimal("12.5"), "unit_cost": Decimal("3.20"), "remark": "=1+1"},
               {"sku": "A-100", "qty": 7, "unit": "箱", "unit_cost": Decimal("0.123456")},
               {"sku": "A-100", "qty": Decimal("1.00000000000000000001"), "unit_cost": Decimal("1")}])
    ws = openpyxl.load_workbook(path)["明细"]
    assert ws["B3"].value == "CG20261103-01"
    assert ws["E3"].value == datetime(2026, 11, 3)
    assert ws["B6"].value == '=HYPERLINK("x")' and ws["B6"].data_type == "s"
    # sku, qty, unit, unit_cost, then 含税单价 税率 金额 税额 价税合计, 批号 生产日期 有效期至 序列号, 不合格数量 不合格原因, remark
    assert [ws.cell(9, c).value for c in range(1, 17)] == ["00123", 12.5, None, 3.2, *[None] * 11, "=1+1"]
    assert ws["A9"].data_type == "s" and ws["P9"].data_type == "s"
    assert [ws.cell(10, c).value for c in range(1, 5)] == ["A-100", 7, "箱", 0.123456]
    assert ws["B11"].value == "1.00000000000000000001"  # a float cannot hold it: kept as its text
    assert ws["A12"].value is None
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]  # no temporary left behind


def test_filled_batch_repeats_the_header(tmp_path):
    path = write_form(tmp_path / "b.xlsx", KINDS["delivery"], batch=True,
                      header={"doc_no": "XS1", "doc_date": date(2026, 11, 3), "warehouse": "WH-SH1",
                              "customer": "CUS01"},
                      lines=[{"sku": "A-100", "qty": 1}, {"sku": "00123", "qty": Decimal("2.5"), "remark": "r"}])
    wb = openpyxl.load_workbook(path)
    assert wb["_meta"]["B3"].value == "batch"
    rows = list(wb["明细"].iter_rows(min_row=2, max_row=3, max_col=19, values_only=True))
    assert rows == [  # doc_no … prepared_by, salesperson, then the lines: … 含税单价 税率 金额 税额 价税合计, 批号 序列号, remark
        ("XS1", datetime(2026, 11, 3), "WH-SH1", "CUS01", None, None, None, "A-100", 1, None, None, *[None] * 8),
        ("XS1", datetime(2026, 11, 3), "WH-SH1", "CUS01", None, None, None, "00123", 2.5, None, None, *[None] * 7, "r"),
    ]


def test_filled_master_table(tmp_path):
    path = write_form(tmp_path / "w.xlsx", KINDS["warehouses"],
                      lines=[{"code": "007", "name": "上海总仓", "site": "上海"}])
    ws = openpyxl.load_workbook(path)["明细"]
    assert [c.value for c in ws[2]][:3] == ["007", "上海总仓", "上海"]
    assert ws.freeze_panes == "A2"


def test_unknown_field_is_refused(tmp_path):
    with pytest.raises(ValueError):
        write_form(tmp_path / "x.xlsx", KINDS["receipt"], lines=[{"customer": "CUS01"}])
    with pytest.raises(ValueError):
        write_form(tmp_path / "y.xlsx", KINDS["items"], header={"doc_no": "1"})


def test_choices_from_ledger(tmp_path):
    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(schema.warehouses.insert(), [{"code": "WH-SZ", "name": "苏州仓"}, {"code": "WH-SH1", "name": "总仓"}])
        conn.execute(schema.suppliers.insert(), [{"code": "SUP02", "name": "b"}, {"code": "SUP01", "name": "a"}])
        conn.execute(schema.customers.insert(), [{"code": "CUS01", "name": "c"}])
        conn.execute(schema.items.insert(), [
            {"sku": "B-2", "name": "b", "unit": "个", "active": True},
            {"sku": "00123", "name": "a", "unit": "个", "active": True},
            {"sku": "OLD-1", "name": "old", "unit": "个", "active": False},
        ])
    assert choices_from_ledger(engine) == Choices(
        skus=("00123", "B-2"), warehouses=("WH-SH1", "WH-SZ"), suppliers=("SUP01", "SUP02"), customers=("CUS01",))
    engine.dispose()


def sheet_values(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [row for row in ws.iter_rows(values_only=True) if any(v is not None for v in row)]
            for ws in wb.worksheets}


def test_committed_templates_match_the_code(templates):
    """forms/ holds the blank forms as shipped: regenerate it with write_templates(Path("forms")) after changing a form."""
    fresh = sorted(p.relative_to(templates).as_posix() for p in templates.rglob("*.xlsx"))
    committed = sorted(p.relative_to(COMMITTED).as_posix() for p in COMMITTED.rglob("*.xlsx"))
    assert committed == fresh
    for name in fresh:
        assert sheet_values(COMMITTED / name) == sheet_values(templates / name), name


def test_a_second_folder_with_the_same_codes_gets_the_same_forms_and_other_codes_get_their_own(tmp_path):
    """The forms written for one set of codes are copied, byte for byte, into a second
    templates folder that needs the same codes; another set of codes makes them anew."""
    first = refresh_templates(tmp_path / "a", CHOICES)
    second = refresh_templates(tmp_path / "b", CHOICES)
    assert [p.relative_to(tmp_path / "b") for p in second] == [p.relative_to(tmp_path / "a") for p in first]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    assert refresh_templates(tmp_path / "b", CHOICES) == []  # nothing changed: nothing written
    other = Choices(skus=("B-200",), warehouses=("WH-X",), suppliers=(), customers=())
    refresh_templates(tmp_path / "b", other)
    lists = openpyxl.load_workbook(tmp_path / "b" / "receipt.xlsx")["_lists"]
    assert [lists.cell(r, 1).value for r in (1, 2, 3)] == ["sku", "B-200", None]
    lists = openpyxl.load_workbook(tmp_path / "a" / "receipt.xlsx")["_lists"]
    assert [lists.cell(r, 1).value for r in (1, 2, 3)] == ["sku", "00123", "A-100"]
