"""Write-down (存货跌价准备, 企业会计准则): net realisable values, the month end's
proposal, its confirmation dropped back, and a reversal kept within the provision booked;
every figure worked out by hand in the docstrings.

The stock of A001 in WH1 (moving average):
    10-01  OP1  opening  100 @ 10.00 = 1,000.00
    10-10  D1   delivery  40 × 10.00 =   400.00  → 60 @ 10.00 = 600.00
The net realisable value (可变现净值) of A001, every warehouse: 8.50 from 10-01, 9.40 from 11-10.
"""
from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import Engine

from jxc_sheets.config import FinanceConfig
from jxc_sheets.ledger import write_down
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.post import upsert_master
from jxc_sheets.reports.vouchers import chart_of, stock_entries
from test_post import delivery, doc, ln, master_row, posted, submit
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)

Q = Decimal
OCT_END, NOV_END = date(2026, 10, 31), date(2026, 11, 30)


def nrv_row(value: str, valid_from: date, warehouse: str | None = None):
    return master_row("nrv", "A001", warehouse=warehouse, nrv=Q(value), valid_from=valid_from)


def stock(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_master(conn, [nrv_row("8.50", date(2026, 10, 1)), nrv_row("9.40", date(2026, 11, 10))])
    posted(engine, doc("opening", "OP1", date(2026, 10, 1), ln("A001", 100, "10.00", warehouse="WH1")))
    posted(engine, delivery("D1", date(2026, 10, 10), ln("A001", 40)))


def booking(doc_no: str, day: date, amount: str):
    """A write_down form as the proposal lays it out: one line, A001 in WH1."""
    document = doc("write_down", doc_no, day, ln("A001", 0))
    return replace(document, lines=tuple(replace(line, warehouse="WH1", qty=None, qty_entered=None, amount=Q(amount))
                                         for line in document.lines))


def vouchers(engine: Engine, month: str) -> dict[str, tuple[str, Q, Q]]:
    """account → (summary, debit, credit) of the month's write-down vouchers."""
    with engine.connect() as conn:
        entries = stock_entries(conn, month, chart_of(FinanceConfig()))
    return {e.account: (e.summary, e.debit, e.credit) for e in entries if e.voucher.startswith("write_down")}


def test_a_write_down_and_its_partial_reversal(ledger):
    """October's end: 60 on hand at 10.00 = 600.00, worth 60 × 8.50 = 510.00: the provision
    needed is 60 × (10.00 − 8.50) = 90.00, none booked, so 90.00 is proposed; booked as
    DJ-2026-10: Dr 6701 资产减值损失 90.00 / Cr 1471 存货跌价准备 90.00.
    On 11-15 the value is 9.40: 60 × (10.00 − 9.40) = 36.00 needed, 90.00 booked, so
    −54.00 is proposed (转回); booked: Dr 1471 54.00 / Cr 6701 54.00, 36.00 left.
    A further reversal of 40.00 on 11-16 takes back more than the 36.00 left: refused at
    its 本次计提 cell, and nothing posts. Stock values never change (1405 stays 600.00)."""
    stock(ledger)
    with ledger.connect() as conn:
        [october] = write_down.provisions(conn, OCT_END)
    assert (october.qty, october.value, october.unit_cost, october.nrv, october.required, october.booked,
            october.proposed) == (Q(60), Q("600.00"), Q("10.00"), Q("8.50"), Q("90.00"), Q(0), Q("90.00"))
    posted(ledger, booking("DJ-2026-10", OCT_END, "90.00"))
    assert vouchers(ledger, "2026-10") == {"6701": ("计提存货跌价准备", Q("90.00"), Q(0)),
                                           "1471": ("计提存货跌价准备", Q(0), Q("90.00"))}

    mid_november = date(2026, 11, 15)
    with ledger.connect() as conn:
        [november] = write_down.provisions(conn, mid_november)
    assert (november.required, november.booked, november.proposed) == (Q("36.00"), Q("90.00"), Q("-54.00"))
    posted(ledger, booking("DJ-2026-11", mid_november, "-54.00"))
    assert vouchers(ledger, "2026-11") == {"1471": ("存货跌价准备转回", Q("54.00"), Q(0)),
                                           "6701": ("存货跌价准备转回", Q(0), Q("54.00"))}

    refused = submit(ledger, booking("DJ-X", date(2026, 11, 16), "-40.00"))
    assert [(p.where, p.code) for p in refused.problems] == [("明细!I7", "write-down-reversal-exceeds")]
    assert "36.00" in refused.problems[0].zh and "reverse at most 36.00" in refused.problems[0].en
    with ledger.connect() as conn:
        assert write_down.booked(conn, NOV_END) == {("A001", "WH1"): Q("36.00")}
        assert write_down.stock_at(conn, NOV_END) == {("A001", "WH1"): (Q(60), Q("600.00"))}
        assert check_ledger(conn) == []


def test_a_warehouses_own_value_wins_and_an_empty_shelf_gives_it_back(ledger):
    """WH1's own value 9.00 from 10-20 wins over the item's 8.50: 60 × (10.00 − 9.00) =
    60.00 at October's end. All 60 delivered on 11-05: the shelf is empty, so the provision
    needed is 0 and the whole 60.00 is proposed back (−60.00)."""
    stock(ledger)
    with ledger.begin() as conn:
        upsert_master(conn, [nrv_row("9.00", date(2026, 10, 20), warehouse="WH1")])
        assert [p.required for p in write_down.provisions(conn, OCT_END)] == [Q("60.00")]
    posted(ledger, booking("DJ-2026-10", OCT_END, "60.00"))
    posted(ledger, delivery("D2", date(2026, 11, 5), ln("A001", 60)))
    with ledger.connect() as conn:
        [gone] = write_down.provisions(conn, NOV_END)
    assert (gone.qty, gone.required, gone.booked, gone.proposed) == (Q(0), Q(0), Q("60.00"), Q("-60.00"))


def test_the_small_business_standard_books_none(ledger):
    stock(ledger)
    from jxc_sheets.check import check
    with ledger.connect() as conn:
        checked = check(conn, [booking("DJ-2026-10", OCT_END, "90.00")], [], False, chart="small_business")
    assert [(p.where, p.code) for p in checked.problems] == [("明细!B3", "write-down-small-business")]


def test_the_close_proposes_it_and_the_proposal_dropped_back_books_it(workspace, engine):
    """Through the real files. October as in the module docstring: the close stops, saying
    a write-down awaits confirmation, and writes outbox/monthend/2026-10-跌价准备.xlsx with
    A001 WH1 本次计提 90.00. Dropped into the inbox as it is, it posts; the close then goes
    through: the pack's write_down sheet shows 90.00 needed, 90.00 booked, 0 proposed, and
    the vouchers Dr 6701 90.00 / Cr 1471 90.00."""
    from conftest import drop_master, make_form, make_table, run_files
    from jxc_sheets.closing import Blocked, close_month
    from test_closing import sheet

    drop_master(workspace.inbox)
    make_table(workspace.inbox / "nrv.xlsx", "nrv", [{"sku": "A001", "nrv": 8.5, "valid_from": date(2026, 10, 1)}])
    make_form(workspace.inbox / "opening.xlsx", "opening", {"doc_no": "OP1", "doc_date": date(2026, 10, 1)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 10}])
    make_form(workspace.inbox / "delivery.xlsx", "delivery",
              {"doc_no": "D1", "doc_date": date(2026, 10, 10), "warehouse": "WH1", "customer": "C01"},
              [{"sku": "A001", "qty": 40, "unit_price": 12}])
    assert {o.status for o in run_files(workspace, engine).values()} == {"posted"}

    with pytest.raises(Blocked) as blocked:
        close_month(engine, workspace, "2026-10", "test")
    assert "存货跌价准备待确认" in str(blocked.value) and "write-down awaits confirmation" in str(blocked.value)
    proposal = workspace.outbox / "monthend" / "2026-10-跌价准备.xlsx"
    values = [c.value for row in openpyxl.load_workbook(proposal).worksheets[0].iter_rows() for c in row]
    assert "DJ-2026-10" in values and 90 in values

    shutil.copy(proposal, workspace.inbox / proposal.name)
    assert run_files(workspace, engine)[proposal.name].status == "posted"
    closed = close_month(engine, workspace, "2026-10", "test")
    [row] = sheet(closed.pack, "write_down")
    assert (row["sku"], row["required"], row["booked"], row["proposed"]) == ("A001", 90, 90, 0)
    booked = {(r["account_code"], r["debit"] or 0, r["credit"] or 0) for r in sheet(closed.pack, "vouchers")
              if r["summary"] == "计提存货跌价准备"}
    assert booked == {("6701", 90, 0), ("1471", 0, 90)}
