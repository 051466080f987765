"""Landed cost (费用分摊单): an expense spread over receipts, posted through the real
check and ledger; every figure worked out by hand in the docstrings.

The stock of A001 and B002 in WH1:
    09-30  OP1  opening  A001 40 @ 9.00 = 360.00
    10-02  R1   receipt  A001 100 @ 10.00 = 1000.00;  B002 50 @ 4.00 = 200.00
    10-05  D1   delivery A001 50 (so R1 is partly issued)
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from jxc_sheets.ledger import methods, periods, schema
from jxc_sheets.ledger.integrity import check_ledger
from test_post import balance, delivery, doc, ln, posted, receipt, submit
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)

Q = Decimal
LC = date(2026, 10, 8)


def stock(engine: Engine, method: str = "moving_average") -> None:
    with engine.begin() as conn:
        methods.sync(conn, method, {})
    posted(engine, doc("opening", "OP1", date(2026, 9, 30), ln("A001", 40, "9.00", warehouse="WH1")))
    posted(engine, receipt("R1", date(2026, 10, 2), ln("A001", 100, "10.00"), ln("B002", 50, "4.00")))
    posted(engine, delivery("D1", date(2026, 10, 5), ln("A001", 50)))


def expense(doc_no: str, amount: str, *receipts: str, basis: str | None = None, tax: str | None = None,
            day: date = LC, **line_values):
    lines = [ln("", 0) for _r in receipts]
    document = doc("landed_cost", doc_no, day, *lines, expense_amount=Q(amount), basis=basis,
                   expense_tax=None if tax is None else Q(tax))
    from dataclasses import replace
    return replace(document, lines=tuple(replace(line, sku=line_values.get("sku"), receipt_no=r,
                                                 amount=line_values.get("amounts", {}).get(r), qty=None, qty_entered=None)
                                         for line, r in zip(document.lines, receipts)))


def landed(engine: Engine, doc_no: str) -> dict[str, tuple]:
    """sku → (value, correction, amount, tax) of the landed cost's movements and lines."""
    m, d, l = schema.movements, schema.documents, schema.lines
    with engine.connect() as conn:
        rows = conn.execute(select(m.c.sku, m.c.value, m.c.correction, l.c.amount, l.c.tax)
                            .join(d, d.c.id == m.c.document_id)
                            .join(l, (l.c.document_id == m.c.document_id) & (l.c.line_no == m.c.line_no))
                            .where(d.c.doc_no == doc_no))
        return {r.sku: (r.value, r.correction, r.amount, r.tax) for r in rows}


@pytest.mark.parametrize("method", ["moving_average", "fifo"])
def test_by_amount_on_a_receipt_half_issued(ledger, method):
    """Freight 120.00 + tax 10.80 over R1 by amount: A001 120 × 1000 / 1200 = 100.00,
    B002 (the last) 20.00; the tax 9.00 and 1.80 the same way.
    A001: R1 brought 100, 90 of them are still on hand (moving average: the pool holds
    140 − 50 = 90; fifo: D1 took the opening's 40 and 10 of R1's layer), so the stock
    takes 100.00 × 90 / 100 = 90.00 and cost of sales the other 10.00. B002 is all on
    hand: 20.00 into stock.
    A001's shelf: moving average 140 @ 1360.00, D1 50 × 1360 / 140 = 485.71 → 874.29,
    + 90.00 = 964.29; fifo D1 40 × 9 + 10 × 10 = 460.00 → 900.00, + 90.00 = 990.00."""
    stock(ledger, method)
    posted(ledger, expense("LC1", "120.00", "R1", tax="10.80"))
    assert landed(ledger, "LC1") == {"A001": (Q("90.00"), Q("10.00"), Q("100.00"), Q("9.00")),
                                     "B002": (Q("20.00"), Q("0.00"), Q("20.00"), Q("1.80"))}
    assert balance(ledger, "A001")[:2] == (Q(90), Q("964.29") if method == "moving_average" else Q("990.00"))
    assert balance(ledger, "B002")[:2] == (Q(50), Q("220.00"))
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_by_qty(ledger):
    """Freight 90.00 by qty: A001 100 units, B002 50 → 90 × 100 / 150 = 60.00 and 30.00.
    A001 has 90 of R1's 100 on hand: 60.00 × 90 / 100 = 54.00 into stock, 6.00 to cost
    of sales; B002 30.00 into stock."""
    stock(ledger)
    posted(ledger, expense("LC2", "90.00", "R1", basis="数量"))
    assert {s: v[:2] for s, v in landed(ledger, "LC2").items()} == {"A001": (Q("54.00"), Q("6.00")),
                                                                    "B002": (Q("30.00"), Q("0.00"))}


def test_by_hand_on_one_item(ledger):
    """By hand, 15.00 on R1's A001 only: 15.00 × 90 / 100 = 13.50 into stock, 1.50 out."""
    stock(ledger)
    posted(ledger, expense("LC3", "15.00", "R1", basis="手工", sku="A001", amounts={"R1": Q("15.00")}))
    assert {s: v[:2] for s, v in landed(ledger, "LC3").items()} == {"A001": (Q("13.50"), Q("1.50"))}


def test_an_empty_shelf_takes_nothing(ledger):
    """All of A001 delivered (90 more on 10-06): the shelf is empty, so A001's 100.00
    goes to cost of sales whole and the shelf stays at 0.00."""
    stock(ledger)
    posted(ledger, delivery("D2", date(2026, 10, 6), ln("A001", 90)))
    posted(ledger, expense("LC1", "120.00", "R1"))
    assert landed(ledger, "LC1")["A001"][:2] == (Q("0.00"), Q("100.00"))
    assert balance(ledger, "A001")[:2] == (Q(0), Q("0.00"))


def test_the_expense_before_its_receipt_waits(ledger):
    """Freight for R2, whose goods are not in yet: refused at the receipt's cell, and
    nothing posts. Once R2 (10 A001 @ 10.00) is posted, the same form posts: all 10
    on hand, 30.00 into stock."""
    stock(ledger)
    early = submit(ledger, expense("LC4", "30.00", "R2"))
    assert [(p.where, p.code) for p in early.problems] == [("明细!A10", "landed-receipt-unknown")]
    assert "先放入入库单 R2" in early.problems[0].zh and "drop receipt R2 first, or together" in early.problems[0].en
    posted(ledger, receipt("R2", date(2026, 10, 7), ln("A001", 10, "10.00")))
    posted(ledger, expense("LC4", "30.00", "R2"))
    assert landed(ledger, "LC4")["A001"][:2] == (Q("30.00"), Q("0.00"))


def test_a_receipt_in_a_closed_month_is_refused(ledger):
    """R0 is dated in September, which is closed: the expense is refused at R0's cell."""
    stock(ledger)
    posted(ledger, receipt("R0", date(2026, 9, 20), ln("B002", 5, "4.00")))
    with ledger.begin() as conn:
        periods.close(conn, "2026-09", "test", forced=True)
    refused = submit(ledger, expense("LC5", "10.00", "R0"))
    assert [(p.where, p.code) for p in refused.problems] == [("明细!A10", "landed-receipt-closed")]


def test_a_manual_split_must_add_up(ledger):
    stock(ledger)
    refused = submit(ledger, expense("LC6", "20.00", "R1", basis="manual", amounts={"R1": Q("15.00")}))
    assert [(p.where, p.code) for p in refused.problems] == [("明细!E4", "landed-manual-total")]


def test_a_landed_cost_is_booked_as_purchase_cost_and_the_supplier_is_owed_it_all(ledger, tmp_path):
    """Moving average, October, LC1 as in the first test (S01's freight 120.00 + tax 10.80).
    1 采购入库        Dr 1405 R1 1,000 + 200 and LC1's stock part 90 + 20 = 1,310.00 / Cr 2202 (S01)
    2 结转销售成本    Dr 6401 485.71 / Cr 1405 485.71 (D1)
    3 成本调整-采购   Dr 6401 10.00 / Cr 2202 10.00: LC1's share of goods already issued
    4 进项税额        Dr 22210101 R1's 13% 156.00 + LC1's 10.80 = 166.80 / Cr 2202 166.80
    S01 is owed 1,310 + 10 + 166.80 = 1,486.80 = R1's 1,356.00 + LC1's 130.80."""
    from jxc_sheets.config import FinanceConfig
    from jxc_sheets.reports.monthend import write_pack
    from test_closing import sheet

    stock(ledger)
    posted(ledger, expense("LC1", "120.00", "R1", tax="10.80"))
    with ledger.begin() as conn:
        pack, *_ = write_pack(conn, tmp_path, "2026-10", FinanceConfig())
    booked: dict[tuple[str, str], Q] = {}
    for r in sheet(pack, "vouchers"):
        key = (r["voucher_no"], r["account_code"])
        booked[key] = booked.get(key, Q(0)) + Q(str(r["debit"] or 0)) - Q(str(r["credit"] or 0))
    from jxc_sheets.ledger import money
    d = schema.documents
    with ledger.connect() as conn:  # what the payables ledger records for each (the pipeline records them)
        ids = dict(conn.execute(select(d.c.doc_no, d.c.id).where(d.c.doc_no.in_(["R1", "LC1"]))).all())
        amounts = money.document_amounts(conn, ids.values())
    assert {no: amounts[i] for no, i in ids.items()} == {"R1": Q("1356.00"), "LC1": Q("130.80")}
    assert {k: v.quantize(Q("0.01")) for k, v in booked.items()} == {
        ("1", "1405"): Q("1310.00"), ("1", "2202"): Q("-1310.00"),
        ("2", "6401"): Q("485.71"), ("2", "1405"): Q("-485.71"),
        ("3", "6401"): Q("10.00"), ("3", "2202"): Q("-10.00"),
        ("4", "22210101"): Q("166.80"), ("4", "2202"): Q("-166.80")}


def weigh(engine: Engine, **weights: str | None) -> None:
    """Gives items a 单位重量 (kg per base unit), as an items form would."""
    from jxc_sheets.ledger.post import upsert_master
    from test_post import MASTER
    with engine.begin() as conn:
        upsert_master(conn, [replace(row, values={**row.values, "weight": None if weights.get(row.key) is None
                                                   else Q(weights[row.key])})
                             for row in MASTER if row.kind == "items"])


def test_by_weight_from_the_item_master(ledger):
    """A001 weighs 2.5 kg, B002 0.2 kg. R1 carries 100 × 2.5 = 250 kg of A001 and
    50 × 0.2 = 10 kg of B002, 260 kg in all; freight 52.00 by weight: A001
    52 × 250 / 260 = 50.00, B002 (the last) 2.00. A001 has 90 of R1's 100 on hand:
    50.00 × 90 / 100 = 45.00 into stock, 5.00 to cost of sales; B002 2.00 into stock."""
    stock(ledger)
    weigh(ledger, A001="2.5", B002="0.2")
    posted(ledger, expense("LC7", "52.00", "R1", basis="重量"))
    assert {s: v[:3] for s, v in landed(ledger, "LC7").items()} == {"A001": (Q("45.00"), Q("5.00"), Q("50.00")),
                                                                    "B002": (Q("2.00"), Q("0.00"), Q("2.00"))}
    assert balance(ledger, "B002")[:2] == (Q(50), Q("202.00"))


def test_by_weight_an_item_without_a_weight_is_named(ledger):
    """B002 has no 单位重量: refused at the basis cell, naming B002; nothing posts."""
    stock(ledger)
    weigh(ledger, A001="2.5")
    refused = submit(ledger, expense("LC8", "52.00", "R1", basis="weight"))
    assert [(p.where, p.code) for p in refused.problems] == [("明细!E5", "landed-no-weight")]
    assert "B002" in refused.problems[0].zh and "A001" not in refused.problems[0].en
    assert landed(ledger, "LC8") == {}


def test_a_receipt_in_the_same_file_is_named_so(ledger):
    """A receipt and the landed cost naming it in one file (a kind-column export): the
    receipt has no movements yet, so the landed cost is refused with its own code, saying
    to drop it as a file of its own; the receipt does not post either (all or nothing)."""
    stock(ledger)
    refused = submit(ledger, receipt("R3", date(2026, 10, 7), ln("A001", 10, "10.00")), expense("LC9", "30.00", "R3"))
    assert [(p.where, p.code) for p in refused.problems] == [("明细!A10", "landed-receipt-same-file")]
    assert "单独的文件" in refused.problems[0].zh and "file of its own" in refused.problems[0].en


def test_dropped_together_the_receipt_posts_first(workspace, engine):
    """The expense and its goods in one drop, the freight's file named to sort first and
    dated the same day as the receipt: the batch posts the receipt first, then the freight.
    CG-7 brings 10 A001 @ 20.00 = 200.00; the freight 15.00 all goes on them (nothing
    issued): A001 10 @ 215.00. A freight naming a receipt nobody dropped is refused, its
    message saying to drop the receipt first or together."""
    from conftest import drop_master, make_form, run_files
    day = date(2026, 11, 3)
    drop_master(workspace.inbox)
    make_form(workspace.inbox / "a-freight.xlsx", "landed_cost",
              {"doc_no": "FY-1", "doc_date": day, "supplier": "S01", "expense_amount": 15},
              [{"receipt_no": "CG-7"}])
    make_form(workspace.inbox / "b-receipt.xlsx", "receipt",
              {"doc_no": "CG-7", "doc_date": day, "warehouse": "WH1", "supplier": "S01"},
              [{"sku": "A001", "qty": 10, "unit_cost": 20}])
    make_form(workspace.inbox / "c-freight.xlsx", "landed_cost",
              {"doc_no": "FY-2", "doc_date": day, "supplier": "S01", "expense_amount": 9},
              [{"receipt_no": "CG-8"}])
    outcomes = run_files(workspace, engine)
    assert [name for name in outcomes if name.endswith(("freight.xlsx", "receipt.xlsx"))] == \
        ["b-receipt.xlsx", "a-freight.xlsx", "c-freight.xlsx"]
    assert {name: o.status for name, o in outcomes.items() if "freight" in name or "receipt" in name} == {
        "a-freight.xlsx": "posted", "b-receipt.xlsx": "posted", "c-freight.xlsx": "rejected"}
    assert balance(engine, "A001")[:2] == (Q(10), Q("215.00"))
    errors = next(workspace.rejected.glob("c-freight*.errors.xlsx"))
    import openpyxl
    listed = " ".join(str(c.value) for row in openpyxl.load_workbook(errors).worksheets[0].iter_rows() for c in row)
    assert "landed-receipt-unknown" in listed and "drop receipt CG-8 first, or together" in listed
