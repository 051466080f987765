"""Quality on receipt (check/quality.py, kinds.legs, ledger/post.py): a receipt's
不合格数量 goes to the quarantine warehouse at its share of the line's value, is not
for sale, goes back to the supplier by a purchase return, and counts in the supplier
scorecard's rejection rate — real forms run through the pipeline in process."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from conftest import WAREHOUSES, make_form, make_table, run_files
from jxc_sheets.config import Config, QualityConfig, Settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports.book import tab

D1, D2, D3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)


def workspace(tmp_path, quarantine="QC") -> tuple[Settings, object]:
    settings = Settings(Config(quality=QualityConfig(quarantine_warehouse=quarantine)), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir(parents=True)
    make_table(settings.inbox / "warehouses.xlsx", "warehouses", [*WAREHOUSES, {"code": "QC", "name": "待处理仓"}])
    make_table(settings.inbox / "suppliers.xlsx", "suppliers", [{"code": "S01", "name": "华东纸业"}])
    make_table(settings.inbox / "customers.xlsx", "customers", [{"code": "C01", "name": "宏达商贸"}])
    make_table(settings.inbox / "items.xlsx", "items", [{"sku": "A001", "name": "A4 复印纸", "unit": "包", "alt_units": "箱=5"}])
    engine = open_ledger(settings.ledger_url)
    run_files(settings, engine)
    return settings, engine


@pytest.fixture
def ws(tmp_path):
    return workspace(tmp_path)


def receipt(settings, name, doc_no, lines):
    make_form(settings.inbox / name, "receipt",
              {"doc_no": doc_no, "doc_date": D1, "warehouse": "WH1", "supplier": "S01"}, lines)


def stock(engine) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    b = schema.balances
    with engine.connect() as conn:
        return {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.qty, b.c.value))}


def problems(outcome) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in outcome.problems]


def test_rejected_goods_go_to_quarantine_then_back_to_the_supplier(ws):
    """RK-1: 10 包 at 20.00 (专票: 200.00 in stock), 3 rejected as 破损: WH1 gets 7 at
    140.00, QC 3 at 200 × 3/10 = 60.00. RK-2: 2 箱 (10 包) at 100.00 a 箱, 1 箱 rejected
    as 受潮: 5 包 to QC at 100.00. Nothing in QC is for sale; PT-1 sends RK-1's 3 back at
    their 60.00. The scorecard: 20 received, 8 rejected: 40 %."""
    settings, engine = ws
    receipt(settings, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 10, "unit_cost": 20, "rejected_qty": 3,
                                           "reject_reason": "破损"}])
    receipt(settings, "r2.xlsx", "RK-2", [{"sku": "A001", "qty": 2, "unit": "箱", "unit_cost": 100, "rejected_qty": 1,
                                           "reject_reason": "受潮"}])
    outcomes = run_files(settings, engine)
    assert {o.status for o in outcomes.values()} == {"posted"}
    assert stock(engine) == {("A001", "WH1"): (12, Decimal("240.00")), ("A001", "QC"): (8, Decimal("160.00"))}

    make_form(settings.inbox / "sell.xlsx", "delivery",
              {"doc_no": "CK-1", "doc_date": D2, "warehouse": "QC", "customer": "C01"},
              [{"sku": "A001", "qty": 1, "unit_price": 30}])
    make_form(settings.inbox / "so.xlsx", "sales_order", {"doc_no": "SO-1", "doc_date": D2, "customer": "C01"},
              [{"sku": "A001", "qty": 15, "unit_price": 30}])
    make_form(settings.inbox / "back.xlsx", "purchase_return",
              {"doc_no": "PT-1", "doc_date": D2, "warehouse": "QC", "supplier": "S01", "ref_doc": "RK-1"},
              [{"sku": "A001", "qty": 3, "return_reason": "质量问题"}])
    outcomes = run_files(settings, engine)
    assert problems(outcomes["sell.xlsx"]) == [("明细!B4", "quarantine-sale")]
    # only accepted goods are available to sell: 12 in WH1, not the 8 in QC
    assert [n for n in outcomes["so.xlsx"].notes if "[backorder]" in n and "可用 12" in n]
    assert outcomes["back.xlsx"].status == "posted"
    assert stock(engine)[("A001", "QC")] == (5, Decimal("100.00"))

    rows = list(openpyxl.load_workbook(settings.outbox / "orders.xlsx", read_only=True)[tab("suppliers")].iter_rows(values_only=True))
    keys = [label.split(" ")[-1] for label in rows[0]]
    [s01] = [dict(zip(keys, r)) for r in rows[1:]]
    assert (s01["received_in_window"], s01["returned"], s01["rejected"], s01["rejection_rate"], s01["reject_reasons"]) == \
        (20, 3, 8, 40, "受潮 5; 破损 3")


def test_a_rejection_needs_a_quarantine_warehouse_and_fits_in_the_qty(ws, tmp_path):
    settings, engine = ws
    receipt(settings, "over.xlsx", "RK-1", [{"sku": "A001", "qty": 10, "unit_cost": 20, "rejected_qty": 11}])
    assert problems(run_files(settings, engine)["over.xlsx"]) == [("明细!N9", "rejected-over-qty")]

    settings, engine = workspace(tmp_path / "none", quarantine="")
    receipt(settings, "r.xlsx", "RK-1", [{"sku": "A001", "qty": 10, "unit_cost": 20, "rejected_qty": 1}])
    assert problems(run_files(settings, engine)["r.xlsx"]) == [("明细!N9", "quarantine-warehouse")]


def test_the_supplier_scorecard_grades_on_time_fill_quality_and_returns(ws):
    """PO-1 (10-28, due 11-02) received on 11-02 with 3 of 10 rejected; PO-2 (11-01, due
    11-05, at 22.00 instead of 20.00) received late on 11-09. On time 1 of 2 = 50 %, fill
    20/20 = 100 %, quality 100 − 3/20 = 85, returns 100 − 0 = 100: 0.4 × 50 + 0.3 × 100 +
    0.2 × 85 + 0.1 × 100 = 77.0, grade B (75 to 90). Lead times 5 and 8 days: mean 6.5,
    standard deviation 1.5. A001's cost went from 20 to 22: +10 %."""
    settings, engine = ws
    for name, doc_no, day, due, price in (("po1.xlsx", "PO-1", date(2026, 10, 28), D1, 20), ("po2.xlsx", "PO-2", date(2026, 11, 1),
                                                                                         date(2026, 11, 5), 22)):
        make_form(settings.inbox / name, "purchase_order", {"doc_no": doc_no, "doc_date": day, "supplier": "S01",
                                                            "expected_date": due, "warehouse": "WH1"},
                  [{"sku": "A001", "qty": 10, "unit_price": price}])
    make_form(settings.inbox / "r1.xlsx", "receipt", {"doc_no": "RK-1", "doc_date": D1, "warehouse": "WH1", "supplier": "S01",
                                                      "ref_doc": "PO-1"}, [{"sku": "A001", "qty": 10, "rejected_qty": 3}])
    make_form(settings.inbox / "r2.xlsx", "receipt", {"doc_no": "RK-2", "doc_date": date(2026, 11, 9), "warehouse": "WH1",
                                                      "supplier": "S01", "ref_doc": "PO-2"}, [{"sku": "A001", "qty": 10}])
    outcomes = run_files(settings, engine)
    assert {o.status for o in outcomes.values()} == {"posted"}
    rows = list(openpyxl.load_workbook(settings.outbox / "orders.xlsx", read_only=True)[tab("suppliers")].iter_rows(values_only=True))
    keys = [label.split(" ")[-1] for label in rows[0]]
    [s01] = [dict(zip(keys, r)) for r in rows[1:]]
    assert (s01["on_time_rate"], s01["fill_rate"], s01["rejection_rate"], s01["return_rate"]) == (50, 100, 15, 0)
    assert (s01["lead_time_days"], s01["lead_time_sd"], s01["price_trend_pct"]) == (6.5, 1.5, 10)
    assert (s01["score"], s01["grade"], s01["reject_reasons"]) == (77, "B", "未填 3")
