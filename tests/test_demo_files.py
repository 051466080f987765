"""The demo inbox: the files are real forms, the master data is complete, and the
stock arithmetic of the valid documents holds — recomputed from the workbooks."""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from jxc_sheets.demo import mistake_files, plan_demo, write_demo_inbox
from jxc_sheets.kinds import KINDS, Category
from jxc_sheets.sheets.forms import form_layout
from jxc_sheets.reports.book import tab

TODAY = date(2026, 11, 25)
PREFIXES = {"receipt": "CG", "delivery": "XS", "purchase_return": "CT", "sales_return": "XT",
            "transfer": "DB", "adjustment": "QT", "opening": "QC", "assembly": "ZZ", "landed_cost": "FY", "repair": "WX"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> list[Path]:
    return write_demo_inbox(tmp_path_factory.mktemp("inbox"), TODAY)


@pytest.fixture(scope="module")
def books(demo) -> dict[str, openpyxl.Workbook]:
    return {path.name: openpyxl.load_workbook(path) for path in demo}


def kind_of(wb) -> tuple[str, str]:
    meta = wb["_meta"]
    return meta["B1"].value, meta["B3"].value


def table_rows(wb) -> list[dict]:
    """The filled line rows of the main sheet, as field key → value."""
    kind_name, layout_name = kind_of(wb)
    kind = KINDS[kind_name]
    layout = form_layout(kind, batch=layout_name == "batch")
    ws = wb["明细"]
    rows = []
    for row in ws.iter_rows(min_row=layout.table_row + 1, values_only=True):
        values = {key: row[col - 1] for key, col in layout.columns.items()}
        if all(v is None for v in values.values()):
            break
        rows.append(values)
    return rows


def documents(wb) -> list[dict]:
    """header + lines of every document in a stock workbook."""
    kind_name, layout_name = kind_of(wb)
    kind = KINDS[kind_name]
    rows = table_rows(wb)
    if layout_name == "batch":
        header_keys = {f.key for f in kind.header} - {f.key for f in kind.lines}
        by_doc = defaultdict(list)
        for row in rows:
            by_doc[row["doc_no"]].append(row)
        return [{"kind": kind_name, "header": {k: lines[0][k] for k in header_keys}, "lines": lines}
                for lines in by_doc.values()]
    ws = wb["明细"]
    header = {key: ws[cell].value for key, cell in form_layout(kind).header_cells.items()}
    return [{"kind": kind_name, "header": header, "lines": rows}]


def as_day(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def unit_factors(books) -> dict[str, dict[str, Decimal]]:
    factors = {}
    for row in table_rows(books["03_物料_items.xlsx"]):
        units = {row["unit"]: Decimal(1)}
        for part in filter(None, (p.strip() for p in (row["alt_units"] or "").split(";"))):
            name, factor = part.split("=")
            units[name.strip()] = Decimal(factor.strip())
        factors[row["sku"]] = units
    return factors


def movements(doc: dict, factors) -> list[tuple[date, str, str, Decimal]]:
    """(date, sku, warehouse, signed base qty) of every leg of every line; a transfer's
    goods come in on its arrival date (到货日期) when it has one."""
    kind = KINDS[doc["kind"]]
    if kind.name in ("assembly", "landed_cost"):
        return []  # by its BOM, no lines; an expense on goods received, no qty (the planner checks them)
    day = as_day(doc["header"]["doc_date"])
    arrival = as_day(doc["header"].get("arrival_date") or day)
    moved = []
    for line in doc["lines"]:
        qty = Decimal(str(line["qty"])) * factors[line["sku"]][line["unit"] or next(iter(factors[line["sku"]]))]
        for leg in kind.legs:
            warehouse = line.get(leg.warehouse_field) or doc["header"].get(leg.warehouse_field)
            signed = qty if leg.sign == 0 else qty * leg.sign
            moved.append((arrival if signed > 0 else day, line["sku"], warehouse, signed))
    return moved


def lowest_balances(moves) -> dict[tuple[str, str], Decimal]:
    """The lowest balance of every sku × warehouse, taking each day's issues before its receipts."""
    balance: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    lowest: dict[tuple[str, str], Decimal] = {}
    for day in sorted({m[0] for m in moves}):
        today = [m for m in moves if m[0] == day]
        for _, sku, warehouse, qty in sorted(today, key=lambda m: m[3] >= 0):
            balance[sku, warehouse] += qty
            lowest[sku, warehouse] = min(lowest.get((sku, warehouse), balance[sku, warehouse]),
                                         balance[sku, warehouse])
    return lowest


def stock_documents(books, names) -> list[dict]:
    stock = [name for name in names if KINDS[kind_of(books[name])[0]].category is Category.STOCK]
    return [doc for name in stock for doc in documents(books[name])]


def test_every_file_is_a_form(demo, books):
    assert all(path.exists() and path.suffix == ".xlsx" for path in demo)
    assert len(demo) >= 18
    for wb in books.values():
        assert wb.sheetnames[0] == "明细" and "_meta" in wb.sheetnames
        assert kind_of(wb)[0] in KINDS


def test_master_data(books):
    warehouses = table_rows(books["00_仓库_warehouses.xlsx"])
    assert len(warehouses) == 3 and len({w["site"] for w in warehouses}) == 2
    assert 5 <= len(table_rows(books["01_供应商_suppliers.xlsx"])) <= 8
    assert len(table_rows(books["02_客户_customers.xlsx"])) >= 8
    items = table_rows(books["03_物料_items.xlsx"])
    assert len(items) >= 50
    assert len({i["sku"] for i in items}) == len(items)
    assert len({i["category"] for i in items}) >= 5
    assert [i["active"] for i in items].count("N") == 1
    assert {"箱=24", "箱=12"} <= {i["alt_units"] for i in items}
    assert any(";" in (i["alt_units"] or "") for i in items)
    suppliers = {s["code"] for s in table_rows(books["01_供应商_suppliers.xlsx"])}
    assert {i["default_supplier"] for i in items} <= suppliers
    numbers = ("std_cost", "sale_price", "safety_stock", "reorder_qty", "lead_time_days")
    assert all(isinstance(i[key], (int, float)) for i in items for key in numbers)


def test_file_names_and_dates(demo, books):
    as_of = TODAY.replace(day=1) - timedelta(days=1)
    as_of = as_of.replace(day=1) - timedelta(days=1)
    assert as_of == date(2026, 9, 30)
    stock_names = [p.name for p in demo if KINDS[kind_of(books[p.name])[0]].category is Category.STOCK]
    for name in stock_names:
        for doc in documents(books[name]):
            day = as_day(doc["header"]["doc_date"])
            assert as_of <= day <= TODAY
            assert name.startswith(day.isoformat())
            assert re.fullmatch(PREFIXES[doc["kind"]] + day.strftime("%Y%m%d") + r"-\d\d", doc["header"]["doc_no"])
    (opening,) = [n for n in stock_names if kind_of(books[n])[0] == "opening"]
    assert opening == "2026-09-30_期初库存_QC20260930-01.xlsx"


def test_the_documents_cover_the_business(demo, books):
    valid = [p.name for p in demo if p.name not in mistake_files(TODAY)]
    docs = [d for d in stock_documents(books, valid) if d["kind"] != "opening"]
    assert len(docs) >= 12
    kinds = [d["kind"] for d in docs]
    assert {"receipt", "delivery", "purchase_return", "sales_return", "transfer", "adjustment", "repair"} <= set(kinds)
    # a sale priced from the price list: its lines name no price (the demo's customers have grades)
    assert any(d["kind"] == "delivery" and all(line.get("unit_price") is None for line in d["lines"]) for d in docs)
    assert kinds.count("receipt") >= 3 and kinds.count("delivery") >= 3
    assert any(line["unit"] == "箱" for d in docs if d["kind"] == "receipt" for line in d["lines"])
    (adjustment,) = [d for d in docs if d["kind"] == "adjustment"]
    assert adjustment["header"]["reason"] == "破损" and all(line["qty"] < 0 for line in adjustment["lines"])
    (transfer,) = [d for d in docs if d["kind"] == "transfer"]
    assert {transfer["header"]["from_warehouse"], transfer["header"]["to_warehouse"]} == {"WH-SH1", "WH-SZ"}
    shipped, arrives = as_day(transfer["header"]["doc_date"]), as_day(transfer["header"]["arrival_date"])
    assert shipped < TODAY.replace(day=1) <= arrives <= shipped + timedelta(days=7)  # in transit at a month end
    (opening,) = stock_documents(books, [n for n in valid if n.startswith("2026-09-30")])
    assert len(opening["lines"]) >= 100
    assert {line["warehouse"] for line in opening["lines"]} == {"WH-SH1", "WH-SH2", "WH-SZ"}


def test_batch_file_holds_three_documents(demo, books):
    (batch,) = [name for name, wb in books.items() if kind_of(wb)[1] == "batch"]
    assert kind_of(books[batch])[0] == "delivery"
    assert len({row["doc_no"] for row in table_rows(books[batch])}) == 3
    assert len(documents(books[batch])) == 3


def test_valid_files_never_take_stock_below_zero(demo, books):
    factors = unit_factors(books)
    valid = [p.name for p in demo if p.name not in mistake_files(TODAY)]
    moves = [m for doc in stock_documents(books, valid) for m in movements(doc, factors)]
    lowest = lowest_balances(moves)
    assert len(lowest) > 100
    assert {pair: low for pair, low in lowest.items() if low < 0} == {}


def test_exactly_two_mistakes_both_catchable(demo, books):
    mistakes = mistake_files(TODAY)
    assert len(mistakes) == 2 and set(mistakes) <= {p.name for p in demo}
    typo, too_much = (documents(books[name])[0] for name in mistakes)
    skus = set(unit_factors(books))
    assert "12箱" in [line["qty"] for line in typo["lines"]]
    assert "X-404" in [line["sku"] for line in typo["lines"]] and "X-404" not in skus
    factors = unit_factors(books)
    valid = [p.name for p in demo if p.name not in mistakes]
    moves = [m for doc in stock_documents(books, valid) for m in movements(doc, factors)]
    wanted = movements(too_much, factors)
    assert len(wanted) == 1 and wanted[0][3] == -5000
    lowest = lowest_balances(moves + wanted)
    (_, sku, warehouse, _), = wanted
    assert lowest[sku, warehouse] < -4000


def test_the_demo_is_the_same_every_time():
    assert plan_demo(TODAY) == plan_demo(TODAY)
    assert plan_demo(date(2026, 12, 1)) != plan_demo(TODAY)


@pytest.mark.parametrize("today", [date(2026, 1, 1), date(2026, 3, 31), date(2028, 2, 29), date(2026, 12, 2)])
def test_any_today_plans_a_valid_demo(today):
    planned = plan_demo(today)  # the planner asserts its own stock as it goes
    assert len([p for p in planned if not p.valid]) == 2
    for p in planned:
        day = p.header.get("doc_date") or (p.lines[0].get("doc_date") if p.lines else None)
        if day is not None:
            assert day <= today


def report_rows(path: Path, sheet: str) -> list[dict]:
    """A report sheet's rows by the English key of each header cell."""
    rows = list(openpyxl.load_workbook(path, read_only=True)[tab(sheet)].iter_rows(values_only=True))
    keys = [str(label).split()[-1] for label in rows[0]]
    return [dict(zip(keys, row)) for row in rows[1:]]


@pytest.mark.slow
def test_the_demo_shows_the_money_side_in_the_outbox(tmp_path, capsys):
    """`jxc demo` on the pinned today (2026-11-20), in-process: CUS01 pays in 15 days and has
    not paid October's delivery (due in October): overdue; CUS03 paid more than it owed:
    an advance; CUS01 sent October's statement back disputing its delivery: in 争议.
    The closing lines point at money.xlsx and the statements."""
    from conftest import TEST_NOW
    from jxc_sheets.demo import DISPUTE_REASON
    from jxc_sheets.workspace import run_demo

    root = tmp_path / "demo"
    assert run_demo(root, TEST_NOW.date()) == 0
    printed = capsys.readouterr().out
    book = root / "outbox" / "money.xlsx"
    assert f"{book}" in printed and f"{root / 'outbox' / 'statements'}" in printed

    aging = {(r["side"], r["partner"]): r for r in report_rows(book, "aging")}
    overdue = aging["customer", "CUS01"]
    assert overdue["open_total"] > overdue["not_due"] and overdue["advance"] == 0
    advance = aging["customer", "CUS03"]
    assert advance["advance"] > 0 and advance["open_total"] == 0 and advance["balance"] == -advance["advance"]
    [dispute] = report_rows(book, "disputes")
    assert (dispute["side"], dispute["partner"], dispute["month"], dispute["reason"]) == \
        ("customer", "CUS01", "2026-10", DISPUTE_REASON)
    assert dispute["doc_no"].startswith("XS20261006-")
    assert (root / "outbox" / "statements" / "2026-10" / "对账单-customer-CUS01.xlsx").exists()
    assert any(r["kind"] == "collection" for r in report_rows(book, "journal"))


@pytest.mark.slow
def test_the_demo_assembles_gift_boxes_and_spreads_the_imports_freight_by_weight(demo, tmp_path):
    """The demo posted in process. 40 gift boxes (GFT-001) are assembled in WH-SH1 from 40
    速溶咖啡 + 40 袋泡红茶 + 80 橙汁, plus 80.00 of 加工费: the boxes come in at the components'
    cost out + 80.00 (components out = boxes in − fee), and kits.xlsx lists GFT-001 with
    what WH-SH1 could still assemble. The import (100 ELC-009 at 0.05 kg, 80 ELC-003 at
    0.1 kg: 5 kg and 8 kg) takes the forwarder's 1,260.00 by weight: ELC-009
    1,260 × 5 / 13 = 484.62, ELC-003 (the last) 775.38 — as stock, or cost of sales for
    what was already issued."""
    import shutil

    from sqlalchemy import select

    from jxc_sheets.config import Config, Settings
    from jxc_sheets.ledger import schema
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.pipeline import run_inbox

    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    for path in demo:
        shutil.copy(path, settings.inbox / path.name)
    engine = open_ledger(settings.ledger_url)
    outcomes = {o.file: o.status for o in run_inbox(settings, engine=engine)}
    assert outcomes["2026-10-09_组装单_ZZ20261009-01.xlsx"] == "posted"
    assert outcomes["2026-10-12_费用分摊单_FY20261012-01.xlsx"] == "posted"
    m, d, l = schema.movements, schema.documents, schema.lines
    with engine.connect() as conn:
        made = {r.sku: (r.qty, r.value) for r in conn.execute(
            select(m.c.sku, m.c.qty, m.c.value).join(d, d.c.id == m.c.document_id).where(d.c.doc_no == "ZZ20261009-01"))}
        spread = {r.sku: r.amount for r in conn.execute(
            select(l.c.sku, l.c.amount).join(d, d.c.id == l.c.document_id).where(d.c.doc_no == "FY20261012-01"))}
        freight = {r.sku: r.value + r.correction for r in conn.execute(
            select(m.c.sku, m.c.value, m.c.correction).join(d, d.c.id == m.c.document_id)
            .where(d.c.doc_no == "FY20261012-01"))}
    assert {sku: qty for sku, (qty, _v) in made.items()} == {"GFT-001": 40, "BEV-006": -40, "BEV-007": -40,
                                                              "BEV-004": -80}
    assert made["GFT-001"][1] - Decimal("80.00") == -sum(v for sku, (_q, v) in made.items() if sku != "GFT-001")
    assert spread == {"ELC-009": Decimal("484.62"), "ELC-003": Decimal("775.38")} == freight
    kits = openpyxl.load_workbook(settings.outbox / "kits.xlsx", read_only=True)[tab("kits")]
    rows = list(kits.iter_rows(values_only=True))
    keys = [str(label).split(" ")[-1] for label in rows[0]]
    gift = [dict(zip(keys, row)) for row in rows[1:] if row[0] == "GFT-001"]
    assert {r["warehouse"] for r in gift} >= {"WH-SH1"} and all(r["buildable"] >= 0 for r in gift)


def test_the_demo_has_a_food_item_by_batch_one_expired_and_one_near_its_expiry():
    """鲜牛奶 FOD-001 is batch- and expiry-tracked (60 days): its receipt brings three batches,
    the first made 50 days before it arrived (expired by today, worked out from 生产日期), the
    second expiring 10 days after today (inside its 30-day warning), the third in 90 days."""
    plan = plan_demo(TODAY)
    [items] = [p for p in plan if p.kind == "items"]
    [food] = [row for row in items.lines if row["sku"] == "FOD-001"]
    assert (food["batch_tracked"], food["expiry_tracked"], food["shelf_life_days"]) == ("Y", "Y", 60)
    [receipt] = [p for p in plan if p.kind == "receipt" and any(l["sku"] == "FOD-001" for l in p.lines)]
    expired, near, good = receipt.lines
    assert expired["production_date"] + timedelta(days=60) < TODAY
    assert near["expiry_date"] == TODAY + timedelta(days=10) and good["expiry_date"] == TODAY + timedelta(days=90)
    [delivery] = [p for p in plan if p.kind == "delivery" and any(l["sku"] == "FOD-001" for l in p.lines)]
    assert delivery.lines[0]["batch"] == good["batch"]
