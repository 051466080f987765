"""The month-end close: blockers, the period lock, reopening, and the month-end pack
read back as finance opens it — a worked month computed by hand, and a generated
month of thousands of movements whose checks must all pass."""
from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from conftest import drop_master, jxc, make_form, make_table, run_files
from jxc_sheets.closing import Blocked, close_month, reopen_month
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import money, schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.errors import LedgerError
from jxc_sheets.ledger.post import post_documents
from jxc_sheets.ledger.reverse import reverse_document
from jxc_sheets.reports.book import tab
from test_post import doc, ln

TODAY = date(2026, 11, 25)


def sheet(path, name) -> list[dict]:
    rows = list(openpyxl.load_workbook(path, read_only=True)[tab(name)].iter_rows(values_only=True))
    keys = [str(label).split(" ")[-1] for label in rows[0]]
    return [dict(zip(keys, row)) for row in rows[1:]]


def worked_month(settings, engine) -> None:
    """October by hand (moving average, cents half-up), A001 only:
    WH1 opening 100 @ 20.00 = 2,000.00 (09-30)
    10-02 receipt 50 @ 23.00 = 1,150.00          WH1 150 / 3,150.00
    10-05 delivery 60 × 21.00 = 1,260.00          WH1  90 / 1,890.00
    10-08 receipt 30 @ 24.50 = 735.00             WH1 120 / 2,625.00 (21.875)
    10-10 transfer to WH2 40 × 21.875 = 875.00    WH1  80 / 1,750.00, WH2 40 / 875.00
    10-12 sales return 5 × 21.875 = 109.38        WH1  85 / 1,859.38
    10-15 delivery 25 × 21.87506 = 546.88         WH1  60 / 1,312.50
    10-20 receipt at WH2 20 @ 22.00 = 440.00      WH2  60 / 1,315.00
    10-22 purchase return 10 × 21.875 = 218.75    WH1  50 / 1,093.75
    """
    drop_master(settings.inbox)
    inbox = settings.inbox
    make_form(inbox / "0.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 9, 30)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 20}])
    stock = {"warehouse": "WH1", "supplier": "S01"}
    sale = {"warehouse": "WH1", "customer": "C01"}
    for name, kind, day, header, qty, extra in (
        ("1", "receipt", 2, stock, 50, {"unit_cost": 23}),
        ("2", "delivery", 5, sale, 60, {"unit_price": 30}),
        ("3", "receipt", 8, stock, 30, {"unit_cost": "24.5"}),
        ("4", "transfer", 10, {"from_warehouse": "WH1", "to_warehouse": "WH2"}, 40, {}),
        ("5", "sales_return", 12, sale, 5, {"unit_price": 30}),
        ("6", "delivery", 15, sale, 25, {"unit_price": 30}),
        ("7", "receipt", 20, {"warehouse": "WH2", "supplier": "S01"}, 20, {"unit_cost": 22}),
        ("8", "purchase_return", 22, stock, 10, {}),
    ):
        make_form(inbox / f"{name}.xlsx", kind, {"doc_no": f"D-{name}", "doc_date": date(2026, 10, day), **header},
                  [{"sku": "A001", "qty": qty, **extra}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}


def test_the_pack_of_a_worked_month(workspace, engine):
    worked_month(workspace, engine)
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    closed = close_month(engine, workspace, "2026-10", "test", today=TODAY)
    rows = {r["warehouse"]: r for r in sheet(closed.pack, "summary")}
    wh1 = rows["WH1"]
    assert (wh1["opening_qty"], wh1["opening_value"]) == (100, 2000)
    assert (wh1["in_purchase_qty"], wh1["in_purchase_value"]) == (80, 1885)
    assert wh1["in_sales_return_value"] == pytest.approx(109.38)
    assert (wh1["out_sales_qty"], wh1["out_sales_value"]) == (85, pytest.approx(1806.88))
    assert (wh1["out_transfer_qty"], wh1["out_transfer_value"], wh1["out_purchase_return_value"]) == (40, 875, 218.75)
    assert (wh1["closing_qty"], wh1["closing_value"]) == (50, 1093.75)
    assert (rows["WH2"]["in_transfer_value"], rows["WH2"]["closing_value"]) == (875, 1315)
    [group] = sheet(closed.pack, "group")
    assert (group["in_transfer_value"], group["out_transfer_value"]) == (0, 0)  # within the company: eliminated
    assert (group["opening_value"], group["closing_value"]) == (2000, 2408.75)
    sites = {r["key"]: r for r in sheet(closed.pack, "by_site")}
    assert sites["上海"]["out_transfer_value"] == 875 and sites["苏州"]["in_transfer_value"] == 875  # between sites
    [by_item] = sheet(closed.pack, "cogs_by_item")
    # revenue 85 × 30.00 − 5 × 30.00 = 2,400.00; cost 1,806.88 − 109.38 = 1,697.50
    assert (by_item["qty"], by_item["revenue"], by_item["cogs"], by_item["gross_margin"]) == (80, 2400, 1697.5, 702.5)
    assert {c["check"]: c["ok"] for c in sheet(closed.pack, "checks")} and \
        all(c["ok"] == "Y" for c in sheet(closed.pack, "checks"))
    with closed.vouchers.open(encoding="utf-8-sig") as f:
        entries = list(csv.DictReader(f))
    inventory = sum(Decimal(e["debit"]) - Decimal(e["credit"]) for e in entries if e["account_code"] == "1405")
    assert inventory == Decimal("408.75")  # closing − opening
    assert sum(Decimal(e["debit"]) for e in entries) == sum(Decimal(e["credit"]) for e in entries)


@pytest.mark.clock
def test_close_lists_its_blockers_and_force_records_them(workspace, engine):
    worked_month(workspace, engine)
    make_form(workspace.inbox / "bad.xlsx", "receipt", {"doc_no": "X", "doc_date": date(2026, 10, 30),
                                                         "warehouse": "WH1", "supplier": "S01"}, [{"sku": "NOPE", "qty": 1}])
    make_form(workspace.inbox / "count.xlsx", "count", {"doc_no": "PD-1", "doc_date": date(2026, 10, 31),
                                                         "warehouse": "WH1"}, [{"sku": "A001", "counted_qty": 10}])
    run_files(workspace, engine)
    with pytest.raises(Blocked) as blocked:
        close_month(engine, workspace, "2026-10", "test", today=date(2026, 10, 31))
    text = str(blocked.value)
    for expected in ("not over yet", "earlier months are open: 2026-09", "count lines await approval: PD-1",
                     "rejected files not resolved: bad.xlsx"):
        assert expected in text
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    forced = close_month(engine, workspace, "2026-10", "test", force=True, reason="审计要求先出报表", today=TODAY)
    assert forced.forced and len(forced.blockers) == 2
    audit = sheet(forced.pack, "audit")
    assert [(a["month"], a["action"]) for a in audit] == [("2026-09", "close"), ("2026-10", "force-close")]
    assert audit[1]["reason"] == "审计要求先出报表"


@pytest.mark.slow
def test_a_closed_month_takes_no_documents_until_reopened(tmp_path):
    jxc("init", "ws", cwd=tmp_path)
    ws = tmp_path / "ws"
    settings = Settings(Config(), ws)
    engine = open_ledger(settings.ledger_url)
    worked_month(settings, engine)
    jxc("close", "2026-09", "--yes", cwd=ws)
    result = jxc("close", "2026-10", "--yes", cwd=ws)
    assert "outbox/monthend/2026-10.xlsx" in result.stdout.replace("\\", "/")
    late = {"doc_no": "LATE-1", "doc_date": date(2026, 10, 31), "warehouse": "WH1", "supplier": "S01"}
    make_form(settings.inbox / "late.xlsx", "receipt", late, [{"sku": "A001", "qty": 1, "unit_cost": 20}])
    outcome = run_files(settings, engine)["late.xlsx"]
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!E3", "period-closed")]
    assert "2026-10" in outcome.problems[0].zh
    with engine.begin() as conn, pytest.raises(LedgerError, match="closed"):
        reverse_document(conn, "D-7", on=date(2026, 10, 31))

    refused = jxc("reopen", "2026-09", "--reason", "x", cwd=ws, check=False)
    assert refused.returncode == 2 and "latest closed month" in refused.stderr
    jxc("reopen", "2026-10", "--reason", "补录漏单", cwd=ws)
    make_form(settings.inbox / "late.xlsx", "receipt", late, [{"sku": "A001", "qty": 1, "unit_cost": 20}])
    assert run_files(settings, engine)["late.xlsx"].status == "posted"
    closed = close_month(engine, settings, "2026-10", "test", today=TODAY)
    assert [a["action"] for a in sheet(closed.pack, "audit")] == ["close", "close", "reopen", "close"]


def test_the_checks_pass_on_a_generated_month_of_thousands_of_movements(workspace, engine):
    drop_master(workspace.inbox)
    make_table(workspace.inbox / "more.xlsx", "warehouses", [{"code": "WH3", "name": "苏州二仓", "site": "苏州"}])
    run_files(workspace, engine)
    rng = random.Random(20261125)
    arrivals = random.Random(6)  # some transfers arrive days later, a few in November: in transit at the end
    skus, warehouses = ["A001", "B002", "00123"], ["WH1", "WH2", "WH3"]
    docs = [doc("opening", "QC", date(2026, 9, 30), *(ln(s, 10_000, "12.34", warehouse=w) for s in skus for w in warehouses))]
    for n in range(1, 1500):
        day = date(2026, 10, 1) + timedelta(days=rng.randrange(31))
        kind = rng.choice(["receipt", "delivery", "transfer", "adjustment", "sales_return", "purchase_return"])
        source, target = rng.sample(warehouses, 2)
        lines = [ln(rng.choice(skus), rng.randint(1, 9), f"{rng.uniform(5, 20):.2f}" if kind == "receipt" else None)
                 for _ in range(rng.randint(1, 3))]
        if kind == "adjustment":
            lines = [ln(l.sku, l.qty * rng.choice([1, -1])) for l in lines]
        arrival = {"arrival_date": day + timedelta(days=arrivals.choice((0, 0, 1, 5)))} if kind == "transfer" else {}
        docs.append(doc(kind, f"G-{n}", day, *lines, warehouse=source, from_warehouse=source, to_warehouse=target,
                        reason="盘点", **arrival))
    with engine.begin() as conn:
        ids = post_documents(conn, sorted(docs, key=lambda d: d.doc_date), None)
        money.allocate(conn, money.record_documents(conn, ids))  # what each is owed, as the pipeline records it
        movements = conn.execute(select(schema.movements.c.id)).all()
    assert len(movements) > 3000
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    closed = close_month(engine, workspace, "2026-10", "test", today=TODAY)
    checks = sheet(closed.pack, "checks")
    assert len(checks) == 13 and [c["ok"] for c in checks] == ["Y"] * 13, checks  # November has movements: no balances check
    summary = sheet(closed.pack, "summary")
    assert len(summary) == 9
    assert len(sheet(closed.pack, "in_transit")) > 5
    kept = schema.period_balances
    with engine.connect() as conn:  # what November opens from is the pack's closing, to the cent
        closing = {(r.sku, r.warehouse): (float(r.qty), float(r.value)) for r in conn.execute(
            select(kept.c.sku, kept.c.warehouse, kept.c.qty, kept.c.value).where(kept.c.month == "2026-10"))}
    assert closing == {(r["sku"], r["warehouse"]): (r["closing_qty"], r["closing_value"]) for r in summary
                       if r["closing_qty"] or r["closing_value"]}


def test_voucher_csv_text_never_runs_as_a_formula(workspace, engine):
    drop_master(workspace.inbox)
    make_table(workspace.inbox / "sup.xlsx", "suppliers", [{"code": "@SUM(1)", "name": "公式供应商"}])
    make_form(workspace.inbox / "0.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": date(2026, 9, 30),
                                                       "warehouse": "WH1", "supplier": "@SUM(1)"},
              [{"sku": "A001", "qty": 1, "unit_cost": 1}])
    run_files(workspace, engine)
    closed = close_month(engine, workspace, "2026-09", "test", today=TODAY)
    with closed.vouchers.open(encoding="utf-8-sig") as f:
        suppliers = {row["supplier"] for row in csv.DictReader(f)}
    assert suppliers == {"", "'@SUM(1)"}  # 2202 carries the supplier, 1405 nothing
    with pytest.raises(LedgerError, match="2026-10"):
        reopen_month(engine, workspace, "2026-13", "test", "x")


def test_a_month_opens_from_the_closing_kept_when_the_month_before_closed(workspace, engine):
    worked_month(workspace, engine)
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    kept = schema.period_balances
    with engine.begin() as conn:
        assert conn.execute(select(kept.c.month, kept.c.sku, kept.c.warehouse, kept.c.qty, kept.c.value)).all() == [
            ("2026-09", "A001", "WH1", 100, 2000)]
        # changed behind jxc's back: October opens from it, and the pack's checks say so
        conn.execute(kept.update().values(value=Decimal("2001.00")))
    closed = close_month(engine, workspace, "2026-10", "test", today=TODAY)
    wh1 = next(r for r in sheet(closed.pack, "summary") if r["warehouse"] == "WH1")
    assert wh1["opening_value"] == 2001
    assert [c["check"].split(" / ")[1] for c in sheet(closed.pack, "checks") if c["ok"] == "N"] == [
        "opening value = the ledger's movements before the month", "closing value = the ledger's movements",
        "closing value = the balances table"]
    reopen_month(engine, workspace, "2026-10", "test", "重算")
    with engine.connect() as conn:
        assert conn.execute(select(kept.c.month).distinct()).scalars().all() == ["2026-09"]


def test_a_month_closed_before_snapshots_were_kept_opens_from_the_movements(workspace, engine):
    worked_month(workspace, engine)
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    with engine.begin() as conn:  # as a ledger closed by the release before snapshots
        conn.execute(schema.periods.update().values(closing_kept=None))
        conn.execute(schema.period_balances.update().values(value=Decimal("1.00")))
    closed = close_month(engine, workspace, "2026-10", "test", today=TODAY)
    wh1 = next(r for r in sheet(closed.pack, "summary") if r["warehouse"] == "WH1")
    assert wh1["opening_value"] == 2000 and all(c["ok"] == "Y" for c in sheet(closed.pack, "checks"))
