"""The three costing methods on one textbook month, every figure worked out by hand
below and posted through the real check and ledger (SQLite and PostgreSQL).

The month (A001, WH1; October 2026):
    09-30  opening   100 @ 10.00  = 1000.00
    10-02  R1        200 @ 11.00  = 2200.00
    10-05  S1        150 out
    10-10  R2        100 @ 12.50  = 1250.00
    10-15  S2        180 out
    10-18  SR1        30 back from S2 (a sales return naming S2: at the cost S2 left with)
    10-20  T1         50 to WH2
    10-25  R3         60 @ 13.00  =  780.00
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from jxc_sheets.closing import close_month, reopen_month
from jxc_sheets.config import Config, CostingConfig, Settings
from jxc_sheets.ledger import methods, schema
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.reverse import reverse_document
from test_closing import sheet
from test_post import Q, balance, delivery, doc, ln, moves, posted, receipt
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)

OP, R1, S1, R2, S2, SR1, T1, R3 = (date(2026, 9, 30), *(date(2026, 10, d) for d in (2, 5, 10, 15, 18, 20, 25)))
TODAY = date(2026, 11, 25)


def use(engine: Engine, method: str, items: dict | None = None) -> None:
    with engine.begin() as conn:
        methods.sync(conn, method, items or {})


def the_month(engine: Engine) -> None:
    posted(engine, doc("opening", "OP1", OP, ln("A001", 100, "10.00", warehouse="WH1")))
    posted(engine, receipt("R1", R1, ln("A001", 200, "11.00")))
    posted(engine, delivery("S1", S1, ln("A001", 150)))
    posted(engine, receipt("R2", R2, ln("A001", 100, "12.50")))
    posted(engine, delivery("S2", S2, ln("A001", 180)))
    posted(engine, doc("sales_return", "SR1", SR1, ln("A001", 30), ref_doc="S2"))
    posted(engine, doc("transfer", "T1", T1, ln("A001", 50)))
    posted(engine, receipt("R3", R3, ln("A001", 60, "13.00")))


def values(engine: Engine) -> dict[str, tuple]:
    """doc_no → (value, balance_qty, balance_value) of its WH1 movement."""
    return {n: next((v, bq, bv) for s, w, _q, v, bq, bv in moves(engine, n) if w == "WH1")
            for n in ("OP1", "R1", "S1", "R2", "S2", "SR1", "T1", "R3")}


def test_moving_average(ledger):
    use(ledger, "moving_average")
    the_month(ledger)
    assert values(ledger) == {
        "OP1": (Q("1000.00"), Q("100"), Q("1000.00")),
        "R1": (Q("2200.00"), Q("300"), Q("3200.00")),
        "S1": (Q("-1600.00"), Q("150"), Q("1600.00")),  # 150 × 3200 / 300
        "R2": (Q("1250.00"), Q("250"), Q("2850.00")),
        "S2": (Q("-2052.00"), Q("70"), Q("798.00")),  # 180 × 2850 / 250 = 180 × 11.40
        "SR1": (Q("342.00"), Q("100"), Q("1140.00")),  # 30 × 2052 / 180: as S2 left
        "T1": (Q("-570.00"), Q("50"), Q("570.00")),  # 50 × 1140 / 100
        "R3": (Q("780.00"), Q("110"), Q("1350.00")),
    }
    assert balance(ledger, "A001", "WH2") == (Q("50"), Q("570.00"), Q("11.4"))  # the value moved with the goods
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_fifo(ledger):
    use(ledger, "fifo")
    the_month(ledger)
    assert values(ledger) == {
        "OP1": (Q("1000.00"), Q("100"), Q("1000.00")),
        "R1": (Q("2200.00"), Q("300"), Q("3200.00")),
        "S1": (Q("-1550.00"), Q("150"), Q("1650.00")),  # 100 × 10.00 + 50 × 11.00: across two layers
        "R2": (Q("1250.00"), Q("250"), Q("2900.00")),
        "S2": (Q("-2025.00"), Q("70"), Q("875.00")),  # 150 × 11.00 + 30 × 12.50
        "SR1": (Q("337.50"), Q("100"), Q("1212.50")),  # 30 × 2025 / 180 = 30 × 11.25, a layer of its own
        "T1": (Q("-625.00"), Q("50"), Q("587.50")),  # 50 of R2's layer (70 × 12.50) first
        "R3": (Q("780.00"), Q("110"), Q("1367.50")),  # left: 20 × 12.50 + 30 × 11.25 + 60 × 13.00
    }
    assert balance(ledger, "A001", "WH2")[:2] == (Q("50"), Q("625.00"))
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_monthly_weighted_average_provisional_then_at_the_months_rate(ledger, tmp_path: Path):
    use(ledger, "monthly_weighted_average")
    the_month(ledger)
    # open: issues at September's rate, 1000.00 / 100 = 10.00
    assert values(ledger) == {
        "OP1": (Q("1000.00"), Q("100"), Q("1000.00")),
        "R1": (Q("2200.00"), Q("300"), Q("3200.00")),
        "S1": (Q("-1500.00"), Q("150"), Q("1700.00")),
        "R2": (Q("1250.00"), Q("250"), Q("2950.00")),
        "S2": (Q("-1800.00"), Q("70"), Q("1150.00")),
        "SR1": (Q("300.00"), Q("100"), Q("1450.00")),
        "T1": (Q("-500.00"), Q("50"), Q("950.00")),
        "R3": (Q("780.00"), Q("110"), Q("1730.00")),
    }
    settings = Settings(Config(), tmp_path)
    close_month(ledger, settings, "2026-09", "test", today=TODAY)
    close_month(ledger, settings, "2026-10", "test", today=TODAY)
    # closed: rate = (1000 + 2200 + 1250 + 780) / (100 + 200 + 100 + 60) = 5230 / 460 = 11.3695652…
    # S1 150 × r = 1705.43; S2 180 × r = 2046.52; SR1 30 × r = 341.09; together −300 × r = −3410.87,
    # one cent more than the three rounded: the month's last issue, S2, takes it → 2046.53.
    # T1 keeps the provisional 10.00 (WH2's rate never waits on WH1's).
    assert values(ledger) == {
        "OP1": (Q("1000.00"), Q("100"), Q("1000.00")),
        "R1": (Q("2200.00"), Q("300"), Q("3200.00")),
        "S1": (Q("-1705.43"), Q("150"), Q("1494.57")),
        "R2": (Q("1250.00"), Q("250"), Q("2744.57")),
        "S2": (Q("-2046.53"), Q("70"), Q("698.04")),
        "SR1": (Q("341.09"), Q("100"), Q("1039.13")),
        "T1": (Q("-500.00"), Q("50"), Q("539.13")),
        "R3": (Q("780.00"), Q("110"), Q("1319.13")),
    }
    with ledger.connect() as conn:
        assert check_ledger(conn) == []
        kept = conn.execute(select(schema.period_balances.c.value).where(
            schema.period_balances.c.month == "2026-10", schema.period_balances.c.sku == "A001",
            schema.period_balances.c.warehouse == "WH1")).scalar_one()
    assert kept == Q("1319.13")  # the snapshot holds the revalued closing
    reopen_month(ledger, settings, "2026-10", "test", "a late invoice")
    assert values(ledger)["S2"] == (Q("-1800.00"), Q("70"), Q("1150.00"))  # provisional again


def test_a_backdated_receipt_revalues_what_came_after_it(ledger):
    use(ledger, "moving_average")
    the_month(ledger)
    posted(ledger, receipt("R0", date(2026, 10, 3), ln("A001", 100, "8.00")))  # between R1 and S1
    # from 10-03: 400 worth 4000.00 (3200 + 800) → S1 150 × 10.00 = 1500.00 → 250, 2500.00;
    # R2 → 350, 3750.00; S2 180 × 3750 / 350 = 1928.571… → 1928.57 → 170, 1821.43;
    # SR1 30 × 1928.57 / 180 = 321.43 → 200, 2142.86; T1 50 × 2142.86 / 200 = 535.715 → 535.72
    assert values(ledger)["S1"] == (Q("-1500.00"), Q("250"), Q("2500.00"))
    assert values(ledger)["S2"] == (Q("-1928.57"), Q("170"), Q("1821.43"))
    assert values(ledger)["SR1"] == (Q("321.43"), Q("200"), Q("2142.86"))
    assert values(ledger)["T1"] == (Q("-535.72"), Q("150"), Q("1607.14"))
    assert balance(ledger, "A001", "WH2")[:2] == (Q("50"), Q("535.72"))  # the transfer's in leg followed
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_a_change_of_method_waits_for_the_next_month(ledger):
    use(ledger, "moving_average")
    the_month(ledger)
    with ledger.begin() as conn:
        notes = methods.sync(conn, "fifo", {})
        assert notes and "2026-11" in notes[0]
        method_of = methods.load(conn).method_of("A001")
    assert (method_of("2026-10"), method_of("2026-11")) == ("moving_average", "fifo")
    posted(ledger, delivery("S3", date(2026, 10, 28), ln("A001", 10)))  # October: still the average
    assert values(ledger)["R3"][1:] == (Q("110"), Q("1350.00"))
    assert moves(ledger, "S3")[0][3] == Q("-122.73")  # 10 × 1350 / 110
    posted(ledger, delivery("S4", date(2026, 11, 2), ln("A001", 10)))  # November: fifo from one opening layer
    assert moves(ledger, "S4")[0][3] == Q("-122.73")  # 10 × 1227.27 / 100, the opening layer's rate


def test_one_item_may_have_its_own_method(ledger):
    use(ledger, "moving_average", {"A001": "fifo"})
    the_month(ledger)
    assert values(ledger)["S1"][0] == Q("-1550.00")  # fifo, as above
    posted(ledger, receipt("RB", R1, ln("B002", 1, "1.00"), ln("B002", 1, "2.00")))
    posted(ledger, delivery("SB", S1, ln("B002", 1)))
    assert moves(ledger, "SB")[0][3] == Q("-1.50")  # B002: the average


def test_a_purchase_return_naming_its_receipt_leaves_at_that_receipts_cost(ledger):
    use(ledger, "moving_average")
    posted(ledger, receipt("RA", R1, ln("A001", 10, "2.00")))
    posted(ledger, receipt("RB", R2, ln("A001", 10, "4.00")))  # average 3.00
    posted(ledger, doc("purchase_return", "PR1", S2, ln("A001", 5), ref_doc="RA"))
    assert moves(ledger, "PR1")[0][3:] == (Q("-10.00"), Q("15"), Q("50.00"))  # 5 × 2.00, not 5 × 3.00


@pytest.mark.parametrize("method", ["moving_average", "fifo", "monthly_weighted_average"])
def test_a_reversal_takes_back_exactly_what_its_document_moved(ledger, method):
    use(ledger, method)
    the_month(ledger)
    before = balance(ledger, "A001", "WH1")
    posted(ledger, receipt("R4", date(2026, 10, 26), ln("A001", 7, "9.99")))
    with ledger.begin() as conn:
        reverse_document(conn, "R4", on=date(2026, 10, 27))
    assert balance(ledger, "A001", "WH1")[:2] == before[:2]
    assert moves(ledger, "R4-R")[0][3] == Q("-69.93")
    with ledger.connect() as conn:
        assert check_ledger(conn) == []


def test_a_checked_ledger_finds_a_value_changed_behind_its_back(ledger):
    use(ledger, "fifo")
    the_month(ledger)
    m = schema.movements
    with ledger.begin() as conn:
        target = conn.execute(select(m.c.id).where(m.c.kind == "delivery").order_by(m.c.id).limit(1)).scalar_one()
        conn.execute(m.update().where(m.c.id == target).values(value=Decimal("-1.00")))
    with ledger.connect() as conn:
        found = check_ledger(conn)
    assert any("revalued -1550.00" in f for f in found), found


@pytest.mark.parametrize("method, s3", [("moving_average", "-490.91"), ("fifo", "-475.00")])
def test_the_check_values_the_open_month_again_from_the_closed_ones(ledger, tmp_path: Path, method, s3):
    """September and October closed; S3 takes 40 on 11-02. Moving average: 40 × 1350.00 / 110
    = 490.909… → 490.91 (from October's last row alone). Fifo: the layers left, 20 × 12.50 +
    30 × 11.25 + 60 × 13.00, give the first 40: 20 × 12.50 + 20 × 11.25 = 475.00 (from the
    pair's whole history). A value changed in November is found by valuing again; one changed
    in October (closed, not valued again) by the sums and the running balances."""
    use(ledger, method)
    the_month(ledger)
    settings = Settings(Config(costing=CostingConfig(method=method)), tmp_path)
    close_month(ledger, settings, "2026-09", "test", today=TODAY)
    close_month(ledger, settings, "2026-10", "test", today=TODAY)
    posted(ledger, delivery("S3", date(2026, 11, 2), ln("A001", 40)))
    assert moves(ledger, "S3")[0][3] == Q(s3)
    with ledger.connect() as conn:
        assert check_ledger(conn) == []
    m, d = schema.movements, schema.documents
    with ledger.begin() as conn:
        s3_id, s1_id = (conn.execute(select(m.c.id).join(d, d.c.id == m.c.document_id).where(d.c.doc_no == n))
                        .scalar_one() for n in ("S3", "S1"))
        conn.execute(m.update().where(m.c.id == s3_id).values(value=Decimal("-1.00")))
    with ledger.connect() as conn:
        found = check_ledger(conn)
    assert f"movement {s3_id} A001 @ WH1 2026-11-02: 金额 value -1.00 ≠ 重算 revalued {s3}" in found, found
    with ledger.begin() as conn:
        conn.execute(m.update().where(m.c.id == s3_id).values(value=Q(s3)))
        conn.execute(m.update().where(m.c.id == s1_id).values(value=m.c.value - Decimal("0.01")))
    with ledger.connect() as conn:
        found = check_ledger(conn)
    assert [f.split(":")[0] for f in found] == ["A001 @ WH1", f"movement {s1_id} A001 @ WH1"], found


def test_the_pack_ages_fifo_stock_by_the_layers_it_is_left_from(ledger, tmp_path: Path):
    use(ledger, "fifo")
    the_month(ledger)
    settings = Settings(Config(), tmp_path)
    close_month(ledger, settings, "2026-09", "test", today=TODAY)
    closed = close_month(ledger, settings, "2026-10", "test", today=TODAY)
    layers = [(r["warehouse"], r["received"].date(), r["age_days"], Decimal(str(r["qty"])), Decimal(str(r["value"])))
              for r in sheet(closed.pack, "aging_by_layer") if r["sku"] == "A001"]
    # WH1's 110 left: R3's 60 @ 13.00, SR1's 30 @ 11.25, the last 20 of R2's @ 12.50 = 1367.50, the fifo closing
    assert layers == [
        ("WH1", R3, 6, Q("60"), Q("780.00")),
        ("WH1", SR1, 13, Q("30"), Q("337.50")),
        ("WH1", R2, 21, Q("20"), Q("250.00")),
        ("WH2", T1, 11, Q("50"), Q("625.00")),  # arrived with the transfer, at the value it carried
    ]
    assert [c["ok"] for c in sheet(closed.pack, "checks")] == ["Y"] * len(closed.checks)


def test_stock_older_than_half_a_year_is_one_undated_layer_and_the_layers_add_up(ledger, tmp_path: Path):
    use(ledger, "moving_average")
    posted(ledger, doc("opening", "OP0", date(2026, 3, 31), ln("A001", 500, "10.00", warehouse="WH1")))
    the_month(ledger)
    settings = Settings(Config(), tmp_path)
    for month in [f"2026-{m:02d}" for m in range(3, 10)]:
        close_month(ledger, settings, month, "test", today=TODAY)
    closed = close_month(ledger, settings, "2026-10", "test", today=TODAY)
    wh1 = [r for r in sheet(closed.pack, "aging_by_layer") if (r["sku"], r["warehouse"]) == ("A001", "WH1")]
    # 610 left: R3 60, SR1 30, R2 100, R1 200, OP1 100 within 180 days, and 120 of March's opening
    assert [Decimal(str(r["qty"])) for r in wh1] == [Q("60"), Q("30"), Q("100"), Q("200"), Q("100"), Q("120")]
    assert (wh1[-1]["received"], wh1[-1]["age_bucket"]) == (None, ">180")
    closing = next(r for r in sheet(closed.pack, "summary") if (r["sku"], r["warehouse"]) == ("A001", "WH1"))
    assert sum(Decimal(str(r["value"])) for r in wh1) == Decimal(str(closing["closing_value"]))


def test_fifo_from_a_month_on_starts_from_the_average_layer_it_carries_in(ledger, tmp_path: Path):
    """Moving average through September, fifo from October (the pack's fifo_layers).
    A001 @ WH1, its stock never out in September: R1 10 @ 10.00, R2 10 @ 20.00 (20 / 300.00),
    S1 5 out at 15.00 = 75.00: 15 / 225.00 carried into October as one layer, which holds
    from R1 on (R2 was averaged into it). October: R3 10 @ 30.00; S2 10 out takes the
    carried layer first, 10 × 225 / 15 = 150.00. Left: 5 of the carried layer @ 15.00 =
    75.00 (R1's) and R3's 10 @ 30.00 = 300.00.
    B002 @ WH1 ran out in September: R4 4 @ 5.00, S3 4 out, R5 6 @ 7.00 — its layer is
    R5's, 6 @ 7.00 = 42.00 (valued again from its first movement)."""
    from jxc_sheets.config import FinanceConfig
    from jxc_sheets.reports.monthend import write_pack

    use(ledger, "moving_average")
    sept = [date(2026, 9, d) for d in (1, 3, 5, 6, 10)]
    posted(ledger, receipt("R1", sept[0], ln("A001", 10, "10.00")), receipt("R4", sept[0], ln("B002", 4, "5.00")))
    posted(ledger, delivery("S3", sept[1], ln("B002", 4)))
    posted(ledger, receipt("R2", sept[2], ln("A001", 10, "20.00")), receipt("R5", sept[3], ln("B002", 6, "7.00")))
    posted(ledger, delivery("S1", sept[4], ln("A001", 5)))
    use(ledger, "fifo")
    posted(ledger, receipt("R3", R1, ln("A001", 10, "30.00")))
    posted(ledger, delivery("S2", S1, ln("A001", 10)))
    assert values_of(ledger, "S2") == Q("-150.00")
    with ledger.begin() as conn:
        pack, *_ = write_pack(conn, tmp_path, "2026-10", FinanceConfig())
    assert [(r["sku"], r["receipt"], r["receipt_date"].date(), r["qty"], r["unit_cost"], r["value"])
            for r in sheet(pack, "fifo_layers")] == [("A001", "R1", sept[0], 5, 15, 75), ("A001", "R3", R1, 10, 30, 300),
                                                     ("B002", "R5", sept[3], 6, 7, 42)]


def values_of(engine: Engine, doc_no: str) -> Decimal:
    return next(v for _s, _w, _q, v, _bq, _bv in moves(engine, doc_no))
