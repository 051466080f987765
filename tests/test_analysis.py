"""outbox/analysis.xlsx (reports/analysis.py) against a hand-computed fixture: real
forms run through the pipeline in process, the workbook read back as a user opens it."""
from __future__ import annotations

import zipfile
from datetime import date

import openpyxl
import pytest

from conftest import WAREHOUSES, make_form, make_table, run_files
from jxc_sheets import clock
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports.book import tab

pytestmark = pytest.mark.clock  # the last twelve months end today


@pytest.fixture
def workspace(tmp_path):
    """Opening 11-01: A001 100 at 20.00, B002 100 at 2.00 (WH1).
    CK-1 11-02 C01 (张三): 10 A001 at 26 = 260.00, cost 200.00.
    CK-2 11-03 C02 (李四): 5 A001 at 30 = 150.00, cost 100.00; 20 B002 at 5 = 100.00, cost 40.00.
    XT-1 11-04 C01 returns 2 A001 of CK-1 at 26: −52.00, cost −40.00 (at CK-1's 20.00).
    Plan 2026-11: 10 A001 for C01 (张三), 30 B002 for C02 (李四)."""
    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    inbox = settings.inbox
    make_table(inbox / "warehouses.xlsx", "warehouses", WAREHOUSES)
    make_table(inbox / "customers.xlsx", "customers", [{"code": "C01", "name": "宏达商贸", "salesperson": "张三"},
                                                      {"code": "C02", "name": "远东百货", "salesperson": "李四"}])
    make_table(inbox / "items.xlsx", "items", [{"sku": "A001", "name": "A4 复印纸", "unit": "包", "category": "纸品"},
                                               {"sku": "B002", "name": "签字笔", "unit": "支", "category": "文具"}])
    make_form(inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 11, 1)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 20},
               {"warehouse": "WH1", "sku": "B002", "qty": 100, "unit_cost": 2}])
    make_form(inbox / "d1.xlsx", "delivery", {"doc_no": "CK-1", "doc_date": date(2026, 11, 2), "warehouse": "WH1",
                                              "customer": "C01"}, [{"sku": "A001", "qty": 10, "unit_price": 26}])
    make_form(inbox / "d2.xlsx", "delivery", {"doc_no": "CK-2", "doc_date": date(2026, 11, 3), "warehouse": "WH1",
                                              "customer": "C02"},
              [{"sku": "A001", "qty": 5, "unit_price": 30}, {"sku": "B002", "qty": 20, "unit_price": 5}])
    make_form(inbox / "r.xlsx", "sales_return", {"doc_no": "XT-1", "doc_date": date(2026, 11, 4), "warehouse": "WH1",
                                                 "customer": "C01", "ref_doc": "CK-1"},
              [{"sku": "A001", "qty": 2, "unit_price": 26}])
    make_form(inbox / "plan.xlsx", "sales_plan", {"doc_no": "JH-1", "doc_date": date(2026, 11, 1), "month": "2026-11"},
              [{"sku": "A001", "qty": 10, "customer": "C01"}, {"sku": "B002", "qty": 30, "customer": "C02"}])
    outcomes = run_files(settings, open_ledger(settings.ledger_url))
    assert {o.status for o in outcomes.values()} == {"posted"}
    return settings


@pytest.fixture
def book(workspace):
    with zipfile.ZipFile(workspace.outbox / "analysis.xlsx") as z:  # native charts (openpyxl does not read them)
        assert len([n for n in z.namelist() if n.startswith("xl/charts/chart")]) == 5
    return openpyxl.load_workbook(workspace.outbox / "analysis.xlsx")


def rows(book, sheet, *keys) -> list[tuple]:
    found = list(book[tab(sheet)].iter_rows(values_only=True))
    labels = [label.split(" ")[-1] for label in found[0]]
    return [tuple(dict(zip(labels, r))[k] for k in keys) for r in found[1:]]


AMOUNTS = ("qty", "revenue", "cogs", "gross_margin", "margin_pct")


def test_the_analysis_pivots_match_the_hand_computed_figures(book):
    """A001: 10 + 5 − 2 = 13 sold, 260 + 150 − 52 = 358.00, cost 200 + 100 − 40 = 260.00,
    margin 98.00 = 27.4 %. B002: 20, 100.00, 40.00, 60.00 = 60 %. 张三 (C01): 8, 208.00,
    160.00, 48.00 = 23.1 %; 李四 (C02): 25, 250.00, 140.00, 110.00 = 44 %."""
    assert book.sheetnames[0] == "销售 sales" and book["_meta"]["B1"].value == "analysis"
    assert rows(book, "by_item", "month", "sku", *AMOUNTS) == [
        ("2026-11", "A001", 13, 358, 260, 98, 27.4), ("2026-11", "B002", 20, 100, 40, 60, 60)]
    assert rows(book, "by_category", "category", "revenue") == [("文具", 100), ("纸品", 358)]
    assert rows(book, "by_salesperson", "salesperson", *AMOUNTS) == [
        ("张三", 8, 208, 160, 48, 23.1), ("李四", 25, 250, 140, 110, 44)]
    assert rows(book, "by_customer", "customer", "customer_name", "revenue") == [("C01", "宏达商贸", 208), ("C02", "远东百货", 250)]
    assert rows(book, "by_warehouse", "warehouse", "revenue") == [("WH1", 458)]
    assert rows(book, "by_month", "month", *AMOUNTS) == [("2026-11", 33, 458, 300, 158, 34.5)]
    assert rows(book, "top_items", "rank", "sku", "revenue") == [(1, "A001", 358), (2, "B002", 100)]
    assert rows(book, "bottom_items", "rank", "sku", "revenue") == [(1, "B002", 100), (2, "A001", 358)]
    assert rows(book, "top_customers", "rank", "customer", "revenue") == [(1, "C02", 250), (2, "C01", 208)]
    # the plan's lines by their customer's salesperson: 张三 10 planned, 8 sold; 李四 30 and 25
    assert rows(book, "salesperson_plan", "month", "salesperson", "planned", "actual", "achieved_pct") == [
        ("2026-11", "张三", 10, 8, 80), ("2026-11", "李四", 30, 25, 83.3)]
    # m12 is this month, m11 the one before: November's sales move one column left once the clock is in December
    if clock.today() < date(2026, 12, 1):
        trend = [("C02", 250, 0, None), ("C01", 208, 0, None)]
    else:
        trend = [("C02", 0, 250, None), ("C01", 0, 208, None)]
    assert rows(book, "customer_trend", "customer", "m12", "m11", "trend_pct") == trend


def test_the_analysis_is_rewritten_only_when_the_sales_changed(workspace):
    """A batch posting a receipt leaves analysis.xlsx as it was; one posting a delivery rewrites it."""
    engine = open_ledger(workspace.ledger_url)
    path = workspace.outbox / "analysis.xlsx"
    before = path.stat().st_mtime_ns
    make_table(workspace.inbox / "s.xlsx", "suppliers", [{"code": "S01", "name": "华东纸业"}])
    make_form(workspace.inbox / "r.xlsx", "receipt", {"doc_no": "RK-1", "doc_date": date(2026, 11, 5), "warehouse": "WH1",
                                                      "supplier": "S01"}, [{"sku": "B002", "qty": 10, "unit_cost": 2}])
    assert {o.status for o in run_files(workspace, engine).values()} == {"posted"}
    assert path.stat().st_mtime_ns == before
    make_form(workspace.inbox / "d.xlsx", "delivery", {"doc_no": "CK-3", "doc_date": date(2026, 11, 6), "warehouse": "WH1",
                                                      "customer": "C02"}, [{"sku": "B002", "qty": 1, "unit_price": 5}])
    assert run_files(workspace, engine)["d.xlsx"].status == "posted"
    assert path.stat().st_mtime_ns != before
    assert rows(openpyxl.load_workbook(path), "by_item", "sku", "qty") == [("A001", 13), ("B002", 21)]


def test_only_the_months_whose_sales_changed_are_read_again_and_a_revaluation_reaches_them(workspace):
    """October: RK-1 10-20 C003 10 at 10.00; CK-9 10-25 5 C003 to C01 at 26: revenue 130.00,
    cost 50.00, margin 80.00 = 61.5 %. Then RK-2 10-21 C003 10 at 40.00, under CK-9: 20 worth
    500.00, 25.00 each, so CK-9 cost 125.00, margin 5.00 = 3.8 %. November (33, 458.00,
    300.00) is read from what was kept: its kept file is not written again."""
    engine = open_ledger(workspace.ledger_url)
    inbox, cache = workspace.inbox, workspace.outbox / ".cache"
    make_table(inbox / "s.xlsx", "suppliers", [{"code": "S01", "name": "华东纸业"}])
    make_table(inbox / "i.xlsx", "items", [{"sku": "C003", "name": "订书机", "unit": "个", "category": "文具"}])
    make_form(inbox / "r1.xlsx", "receipt", {"doc_no": "RK-1", "doc_date": date(2026, 10, 20), "warehouse": "WH1",
                                             "supplier": "S01"}, [{"sku": "C003", "qty": 10, "unit_cost": 10}])
    make_form(inbox / "d9.xlsx", "delivery", {"doc_no": "CK-9", "doc_date": date(2026, 10, 25), "warehouse": "WH1",
                                              "customer": "C01"}, [{"sku": "C003", "qty": 5, "unit_price": 26}])
    assert {o.status for o in run_files(workspace, engine).values()} == {"posted"}
    path = workspace.outbox / "analysis.xlsx"
    november = ("2026-11", 33, 458, 300, 158, 34.5)
    assert rows(openpyxl.load_workbook(path), "by_month", "month", *AMOUNTS) == [
        ("2026-10", 5, 130, 50, 80, 61.5), november]
    kept = (cache / "analysis-2026-11.gz").stat().st_mtime_ns
    make_form(inbox / "r2.xlsx", "receipt", {"doc_no": "RK-2", "doc_date": date(2026, 10, 21), "warehouse": "WH1",
                                             "supplier": "S01"}, [{"sku": "C003", "qty": 10, "unit_cost": 40}])
    assert run_files(workspace, engine)["r2.xlsx"].status == "posted"
    book = openpyxl.load_workbook(path)
    assert rows(book, "by_month", "month", *AMOUNTS) == [("2026-10", 5, 130, 125, 5, 3.8), november]
    assert rows(book, "sales", "month", "sku", "customer", "cogs") == [
        ("2026-10", "C003", "C01", 125), ("2026-11", "A001", "C01", 160), ("2026-11", "A001", "C02", 100),
        ("2026-11", "B002", "C02", 40)]
    assert (cache / "analysis-2026-11.gz").stat().st_mtime_ns == kept
