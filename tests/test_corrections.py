"""Cost corrections (成本调整): stock that went negative is settled at the incoming cost,
the last units out take all the value left, an issue with no history takes the standard
cost, and a purchase return goes out at its own price. Every figure is worked out by
hand in the test's docstring and posted through the real check and ledger (SQLite and
PostgreSQL). A movement's amount is value + correction; the correction goes to cost of
sales."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, select

from jxc_sheets.ledger import schema
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.repost import layers_at
from jxc_sheets.ledger.reverse import reverse_document
from test_costing_methods import use
from test_post import Q, balance, delivery, doc, ln, posted, receipt, submit
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)

D1, D2, D3, D4, D5, D6 = (date(2026, 11, d) for d in range(1, 7))


def booked(engine: Engine, doc_no: str) -> list[tuple[Decimal, Decimal]]:
    """(value, correction) of each movement of `doc_no`."""
    m, d = schema.movements, schema.documents
    with engine.connect() as conn:
        return [(r.value, r.correction or Decimal(0)) for r in conn.execute(
            select(m.c.value, m.c.correction).join(d, d.c.id == m.c.document_id)
            .where(d.c.doc_no == doc_no).order_by(m.c.id))]


def clean(engine: Engine) -> None:
    with engine.connect() as conn:
        assert check_ledger(conn) == []


def short_twice(engine: Engine) -> None:
    posted(engine, receipt("R1", D1, ln("A001", 5, "10.00"), ln("A001", 5, "14.00")))
    posted(engine, delivery("S1", D2, ln("A001", 12)), allow_negative_stock=True)
    posted(engine, delivery("S2", D3, ln("A001", 3)), allow_negative_stock=True)
    posted(engine, receipt("R2", D4, ln("A001", 4, "20.00")))
    posted(engine, receipt("R3", D5, ln("A001", 5, "30.00")))


def test_fifo_settles_each_shortfall_in_turn_at_the_incoming_cost(ledger):
    """FIFO, A001 @ WH1, negative stock allowed.
        R1  5 @ 10 = 50, 5 @ 14 = 70         layers 5/50, 5/70
        S1  12 out: 50 + 70 + 2 short at the last rate 14 = 28 → −148      layers −2/−28
        S2  3 out: all short, at 14 = 42 → −42                             layers −2/−28, −3/−42
        R2  4 @ 20 = 80: settles the first shortfall (2: booked 28, now 40, +12)
            and 2 of the second (booked 2 × 42/3 = 28, now 40, +12):
            value 80 − 24 = 56, correction 24                               layers −1/−14
        R3  5 @ 30 = 150: settles the last 1 (booked 14, now 30, +16), then 4 @ 30 = 120:
            value 134, correction 16                                        layers 4/120
    Before, R2 was added to one shortfall only, and the other was lost as a layer."""
    use(ledger, "fifo")
    short_twice(ledger)
    assert booked(ledger, "S1") == [(Decimal("-148.00"), 0)]
    assert booked(ledger, "S2") == [(Decimal("-42.00"), 0)]
    assert booked(ledger, "R2") == [(Decimal("56.00"), Decimal("24.00"))]
    assert booked(ledger, "R3") == [(Decimal("134.00"), Decimal("16.00"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("4"), Decimal("120.00"))
    with ledger.connect() as conn:
        [layer] = layers_at(conn, D6)[("A001", "WH1")]
    assert (layer.qty, layer.value) == (Q("4"), Decimal("120.00"))
    clean(ledger)


def test_moving_average_settles_the_shortfall_at_the_incoming_cost(ledger):
    """Moving average, the same documents.
        R1  10 worth 120, average 12
        S1  12 out: all 120, and 2 short at 12 = 24 → −144                  −2 / −24
        S2  3 short at 12 = 36 → −36                                        −5 / −60
        R2  4 @ 20 = 80: settles 4 of 5 (booked 4 × 60/5 = 48, now 80, +32):
            value 48, correction 32                                         −1 / −12
        R3  5 @ 30 = 150: settles 1 (booked 12, now 30, +18), 4 @ 30 = 120:
            value 132, correction 18                                         4 / 120 — 30 each, not 110
    """
    use(ledger, "moving_average")
    short_twice(ledger)
    assert booked(ledger, "S1") == [(Decimal("-144.00"), 0)]
    assert booked(ledger, "R2") == [(Decimal("48.00"), Decimal("32.00"))]
    assert booked(ledger, "R3") == [(Decimal("132.00"), Decimal("18.00"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("4"), Decimal("120.00"))
    clean(ledger)


def test_a_receipt_that_exactly_fills_the_shortfall_leaves_an_empty_shelf_worth_nothing(ledger):
    """Moving average. R1 10 @ 10 = 100; S1 13 out: 100 and 3 short at 10 = 30;
    R2 3 @ 15 = 45 settles the 3 (booked 30, now 45): value 30, correction 15; 0 units
    worth 0.00 (before: 0 units worth 15.00)."""
    posted(ledger, receipt("R1", D1, ln("A001", 10, "10.00")))
    posted(ledger, delivery("S1", D2, ln("A001", 13)), allow_negative_stock=True)
    posted(ledger, receipt("R2", D3, ln("A001", 3, "15.00")))
    assert booked(ledger, "R2") == [(Decimal("30.00"), Decimal("15.00"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("0"), Decimal("0.00"))
    clean(ledger)


def test_a_backdated_receipt_resettles_what_was_issued_short_after_it(ledger):
    """A receipt posted late, dated before a delivery that went short, values the
    delivery from real stock instead: no correction is left behind.
        R1 10 @ 10 on D1; S1 13 out on D3: 100 + 3 short at 10 → −130, −3 / −30
        R2 5 @ 16 = 80 dated D2, posted after S1: in valuation order it comes first:
            15 worth 180 (average 12); S1 then takes 13 × 12 = 156; 2 left worth 24."""
    posted(ledger, receipt("R1", D1, ln("A001", 10, "10.00")))
    posted(ledger, delivery("S1", D3, ln("A001", 13)), allow_negative_stock=True)
    posted(ledger, receipt("R2", D2, ln("A001", 5, "16.00")))
    assert booked(ledger, "R2") == [(Decimal("80.00"), 0)]
    assert booked(ledger, "S1") == [(Decimal("-156.00"), 0)]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("2"), Decimal("24.00"))
    clean(ledger)


def test_an_issue_of_an_item_that_never_had_stock_takes_its_standard_cost(ledger):
    """B002 has 标准成本 5.00 and never had stock: S1 4 out → 4 × 5.00 = −20.00.
    00123 has none: S2 2 out is valued at 0, and the answer says so at the qty cell.
    R1 4 of B002 @ 6 = 24 settles the shortfall (booked 20, now 24): correction 4."""
    checked = posted(ledger, delivery("S1", D1, ln("B002", 4)), allow_negative_stock=True)
    assert checked.warnings == ()
    assert booked(ledger, "S1") == [(Decimal("-20.00"), 0)]
    checked = posted(ledger, delivery("S2", D1, ln("00123", 2)), allow_negative_stock=True)
    assert [(w.code, w.where) for w in checked.warnings] == [("issued-at-zero", "明细!B9")]
    assert "标准成本" in checked.warnings[0].message
    assert booked(ledger, "S2") == [(Decimal("0.00"), 0)]
    posted(ledger, receipt("R1", D2, ln("B002", 4, "6.00")))
    assert booked(ledger, "R1") == [(Decimal("20.00"), Decimal("4.00"))]
    assert balance(ledger, "B002", "WH1")[:2] == (Q("0"), Decimal("0.00"))
    clean(ledger)


def test_a_return_naming_its_receipt_that_empties_the_shelf_takes_all_the_value_left(ledger):
    """Moving average. R1 10 @ 10 = 100, R2 10 @ 20 = 200: 20 worth 300 (average 15);
    S1 10 out at 15 = −150: 10 worth 150. The supplier takes back R2's 10 (ref_doc R2):
    the return is worth R2's 200, but only 150 is on the shelf. It takes the 150, and
    the 50 more that the supplier credits lowers cost of sales: correction −50.
    Before: 0 units worth −50.00 (or 5.00 in other sequences)."""
    posted(ledger, receipt("R1", D1, ln("A001", 10, "10.00")), receipt("R2", D1, ln("A001", 10, "20.00")))
    posted(ledger, delivery("S1", D2, ln("A001", 10)))
    posted(ledger, doc("purchase_return", "PR1", D3, ln("A001", 10), ref_doc="R2"))
    assert booked(ledger, "PR1") == [(Decimal("-150.00"), Decimal("-50.00"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("0"), Decimal("0.00"))
    clean(ledger)


def test_a_purchase_return_goes_out_at_its_own_price(ledger):
    """As 金蝶/用友 book a 红字入库单. R1 10 @ 15 = 150.
        PR1 4 back at the supplier's 20: −80 at its own amount, 6 left worth 70.
        S1 2 out at 70/6 = 11.666… → 23.33; 4 left worth 46.67.
        PR2 4 back at 20 = −80 empties the shelf: it takes the 46.67 there is,
            and the 33.33 more that the supplier credits is a correction of −33.33."""
    posted(ledger, receipt("R1", D1, ln("A001", 10, "15.00")))
    posted(ledger, doc("purchase_return", "PR1", D2, ln("A001", 4, "20.00")))
    assert booked(ledger, "PR1") == [(Decimal("-80.00"), 0)]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("6"), Decimal("70.00"))
    posted(ledger, delivery("S1", D3, ln("A001", 2)))
    posted(ledger, doc("purchase_return", "PR2", D4, ln("A001", 4, "20.00")))
    assert booked(ledger, "PR2") == [(Decimal("-46.67"), Decimal("-33.33"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("0"), Decimal("0.00"))
    clean(ledger)


def test_under_fifo_a_purchase_return_leaves_at_its_layers_cost_and_the_price_difference_is_a_correction(ledger):
    """FIFO. R1 10 @ 10, R2 10 @ 15. PR1 names R2 and 4 back at 18 = −72: the 4 leave
    R2's layer at 15 = −60, and the supplier's 12 more is a correction of −12. Layers
    10 @ 10 and 6 @ 15 stay as they were received."""
    use(ledger, "fifo")
    posted(ledger, receipt("R1", D1, ln("A001", 10, "10.00")), receipt("R2", D2, ln("A001", 10, "15.00")))
    posted(ledger, doc("purchase_return", "PR1", D3, ln("A001", 4, "18.00"), ref_doc="R2"))
    assert booked(ledger, "PR1") == [(Decimal("-60.00"), Decimal("-12.00"))]
    with ledger.connect() as conn:
        layers = layers_at(conn, D6)[("A001", "WH1")]
    assert [(l.qty, l.value) for l in layers] == [(Q("10"), Decimal("100.00")), (Q("6"), Decimal("90.00"))]
    clean(ledger)


def test_reversing_a_receipt_that_settled_a_shortfall_brings_the_shortfall_back(ledger):
    """R1 10 @ 10; S1 13 out (−130, −3 / −30); R2 3 @ 15 settled it: value 30,
    correction 15. Reversing R2 takes back both exactly: value −30, correction −15,
    and the shelf is −3 worth −30 again, as if R2 had never been posted."""
    posted(ledger, receipt("R1", D1, ln("A001", 10, "10.00")))
    posted(ledger, delivery("S1", D2, ln("A001", 13)), allow_negative_stock=True)
    posted(ledger, receipt("R2", D3, ln("A001", 3, "15.00")))
    with ledger.begin() as conn:
        number = reverse_document(conn, "R2", on=D4, allow_negative_stock=True)
    assert booked(ledger, number) == [(Decimal("-30.00"), Decimal("-15.00"))]
    assert balance(ledger, "A001", "WH1")[:2] == (Q("-3"), Decimal("-30.00"))
    clean(ledger)


def test_without_negative_stock_an_issue_of_nothing_is_still_refused(ledger):
    checked = submit(ledger, delivery("S1", D1, ln("A001", 1)))
    assert [p.code for p in checked.problems] == ["insufficient-stock"]


def test_the_pack_shows_the_layers_left_the_monthly_rate_and_each_correction(ledger, tmp_path):
    """FIFO for A001, the monthly average for B002, November.
    A001: the two shortfalls above: at the month's end one layer is left, R3's 4 @ 30.00 =
    120.00; the corrections are R2's (value 56.00 + correction 24.00 = its 80.00) and R3's
    (134.00 + 16.00 = 150.00).
    B002: R4 10 @ 5.00 and R5 10 @ 8.00, S3 5 out: the month's rate (50 + 80) ÷ 20 = 6.50,
    15 left worth 97.50."""
    from jxc_sheets.config import FinanceConfig
    from jxc_sheets.reports.monthend import write_pack
    from test_closing import sheet

    use(ledger, "fifo", {"B002": "monthly_weighted_average"})
    short_twice(ledger)
    posted(ledger, receipt("R4", D1, ln("B002", 10, "5.00")), receipt("R5", D2, ln("B002", 10, "8.00")))
    posted(ledger, delivery("S3", D3, ln("B002", 5)))
    with ledger.begin() as conn:
        pack, *_ = write_pack(conn, tmp_path, "2026-11", FinanceConfig())
    assert [(r["sku"], r["receipt"], r["receipt_date"].date(), r["qty"], r["unit_cost"], r["value"])
            for r in sheet(pack, "fifo_layers")] == [("A001", "R3", D5, 4, 30, 120)]
    assert [(r["doc_no"], r["value"], r["correction"], r["amount"]) for r in sheet(pack, "cost_corrections")] == [
        ("R2", 56, 24, 80), ("R3", 134, 16, 150)]
    assert [(r["sku"], r["month_rate"], r["closing_qty"], r["closing_value"]) for r in sheet(pack, "monthly_rates")] == [
        ("B002", 6.5, 15, 97.5)]
