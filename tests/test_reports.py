"""The outbox reports, read back cell by cell from a real SQLite ledger."""
from __future__ import annotations

import os
import re
import time
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import insert

from jxc_sheets import config
from jxc_sheets.ledger import schema as s
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports import data
from jxc_sheets.reports.book import Book, Column, atomic_path, sheet_key, tab
from jxc_sheets.reports.refresh import write_reports

D = Decimal
SCRIPT = "<script>alert(1)</script>"
FORMULA_SKU = "=1+1"


def q(value, places="0.0001") -> Decimal:
    """A cell's number as the Decimal it was written from."""
    return D(str(value)).quantize(D(places))


def keys(sheet) -> list[str]:
    """The English keys of a plain table's label row ("物料编码 sku" → "sku")."""
    return [cell.value.split(" ")[-1] for cell in next(sheet.iter_rows(max_row=1))]


def table(sheet) -> list[dict]:
    names = keys(sheet)
    return [dict(zip(names, row)) for row in sheet.iter_rows(min_row=2, values_only=True)]


def movement(doc_id, line_no, kind, day, sku, wh, qty, cost, value, bal_qty, bal_value):
    return dict(document_id=doc_id, line_no=line_no, kind=kind, doc_date=day, sku=sku, warehouse=wh,
                qty=D(qty), unit_cost=D(cost), value=D(value), balance_qty=D(bal_qty), balance_value=D(bal_value))


def document(doc_id, kind, doc_no, day, wh, partner, source):
    return dict(id=doc_id, kind=kind, doc_no=doc_no, doc_date=day, warehouse=wh, partner=partner,
                source_file=source, content_hash="h" * 64, posted_at=datetime(2026, 11, 20, 9, 0))


def item(sku, name, safety="0", reorder="0", category="", supplier="", active=True):
    return dict(sku=sku, name=name, unit="个", category=category, safety_stock=D(safety),
                reorder_qty=D(reorder), default_supplier=supplier, active=active)


def balance(sku, wh, qty, value, cost):
    return dict(sku=sku, warehouse=wh, qty=D(qty), value=D(value), unit_cost=D(cost),
                last_date=date(2026, 11, 20), movements=1)


FILE_STATUSES = ["posted", "skipped", "rejected", "failed"]
BASE_TIME = datetime(2026, 11, 20, 8, 0)


def file_row(i: int) -> dict:
    return dict(name=f"receipt-{i:02d}.xlsx", file_hash=f"{i:064d}", kind="receipt",
                status=FILE_STATUSES[i % 4], documents=1, lines=i, problems=i % 3,
                first_problems="明细!D7: 数量必须大于 0 / qty must be > 0 [qty-positive]" if i % 4 == 2 else "",
                moved_to=f"archive/2026-11/receipt-{i:02d}.xlsx", processed_at=BASE_TIME + timedelta(minutes=i))


@pytest.fixture
def ledger(tmp_path):
    engine = open_ledger("sqlite:///" + str(tmp_path / "l.sqlite3"))
    with engine.begin() as conn:
        conn.execute(insert(s.warehouses), [dict(code="WH1", name="主仓", site="上海"),
                                            dict(code="WH2", name="二仓", site="苏州")])
        conn.execute(insert(s.suppliers), [dict(code="S1", name="供应商甲")])
        conn.execute(insert(s.items), [
            item("A001", "螺丝", safety="100", reorder="500", category="五金", supplier="S1"),
            item("B002", SCRIPT, safety="5", category="五金"),
            item(FORMULA_SKU, "=2+2", category="杂项"),
            item("C003", "垫圈", safety="10", reorder="50", supplier="S1"),  # below safety with no stock at all
            item("D004", "旧件", safety="5", active=False),  # inactive: never reordered
        ])
        conn.execute(insert(s.balances), [
            balance("A001", "WH1", "30.5", "305.00", "10"),
            balance("A001", "WH2", "20", "210.00", "10.5"),
            balance("B002", "WH1", "3.1234", "12.35", "3.953897"),
            balance("B002", "WH2", "0", "0", "3.95"),  # sold out: not a stock row
            balance(FORMULA_SKU, "WH2", "7", "70.00", "10"),
        ])
        conn.execute(insert(s.files), [file_row(i) for i in range(12)])
        conn.execute(insert(s.documents), [
            document(1, "receipt", "R-1031", date(2026, 10, 31), "WH1", "S1", "r1031.xlsx"),
            document(2, "receipt", "R-1120", date(2026, 11, 20), "WH1", "S1", "r1120.xlsx"),
            document(3, "transfer", "T-1105", date(2026, 11, 5), "WH1", "", "t1105.xlsx"),
            document(4, "opening", "O-1201", date(2026, 12, 1), "WH2", "", "o1201.xlsx"),
        ])
        conn.execute(insert(s.movements), [
            movement(1, 1, "receipt", date(2026, 10, 31), "A001", "WH1", "50.5", "10", "505.00", "50.5", "505.00"),
            movement(2, 1, "receipt", date(2026, 11, 20), "B002", "WH1", "3.1234", "3.953897", "12.35", "3.1234", "12.35"),
            # posted later, dated earlier: the mirror keeps posting order
            movement(3, 1, "transfer", date(2026, 11, 5), "A001", "WH1", "-20", "10", "-200.00", "30.5", "305.00"),
            movement(3, 1, "transfer", date(2026, 11, 5), "A001", "WH2", "20", "10.5", "210.00", "20", "210.00"),
            movement(4, 1, "opening", date(2026, 12, 1), FORMULA_SKU, "WH2", "7", "10", "70.00", "7", "70.00"),
        ])
    return engine


@pytest.fixture
def settings(tmp_path):
    cfg = config.Config(company=config.CompanyConfig(name="测试公司 <b>"),
                        reports=config.ReportsConfig(log_rows=10, recent_files=5))
    return config.Settings(cfg, tmp_path)


def test_writes_every_report_atomically(ledger, settings):
    written = write_reports(ledger, settings)
    outbox = settings.outbox
    reorder_forms = sorted((outbox / "reorder").glob("*.xlsx"))
    assert written == [outbox / "stock.xlsx", outbox / "orders.xlsx", outbox / "count_plan.xlsx", outbox / "money.xlsx", outbox / "kits.xlsx", outbox / "batches.xlsx", outbox / "service.xlsx", outbox / "analysis.xlsx", outbox / "index.html", outbox / "log.xlsx",
                       outbox / "ledger" / "2026-10.xlsx", outbox / "ledger" / "2026-11.xlsx",
                       outbox / "ledger" / "2026-12.xlsx", *reorder_forms]
    assert all(p.exists() for p in written)
    kept = outbox / ".cache"  # what the next refresh reuses (reports/closed_sales.py, analysis_months.py, reorder.py)
    assert [p for p in outbox.rglob("*") if p.is_file() and p not in written and p.parent != kept] == []  # no temp files left


def _workbook_values(path: Path) -> dict:
    book = CalamineWorkbook.from_path(str(path))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def test_a_big_ledgers_reports_are_written_by_several_processes_as_one_process_writes_them(ledger, tmp_path):
    """From `reports.parallel_from` movements a refresh hands its reports to worker
    processes (here from 0, on two): every workbook holds the same sheets and cells as
    when this process writes them one after another, the same paths come back in the
    same order, and no temp file is left."""
    def refresh(processes: int) -> tuple[list, dict]:
        rules = config.ReportsConfig(processes=processes, parallel_from=0)
        root = tmp_path / f"by-{processes}"
        written = [p.relative_to(root / "outbox") for p in write_reports(ledger, config.Settings(config.Config(reports=rules), root))]
        return written, {p: _workbook_values(root / "outbox" / p) for p in written if p.suffix == ".xlsx"}

    alone, at_once = refresh(1), refresh(2)
    assert at_once[0] == alone[0] and len(alone[1]) >= 12
    for name, sheets in alone[1].items():
        if name.name != "log.xlsx":  # the log lists when each report run was
            assert at_once[1][name] == sheets, name
    assert [p for p in (tmp_path / "by-2" / "outbox").rglob(".*") if p.is_file() and p.parent.name != ".cache"] == []


def test_only_the_months_asked_are_mirrored(ledger, settings):
    written = write_reports(ledger, settings, months=["2026-11"])
    assert [p.relative_to(settings.outbox).as_posix() for p in written] == [
        "stock.xlsx", "orders.xlsx", "count_plan.xlsx", "money.xlsx", "kits.xlsx", "batches.xlsx", "service.xlsx", "analysis.xlsx", "index.html", "log.xlsx",
        "ledger/2026-11.xlsx",
        "reorder/采购建议-S1.xlsx"]


def test_html_can_be_turned_off(ledger, tmp_path):
    settings = config.Settings(config.Config(reports=config.ReportsConfig(html=False)), tmp_path)
    written = write_reports(ledger, settings, months=[])
    assert [p.name for p in written] == ["stock.xlsx", "orders.xlsx", "count_plan.xlsx", "money.xlsx", "kits.xlsx", "batches.xlsx", "service.xlsx", "analysis.xlsx",
                                         "log.xlsx", "采购建议-S1.xlsx"]


def test_a_malformed_month_is_refused_before_anything_is_written(ledger, settings):
    with pytest.raises(ValueError):
        write_reports(ledger, settings, months=["2026-13"])
    assert not settings.outbox.exists() or list(settings.outbox.rglob("*.xlsx")) == []


def test_stock_sheet_is_a_plain_table_of_balances(ledger, settings):
    write_reports(ledger, settings, months=[])
    book = openpyxl.load_workbook(settings.outbox / "stock.xlsx")
    assert book.sheetnames == ["库存 stock", "汇总 summary", "低于安全库存 below_safety", "在途 in_transit", "_meta"]
    sheet = book[tab("stock")]
    assert sheet["A1"].value == "物料编码 sku"
    assert keys(sheet) == ["sku", "name", "category", "unit", "warehouse", "site", "qty", "unit_cost",
                           "value", "safety_stock", "below_safety"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:K5"
    rows = table(sheet)
    assert [(r["warehouse"], r["sku"]) for r in rows] == [
        ("WH1", "A001"), ("WH1", "B002"), ("WH2", FORMULA_SKU), ("WH2", "A001")]  # B002 in WH2 is zero
    b002 = rows[1]
    assert (q(b002["qty"]), q(b002["unit_cost"]), q(b002["value"], "0.01")) == (
        D("3.1234"), D("3.9539"), D("12.35"))  # unit cost shown to 4 places, kept to 6 in the ledger
    assert q(b002["unit_cost"], "0.000001") == D("3.953897")
    assert b002["name"] == SCRIPT and b002["site"] == "上海"
    assert [r["below_safety"] for r in rows] == ["Y", "Y", None, "Y"]  # A001: 50.5 over both, safety 100
    assert q(rows[3]["safety_stock"]) == D("100")
    assert sheet["G2"].number_format == "#,##0.00##"  # qty: thousands apart, up to 4 places
    assert sheet["H2"].number_format == "#,##0.0000"
    assert sheet["I2"].number_format == "#,##0.00"


def _chinese_first(tab_name: str) -> bool:
    """`库存 stock`: a Chinese word, then the sheet's English key, which sheet_key gives back."""
    words = tab_name.split(" ")
    return not words[0].isascii() and sheet_key(tab_name).isascii() and len(words) >= 2


def test_every_outbox_workbook_names_its_kind_in_a_hidden_meta_sheet_and_its_tabs_chinese_first(ledger, settings):
    """A program finds a report by its `_meta` kind, never by its file name; the forms in
    outbox/reorder/ carry their form kind the same way."""
    write_reports(ledger, settings)
    kinds = {}
    for path in sorted(settings.outbox.rglob("*.xlsx")):
        book = openpyxl.load_workbook(path, read_only=True)
        meta = book["_meta"]
        assert meta.sheet_state == "hidden" and book.sheetnames[-1] == "_meta", path
        kinds[path.relative_to(settings.outbox).parts[0]] = dict(meta.iter_rows(max_col=2, values_only=True))["kind"]
        if path.parent.name != "reorder":  # the purchase-order forms have their form's sheets
            assert all(_chinese_first(name) for name in book.sheetnames[:-1]), (path.name, book.sheetnames)
    assert kinds == {"stock.xlsx": "stock", "orders.xlsx": "orders", "count_plan.xlsx": "count_plan",
                     "money.xlsx": "money", "kits.xlsx": "kits", "batches.xlsx": "batches", "service.xlsx": "service",
                     "analysis.xlsx": "analysis", "log.xlsx": "log", "ledger": "ledger_month", "reorder": "purchase_order"}


def test_user_text_that_looks_like_a_formula_stays_text(ledger, settings):
    write_reports(ledger, settings)
    sheet = openpyxl.load_workbook(settings.outbox / "stock.xlsx")[tab("stock")]
    sku, name = sheet["A4"], sheet["B4"]
    assert (sku.value, sku.data_type, name.value, name.data_type) == (FORMULA_SKU, "s", "=2+2", "s")
    calamine = CalamineWorkbook.from_path(str(settings.outbox / "stock.xlsx")).get_sheet_by_name(tab("stock")).to_python()
    assert calamine[3][:2] == [FORMULA_SKU, "=2+2"]
    mirror = openpyxl.load_workbook(settings.outbox / "ledger" / "2026-12.xlsx").active
    assert (mirror["E2"].value, mirror["E2"].data_type) == (FORMULA_SKU, "s")


def test_summary_totals_and_chart(ledger, settings):
    write_reports(ledger, settings, months=[])
    sheet = openpyxl.load_workbook(settings.outbox / "stock.xlsx")[tab("summary")]
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "按仓库汇总 by warehouse"
    # no qty column: the warehouse's items are counted in different units
    assert [v.split(" ")[-1] for v in values[1][:5]] == ["warehouse", "name", "site", "skus", "value"]
    assert [(r[0], r[1], r[2], r[3], q(r[4], "0.01")) for r in values[2:5]] == [
        ("WH1", "主仓", "上海", 2, D("317.35")),
        ("WH2", "二仓", "苏州", 2, D("280.00")),
        ("合计 total", None, None, 4, D("597.35")),
    ]
    assert values[6][0] == "按类别汇总 by category"
    categories = [(r[0], r[1], q(r[2], "0.01")) for r in values[8:11]]
    assert categories == [("五金", 2, D("527.35")), ("杂项", 1, D("70.00")), ("合计 total", 3, D("597.35"))]
    assert len(sheet._charts) == 1


def test_the_summary_chart_of_forty_warehouses_prints_whole_on_the_first_page(tmp_path, settings):
    """40 warehouses would draw a chart of 60 + 28 × 40 = 1,180 px (59 rows, two pages); it is
    held to 560 px (28 rows of 20 px: rows 2 to 30), and the first page ends under it, after row
    30, as the tables go on to row 48 (title, labels, 40 warehouses, total, a blank row, title,
    labels, one category, total)."""
    engine = open_ledger("sqlite:///" + str(tmp_path / "many.sqlite3"))
    codes = [f"W{i:02d}" for i in range(40)]
    with engine.begin() as conn:
        conn.execute(insert(s.warehouses), [dict(code=c, name=f"仓库{c}", site="上海") for c in codes])
        conn.execute(insert(s.items), [item("A001", "螺丝", category="五金")])
        conn.execute(insert(s.balances), [balance("A001", c, "1", "10.00", "10") for c in codes])
    write_reports(engine, settings, months=[])
    sheet = openpyxl.load_workbook(settings.outbox / "stock.xlsx")[tab("summary")]
    [chart] = sheet._charts
    assert chart.anchor._from.row == 1 and chart.height * 37.8 <= 560 + 1  # cm → px at 96 dpi
    assert [b.id for b in sheet.row_breaks.brk] == [30]
    assert sheet.max_row == 48


def test_below_safety_sheet_lists_active_items_short_over_all_warehouses(ledger, settings):
    write_reports(ledger, settings, months=[])
    sheet = openpyxl.load_workbook(settings.outbox / "stock.xlsx")[tab("below_safety")]
    assert keys(sheet)[:7] == ["sku", "name", "unit", "total_qty", "safety_stock", "shortfall", "reorder_qty"]
    rows = table(sheet)
    assert [(r["sku"], q(r["total_qty"]), q(r["safety_stock"]), q(r["shortfall"]), q(r["reorder_qty"]),
             r["default_supplier"], r["supplier_name"]) for r in rows] == [
        ("A001", D("50.5"), D("100"), D("49.5"), D("500"), "S1", "供应商甲"),
        ("B002", D("3.1234"), D("5"), D("1.8766"), D("0"), None, None),
        ("C003", D("0"), D("10"), D("10"), D("50"), "S1", "供应商甲"),
    ]


def test_ledger_mirror_holds_exactly_the_month_in_posting_order(ledger, settings):
    write_reports(ledger, settings, months=["2026-11"])
    book = openpyxl.load_workbook(settings.outbox / "ledger" / "2026-11.xlsx")
    sheet = book.worksheets[0]
    assert keys(sheet) == ["doc_date", "kind", "doc_no", "line_no", "sku", "name", "warehouse", "partner", "qty",
                           "unit_cost", "value", "balance_qty", "balance_value", "source_file"]
    rows = table(sheet)
    assert [(r["doc_date"].date(), r["doc_no"], r["warehouse"], q(r["qty"]), q(r["value"], "0.01"),
             q(r["balance_qty"]), q(r["balance_value"], "0.01")) for r in rows] == [
        (date(2026, 11, 20), "R-1120", "WH1", D("3.1234"), D("12.35"), D("3.1234"), D("12.35")),
        (date(2026, 11, 5), "T-1105", "WH1", D("-20"), D("-200.00"), D("30.5"), D("305.00")),
        (date(2026, 11, 5), "T-1105", "WH2", D("20"), D("210.00"), D("20"), D("210.00")),
    ]
    assert (rows[0]["kind"], rows[0]["partner"], rows[0]["source_file"], rows[0]["name"]) == (
        "receipt", "S1", "r1120.xlsx", SCRIPT)
    assert q(rows[0]["unit_cost"], "0.000001") == D("3.953897")
    assert rows[1]["partner"] is None  # a transfer has no partner


def test_movement_months(ledger):
    with ledger.connect() as conn:
        assert data.movement_months(conn) == ["2026-10", "2026-11", "2026-12"]


def test_log_is_newest_first_with_status_in_words(ledger, settings):
    write_reports(ledger, settings, months=[])
    sheet = openpyxl.load_workbook(settings.outbox / "log.xlsx").worksheets[0]
    assert keys(sheet) == ["processed_at", "file", "kind", "status", "documents", "lines", "problems",
                           "first_problems", "warnings", "moved_to", "notes"]  # notes: v8, added at the end
    rows = table(sheet)
    assert [r["file"] for r in rows] == [f"receipt-{i:02d}.xlsx" for i in range(11, 1, -1)]  # log_rows = 10
    assert [r["status"] for r in rows[:4]] == [
        "出错 failed", "已退回 rejected", "已跳过(重复) skipped", "已过账 posted"]
    assert rows[0]["processed_at"] == BASE_TIME + timedelta(minutes=11)
    assert rows[1]["first_problems"].endswith("[qty-positive]")
    assert (rows[1]["lines"], rows[1]["problems"], rows[1]["moved_to"]) == (10, 1, "archive/2026-11/receipt-10.xlsx")


def test_dashboard_is_offline_escaped_and_has_charts(ledger, settings):
    write_reports(ledger, settings, months=[])
    page = (settings.outbox / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT not in page
    assert "测试公司 &lt;b&gt;" in page
    assert page.count("<svg") == 2
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<img" not in page and "<script" not in page
    assert "597.35" in page  # the total stock value card
    assert "已退回" in page and "receipt-11.xlsx" in page and "receipt-06.xlsx" not in page  # 5 recent files
    assert "C003" in page and "D004" not in page


def test_files_by_status_counts_one_day(ledger):
    with ledger.connect() as conn:
        assert data.files_by_status(conn, BASE_TIME.date()) == {"posted": 3, "skipped": 3, "rejected": 3, "failed": 3}
        assert data.files_by_status(conn, date(2026, 11, 21)) == {}


def test_an_empty_ledger_still_writes_every_report(tmp_path):
    engine = open_ledger("sqlite:///" + str(tmp_path / "empty.sqlite3"))
    settings = config.Settings(config.Config(), tmp_path)
    written = write_reports(engine, settings)
    assert [p.name for p in written] == ["stock.xlsx", "orders.xlsx", "count_plan.xlsx", "money.xlsx", "kits.xlsx", "batches.xlsx", "service.xlsx", "analysis.xlsx",
                                         "index.html", "log.xlsx"]
    book = openpyxl.load_workbook(written[0])
    assert table(book[tab("stock")]) == [] and book[tab("summary")]._charts == []


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    dest = tmp_path / "out" / "report.xlsx"
    with atomic_path(dest) as temp:
        temp.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest) as temp:
        temp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert dest.read_text() == "old"
    assert [p.name for p in dest.parent.iterdir()] == ["report.xlsx"]


def test_atomic_path_names_a_hidden_temp_beside_the_destination(tmp_path: Path):
    dest = tmp_path / "x.xlsx"
    with atomic_path(dest) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".") and temp.name.endswith(".tmp")
        temp.write_text("new")
    assert dest.read_text() == "new"


TRICKY_TEXT = [" lead", "trail ", "ctl\x01x", "_x0041_", "a&b<c>", "tab\tnew\nline", "=1+1", "@SUM(1)", "-1", "0012"]


def test_streamed_table_text_reads_back_as_written_and_continues_past_the_row_limit(tmp_path):
    class Row:
        def __init__(self, text):
            self.text, self.day, self.at, self.qty = text, date(2026, 11, 3), datetime(2026, 11, 3, 13, 45, 30), D("-1.5")

    columns = (Column("text", "文本"), Column("day", "日期", "date"), Column("at", "时间", "datetime"),
               Column("qty", "数量", "qty"))
    path = tmp_path / "t.xlsx"
    with Book(path, rows_per_sheet=4) as book:
        book.add_table("t", columns, [Row(t) for t in TRICKY_TEXT])
    calamine = CalamineWorkbook.from_path(str(path))
    assert calamine.sheet_names == ["t", "t_2", "t_3"]
    sheets = [calamine.get_sheet_by_name(name).to_python() for name in calamine.sheet_names]
    assert all(sheet[0] == ["文本 text", "日期 day", "时间 at", "数量 qty"] for sheet in sheets)
    assert [row[0] for sheet in sheets for row in sheet[1:]] == TRICKY_TEXT
    assert sheets[0][1][1:] == [date(2026, 11, 3), datetime(2026, 11, 3, 13, 45, 30), -1.5]
    book = openpyxl.load_workbook(path)
    assert [ws.auto_filter.ref for ws in book] == ["A1:D5", "A1:D5", "A1:D3"]
    assert [(c.value, c.data_type) for c in book["t"]["A"][1:4]] == [(" lead", "s"), ("trail ", "s"), ("ctl_x0001_x", "s")]
    assert book["t_3"]["A3"].value == "0012" and book["t_3"]["A3"].data_type == "s"


def test_streamed_numbers_keep_their_exact_digits_and_missing_values_leave_their_cells_empty(tmp_path):
    class Row:
        def __init__(self, text, amount, count, day):
            self.text, self.amount, self.count, self.day = text, amount, count, day

    amounts = [D("12.30"), D("-0.00"), D("1E+3"), D("0E-10"), D("1.5E-8"), D(1) / D(3), None, 2.5, 7, True]
    rows = [Row(text, amount, n, date(2026, 11, n + 1) if n % 2 else None)
            for n, (text, amount) in enumerate(zip(["E+5", "", "x", "E-1", *"abcdef"], amounts))]
    columns = (Column("text", "文本"), Column("amount", "金额", "money"), Column("count", "数", "int"),
               Column("day", "日期", "date"))
    path = tmp_path / "n.xlsx"
    with Book(path) as book:
        book.add_table("n", columns, rows)
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    written = re.findall(r'<c r="B(\d+)" s="\d+"><v>([^<]*)</v>', xml)
    assert written == [("2", "12.30"), ("3", "-0.00"), ("4", "1000"), ("5", "0.0000000000"),
                       ("6", "0.000000015"), ("7", f"{D(1) / D(3)}"), ("9", "2.5"), ("10", "7"), ("11", "1")]
    sheet = openpyxl.load_workbook(path)["n"]
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2, max_row=4)] == [
        ["E+5", 12.3, 0, None], [None, 0, 1, datetime(2026, 11, 2)], ["x", 1000, 2, None]]
    assert [c.value for c in sheet[8]] == ["c", None, 6, None]


def test_stale_temp_files_of_a_killed_run_are_removed(ledger, settings):
    outbox = settings.outbox
    outbox.mkdir()
    stale, fresh = outbox / ".stock.xlsx.dead.tmp", outbox / ".log.xlsx.busy.tmp"
    stale.write_text("half")
    fresh.write_text("another process is writing")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    write_reports(ledger, settings, months=[])
    assert not stale.exists() and fresh.exists()


def test_without_a_posting_only_the_log_and_the_dashboard_are_rewritten(ledger, settings):
    """Rejected, failed or skipped files leave the ledger as it was (posted=False)."""
    first = write_reports(ledger, settings, months=[])
    assert [p.name for p in first][:10] == ["stock.xlsx", "orders.xlsx", "count_plan.xlsx", "money.xlsx", "kits.xlsx", "batches.xlsx", "service.xlsx",
                                  "analysis.xlsx", "index.html", "log.xlsx"]
    assert write_reports(ledger, settings, months=[], posted=False) == [settings.outbox / "index.html",
                                                                        settings.outbox / "log.xlsx"]
    yesterday = time.time() - 86400
    os.utime(settings.outbox / "stock.xlsx", (yesterday, yesterday))  # they count days late and due: once a day
    # analysis.xlsx is rewritten when the sales changed or on a new day (reports/analysis.py), a
    # reorder form when what it would hold changed (its number carries the day: a new day changes it)
    assert write_reports(ledger, settings, months=[], posted=False) == [
        p for p in first if p.name != "analysis.xlsx" and p.parent.name != "reorder"]
    (settings.outbox / ".cache" / "reorder.json").unlink()
    assert [p.name for p in write_reports(ledger, settings, months=[]) if p.parent.name == "reorder"] == ["采购建议-S1.xlsx"]


def test_a_big_streamed_table_is_deflated_by_isal_and_reads_back_whole(tmp_path):
    """60,000 rows (several MB of sheet XML) go through ISA-L's deflate: zipfile checks the
    part's CRC as it reads it back, and every row is there."""
    from collections import namedtuple

    from isal import isal_zlib  # noqa: F401  (a dependency: book.py compresses with it)

    Row = namedtuple("Row", ("sku", "qty"))
    path = tmp_path / "big.xlsx"
    with Book(path) as book:
        book.add_table("big", (Column("sku", "物料编码"), Column("qty", "数量", "qty")),
                       (Row(f"SKU{n:06d}", D(n).scaleb(-2)) for n in range(60_000)))
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.getinfo("xl/worksheets/sheet1.xml").compress_type == zipfile.ZIP_DEFLATED
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("big").to_python()
    assert len(rows) == 60_001 and rows[-1] == ["SKU059999", 599.99]
