"""outbox/batches.xlsx and `jxc trace`: a batch received from one supplier, moved through two
warehouses and delivered to three customers (one of whom returns some), read back from the
workbooks the pipeline and the command write. Today is pinned at 2026-11-20."""
from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from conftest import make_form, make_table
from jxc_sheets.cli import main
from jxc_sheets.pipeline import run_inbox
from test_batches import FOOD, RECEIPT, _settings, _three_batches
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports.trace import trace_path
from jxc_sheets.reports.book import tab

CUSTOMERS = [{"code": "C01", "name": "宏达商贸"}, {"code": "C02", "name": "远方贸易"}, {"code": "C03", "name": "东海超市"}]


def table(path, sheet: str) -> list[dict]:
    """A report sheet as rows keyed by the English key of each label (`批号 batch` → batch)."""
    ws = openpyxl.load_workbook(path)[tab(sheet)]
    rows = list(ws.iter_rows(values_only=True))
    keys = [str(label).split(" ")[-1] for label in rows[0]]
    return [dict(zip(keys, row)) for row in rows[1:]]


def meta_kind(path) -> str:
    return openpyxl.load_workbook(path)["_meta"]["B1"].value


@pytest.fixture
def recall(tmp_path):
    """FOOD1 at WH1: E0 (10, expired 11-01), N1 (20, expired 11-15), L2 (30, 2027-06-01), all
    from an opening at 50.00 on 10-20; then batch M1: 100 from S01 at 40.00 on 11-02 (CG-B1),
    expiring 12-10. WH1 averages (3,000.00 + 4,000.00) / 160 = 43.75 a case.
    M1: 40 to WH2 on 11-03 (DB-M); 30 to C01 from WH1 (XS-M1), 20 to C02 (XS-M2) and 15 to C03
    (XS-M3) from WH2; C02 returns 5 (XT-M). M1 left: WH1 30, WH2 10."""
    settings = _settings(tmp_path, auto_pick="fefo", slow_days=30)
    engine = open_ledger(settings.ledger_url)
    make_table(settings.inbox / "warehouses.xlsx", "warehouses", [{"code": "WH1", "name": "上海总仓"},
                                                                {"code": "WH2", "name": "苏州仓"}])
    make_table(settings.inbox / "suppliers.xlsx", "suppliers", [{"code": "S01", "name": "华东乳业"}])
    make_table(settings.inbox / "customers.xlsx", "customers", CUSTOMERS)
    make_table(settings.inbox / "items.xlsx", "items", [FOOD])
    run_inbox(settings, engine=engine)
    _three_batches(settings, engine)
    drops = [
        ("receipt", RECEIPT, [{"sku": "FOOD1", "qty": 100, "unit_cost": 40, "batch": "M1", "expiry_date": date(2026, 12, 10)}]),
        ("transfer", {"doc_no": "DB-M", "doc_date": date(2026, 11, 3), "from_warehouse": "WH1", "to_warehouse": "WH2"},
         [{"sku": "FOOD1", "qty": 40, "batch": "M1"}]),
        ("delivery", {"doc_no": "XS-M1", "doc_date": date(2026, 11, 4), "warehouse": "WH1", "customer": "C01"},
         [{"sku": "FOOD1", "qty": 30, "unit_price": 60, "batch": "M1"}]),
        ("delivery", {"doc_no": "XS-M2", "doc_date": date(2026, 11, 5), "warehouse": "WH2", "customer": "C02"},
         [{"sku": "FOOD1", "qty": 20, "unit_price": 60, "batch": "M1"}]),
        ("delivery", {"doc_no": "XS-M3", "doc_date": date(2026, 11, 6), "warehouse": "WH2", "customer": "C03"},
         [{"sku": "FOOD1", "qty": 15, "unit_price": 60, "batch": "M1"}]),
        ("sales_return", {"doc_no": "XT-M", "doc_date": date(2026, 11, 8), "warehouse": "WH2", "customer": "C02", "ref_doc": "XS-M2"},
         [{"sku": "FOOD1", "qty": 5, "unit_price": 60, "batch": "M1"}]),
    ]
    for i, (kind, header, lines) in enumerate(drops):
        make_form(settings.inbox / f"{i}-{kind}.xlsx", kind, header, lines)
    outcomes = run_inbox(settings, engine=engine)
    assert [o.status for o in outcomes] == ["posted"] * len(drops), [o.problems for o in outcomes]
    yield settings, engine
    engine.dispose()


def test_batches_xlsx_lists_each_batch_its_expiry_and_the_value_expired(recall):
    settings, _engine = recall
    path = settings.outbox / "batches.xlsx"
    assert meta_kind(path) == "batches"
    batches = {(r["warehouse"], r["batch"]): r for r in table(path, "batches")}
    assert {k: (r["qty"], r["days_left"]) for k, r in batches.items()} == {
        ("WH1", "E0"): (10, -19), ("WH1", "N1"): (20, -5), ("WH1", "M1"): (30, 20), ("WH2", "M1"): (10, 20),
        ("WH1", "L2"): (30, 193)}
    assert batches[("WH1", "M1")]["supplier"] == "S01"
    expired = table(path, "expired")
    # 10 × 43.75 = 437.50 and 20 × 43.75 = 875.00
    assert [(r["batch"], r["value"]) for r in expired] == [("E0", 437.5), ("N1", 875.0)]
    assert {(r["warehouse"], r["batch"]) for r in table(path, "near_expiry")} == {("WH1", "M1"), ("WH2", "M1")}
    # slow_days 30: E0, N1 and L2 have sat since 10-20 (31 days); M1 moved this month
    assert sorted(r["batch"] for r in table(path, "slow_batches")) == ["E0", "L2", "N1"]
    # the dashboard: M1 expires within 30 days, 40 × 43.75 = 1,750.00; expired 437.50 + 875.00 = 1,312.50
    page = (settings.outbox / "index.html").read_text(encoding="utf-8")
    assert "30天内到期" in page and "1,750.00" in page and "已过期库存" in page and "1,312.50" in page


def test_jxc_trace_follows_a_batch_through_two_warehouses_to_three_customers(recall, monkeypatch, capsys):
    """The command in-process (cli.main), in the workspace as IT runs it there."""
    settings, _engine = recall
    monkeypatch.chdir(settings.root)
    assert main(["trace", "M1"]) == 0
    assert "7 笔流水 movements, 3 个客户 customers" in capsys.readouterr().out
    path = trace_path(settings.outbox, "M1")
    assert path == settings.outbox / "trace" / "M1.xlsx" and meta_kind(path) == "trace"
    [origin] = table(path, "origin")
    assert (origin["sku"], origin["doc_no"], origin["supplier"], origin["supplier_name"], origin["qty_in"]) == \
        ("FOOD1", "CG-B1", "S01", "华东乳业", 100)
    moves = [(r["doc_no"], r["warehouse"], r["qty"], r["balance"]) for r in table(path, "movements")]
    assert moves == [("CG-B1", "WH1", 100, 100), ("DB-M", "WH1", -40, 60), ("DB-M", "WH2", 40, 40),
                     ("XS-M1", "WH1", -30, 30), ("XS-M2", "WH2", -20, 20), ("XS-M3", "WH2", -15, 5),
                     ("XT-M", "WH2", 5, 10)]
    customers = {r["customer"]: (r["delivered"], r["returned"], r["kept"], r["doc_nos"]) for r in table(path, "customers")}
    assert customers == {"C01": (30, 0, 30, "XS-M1"), "C02": (20, 5, 15, "XS-M2, XT-M"), "C03": (15, 0, 15, "XS-M3")}
    assert main(["trace", "NOSUCH"]) == 2
    assert "NOSUCH" in capsys.readouterr().err


def test_the_month_end_pack_lists_the_batches_in_stock_at_the_month_end(recall, tmp_path):
    """November's pack: each batch in stock on the 30th at its warehouse's closing average, 43.75
    (M1 at WH1: 30 × 43.75 = 1,312.50; at WH2: 10 × 43.75 = 437.50)."""
    from jxc_sheets.config import FinanceConfig
    from jxc_sheets.reports.monthend import write_pack

    _settings, engine = recall
    with engine.connect() as conn:
        pack, *_rest = write_pack(conn, tmp_path, "2026-11", FinanceConfig())
    rows = {(r["warehouse"], r["batch"]): (r["closing_qty"], r["closing_value"]) for r in table(pack, "batches")}
    assert rows == {("WH1", "E0"): (10, 437.5), ("WH1", "N1"): (20, 875), ("WH1", "L2"): (30, 1312.5),
                    ("WH1", "M1"): (30, 1312.5), ("WH2", "M1"): (10, 437.5)}
