"""Costing: the moving weighted average (移动加权平均) and its rounding rules, alone
and as posted, with every expected number worked out by hand in the test."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from jxc_sheets.ledger.costing import ISSUE, MOVING_AVERAGE, Move, constant, money, opening_holding, rate, value_moves
from test_post import D1, D2, D3, D4, D5, Q, balance, delivery, doc, ln, moves, posted, receipt
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)

def issues(opening_qty: str, opening_value: str, last_rate: str, *qtys: str) -> list[tuple]:
    """Issues of `qtys`, one after another, from an opening holding: (value, qty, value) after each."""
    holding = opening_holding(Q(opening_qty), Q(opening_value), Q(last_rate), D1)
    moves = [Move(i, D1, "delivery", -Q(q), ISSUE) for i, q in enumerate(qtys, 1)]
    return [(v.value, v.balance_qty, v.balance_value) for v in value_moves(holding, moves, constant(MOVING_AVERAGE))]


# --- the rules alone -------------------------------------------------------------

@pytest.mark.parametrize("value, rounded", [
    ("1.005", "1.01"), ("1.015", "1.02"), ("2.675", "2.68"), ("-1.005", "-1.01"), ("0.004999", "0.00"),
])
def test_money_rounds_half_up_to_the_cent(value, rounded):
    assert money(Q(value)) == Q(rounded)


def test_rate_keeps_six_places():
    assert rate(Q("10") / Q("3")) == Q("3.333333")
    assert rate(Q("20") / Q("3")) == Q("6.666667")


def test_an_issue_takes_its_share_of_the_value_and_the_last_one_takes_the_rest():
    # 10.00 × 1/3 = 3.333… → 3.33; 6.67 × 1/2 = 3.335 → 3.34 (half up); the whole remaining 3.33
    assert issues("3", "10.00", "0", "1", "1", "1") == [
        (Q("-3.33"), Q("2"), Q("6.67")), (Q("-3.34"), Q("1"), Q("3.33")), (Q("-3.33"), Q("0"), Q("0.00"))]


def test_an_issue_of_everything_takes_the_whole_value_not_qty_times_the_rounded_average():
    assert issues("30000", "10000.00", "0", "30000") == [(Q("-10000.00"), Q("0"), Q("0.00"))]


def test_an_issue_beyond_stock_is_valued_at_the_last_average():
    assert issues("0", "0.00", "2.5", "2") == [(Q("-5.00"), Q("-2"), Q("-5.00"))]
    assert issues("-2", "-5.00", "2.5", "1") == [(Q("-2.50"), Q("-3"), Q("-7.50"))]
    # more than on hand: what is there, and the rest at the average
    assert issues("3", "10.00", "0", "4") == [(Q("-13.33"), Q("-1"), Q("-3.33"))]


# --- as posted ---------------------------------------------------------------------

def test_moving_average_through_receipts_and_deliveries(ledger):
    posted(ledger, doc("opening", "OP1", D1, ln("A001", 10, "20.00", warehouse="WH1")))
    posted(ledger, receipt("R1", D2, ln("A001", 10, "23.00")))
    assert balance(ledger, "A001") == (Q("20"), Q("430.00"), Q("21.5"))  # (200 + 230) / 20

    posted(ledger, delivery("S1", D3, ln("A001", 5)))
    assert moves(ledger, "S1") == [("A001", "WH1", Q("-5"), Q("-107.50"), Q("15"), Q("322.50"))]  # 5 × 21.50

    posted(ledger, receipt("R2", D4, ln("A001", 3, "19.99")))  # 3 × 19.99 = 59.97
    assert balance(ledger, "A001") == (Q("18"), Q("382.47"), Q("21.248333"))  # 382.47 / 18 = 21.2483333…

    posted(ledger, delivery("S2", D4, ln("A001", 4)))
    # 4 × 382.47 / 18 = 84.99333… → 84.99
    assert moves(ledger, "S2") == [("A001", "WH1", Q("-4"), Q("-84.99"), Q("14"), Q("297.48"))]

    posted(ledger, delivery("S3", D5, ln("A001", 14)))
    assert moves(ledger, "S3") == [("A001", "WH1", Q("-14"), Q("-297.48"), Q("0"), Q("0.00"))]
    assert balance(ledger, "A001") == (Q("0"), Q("0.00"), Q("21.248571"))  # the last average is kept


def test_issuing_all_that_is_left_takes_the_whole_value(ledger):
    # 10000 × 0.33 + 20000 × 0.335 = 3300.00 + 6700.00 = 10000.00 for 30000, avg 0.333333;
    # 30000 × 0.333333 would be 9999.99 and leave 0.01 on an empty shelf
    posted(ledger, receipt("R1", D1, ln("B002", 10000, "0.33"), ln("B002", 20000, "0.335")))
    assert balance(ledger, "B002") == (Q("30000"), Q("10000.00"), Q("0.333333"))
    posted(ledger, delivery("S1", D2, ln("B002", 30000)))
    assert moves(ledger, "S1") == [("B002", "WH1", Q("-30000"), Q("-10000.00"), Q("0"), Q("0.00"))]


def test_rounding_three_units_worth_ten(ledger):
    """3 units that cost 10.00 together, issued one by one: 3.33, 3.34, 3.33 — each
    issue takes qty × (value ÷ qty) at that moment, and the last the whole rest."""
    posted(ledger, receipt("R1", D1, ln("A001", 3, "3.333333")))  # 9.999999 → 10.00
    posted(ledger, delivery("S1", D2, ln("A001", 1)))
    posted(ledger, delivery("S2", D3, ln("A001", 1)))
    posted(ledger, delivery("S3", D4, ln("A001", 1)))
    assert [m[3:] for m in moves(ledger)] == [
        (Q("10.00"), Q("3"), Q("10.00")),
        (Q("-3.33"), Q("2"), Q("6.67")),  # 10.00 / 3 = 3.333…
        (Q("-3.34"), Q("1"), Q("3.33")),  # 6.67 / 2 = 3.335 → 3.34
        (Q("-3.33"), Q("0"), Q("0.00")),  # the rest: no residue on an empty shelf
    ]


def test_two_lines_of_one_pair_in_one_document_see_each_other(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 3, "3.333333")))
    posted(ledger, delivery("S1", D2, ln("A001", 1), ln("A001", 2)))
    assert [m[3:] for m in moves(ledger, "S1")] == [(Q("-3.33"), Q("2"), Q("6.67")), (Q("-6.67"), Q("0"), Q("0.00"))]


def test_negative_stock_when_allowed_issues_at_the_last_average(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 4, "2.50")))  # 10.00
    posted(ledger, delivery("S1", D2, ln("A001", 4)))
    posted(ledger, delivery("S2", D3, ln("A001", 2)), allow_negative_stock=True)
    assert [m[3:] for m in moves(ledger)] == [
        (Q("10.00"), Q("4"), Q("10.00")),
        (Q("-10.00"), Q("0"), Q("0.00")),
        (Q("-5.00"), Q("-2"), Q("-5.00")),  # 2 × 2.50
    ]
    assert balance(ledger, "A001") == (Q("-2"), Q("-5.00"), Q("2.5"))

    posted(ledger, receipt("R2", D1, ln("B002", 3, "3.333333")))  # 10.00
    posted(ledger, delivery("S3", D2, ln("B002", 4)), allow_negative_stock=True)
    assert moves(ledger, "S3") == [("B002", "WH1", Q("-4"), Q("-13.33"), Q("-1"), Q("-3.33"))]  # 4 × 3.333333


def test_a_transfer_moves_the_same_value_out_and_in(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 3, "3.333333"), ln("B002", 2, "5.00")))
    posted(ledger, receipt("R2", D1, ln("A001", 2, "4.00"), warehouse="WH2"))  # WH2 holds 2 × 4.00 = 8.00
    posted(ledger, doc("transfer", "T1", D2, ln("A001", 1), ln("B002", 2)))
    assert moves(ledger, "T1") == [
        ("A001", "WH1", Q("-1"), Q("-3.33"), Q("2"), Q("6.67")),
        ("A001", "WH2", Q("1"), Q("3.33"), Q("3"), Q("11.33")),
        ("B002", "WH1", Q("-2"), Q("-10.00"), Q("0"), Q("0.00")),
        ("B002", "WH2", Q("2"), Q("10.00"), Q("2"), Q("10.00")),
    ]
    assert balance(ledger, "A001", "WH2") == (Q("3"), Q("11.33"), Q("3.776667"))  # 11.33 / 3
    assert balance(ledger, "B002", "WH2") == (Q("2"), Q("10.00"), Q("5"))


def test_a_transfer_of_everything_carries_all_the_value(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 3, "3.333333")))
    posted(ledger, delivery("S1", D2, ln("A001", 1)))  # leaves 2 worth 6.67
    posted(ledger, doc("transfer", "T1", D3, ln("A001", 2), from_warehouse="WH1", to_warehouse="WH2"))
    assert balance(ledger, "A001", "WH1")[:2] == (Q("0"), Q("0.00"))
    assert balance(ledger, "A001", "WH2") == (Q("2"), Q("6.67"), Q("3.335"))


def test_a_sales_return_comes_back_at_the_current_average(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00"), ln("A001", 10, "3.00")))  # 20 worth 50.00
    posted(ledger, delivery("S1", D2, ln("A001", 5)))  # 12.50
    posted(ledger, doc("sales_return", "SR1", D3, ln("A001", 2)))
    assert moves(ledger, "SR1") == [("A001", "WH1", Q("2"), Q("5.00"), Q("17"), Q("42.50"))]  # 2 × 2.50


def test_a_sales_return_to_a_pair_that_never_held_stock_comes_back_at_std_cost(ledger):
    posted(ledger, doc("sales_return", "SR1", D1, ln("B002", 2), ln("00123", 1), warehouse="WH2"))
    assert moves(ledger, "SR1") == [
        ("B002", "WH2", Q("2"), Q("10.00"), Q("2"), Q("10.00")),  # std_cost 5.00
        ("00123", "WH2", Q("1"), Q("0.00"), Q("1"), Q("0.00")),  # no std_cost: zero
    ]


def test_a_sales_return_to_an_emptied_pair_comes_back_at_its_last_average(ledger):
    posted(ledger, receipt("R1", D1, ln("B002", 2, "7.00")))
    posted(ledger, delivery("S1", D2, ln("B002", 2)))
    posted(ledger, doc("sales_return", "SR1", D3, ln("B002", 1)))
    assert moves(ledger, "SR1") == [("B002", "WH1", Q("1"), Q("7.00"), Q("1"), Q("7.00"))]  # not std 5.00


def test_adjustments_gain_with_and_without_cost_and_loss_at_average(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.50")))  # 25.00
    posted(ledger, doc("adjustment", "ADJ1", D2,
                       ln("A001", 2, "4.00"),  # gain at its cost: 8.00 → 12 worth 33.00, avg 2.75
                       ln("A001", 1),  # gain at the average: 2.75 → 13 worth 35.75
                       ln("A001", -3),  # loss: 3 × 35.75 / 13 = 8.25
                       ln("B002", 1)))  # gain of a pair never held, no cost given: std_cost 5.00
    assert moves(ledger, "ADJ1") == [
        ("A001", "WH1", Q("2"), Q("8.00"), Q("12"), Q("33.00")),
        ("A001", "WH1", Q("1"), Q("2.75"), Q("13"), Q("35.75")),
        ("A001", "WH1", Q("-3"), Q("-8.25"), Q("10"), Q("27.50")),
        ("B002", "WH1", Q("1"), Q("5.00"), Q("1"), Q("5.00")),
    ]


def test_a_purchase_return_leaves_at_its_own_price_and_without_one_at_the_average(ledger):
    """R1 4 @ 2.50 = 10.00. PR1 1 back at the supplier's 2.99: −2.99 (as 金蝶 books a
    红字入库单), 3 left worth 7.01. PR2 1 back with no price: at the average 7.01/3 = 2.34."""
    posted(ledger, receipt("R1", D1, ln("A001", 4, "2.50")))
    posted(ledger, doc("purchase_return", "PR1", D2, ln("A001", 1, "2.99")))
    assert moves(ledger, "PR1") == [("A001", "WH1", Q("-1"), Q("-2.99"), Q("3"), Q("7.01"))]
    posted(ledger, doc("purchase_return", "PR2", D2, ln("A001", 1)))
    assert moves(ledger, "PR2") == [("A001", "WH1", Q("-1"), Q("-2.34"), Q("2"), Q("4.67"))]


def test_alternate_units_post_in_base_units(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 2, "48.00", unit="箱")))  # 箱 = 24
    assert moves(ledger, "R1") == [("A001", "WH1", Q("48"), Q("96.00"), Q("48"), Q("96.00"))]
    assert balance(ledger, "A001") == (Q("48"), Q("96.00"), Q("2"))  # 48.00 / 24 each

    posted(ledger, delivery("S1", D2, ln("A001", 1, unit="箱"), ln("A001", 5, unit="个")))
    # 24 × 2.00 = 48.00, then 5 × 2.00 = 10.00
    assert [m[2:] for m in moves(ledger, "S1")] == [(Q("-24"), Q("-48.00"), Q("24"), Q("48.00")),
                                                    (Q("-5"), Q("-10.00"), Q("19"), Q("38.00"))]


@given(st.sampled_from([None, ("0", "0", "0"), ("0", "0", "2.5"), ("7", "31.50", "4.5"), ("0.0001", "0.01", "100")]),
       st.lists(st.tuples(st.integers(1, 5), st.decimals("0.0001", "100000", places=4),
                          st.decimals("0", "10000000", places=2)), min_size=1, max_size=12))
def test_receipts_at_cost_are_valued_in_one_pass_as_the_moving_average_values_them(opening, receipts):
    """A batch's receipts onto a shelf with stock or none (repost._value_receipts) get the
    value, rate, balances and correction value_moves gives them, and leave the same state:
    e.g. 7 units worth 31.50, then 3 at 13.50 → balance 10 worth 45.00, rate 4.5."""
    from types import SimpleNamespace
    from jxc_sheets.ledger import costing, repost

    state = costing.CostState(*(Decimal(v) for v in opening)) if opening else None
    rows = [SimpleNamespace(id=i + 1, doc_date=date(2026, 11, day), kind="receipt", qty=qty, basis=costing.COST, given=given)
            for i, (day, qty, given) in enumerate(sorted(receipts, key=lambda r: r[0]))]
    assert repost._receipts_at_cost(rows, state)
    holding = opening_holding(state.qty, state.value, state.unit_cost, date(2026, 11, 1)) if state else costing.Holding()
    valued = value_moves(holding, [Move(r.id, r.doc_date, r.kind, r.qty, r.basis, r.given) for r in rows],
                         constant(MOVING_AVERAGE))
    expected = [repost._valued_columns(r.qty, v) for r, v in zip(rows, valued)]
    left = repost._value_receipts(rows, state or costing.CostState(), {})
    assert [{name: getattr(r, name) for name in columns} for r, columns in zip(rows, expected)] == expected
    assert left == holding.state()
