"""`jxc reverse`: the reversal (红字冲销) of a posted document takes back exactly
what the original moved, and is refused when it cannot be."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from jxc_sheets.ledger import schema
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.reverse import LedgerError, reverse_document
from jxc_sheets.problems import problem
from test_post import D1, D2, D3, D4, Q, all_balances, balance, count, delivery, doc, ln, moves, posted, receipt, submit
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)


def reverse(engine, doc_no: str, **options) -> str:
    with engine.begin() as conn:
        return reverse_document(conn, doc_no, **options)


def negated(rows: list[tuple]) -> list[tuple]:
    """(sku, warehouse, -qty, -value) of each movement."""
    return [(sku, wh, -qty, -value) for sku, wh, qty, value, *_ in rows]


def test_a_reversal_negates_the_original_exactly_and_balances_come_back(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00"), ln("B002", 3, "3.333333")))
    before = all_balances(ledger)
    posted(ledger, delivery("S1", D2, ln("A001", 4), ln("B002", 1)))

    assert reverse(ledger, "S1", on=D3) == "S1-R"

    # the last movement comes off first
    assert [m[:4] for m in moves(ledger, "S1-R")][::-1] == negated(moves(ledger, "S1")) == [
        ("A001", "WH1", Q("4"), Q("8.00")), ("B002", "WH1", Q("1"), Q("3.33"))]
    assert {pair: b[:3] for pair, b in all_balances(ledger).items()} == {pair: b[:3] for pair, b in before.items()}
    assert balance(ledger, "B002") == (Q("3"), Q("10.00"), Q("3.333333"))
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_the_reversal_is_a_document_of_its_own_that_names_the_original(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 2, "48.00", unit="箱")))
    reverse(ledger, "R1", on=D2)
    d, l = schema.documents, schema.lines
    with ledger.connect() as conn:
        original, reversal = conn.execute(select(d).order_by(d.c.id)).all()
        lines = conn.execute(select(l.c.document_id, l.c.unit, l.c.qty_entered, l.c.qty).order_by(l.c.id)).all()
    assert (reversal.kind, reversal.doc_no, reversal.doc_date, reversal.reverses, reversal.warehouse, reversal.partner) == \
        ("receipt", "R1-R", D2, original.id, "WH1", "S01")
    assert len(reversal.content_hash) == 64 and reversal.content_hash != original.content_hash
    assert [tuple(x) for x in lines] == [(original.id, "箱", Q("2"), Q("48")), (reversal.id, "箱", Q("-2"), Q("-48"))]
    assert moves(ledger, "R1-R") == [("A001", "WH1", Q("-48"), Q("-96.00"), Q("0"), Q("0.00"))]


def test_a_reversal_takes_back_the_original_values_even_after_the_average_moved(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 3, "3.333333")))  # 10.00
    posted(ledger, delivery("S1", D2, ln("A001", 1)))  # 3.33 → 2 worth 6.67
    posted(ledger, receipt("R2", D3, ln("A001", 1, "5.00")))  # 3 worth 11.67
    reverse(ledger, "S1", on=D4)
    assert moves(ledger, "S1-R") == [("A001", "WH1", Q("1"), Q("3.33"), Q("4"), Q("15.00"))]
    assert balance(ledger, "A001") == (Q("4"), Q("15.00"), Q("3.75"))


def test_a_transfer_reversal_brings_both_legs_back(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 3, "3.333333")))
    posted(ledger, doc("transfer", "T1", D2, ln("A001", 1)))
    reverse(ledger, "T1", on=D3)
    assert [m[:4] for m in moves(ledger, "T1-R")][::-1] == negated(moves(ledger, "T1")) == [
        ("A001", "WH1", Q("1"), Q("3.33")), ("A001", "WH2", Q("-1"), Q("-3.33"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("3"), Q("10.00"))
    assert balance(ledger, "A001", "WH2")[:2] == (Q("0"), Q("0.00"))


def test_reversing_twice_or_reversing_a_reversal_is_refused(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    reverse(ledger, "R1", on=D2)
    with pytest.raises(LedgerError, match="already been reversed"):
        reverse(ledger, "R1", on=D3)
    with pytest.raises(LedgerError, match="is itself a reversal"):
        reverse(ledger, "R1-R", on=D3)
    assert count(ledger, schema.documents) == 2


def test_reversing_what_was_never_posted_or_before_its_date_is_refused(ledger):
    posted(ledger, receipt("R1", D2, ln("A001", 10, "2.00")))
    with pytest.raises(LedgerError, match="no posted document"):
        reverse(ledger, "R9", on=D3)
    with pytest.raises(LedgerError, match="before the document's date"):
        reverse(ledger, "R1", on=D1)
    assert count(ledger, schema.documents) == 1


def test_a_number_of_two_kinds_needs_its_kind(ledger):
    posted(ledger, receipt("X1", D1, ln("A001", 10, "2.00")), delivery("X1", D2, ln("A001", 3)))
    with pytest.raises(LedgerError, match="--kind"):
        reverse(ledger, "X1", on=D3)
    assert reverse(ledger, "X1", kind="delivery", on=D3) == "X1-R"
    assert balance(ledger, "A001")[:2] == (Q("10"), Q("20.00"))


def test_reversing_a_receipt_whose_goods_were_delivered_is_refused(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    posted(ledger, delivery("S1", D3, ln("A001", 8)))
    expected = problem("insufficient-stock", sku="A001", warehouse="WH1", date="2026-11-04",
                       available="2", needed="10").message
    with pytest.raises(LedgerError) as refused:
        reverse(ledger, "R1", on=D4)
    assert str(refused.value) == expected
    # backdated to D2 the shelf still held 10, but 8 of them leave on D3
    with pytest.raises(LedgerError, match="has 2, this needs 10"):
        reverse(ledger, "R1", on=D2)
    assert (count(ledger, schema.documents), count(ledger, schema.movements)) == (2, 2)
    assert balance(ledger, "A001")[:2] == (Q("2"), Q("4.00"))


def test_negative_stock_allowed_lets_a_receipt_be_reversed_after_delivery(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    posted(ledger, delivery("S1", D2, ln("A001", 8)))
    reverse(ledger, "R1", on=D3, allow_negative_stock=True)
    assert balance(ledger, "A001") == (Q("-8"), Q("-16.00"), Q("2"))


def test_a_correction_is_a_reversal_plus_a_new_document(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    reverse(ledger, "R1", on=D2)
    # the same content again is still "already posted"; the correction takes a new number
    again = submit(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    assert [d.doc_no for d in again.already_posted] == ["R1"]
    posted(ledger, receipt("R1A", D2, ln("A001", 10, "2.10")))
    assert balance(ledger, "A001") == (Q("10"), Q("21.00"), Q("2.1"))
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_a_reversal_is_all_or_nothing(ledger):
    """Two lines: the first could leave, the second cannot: nothing is written."""
    posted(ledger, receipt("R1", D1, ln("A001", 5, "2.00"), ln("B002", 5, "1.00")))
    posted(ledger, delivery("S1", D2, ln("B002", 4)))
    with pytest.raises(LedgerError):
        reverse(ledger, "R1", on=D3)
    assert (count(ledger, schema.documents), count(ledger, schema.lines), count(ledger, schema.movements)) == (2, 3, 3)
