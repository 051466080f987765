"""Batches and expiry (check/batches.py, ledger/batches.py): real workbooks dropped into a
real inbox, run through the pipeline in-process, the batch balances read from the SQLite ledger.

The food item FOOD1 (牛奶) is batch- and expiry-tracked with a shelf life of 180 days and
a warning window of 30 days; today is pinned at 2026-11-20."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from openpyxl.utils import get_column_letter

from conftest import drop_master, make_form, make_table
from jxc_sheets import kinds
from jxc_sheets.sheets.forms import form_layout
from jxc_sheets.config import BatchesConfig, Config, Settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.errors import LedgerError
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.reverse import reverse_document
from jxc_sheets import inbox
from jxc_sheets.pipeline import process_batch
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.reports.book import tab


def run_inbox(settings: Settings, engine) -> list:
    """The pipeline over the inbox, as `jxc run` runs it, less the reports (stage 3's report tests run them)."""
    return process_batch(inbox.candidates(settings.inbox), settings, engine, refresh=lambda outcomes: None)

FOOD = {"sku": "FOOD1", "name": "牛奶", "unit": "箱", "batch_tracked": "Y", "expiry_tracked": "Y",
        "shelf_life_days": 180, "expiry_warning_days": 30}
RECEIPT = {"doc_no": "CG-B1", "doc_date": date(2026, 11, 2), "warehouse": "WH1", "supplier": "S01"}


def at(kind: str, key: str, line: int = 1) -> str:
    """The cell of a line's field on a form make_form wrote: `明细!J9`."""
    k = kinds.KINDS[kind]
    column = [f.key for f in k.lines].index(key) + 1
    return f"明细!{get_column_letter(column)}{form_layout(k).table_row + line}"


def _settings(root: Path, **batches) -> Settings:
    settings = Settings(Config(batches=BatchesConfig(**batches)), root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(exist_ok=True)
    return settings


@pytest.fixture
def site(tmp_path):
    """Master data with FOOD1, posted; (settings, engine)."""
    settings = _settings(tmp_path, auto_pick="fefo")
    engine = open_ledger(settings.ledger_url)
    drop_master(settings.inbox)
    make_table(settings.inbox / "items-food.xlsx", "items", [FOOD])
    assert {o.status for o in run_inbox(settings, engine=engine)} == {"posted"}
    yield settings, engine
    engine.dispose()


def _drop(settings: Settings, engine, name: str, kind: str, header: dict, lines: list[dict]):
    make_form(settings.inbox / name, kind, header, lines)
    [outcome] = run_inbox(settings, engine=engine)
    return outcome


def _batch_balances(engine) -> dict:
    with engine.connect() as conn:
        bb = schema.batch_balances
        return {(r.warehouse, r.batch): r.qty for r in conn.execute(select(bb).where(bb.c.sku == "FOOD1")) if r.qty}


def _batches(engine) -> dict:
    with engine.connect() as conn:
        t = schema.batches
        return {r.batch: (r.production_date, r.expiry_date, r.partner) for r in conn.execute(select(t))}


def _three_batches(settings, engine):
    """E0 expired on 2026-11-01 (10), N1 expiring 2026-11-15 (20, inside the window from the
    10th), L2 expiring 2027-06-01 (30): all in WH1 since 2026-10-20 (an opening)."""
    outcome = _drop(settings, engine, "opening.xlsx", "opening", {"doc_no": "QC-B", "doc_date": date(2026, 10, 20)}, [
        {"warehouse": "WH1", "sku": "FOOD1", "qty": 10, "unit_cost": 50, "batch": "E0", "expiry_date": date(2026, 11, 1)},
        {"warehouse": "WH1", "sku": "FOOD1", "qty": 20, "unit_cost": 50, "batch": "N1", "expiry_date": date(2026, 11, 15)},
        {"warehouse": "WH1", "sku": "FOOD1", "qty": 30, "unit_cost": 50, "batch": "L2", "expiry_date": date(2027, 6, 1)},
    ])
    assert outcome.status == "posted", outcome.problems


def test_a_receipt_registers_its_batches_and_derives_the_expiry_from_the_shelf_life(site):
    """B1 made 2026-06-01 + 180 days = expiry 2026-11-28; B2 names its expiry; a line with
    no batch, and a new batch with neither date, are refused at their cells."""
    settings, engine = site
    bad = _drop(settings, engine, "bad.xlsx", "receipt", RECEIPT, [
        {"sku": "FOOD1", "qty": 5, "unit_cost": 40},
        {"sku": "FOOD1", "qty": 5, "unit_cost": 40, "batch": "B3"},
    ])
    assert bad.status == "rejected"
    assert [(p.where, p.code) for p in bad.problems] == [(at("receipt", "batch"), "batch-required"), (at("receipt", "expiry_date", 2), "expiry-required")]
    assert "批号" in bad.problems[0].zh and "batch" in bad.problems[0].en

    good = _drop(settings, engine, "receipt.xlsx", "receipt", RECEIPT, [
        {"sku": "FOOD1", "qty": 12, "unit_cost": 40, "batch": "B1", "production_date": date(2026, 6, 1)},
        {"sku": "FOOD1", "qty": 8, "unit_cost": 40, "batch": "B2", "expiry_date": date(2027, 5, 1)},
        {"sku": "A001", "qty": 3, "unit_cost": 20, "batch": "free text, as before"},
    ])
    assert good.status == "posted", good.problems
    assert _batches(engine) == {"B1": (date(2026, 6, 1), date(2026, 11, 28), "S01"), "B2": (None, date(2027, 5, 1), "S01")}
    assert _batch_balances(engine) == {("WH1", "B1"): Decimal(12), ("WH1", "B2"): Decimal(8)}
    with engine.connect() as conn:
        l = schema.lines
        assert conn.execute(select(l.c.expiry_date).where(l.c.batch == "B1")).scalar() == date(2026, 11, 28)
        b = schema.balances
        assert conn.execute(select(b.c.qty).where(b.c.sku == "FOOD1")).scalar() == Decimal(20)  # costing per item × warehouse


def test_fefo_picks_the_first_expiring_batches_never_an_expired_one_and_warns_inside_the_window(site):
    """A delivery of 25 on 2026-11-10 with 批号 empty: E0 expired (skipped), N1 expires in
    5 days (≤ 30: taken, with a warning), then L2: picks N1 × 20 and L2 × 5."""
    settings, engine = site
    _three_batches(settings, engine)
    outcome = _drop(settings, engine, "delivery.xlsx", "delivery",
                    {"doc_no": "XS-F", "doc_date": date(2026, 11, 10), "warehouse": "WH1", "customer": "C01"},
                    [{"sku": "FOOD1", "qty": 25, "unit_price": 80}])
    assert outcome.status == "posted", outcome.problems
    assert any("N1 × 20, L2 × 5" in note for note in outcome.notes)
    assert any("[batch-near-expiry]" in note and "N1" in note for note in outcome.notes)
    assert _batch_balances(engine) == {("WH1", "E0"): Decimal(10), ("WH1", "L2"): Decimal(25)}
    with engine.connect() as conn:
        logged = conn.execute(select(schema.files.c.warnings).where(schema.files.c.name == "delivery.xlsx")).scalar()
    assert "N1 × 20, L2 × 5" in logged  # the processing log keeps the picks with the file

    expired = _drop(settings, engine, "expired.xlsx", "delivery",
                    {"doc_no": "XS-E", "doc_date": date(2026, 11, 10), "warehouse": "WH1", "customer": "C01"},
                    [{"sku": "FOOD1", "qty": 1, "unit_price": 80, "batch": "E0"}])
    assert [(p.where, p.code) for p in expired.problems] == [(at("delivery", "batch"), "batch-expired")]

    short = _drop(settings, engine, "short.xlsx", "delivery",
                  {"doc_no": "XS-S", "doc_date": date(2026, 11, 10), "warehouse": "WH1", "customer": "C01"},
                  [{"sku": "FOOD1", "qty": 30, "unit_price": 80}])
    assert [(p.where, p.code) for p in short.problems] == [(at("delivery", "qty"), "batch-short")]
    assert "E0" in short.problems[0].zh  # the expired batch is named, and never picked


def test_without_fefo_an_issue_must_name_its_batch(tmp_path):
    settings = _settings(tmp_path)  # auto_pick: none
    engine = open_ledger(settings.ledger_url)
    drop_master(settings.inbox)
    make_table(settings.inbox / "items-food.xlsx", "items", [FOOD])
    run_inbox(settings, engine=engine)
    _three_batches(settings, engine)
    outcome = _drop(settings, engine, "delivery.xlsx", "delivery",
                    {"doc_no": "XS-N", "doc_date": date(2026, 11, 10), "warehouse": "WH1", "customer": "C01"},
                    [{"sku": "FOOD1", "qty": 5, "unit_price": 80}])
    assert [(p.where, p.code) for p in outcome.problems] == [(at("delivery", "batch"), "batch-required")]
    assert "fefo" in outcome.problems[0].en
    engine.dispose()


def test_an_issue_of_a_batch_not_in_that_warehouse_names_the_batches_that_are(site):
    """L2 is in WH1 only; WH2 holds W9 (40). A delivery of 5 of L2 from WH2 is refused at
    the batch cell, naming W9; the pair WH2 has enough, so that is the only problem."""
    settings, engine = site
    _three_batches(settings, engine)
    _drop(settings, engine, "receipt.xlsx", "receipt", {**RECEIPT, "warehouse": "WH2"},
          [{"sku": "FOOD1", "qty": 40, "unit_cost": 40, "batch": "W9", "expiry_date": date(2027, 8, 1)}])
    outcome = _drop(settings, engine, "delivery.xlsx", "delivery",
                    {"doc_no": "XS-W", "doc_date": date(2026, 11, 10), "warehouse": "WH2", "customer": "C01"},
                    [{"sku": "FOOD1", "qty": 5, "unit_price": 80, "batch": "L2"}])
    assert [(p.where, p.code) for p in outcome.problems] == [(at("delivery", "batch"), "batch-not-in-stock")]
    message = outcome.problems[0]
    assert "W9 (40, 有效期至 2027-08-01)" in message.zh and "W9 (40, expires 2027-08-01)" in message.en
    assert message.zh.index("W9") < len(message.zh) and message.render().index("批号") < message.render().index("batch L2")

    # a batch received later than the issue's date is not there on that date either
    early = _drop(settings, engine, "early.xlsx", "delivery",
                  {"doc_no": "XS-EARLY", "doc_date": date(2026, 11, 1), "warehouse": "WH2", "customer": "C01"},
                  [{"sku": "FOOD1", "qty": 5, "unit_price": 80, "batch": "W9"}])
    assert {p.code for p in early.problems} >= {"batch-not-in-stock"}


def test_a_transfer_carries_its_batch_and_a_reversal_takes_back_exactly_its_batches(site):
    """Transfer 8 of L2 WH1 → WH2, then deliver 6 of L2 from WH2 (XS-R). WH2 also holds W9
    (40), so FOOD1 at WH2 has 42 ≥ 8, yet L2 there has only 2: the transfer cannot be
    reversed. Reversing XS-R puts 6 back into L2 at WH2; then the transfer can be."""
    settings, engine = site
    _three_batches(settings, engine)
    _drop(settings, engine, "receipt.xlsx", "receipt", {**RECEIPT, "warehouse": "WH2"},
          [{"sku": "FOOD1", "qty": 40, "unit_cost": 40, "batch": "W9", "expiry_date": date(2027, 8, 1)}])
    moved = _drop(settings, engine, "transfer.xlsx", "transfer",
                  {"doc_no": "DB-1", "doc_date": date(2026, 11, 5), "from_warehouse": "WH1", "to_warehouse": "WH2"},
                  [{"sku": "FOOD1", "qty": 8, "batch": "L2"}])
    assert moved.status == "posted", moved.problems
    sold = _drop(settings, engine, "delivery.xlsx", "delivery",
                 {"doc_no": "XS-R", "doc_date": date(2026, 11, 6), "warehouse": "WH2", "customer": "C01"},
                 [{"sku": "FOOD1", "qty": 6, "unit_price": 80, "batch": "L2"}])
    assert sold.status == "posted", sold.problems
    assert _batch_balances(engine)[("WH2", "L2")] == Decimal(2)
    with pytest.raises(LedgerError, match="批号 L2"):  # 8 of L2 cannot go back to WH1 while 6 of them are sold
        with engine.begin() as conn:
            reverse_document(conn, "DB-1")
    with engine.begin() as conn:
        assert reverse_document(conn, "XS-R") == "XS-R-R"
    assert _batch_balances(engine)[("WH2", "L2")] == Decimal(8)
    with engine.begin() as conn:
        reverse_document(conn, "DB-1")
    assert _batch_balances(engine) == {("WH1", "E0"): Decimal(10), ("WH1", "N1"): Decimal(20), ("WH1", "L2"): Decimal(30),
                                       ("WH2", "W9"): Decimal(40)}
    with engine.connect() as conn:
        assert check_ledger(conn) == []  # the batches of each item and warehouse add up to its balance


def test_an_item_with_stock_turns_to_batch_tracking_only_through_an_opening(site):
    """A001 holds 10 in WH1 and 4 in WH2 (untracked). An item row turning 批次管理 on is
    refused; an opening marked 转批次管理 that lists 9 + 4 is refused; one listing 6 (P1) + 4
    (P2) in WH1 and 4 (P3) in WH2 assigns them, adds no stock and leaves the cost alone."""
    settings, engine = site
    _drop(settings, engine, "opening.xlsx", "opening", {"doc_no": "QC-A", "doc_date": date(2026, 10, 20)}, [
        {"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20},
        {"warehouse": "WH2", "sku": "A001", "qty": 4, "unit_cost": 20},
    ])
    make_table(settings.inbox / "items.xlsx", "items", [{"sku": "A001", "name": "A4 复印纸", "unit": "包", "batch_tracked": "Y"}])
    [refused] = run_inbox(settings, engine=engine)
    column = get_column_letter(form_layout(kinds.KINDS["items"]).columns["batch_tracked"])  # 批次管理
    assert [(p.where, p.code) for p in refused.problems] == [(f"明细!{column}2", "batch-switch-needs-opening")]
    assert "WH1 10, WH2 4" in refused.problems[0].zh

    header = {"doc_no": "QC-SW", "doc_date": date(2026, 11, 19), "switch_tracking": "Y"}
    short = _drop(settings, engine, "switch-short.xlsx", "opening", header, [
        {"warehouse": "WH1", "sku": "A001", "qty": 9, "batch": "P1"},
        {"warehouse": "WH2", "sku": "A001", "qty": 4, "batch": "P3"},
    ])
    assert [(p.where, p.code) for p in short.problems] == [(at("opening", "qty"), "batch-switch-totals")]

    done = _drop(settings, engine, "switch.xlsx", "opening", header, [
        {"warehouse": "WH1", "sku": "A001", "qty": 6, "batch": "P1"},
        {"warehouse": "WH1", "sku": "A001", "qty": 4, "batch": "P2"},
        {"warehouse": "WH2", "sku": "A001", "qty": 4, "batch": "P3"},
    ])
    assert done.status == "posted", done.problems
    with engine.connect() as conn:
        b, bb, i = schema.balances, schema.batch_balances, schema.items
        assert {(r.warehouse, r.qty, r.value) for r in conn.execute(select(b).where(b.c.sku == "A001"))} == {
            ("WH1", Decimal(10), Decimal("200.00")), ("WH2", Decimal(4), Decimal("80.00"))}
        assert {(r.warehouse, r.batch, r.qty) for r in conn.execute(select(bb).where(bb.c.sku == "A001"))} == {
            ("WH1", "P1", Decimal(6)), ("WH1", "P2", Decimal(4)), ("WH2", "P3", Decimal(4))}
        assert conn.execute(select(i.c.batch_tracked).where(i.c.sku == "A001")).scalar() is True
    with engine.connect() as conn:
        assert check_ledger(conn) == []
    with pytest.raises(LedgerError, match="转批次管理"):  # taking the batches back would leave stock in none
        with engine.begin() as conn:
            reverse_document(conn, "QC-SW")
    # the items file dropped again as it was: 批次管理 empty would untrack A001 with its batches in stock
    make_table(settings.inbox / "items-again.xlsx", "items", [{"sku": "A001", "name": "A4 复印纸", "unit": "包"}])
    [again] = run_inbox(settings, engine=engine)
    assert [(p.where, p.code) for p in again.problems] == [(f"明细!{column}2", "batch-switch-off")]
    # from now on an issue of A001 names its batch
    issue = _drop(settings, engine, "delivery.xlsx", "delivery",
                  {"doc_no": "XS-A", "doc_date": date(2026, 11, 20), "warehouse": "WH1", "customer": "C01"},
                  [{"sku": "A001", "qty": 5, "unit_price": 30, "batch": "P2"}])
    assert [(p.where, p.code) for p in issue.problems] == [(at("delivery", "batch"), "batch-not-in-stock")]


def test_a_form_saved_with_the_old_label_批次_still_reads_its_batches(tmp_path):
    path = make_form(tmp_path / "r.xlsx", "receipt", RECEIPT, [{"sku": "FOOD1", "qty": 1, "unit_cost": 1, "batch": "OLD-LABEL"}])
    wb = openpyxl.load_workbook(path)
    ws = wb["明细"]
    cell = at("receipt", "batch", 0).split("!")[1]
    assert ws[cell].value == "批号 batch"
    ws[cell] = "批次 batch"
    wb.save(path)
    [raw], problems = read_workbook(path)
    assert problems == [] and raw.lines.value("batch", 0) == "OLD-LABEL"


# --- serials ---------------------------------------------------------------------------------

PHONE = {"sku": "PHONE", "name": "手机", "unit": "台", "serial_tracked": "Y"}


@pytest.fixture
def phones(tmp_path):
    """PHONE (serial-tracked) with SN1-SN4 received into WH1: three as a list on one line,
    one on a line of its own; customers C01 and C02."""
    settings = _settings(tmp_path)
    engine = open_ledger(settings.ledger_url)
    drop_master(settings.inbox)
    make_table(settings.inbox / "items-phone.xlsx", "items", [PHONE])
    make_table(settings.inbox / "customers-2.xlsx", "customers", [{"code": "C01", "name": "宏达商贸"},
                                                                  {"code": "C02", "name": "远方贸易"}])
    run_inbox(settings, engine=engine)
    received = _drop(settings, engine, "receipt.xlsx", "receipt", RECEIPT, [
        {"sku": "PHONE", "qty": 3, "unit_cost": 1000, "serials": "SN1, SN2；SN3"},
        {"sku": "PHONE", "qty": 1, "unit_cost": 1000, "serials": "SN4"},
    ])
    assert received.status == "posted", received.problems
    yield settings, engine
    engine.dispose()


def _serials(engine) -> dict:
    with engine.connect() as conn:
        return {r.serial: (r.status, r.warehouse, r.partner) for r in conn.execute(select(schema.serials))}


def _deliver(settings, engine, doc_no: str, customer: str, serial: str, kind: str = "delivery", day: int = 5):
    header = {"doc_no": doc_no, "doc_date": date(2026, 11, day), "warehouse": "WH1", "customer": customer}
    return _drop(settings, engine, f"{doc_no}.xlsx", kind, header, [{"sku": "PHONE", "qty": 1, "unit_price": 1500, "serials": serial}])


def test_serials_come_in_once_each_one_per_unit(phones):
    settings, engine = phones
    assert _serials(engine) == {s: ("in_stock", "WH1", "S01") for s in ("SN1", "SN2", "SN3", "SN4")}
    again = _drop(settings, engine, "again.xlsx", "receipt", {**RECEIPT, "doc_no": "CG-B2"}, [
        {"sku": "PHONE", "qty": 1, "unit_cost": 1000, "serials": "SN2"},
        {"sku": "PHONE", "qty": 2, "unit_cost": 1000, "serials": "SN7, SN8, SN9"},
        {"sku": "PHONE", "qty": 1, "unit_cost": 1000},
    ])
    assert [(p.where, p.code) for p in again.problems] == [
        (at("receipt", "serials"), "serial-in-stock"), (at("receipt", "serials", 2), "serial-count"),
        (at("receipt", "serials", 3), "serial-required")]
    assert "CG-B1" in again.problems[0].zh


def test_a_serial_shipped_twice_is_refused_at_its_cell_naming_where_it_went(phones):
    settings, engine = phones
    assert _deliver(settings, engine, "XS-1", "C01", "SN1").status == "posted"
    twice = _deliver(settings, engine, "XS-2", "C02", "SN1")
    assert [(p.where, p.code) for p in twice.problems] == [(at("delivery", "serials"), "serial-not-in-stock")]
    assert "已由 XS-1 发给客户 C01" in twice.problems[0].zh and "shipped to customer C01 by XS-1" in twice.problems[0].en
    never = _deliver(settings, engine, "XS-3", "C01", "SN999")
    assert [(p.code, p.value) for p in never.problems] == [("serial-not-in-stock", "SN999")]
    assert "从未入库" in never.problems[0].zh
    assert _serials(engine)["SN1"] == ("shipped", "", "C01")


def test_a_serial_returned_by_a_customer_it_was_never_shipped_to_is_refused(phones):
    settings, engine = phones
    _deliver(settings, engine, "XS-1", "C01", "SN1")
    wrong = _deliver(settings, engine, "XT-1", "C02", "SN1", kind="sales_return", day=6)
    assert [(p.where, p.code) for p in wrong.problems] == [(at("sales_return", "serials"), "serial-not-shipped-to")]
    assert "C01" in wrong.problems[0].zh  # where it did go
    in_stock = _deliver(settings, engine, "XT-2", "C02", "SN2", kind="sales_return", day=6)
    assert [p.code for p in in_stock.problems] == ["serial-in-stock"]
    right = _deliver(settings, engine, "XT-3", "C01", "SN1", kind="sales_return", day=6)
    assert right.status == "posted", right.problems
    assert _serials(engine)["SN1"] == ("in_stock", "WH1", "C01")


def test_batches_xlsx_lists_where_each_serial_is_now(phones):
    from jxc_sheets.reports.batches import write_batches

    settings, engine = phones
    _deliver(settings, engine, "XS-1", "C02", "SN3")
    with engine.connect() as conn:
        write_batches(conn, settings.outbox / "batches.xlsx", date(2026, 11, 20))
    ws = openpyxl.load_workbook(settings.outbox / "batches.xlsx")[tab("serials")]
    rows = list(ws.iter_rows(values_only=True))
    keys = [str(label).split(" ")[-1] for label in rows[0]]
    found = {r["serial"]: (r["status"], r["warehouse"], r["partner"], r["doc_no"]) for r in (dict(zip(keys, row)) for row in rows[1:])}
    assert found["SN3"] == ("已发货 shipped", None, "C02", "XS-1")
    assert found["SN1"] == ("在库 in stock", "WH1", "S01", "CG-B1")


def test_a_reversal_moves_its_serials_back_and_a_transfer_carries_them(phones):
    settings, engine = phones
    _deliver(settings, engine, "XS-1", "C01", "SN1")
    moved = _drop(settings, engine, "transfer.xlsx", "transfer",
                  {"doc_no": "DB-S", "doc_date": date(2026, 11, 6), "from_warehouse": "WH1", "to_warehouse": "WH2"},
                  [{"sku": "PHONE", "qty": 2, "serials": "SN2 SN3"}])
    assert moved.status == "posted", moved.problems
    assert _serials(engine)["SN3"] == ("in_stock", "WH2", "")
    with engine.begin() as conn:
        reverse_document(conn, "XS-1")
        reverse_document(conn, "DB-S")
    assert {s: v[:2] for s, v in _serials(engine).items()} == {s: ("in_stock", "WH1") for s in ("SN1", "SN2", "SN3", "SN4")}
    # SN5 comes in and SN1 goes out: WH1 still holds 4 phones, but not SN1, which CG-B1 brought in
    _drop(settings, engine, "receipt-5.xlsx", "receipt", {**RECEIPT, "doc_no": "CG-B5"},
          [{"sku": "PHONE", "qty": 1, "unit_cost": 1000, "serials": "SN5"}])
    assert _deliver(settings, engine, "XS-9", "C01", "SN1", day=7).status == "posted"
    with pytest.raises(LedgerError, match="序列号 SN1"):
        with engine.begin() as conn:
            reverse_document(conn, "CG-B1")
    with engine.connect() as conn:
        assert check_ledger(conn) == []


def test_a_transfer_in_transit_carries_its_batch_and_it_arrives_on_its_arrival_date(site):
    """L2 × 8 leaves WH1 (上海) on 11-05 and arrives at WH2 (苏州) on 11-09: on the 8th WH2
    has no L2 to deliver, on the 9th it has 8."""
    settings, engine = site
    _three_batches(settings, engine)
    moved = _drop(settings, engine, "transfer.xlsx", "transfer",
                  {"doc_no": "DB-T", "doc_date": date(2026, 11, 5), "arrival_date": date(2026, 11, 9),
                   "from_warehouse": "WH1", "to_warehouse": "WH2"}, [{"sku": "FOOD1", "qty": 8, "batch": "L2"}])
    assert moved.status == "posted", moved.problems
    with engine.connect() as conn:
        bm = schema.batch_movements
        assert [(r.warehouse, r.doc_date, r.qty) for r in conn.execute(select(bm).where(bm.c.batch == "L2", bm.c.kind == "transfer"))] == [
            ("WH1", date(2026, 11, 5), Decimal(-8)), ("WH2", date(2026, 11, 9), Decimal(8))]
    early = _drop(settings, engine, "early.xlsx", "delivery",
                  {"doc_no": "XS-T1", "doc_date": date(2026, 11, 8), "warehouse": "WH2", "customer": "C01"},
                  [{"sku": "FOOD1", "qty": 3, "unit_price": 80, "batch": "L2"}])
    assert "batch-not-in-stock" in {p.code for p in early.problems}
    on_time = _drop(settings, engine, "on-time.xlsx", "delivery",
                    {"doc_no": "XS-T2", "doc_date": date(2026, 11, 9), "warehouse": "WH2", "customer": "C01"},
                    [{"sku": "FOOD1", "qty": 3, "unit_price": 80, "batch": "L2"}])
    assert on_time.status == "posted", on_time.problems
    assert _batch_balances(engine)[("WH2", "L2")] == Decimal(5)


def test_fefo_and_reversal_on_postgresql(tmp_path, postgres_url):
    """The same picks on the PostgreSQL server: N1 × 20, L2 × 5 (see the FEFO test), then reversed."""
    from jxc_sheets.config import LedgerConfig

    settings = Settings(Config(batches=BatchesConfig(auto_pick="fefo"), ledger=LedgerConfig(url=postgres_url)), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    drop_master(settings.inbox)
    make_table(settings.inbox / "items-food.xlsx", "items", [FOOD])
    run_inbox(settings, engine=engine)
    _three_batches(settings, engine)
    outcome = _drop(settings, engine, "delivery.xlsx", "delivery",
                    {"doc_no": "XS-F", "doc_date": date(2026, 11, 10), "warehouse": "WH1", "customer": "C01"},
                    [{"sku": "FOOD1", "qty": 25, "unit_price": 80}])
    assert outcome.status == "posted", outcome.problems
    assert _batch_balances(engine) == {("WH1", "E0"): Decimal(10), ("WH1", "L2"): Decimal(25)}
    with engine.begin() as conn:
        reverse_document(conn, "XS-F")
    assert _batch_balances(engine) == {("WH1", "E0"): Decimal(10), ("WH1", "N1"): Decimal(20), ("WH1", "L2"): Decimal(30)}
    with engine.connect() as conn:
        assert check_ledger(conn) == []
    engine.dispose()


# --- counts per batch ------------------------------------------------------------------------

def test_a_count_is_per_batch_and_its_variance_moves_the_batches_it_names(site):
    """WH1 holds E0 10, N1 20, L2 30 (60 at 50.00). PD-1 on 11-12 counts N1 19: the item's
    variance −1 (1 / 60 = 1.7 % ≤ 2 %, 50.00 ≤ 500.00: posts at once) comes out of N1.
    PD-2 on 11-13 counts N1 18 and L2 31: no variance for the item, so no stock moves, but
    one case moves from N1 to L2. A line without 批号 is refused at its cell."""
    from jxc_sheets.reports.counts import write_count_sheet

    settings, engine = site
    _three_batches(settings, engine)
    with engine.connect() as conn:
        sheet = write_count_sheet(conn, tmp := settings.outbox / "count", "WH1", date(2026, 11, 12))
    rows = [r for r in openpyxl.load_workbook(sheet)["明细"].iter_rows(values_only=True)]
    labels = next(r for r in rows if r and r[0] == "物料编码 sku")
    listed = [dict(zip(labels, r)) for r in rows[rows.index(labels) + 1:] if r[0] == "FOOD1"]
    assert [(r["批号 batch"], r["账面数量 book_qty"]) for r in listed] == [("E0", 10), ("L2", 30), ("N1", 20)]
    assert tmp.is_dir()

    count = {"doc_no": "PD-1", "doc_date": date(2026, 11, 12), "warehouse": "WH1"}
    refused = _drop(settings, engine, "count-bad.xlsx", "count", {**count, "doc_no": "PD-0"},
                    [{"sku": "FOOD1", "counted_qty": 60}])
    assert [(p.where, p.code) for p in refused.problems] == [(at("count", "batch"), "batch-required")]
    first = _drop(settings, engine, "count-1.xlsx", "count", count, [
        {"sku": "FOOD1", "batch": "E0", "counted_qty": 10}, {"sku": "FOOD1", "batch": "N1", "counted_qty": 19},
        {"sku": "FOOD1", "batch": "L2", "counted_qty": 30}])
    assert first.status == "posted", first.problems
    assert _batch_balances(engine) == {("WH1", "E0"): Decimal(10), ("WH1", "N1"): Decimal(19), ("WH1", "L2"): Decimal(30)}
    second = _drop(settings, engine, "count-2.xlsx", "count", {**count, "doc_no": "PD-2", "doc_date": date(2026, 11, 13)}, [
        {"sku": "FOOD1", "batch": "E0", "counted_qty": 10}, {"sku": "FOOD1", "batch": "N1", "counted_qty": 18},
        {"sku": "FOOD1", "batch": "L2", "counted_qty": 31}])
    assert second.status == "posted", second.problems
    assert _batch_balances(engine) == {("WH1", "E0"): Decimal(10), ("WH1", "N1"): Decimal(18), ("WH1", "L2"): Decimal(31)}
    with engine.connect() as conn:
        b = schema.balances
        assert conn.execute(select(b.c.qty, b.c.value).where(b.c.sku == "FOOD1")).one() == (Decimal(59), Decimal("2950.00"))
        c = schema.count_lines
        assert [r.batches for r in conn.execute(select(c.c.batches).order_by(c.c.id))][0] == \
            '[["E0", "10", "10"], ["L2", "30", "30"], ["N1", "20", "19"]]'
        assert check_ledger(conn) == []


def test_a_container_of_phones_comes_in_as_one_batch_layout_file_a_serial_a_row(phones):
    """300 rows of one receipt, a serial and qty 1 on each (the batch layout an export writes)."""
    settings, engine = phones
    rows = [{"doc_no": "CG-BOX", "doc_date": date(2026, 11, 3), "warehouse": "WH2", "supplier": "S01", "sku": "PHONE",
             "qty": 1, "unit_cost": 900, "serials": f"IMEI{n:06d}"} for n in range(300)]
    make_table(settings.inbox / "container.xlsx", "receipt", rows, layout="batch",
               columns=["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost", "serials"])
    [outcome] = run_inbox(settings, engine=engine)
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 300), outcome.problems[:3]
    assert sum(1 for v in _serials(engine).values() if v[:2] == ("in_stock", "WH2")) == 300
    rows[7]["doc_no"] = rows[8]["doc_no"] = "CG-BOX2"
    make_table(settings.inbox / "again.xlsx", "receipt", rows[7:9], layout="batch",
               columns=["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost", "serials"])
    [again] = run_inbox(settings, engine=engine)
    assert [p.code for p in again.problems] == ["serial-in-stock", "serial-in-stock"]


def test_a_held_count_variance_moves_its_batches_when_approved(site):
    """PD-H counts E0 at 0 (10 short of 60: 16.7 % > 2 %, held). Approved on its variance
    workbook, the loss comes out of E0 alone."""
    from jxc_sheets.reports.counts import write_variance_books

    settings, engine = site
    _three_batches(settings, engine)
    held = _drop(settings, engine, "count.xlsx", "count", {"doc_no": "PD-H", "doc_date": date(2026, 11, 12), "warehouse": "WH1"}, [
        {"sku": "FOOD1", "batch": "E0", "counted_qty": 0, "remark": "过期销毁"},
        {"sku": "FOOD1", "batch": "N1", "counted_qty": 20}, {"sku": "FOOD1", "batch": "L2", "counted_qty": 30}])
    assert held.status == "posted" and any("待审批" in note for note in held.notes)
    assert _batch_balances(engine)[("WH1", "E0")] == Decimal(10)  # held: nothing moved yet
    with engine.connect() as conn:
        [book] = write_variance_books(conn, settings.outbox / "variance", settings.config.counts)
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    label_row = next(row[0].row for row in ws.iter_rows() if any(c.value == "批准 approve" for c in row))
    approve_col = next(c.column for c in ws[label_row] if c.value == "批准 approve")
    ws.cell(label_row + 1, approve_col, "Y")
    wb.save(settings.inbox / "PD-H 审批.xlsx")
    [approved] = run_inbox(settings, engine=engine)
    assert approved.status == "posted", approved.problems
    assert _batch_balances(engine) == {("WH1", "N1"): Decimal(20), ("WH1", "L2"): Decimal(30)}
    with engine.connect() as conn:
        assert check_ledger(conn) == []


def test_a_sales_return_naming_its_delivery_takes_back_the_batch_it_shipped(site):
    """XS-1 shipped L2 only: a return naming XS-1 with 批号 empty returns L2. XS-F's FEFO
    picks were N1 and L2: a return of it must say which (the problem names both)."""
    settings, engine = site
    _three_batches(settings, engine)
    header = {"doc_date": date(2026, 11, 10), "warehouse": "WH1", "customer": "C01"}
    _drop(settings, engine, "d1.xlsx", "delivery", {**header, "doc_no": "XS-1"},
          [{"sku": "FOOD1", "qty": 4, "unit_price": 80, "batch": "L2"}])
    _drop(settings, engine, "d2.xlsx", "delivery", {**header, "doc_no": "XS-F"}, [{"sku": "FOOD1", "qty": 25, "unit_price": 80}])
    returned = _drop(settings, engine, "r1.xlsx", "sales_return", {**header, "doc_no": "XT-1", "ref_doc": "XS-1",
                                                                    "doc_date": date(2026, 11, 12)},
                     [{"sku": "FOOD1", "qty": 3, "unit_price": 80}])
    assert returned.status == "posted", returned.problems
    assert _batch_balances(engine)[("WH1", "L2")] == Decimal(30 - 4 - 5 + 3)
    unclear = _drop(settings, engine, "r2.xlsx", "sales_return", {**header, "doc_no": "XT-2", "ref_doc": "XS-F",
                                                                  "doc_date": date(2026, 11, 12)},
                    [{"sku": "FOOD1", "qty": 1, "unit_price": 80}])
    assert [(p.where, p.code) for p in unclear.problems] == [(at("sales_return", "batch"), "batch-required")]
    assert "L2, N1" in unclear.problems[0].zh


def test_a_batch_or_serial_longer_than_the_ledger_holds_is_refused_at_its_cell(phones):
    settings, engine = phones
    outcome = _drop(settings, engine, "long.xlsx", "receipt", {**RECEIPT, "doc_no": "CG-LONG"}, [
        {"sku": "PHONE", "qty": 1, "unit_cost": 1, "serials": "S" * 65},
        {"sku": "FOOD1", "qty": 1, "unit_cost": 1, "batch": "B" * 65},
    ])
    assert [(p.where, p.code) for p in outcome.problems] == [(at("receipt", "serials"), "too-long"),
                                                             (at("receipt", "batch", 2), "too-long")]


def test_serials_on_postgresql(tmp_path, postgres_url):
    """SN1 received, shipped to C01, refused a second time, the delivery reversed: back in stock."""
    from jxc_sheets.config import LedgerConfig

    settings = Settings(Config(ledger=LedgerConfig(url=postgres_url)), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    drop_master(settings.inbox)
    make_table(settings.inbox / "items-phone.xlsx", "items", [PHONE])
    run_inbox(settings, engine=engine)
    assert _drop(settings, engine, "receipt.xlsx", "receipt", RECEIPT,
                 [{"sku": "PHONE", "qty": 2, "unit_cost": 1000, "serials": "SN1; SN2"}]).status == "posted"
    assert _deliver(settings, engine, "XS-1", "C01", "SN1").status == "posted"
    assert [p.code for p in _deliver(settings, engine, "XS-2", "C01", "SN1").problems] == ["serial-not-in-stock"]
    with engine.begin() as conn:
        reverse_document(conn, "XS-1")
    assert _serials(engine)["SN1"][:2] == ("in_stock", "WH1")
    with engine.connect() as conn:
        assert check_ledger(conn) == []
    engine.dispose()
