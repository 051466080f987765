"""The order reports and reorder forms, end to end: real forms dropped into a real
workspace, orders.xlsx and outbox/reorder/ read back as a user would open them.
Reports are dated today, so the documents here are dated relative to today."""
from __future__ import annotations

import gzip
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from conftest import CUSTOMERS, WAREHOUSES, jxc, make_form, make_table, run_files
from jxc_sheets import clock
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.reports.book import tab

pytestmark = pytest.mark.clock  # "today" decides what these reports show

TODAY = clock.today()
AGO = {n: TODAY - timedelta(days=n) for n in (1, 2, 5, 10, 20, 30)}

ITEMS = [
    # 20 包 safety stock, 100 more to order; boxes of 5; 7 days from S01
    {"sku": "A001", "name": "A4 复印纸", "unit": "包", "alt_units": "箱=5", "safety_stock": 20, "reorder_qty": 100,
     "order_multiple": 5, "default_supplier": "S01", "std_cost": 20},
    {"sku": "B002", "name": "签字笔", "unit": "支", "default_supplier": "S02", "lead_time_days": 10, "reorder_qty": 100,
     "min_order_qty": 500},
    {"sku": "C003", "name": "订书机", "unit": "个", "safety_stock": 2},  # no supplier: listed, no form
]


@pytest.fixture
def ws(tmp_path) -> Settings:
    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    inbox = settings.inbox
    make_table(inbox / "warehouses.xlsx", "warehouses", WAREHOUSES)
    make_table(inbox / "suppliers.xlsx", "suppliers", [{"code": "S01", "name": "华东纸业", "lead_time_days": 7},
                                                       {"code": "S02", "name": "江南文具"}])
    make_table(inbox / "customers.xlsx", "customers", CUSTOMERS)
    make_table(inbox / "items.xlsx", "items", ITEMS)
    return settings


def sheet_rows(path, sheet) -> list[dict]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb[tab(sheet)].iter_rows(values_only=True))
    keys = [label.split(" ")[-1] for label in rows[0]]
    return [dict(zip(keys, row)) for row in rows[1:]]


def receipt(settings, name, doc_no, ref, lines, day, supplier="S01"):
    make_form(settings.inbox / name, "receipt",
              {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "supplier": supplier, "ref_doc": ref}, lines)


def test_the_purchase_cycle_from_suggestion_to_a_closed_order(ws):
    engine = open_ledger(ws.ledger_url)
    run_files(ws, engine)
    forms = sorted(p.name for p in (ws.outbox / "reorder").iterdir())
    assert forms == ["采购建议-S01.xlsx", "采购建议-S02.xlsx"]  # C003 has no supplier: no form

    suggestion = ws.outbox / "reorder" / "采购建议-S01.xlsx"
    raws, problems = read_workbook(suggestion)
    assert problems == [] and raws[0].kind == "purchase_order"
    table = raws[0].lines
    lines = {sku: {key: column[i] for key, column in table.columns.items()} for i, sku in enumerate(table.columns["sku"])}
    # on hand 0, reorder point 0 × 7 + 20 = 20, target 120, already a multiple of 5
    assert lines["A001"]["qty"] == 120 and lines["A001"]["unit_price"] == 20
    reorder = {r["sku"]: r for r in sheet_rows(ws.outbox / "orders.xlsx", "reorder")}
    assert set(reorder) == {"A001", "B002", "C003"} and reorder["B002"]["qty"] == 500  # the minimum order

    # purchasing lowers nothing, drops the form: a real purchase order
    shutil.copy(suggestion, ws.inbox / "po.xlsx")
    outcome = run_files(ws, engine)["po.xlsx"]
    assert outcome.status == "posted" and outcome.kind == "purchase_order"
    po_no = raws[0].header["doc_no"].value
    assert not suggestion.exists()  # 120 on order: nothing left to suggest for S01
    open_po = sheet_rows(ws.outbox / "orders.xlsx", "purchase_orders")
    assert [(r["doc_no"], r["sku"], r["ordered"], r["outstanding"]) for r in open_po] == [(po_no, "A001", 120, 120)]

    receipt(ws, "r1.xlsx", "RK-1", po_no, [{"sku": "A001", "qty": 10, "unit": "箱"}], TODAY)
    assert run_files(ws, engine)["r1.xlsx"].status == "posted"
    open_po = sheet_rows(ws.outbox / "orders.xlsx", "purchase_orders")
    assert [(r["received"], r["outstanding"]) for r in open_po] == [(50, 70)]
    receipt(ws, "r2.xlsx", "RK-2", po_no, [{"sku": "A001", "qty": 70}], TODAY)
    assert run_files(ws, engine)["r2.xlsx"].status == "posted"
    assert sheet_rows(ws.outbox / "orders.xlsx", "purchase_orders") == []  # complete: off the open list
    stock = {(r["sku"], r["warehouse"]): r for r in sheet_rows(ws.outbox / "stock.xlsx", "stock")}
    assert stock[("A001", "WH1")]["value"] == 2400  # 120 包 at the order's 20.00


def test_the_sales_cycle_order_backorder_receipt_delivery(ws):
    engine = open_ledger(ws.ledger_url)
    make_form(ws.inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": AGO[30]},
              [{"warehouse": "WH1", "sku": "B002", "qty": 100, "unit_cost": 2}])
    make_form(ws.inbox / "so.xlsx", "sales_order",
              {"doc_no": "XS-1", "doc_date": AGO[5], "customer": "C01", "promised_date": AGO[1]},
              [{"sku": "B002", "qty": 300, "unit_price": "3.5"}])
    outcomes = run_files(ws, engine)
    assert any("[backorder]" in n for n in outcomes["so.xlsx"].notes)
    [line] = sheet_rows(ws.outbox / "orders.xlsx", "sales_orders")
    assert (line["outstanding"], line["backorder"], line["days_late"]) == (300, 200, 1)
    assert "XS-1" in (ws.outbox / "index.html").read_text(encoding="utf-8")  # on the dashboard's backorders

    receipt(ws, "r.xlsx", "RK-1", None, [{"sku": "B002", "qty": 200, "unit_cost": "2.3"}], AGO[1], supplier="S02")
    make_form(ws.inbox / "d.xlsx", "delivery",
              {"doc_no": "CK-1", "doc_date": TODAY, "warehouse": "WH1", "customer": "C01", "ref_doc": "XS-1"},
              [{"sku": "B002", "qty": 300}])
    outcomes = run_files(ws, engine)
    assert [outcomes[n].status for n in ("r.xlsx", "d.xlsx")] == ["posted", "posted"]
    assert sheet_rows(ws.outbox / "orders.xlsx", "sales_orders") == []
    [sale] = sheet_rows(ws.outbox / "orders.xlsx", "sales")
    # 300 at 3.50 = 1,050.00; cost: 100 at 2 + 200 at 2.30 = 660.00 (the whole stock, so no rounding residue)
    assert (sale["customer"], sale["qty"], sale["revenue"], sale["cogs"], sale["gross_margin"]) == \
        ("C01", 300, 1050, 660, 390)
    assert sale["margin_pct"] == pytest.approx(37.1)
    [by_customer] = sheet_rows(ws.outbox / "orders.xlsx", "sales_by_customer")
    assert (by_customer["key"], by_customer["revenue"]) == ("C01", 1050)


def test_supplier_performance_counts_late_short_and_returned(ws):
    engine = open_ledger(ws.ledger_url)
    make_form(ws.inbox / "po.xlsx", "purchase_order",
              {"doc_no": "CG-1", "doc_date": AGO[30], "supplier": "S01", "expected_date": AGO[20]},
              [{"sku": "A001", "qty": 100, "unit_price": 20}, {"sku": "C003", "qty": 10, "unit_price": 50,
                                                              "expected_date": AGO[10]}])
    run_files(ws, engine)
    receipt(ws, "r1.xlsx", "RK-1", "CG-1", [{"sku": "A001", "qty": 100}], AGO[20])  # on time, in full
    receipt(ws, "r2.xlsx", "RK-2", "CG-1", [{"sku": "C003", "qty": 6}], AGO[5])  # late and short
    make_form(ws.inbox / "ret.xlsx", "purchase_return",
              {"doc_no": "TH-1", "doc_date": AGO[2], "warehouse": "WH1", "supplier": "S01"},
              [{"sku": "A001", "qty": 10}])
    assert {o.status for o in run_files(ws, engine).values()} == {"posted"}
    jxc_result = jxc("close-order", "CG-1", "--reason", "供应商缺货", cwd=ws.root)
    assert "CG-1" in jxc_result.stdout
    scores = {r["supplier"]: r for r in sheet_rows(ws.outbox / "orders.xlsx", "suppliers")}
    s01 = scores["S01"]
    assert (s01["lines_due"], s01["on_time"], s01["on_time_rate"]) == (2, 1, 50)
    assert (s01["ordered"], s01["received"], s01["fill_rate"]) == (110, 106, pytest.approx(96.4))
    assert (s01["received_in_window"], s01["returned"], s01["return_rate"]) == (106, 10, pytest.approx(9.4))


def test_a_sales_plan_drives_demand_and_is_compared_with_actual(ws):
    engine = open_ledger(ws.ledger_url)
    month = TODAY.strftime("%Y-%m")
    make_form(ws.inbox / "plan.xlsx", "sales_plan", {"doc_no": "JH-1", "doc_date": TODAY, "month": month},
              [{"sku": "B002", "qty": 3000}])
    make_form(ws.inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": AGO[30]},
              [{"warehouse": "WH1", "sku": "B002", "qty": 1000, "unit_cost": 2}])
    make_form(ws.inbox / "d.xlsx", "delivery",
              {"doc_no": "CK-1", "doc_date": TODAY, "warehouse": "WH1", "customer": "C01"},
              [{"sku": "B002", "qty": 600, "unit_price": 3}])
    assert {o.status for o in run_files(ws, engine).values()} == {"posted"}
    [plan] = sheet_rows(ws.outbox / "orders.xlsx", "plan")
    assert (plan["month"], plan["sku"], plan["planned"], plan["actual"], plan["achieved_pct"]) == \
        (month, "B002", 3000, 600, 20)
    reorder = {r["sku"]: r for r in sheet_rows(ws.outbox / "orders.xlsx", "reorder")}
    assert reorder["B002"]["demand_from"] == "销售计划 plan"
    assert Decimal(str(reorder["B002"]["daily_demand"])) > 0


def _tamper(kept: Path, old: str, new: str) -> None:
    text = gzip.decompress(kept.read_bytes()).decode("utf-8")
    kept.write_bytes(gzip.compress(text.replace(old, new).encode("utf-8")))


@pytest.mark.slow
def test_the_closed_months_of_the_sales_sheet_are_kept_until_their_inputs_change(ws):
    engine = open_ledger(ws.ledger_url)
    day = TODAY.replace(day=1) - timedelta(days=20)  # in last month
    month = day.strftime("%Y-%m")
    make_form(ws.inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": day.replace(day=1)},
              [{"warehouse": "WH1", "sku": "B002", "qty": 100, "unit_cost": 2}])
    make_form(ws.inbox / "d1.xlsx", "delivery", {"doc_no": "CK-1", "doc_date": day, "warehouse": "WH1", "customer": "C01"},
              [{"sku": "B002", "qty": 10, "unit_price": 3}])
    make_form(ws.inbox / "d2.xlsx", "delivery", {"doc_no": "CK-2", "doc_date": TODAY, "warehouse": "WH1", "customer": "C01"},
              [{"sku": "B002", "qty": 5, "unit_price": 4}])
    assert {o.status for o in run_files(ws, engine).values()} == {"posted"}
    jxc("close", month, "--yes", cwd=ws.root)
    jxc("report", cwd=ws.root)
    kept = ws.outbox / ".cache" / f"sales-{month}.gz"
    assert kept.exists()

    def sales():
        return [(r["month"], r["customer_name"], r["revenue"]) for r in sheet_rows(ws.outbox / "orders.xlsx", "sales")]

    this_month = (TODAY.strftime("%Y-%m"), "宏达商贸", 20)
    assert sales() == [(month, "宏达商贸", 30), this_month]
    _tamper(kept, "宏达商贸", "KEPT")  # what is kept is what is written, and the open month is read afresh
    jxc("report", cwd=ws.root)
    assert sales() == [(month, "KEPT", 30), this_month]
    [by_customer] = sheet_rows(ws.outbox / "orders.xlsx", "sales_by_customer")
    assert (by_customer["key"], by_customer["name"], by_customer["revenue"]) == ("C01", "宏达商贸", 50)

    make_table(ws.inbox / "customers.xlsx", "customers", [{"code": "C01", "name": "宏达商贸集团"}])
    assert {o.status for o in run_files(ws, engine).values()} == {"posted"}
    assert sales() == [(month, "宏达商贸集团", 30), (this_month[0], "宏达商贸集团", 20)]  # a new name: written again
    _tamper(kept, "宏达商贸集团", "KEPT")
    jxc("reopen", month, "--reason", "补录", cwd=ws.root)
    jxc("report", cwd=ws.root)
    assert sales() == [(month, "宏达商贸集团", 30), (this_month[0], "宏达商贸集团", 20)]  # open again: from the movements
