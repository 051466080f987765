"""Goods in transit: a transfer with an arrival date (到货日期) takes the goods out of
one warehouse on its date and into the other on its arrival; between the two they
are in neither warehouse's stock — refused to deliveries at the destination, shown
in transit in the stock report, the dashboard and the month-end pack; booked only
where the books split 库存商品 by warehouse. Real forms, the real pipeline, a real
SQLite ledger."""
from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest

from conftest import drop_master, make_form, make_table, run_files
from jxc_sheets import clock, kinds
from jxc_sheets.closing import close_month
from jxc_sheets.reports.stock import write_stock
from jxc_sheets.reports.book import tab
from test_closing import sheet

pytestmark = pytest.mark.clock  # "today" decides what these reports show

TODAY = date(2026, 12, 5)
TRANSFER = {"from_warehouse": "WH1", "to_warehouse": "WH2"}


def header_cell(kind: str, key: str) -> str:
    """Where conftest.make_form puts a header value: columns B/E from row 3."""
    i = [f.key for f in kinds.KINDS[kind].header].index(key)
    return f"明细!{'B' if i % 2 == 0 else 'E'}{3 + i // 2}"


def setup(settings, engine, opening_day: date = date(2026, 9, 30)) -> None:
    """WH1 (上海) holds 100 A001 at 20.00, WH2 (苏州) 10; WH3 is a second warehouse in 苏州."""
    drop_master(settings.inbox)
    make_table(settings.inbox / "wh3.xlsx", "warehouses", [{"code": "WH3", "name": "苏州二仓", "site": "苏州"}])
    make_form(settings.inbox / "0.xlsx", "opening", {"doc_no": "QC-1", "doc_date": opening_day}, [
        {"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 20},
        {"warehouse": "WH2", "sku": "A001", "qty": 10, "unit_cost": 20}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}


def drop(settings, engine, name: str, kind: str, header: dict, lines: list[dict]):
    make_form(settings.inbox / f"{name}.xlsx", kind, header, lines)
    return run_files(settings, engine)[f"{name}.xlsx"]


# --- at the cell -------------------------------------------------------------------------

def test_an_arrival_before_the_transfer_date_is_refused_at_its_cell(workspace, engine):
    setup(workspace, engine)
    outcome = drop(workspace, engine, "t", "transfer",
                   {"doc_no": "DB-1", "doc_date": date(2026, 10, 10), "arrival_date": date(2026, 10, 8), **TRANSFER},
                   [{"sku": "A001", "qty": 5}])
    assert outcome.status == "rejected"
    assert [(p.where, p.code, p.value) for p in outcome.problems] == [
        (header_cell("transfer", "arrival_date"), "arrival-before-date", "2026-10-08")]
    assert outcome.problems[0].zh.startswith("到货日期 2026-10-08 早于调出日期 2026-10-10")


def test_an_arrival_in_a_closed_month_is_refused_at_its_cell(workspace, engine):
    setup(workspace, engine)
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    close_month(engine, workspace, "2026-11", "test", force=True, reason="先出十一月报表", today=TODAY)
    outcome = drop(workspace, engine, "t", "transfer",
                   {"doc_no": "DB-1", "doc_date": date(2026, 10, 30), "arrival_date": date(2026, 11, 2), **TRANSFER},
                   [{"sku": "A001", "qty": 5}])
    assert [(p.where, p.code, p.value) for p in outcome.problems] == [
        (header_cell("transfer", "arrival_date"), "period-closed", "2026-11-02")]
    assert "2026-11" in outcome.problems[0].zh
    same_day = drop(workspace, engine, "t2", "transfer",
                    {"doc_no": "DB-2", "doc_date": date(2026, 10, 30), **TRANSFER}, [{"sku": "A001", "qty": 5}])
    assert same_day.status == "posted"  # no arrival date: it arrives the same day, in the open month


def test_the_destination_cannot_deliver_the_goods_before_they_arrive(workspace, engine):
    setup(workspace, engine)
    assert drop(workspace, engine, "t", "transfer",
                {"doc_no": "DB-1", "doc_date": date(2026, 10, 28), "arrival_date": date(2026, 11, 3), **TRANSFER},
                [{"sku": "A001", "qty": 40}]).status == "posted"
    sale = {"warehouse": "WH2", "customer": "C01"}
    early = drop(workspace, engine, "early", "delivery", {"doc_no": "XS-1", "doc_date": date(2026, 11, 2), **sale},
                 [{"sku": "A001", "qty": 30, "unit_price": 30}])
    assert [(p.code, p.value) for p in early.problems] == [("insufficient-stock", "30")]
    assert "可用 10" in early.problems[0].zh  # WH2's own 10; the 40 are still on their way
    on_arrival = drop(workspace, engine, "on", "delivery", {"doc_no": "XS-2", "doc_date": date(2026, 11, 3), **sale},
                      [{"sku": "A001", "qty": 30, "unit_price": 30}])
    assert on_arrival.status == "posted"
    # nor can the warehouse it left take them again: they are gone from WH1 on the 28th
    back = drop(workspace, engine, "back", "delivery", {"doc_no": "XS-3", "doc_date": date(2026, 10, 29),
                                                         "warehouse": "WH1", "customer": "C01"},
                [{"sku": "A001", "qty": 61, "unit_price": 30}])
    assert [p.code for p in back.problems] == ["insufficient-stock"] and "可用 60" in back.problems[0].zh


# --- stock report and dashboard --------------------------------------------------------

def test_the_stock_report_and_dashboard_show_goods_in_transit_now(workspace, engine):
    today = clock.today()
    setup(workspace, engine, opening_day=today - timedelta(days=10))
    assert drop(workspace, engine, "t", "transfer",
                {"doc_no": "DB-NOW", "doc_date": today - timedelta(days=1), "arrival_date": today + timedelta(days=3),
                 **TRANSFER}, [{"sku": "A001", "qty": 40}]).status == "posted"
    book = openpyxl.load_workbook(workspace.outbox / "stock.xlsx")
    assert book.sheetnames == [tab(k) for k in ("stock", "summary", "below_safety", "in_transit")] + ["_meta"]
    stock = {r["warehouse"]: (r["qty"], r["value"]) for r in sheet(workspace.outbox / "stock.xlsx", "stock")}
    assert stock == {"WH1": (60, 1200), "WH2": (10, 200)}  # the 40 are in neither
    [transit] = sheet(workspace.outbox / "stock.xlsx", "in_transit")
    assert {k: transit[k] for k in ("doc_no", "from_warehouse", "from_site", "to_warehouse", "to_site", "sku",
                                    "qty", "value")} == {
        "doc_no": "DB-NOW", "from_warehouse": "WH1", "from_site": "上海", "to_warehouse": "WH2", "to_site": "苏州",
        "sku": "A001", "qty": 40, "value": 800}
    assert (transit["doc_date"].date(), transit["arrival_date"].date()) == (today - timedelta(days=1),
                                                                          today + timedelta(days=3))
    summary = [row for row in book[tab("summary")].iter_rows(values_only=True)]
    by_warehouse = {row[0]: (row[3], row[4]) for row in summary[2:6]}
    assert by_warehouse == {"WH1": (1, 1200), "WH2": (1, 200), "在途 in transit": (1, 800),
                            "合计 total": (3, 2200)}  # the company still owns them

    page = (workspace.outbox / "index.html").read_text(encoding="utf-8")
    assert "DB-NOW" in page and "Goods in transit" in page
    assert "800.00" in page and "2,200.00" in page  # the in-transit card; the stock value counts them

    arrived = workspace.outbox / "arrived.xlsx"
    with engine.connect() as conn:
        write_stock(conn, arrived, today=today + timedelta(days=3))
    assert {r["warehouse"]: r["qty"] for r in sheet(arrived, "stock")} == {"WH1": 60, "WH2": 50}
    assert sheet(arrived, "in_transit") == []


def test_the_dashboard_has_no_transit_section_when_nothing_is_on_its_way(workspace, engine):
    setup(workspace, engine, opening_day=clock.today() - timedelta(days=3))
    page = (workspace.outbox / "index.html").read_text(encoding="utf-8")
    assert "Goods in transit" not in page and "In transit" in page  # the card, at 0.00


# --- the month-end pack --------------------------------------------------------------------

def transit_month(settings, engine) -> None:
    """October, A001 at 20.00 throughout (moving average of equal costs):
    10-05 DB-1  WH1 上海 → WH2 苏州 10, arrives 10-07           (inside the month)
    10-29 DB-2  WH1 上海 → WH2 苏州 40, arrives 11-02 = 800.00   (crosses the month end)
    10-30 DB-3  WH2 苏州 → WH3 苏州  5, arrives 11-01 = 100.00   (inside a site, crosses it)
    """
    setup(settings, engine)
    for name, day, header, qty, arrival in (
        ("1", 5, TRANSFER, 10, date(2026, 10, 7)),
        ("2", 29, TRANSFER, 40, date(2026, 11, 2)),
        ("3", 30, {"from_warehouse": "WH2", "to_warehouse": "WH3"}, 5, date(2026, 11, 1)),
    ):
        make_form(settings.inbox / f"{name}.xlsx", "transfer",
                  {"doc_no": f"DB-{name}", "doc_date": date(2026, 10, day), "arrival_date": arrival, **header},
                  [{"sku": "A001", "qty": qty}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}


def vouchers(path) -> dict[tuple[str, str, str], Decimal]:
    """(summary, account, warehouse) → debit − credit."""
    found: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    with path.open(encoding="utf-8-sig") as f:
        for e in csv.DictReader(f):
            found[(e["summary"], e["account_code"], e["warehouse"])] += Decimal(e["debit"]) - Decimal(e["credit"])
    return dict(found)


def test_a_month_with_transfers_across_its_end(workspace, engine):
    transit_month(workspace, engine)
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    october = close_month(engine, workspace, "2026-10", "test", today=TODAY)

    in_transit = sheet(october.pack, "in_transit")
    assert [(t["doc_no"], t["from_site"], t["to_site"], t["qty"], t["value"], t["arrival_date"].date())
            for t in in_transit] == [("DB-3", "苏州", "苏州", 5, 100, date(2026, 11, 1)),
                                     ("DB-2", "上海", "苏州", 40, 800, date(2026, 11, 2))]
    closing = {r["warehouse"]: r["closing_value"] for r in sheet(october.pack, "summary")}
    assert closing == {"WH1": 1000, "WH2": 300}  # WH2's 40 and WH3's 5 are on their way

    sites = {r["key"]: r for r in sheet(october.pack, "by_site")}
    suzhou = sites["苏州"]
    assert (suzhou["closing_transit_qty"], suzhou["closing_transit_value"]) == (45, 900)
    assert suzhou["out_transfer_qty"] == 5  # inside the site, but its legs fall in two months: not eliminated
    assert suzhou["opening_value"] + suzhou["in_transfer_value"] - suzhou["out_transfer_value"] == suzhou["closing_value"]
    assert sites["上海"]["closing_transit_value"] == 0 and sites["上海"]["out_transfer_value"] == 1000

    [group] = sheet(october.pack, "group")
    assert (group["in_transfer_value"], group["out_transfer_value"]) == (0, 0)  # eliminated
    assert (group["opening_transit_value"], group["closing_transit_qty"], group["closing_transit_value"]) == (0, 45, 900)
    assert group["closing_value"] + group["closing_transit_value"] == sum(closing.values()) + sum(
        t["value"] for t in in_transit) == group["opening_value"] == 2200  # nothing left the group

    checks = sheet(october.pack, "checks")
    assert all(c["ok"] == "Y" for c in checks), checks
    assert {c["check"].split(" / ")[1] for c in checks} >= {
        "group: opening + transit + in - out = closing + transit (qty)",
        "group: opening + transit + in - out = closing + transit (value)",
        "closing transit value = the ledger's transfers not yet arrived",
        "inventory accounts net = closing - opening, goods in transit included"}

    assert vouchers(october.vouchers) == {}  # one set of books, one 库存商品: a transfer books nothing

    november = close_month(engine, workspace, "2026-11", "test", today=TODAY)
    assert sheet(november.pack, "in_transit") == []
    [group] = sheet(november.pack, "group")
    assert (group["opening_transit_value"], group["closing_transit_value"]) == (900, 0)
    assert group["closing_value"] == 2200
    assert all(c["ok"] == "Y" for c in sheet(november.pack, "checks"))
    assert vouchers(november.vouchers) == {}


def test_transfers_between_warehouse_sub_accounts_keep_what_is_on_its_way_in_transit(tmp_path):
    """The same October with 库存商品 split per warehouse (WH1 140501, WH2 140502, WH3 140503)
    and the goods on their way in 140599. October's legs: DB-1 WH1 −200 / WH2 +200; DB-2 WH1
    −800 (WH2's leg is dated 11-02); DB-3 WH2 −100 (WH3's, 11-01). So 140501 Cr 1,000.00,
    140502 Dr 200 − 100 = 100.00, and 140599 Dr 1,000 − 100 = 900.00 = the closing transit.
    November: 140502 Dr 800.00, 140503 Dr 100.00, 140599 Cr 900.00."""
    from jxc_sheets.config import Config, Settings
    from jxc_sheets.ledger.db import open_ledger

    config = Config.model_validate({"finance": {
        "inventory_by_warehouse": {"WH1": "140501", "WH2": "140502", "WH3": "140503"},
        "accounts": {"stock_in_transit": "140599"}, "account_names": {"140599": "库存商品-在途"}}})
    settings = Settings(config, tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    transit_month(settings, engine)
    close_month(engine, settings, "2026-09", "test", today=TODAY)
    october = close_month(engine, settings, "2026-10", "test", today=TODAY)
    assert vouchers(october.vouchers) == {("库存调拨", "140502", ""): 100, ("库存调拨", "140599", ""): 900,
                                          ("库存调拨", "140501", ""): -1000}
    assert all(c["ok"] == "Y" for c in sheet(october.pack, "checks"))
    [*lines] = sheet(october.pack, "vouchers")
    assert {(l["account_code"], l["account_name"]) for l in lines} == {
        ("140501", "库存商品-上海总仓"), ("140502", "库存商品-苏州仓"), ("140599", "库存商品-在途")}
    november = close_month(engine, settings, "2026-11", "test", today=TODAY)
    assert vouchers(november.vouchers) == {("库存调拨", "140502", ""): 800, ("库存调拨", "140503", ""): 100,
                                           ("库存调拨", "140599", ""): -900}
    assert all(c["ok"] == "Y" for c in sheet(november.pack, "checks"))


def test_the_checks_catch_transit_that_does_not_match_the_ledger(workspace, engine):
    from sqlalchemy import update

    from jxc_sheets.ledger import schema

    transit_month(workspace, engine)
    with engine.begin() as conn:  # behind jxc's back: DB-2's in leg worth a cent more than its out leg
        m = schema.movements
        conn.execute(update(m).where(m.c.kind == "transfer", m.c.warehouse == "WH2", m.c.qty == 40)
                     .values(value=Decimal("800.01")))
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    october = close_month(engine, workspace, "2026-10", "test", today=TODAY)
    failed = [c["check"].split(" / ")[1] for c in sheet(october.pack, "checks") if c["ok"] == "N"]
    assert failed == ["inventory accounts net = closing - opening, goods in transit included",
                      "group: opening + transit + in - out = closing + transit (value)",
                      "closing transit value = the ledger's transfers not yet arrived"]


def test_a_pack_without_transit_keeps_its_columns(workspace, engine):
    setup(workspace, engine)
    close_month(engine, workspace, "2026-09", "test", today=TODAY)
    drop(workspace, engine, "r", "receipt", {"doc_no": "CG-1", "doc_date": date(2026, 10, 3), "warehouse": "WH2",
                                             "supplier": "S01"}, [{"sku": "A001", "qty": 1, "unit_cost": 20}])
    closed = close_month(engine, workspace, "2026-10", "test", today=TODAY)
    [group] = sheet(closed.pack, "group")
    assert (group["opening_transit_value"], group["closing_transit_value"]) == (0, 0)
    assert sheet(closed.pack, "in_transit") == []
    assert all(c["ok"] == "Y" for c in sheet(closed.pack, "checks"))
