"""Orders: purchase and sales orders posted from real forms, receipts and deliveries
against them, over-receipt, prices from the order, short-closing, reversals,
backorders and sales plans — all through the real pipeline and a real SQLite ledger."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import D, drop_master, jxc, make_form, make_table, run_files
from jxc_sheets.config import Config, OrdersConfig, Settings
from jxc_sheets.ledger import orders as ledger_orders
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger

D2, D3, D4 = date(2026, 11, 4), date(2026, 11, 5), date(2026, 11, 6)


def seeded(settings, engine) -> None:
    drop_master(settings.inbox)
    make_table(settings.inbox / "suppliers2.xlsx", "suppliers", [{"code": "S02", "name": "江南文具"}])
    make_form(settings.inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 11, 1)},
              [{"warehouse": "WH1", "sku": "B002", "qty": 50, "unit_cost": 2}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}


def purchase_order(settings, name="po.xlsx", doc_no="CG-1", supplier="S01", lines=None, **header) -> Path:
    lines = lines if lines is not None else [{"sku": "A001", "qty": 100, "unit_price": 20},
                                             {"sku": "B002", "qty": 240, "unit_price": "1.5"}]
    return make_form(settings.inbox / name, "purchase_order",
                     {"doc_no": doc_no, "doc_date": D, "supplier": supplier, "expected_date": D3, **header}, lines)


def receipt(settings, name, doc_no, lines, ref="CG-1", supplier="S01", day=D2) -> Path:
    return make_form(settings.inbox / name, "receipt",
                     {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "supplier": supplier, "ref_doc": ref}, lines)


def problems(outcome) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in outcome.problems]


def open_lines(engine, doc_no="CG-1", kind="purchase_order") -> list[tuple[str, Decimal]]:
    with engine.connect() as conn:
        order = ledger_orders.orders_by_no(conn, kind, [doc_no])[doc_no]
    return [(l.sku, order.outstanding(l)) for l in order.lines]


def on_hand(engine, sku, warehouse="WH1") -> tuple[Decimal, Decimal]:
    b = schema.balances
    with engine.connect() as conn:
        row = conn.execute(select(b.c.qty, b.c.value).where(b.c.sku == sku, b.c.warehouse == warehouse)).first()
    return (row.qty, row.value) if row else (Decimal(0), Decimal(0))


# --- purchase orders and receipts ------------------------------------------------

def test_an_order_moves_no_stock_and_two_partial_receipts_complete_it(workspace, engine):
    seeded(workspace, engine)
    purchase_order(workspace)
    assert run_files(workspace, engine)["po.xlsx"].status == "posted"
    assert on_hand(engine, "A001") == (0, 0)
    assert open_lines(engine) == [("A001", 100), ("B002", 240)]

    receipt(workspace, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 60}, {"sku": "B002", "qty": 20, "unit": "盒"}])
    assert run_files(workspace, engine)["r1.xlsx"].status == "posted"
    assert open_lines(engine) == [("A001", 40), ("B002", 0)]
    # no cost on the receipt: the order's price, per the unit received (1 盒 = 12 支 at 1.5)
    assert on_hand(engine, "A001") == (60, Decimal("1200.00"))
    assert on_hand(engine, "B002") == (290, Decimal("100.00") + Decimal("360.00"))

    receipt(workspace, "r2.xlsx", "RK-2", [{"sku": "A001", "qty": 8, "unit": "箱", "unit_cost": 100}], day=D3)
    assert run_files(workspace, engine)["r2.xlsx"].status == "posted"
    assert open_lines(engine) == [("A001", 0), ("B002", 0)]
    with engine.connect() as conn:
        assert ledger_orders.open_orders(conn, "purchase_order") == []


def test_over_receipt_is_refused_at_the_qty_cell_saying_what_is_open(workspace, engine):
    seeded(workspace, engine)
    purchase_order(workspace)
    run_files(workspace, engine)
    receipt(workspace, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 90}])
    run_files(workspace, engine)
    receipt(workspace, "r2.xlsx", "RK-2", [{"sku": "B002", "qty": 10}, {"sku": "A001", "qty": 11}])
    outcome = run_files(workspace, engine)["r2.xlsx"]
    assert outcome.status == "rejected"
    assert problems(outcome) == [("明细!B10", "order-over")]
    assert "尚未收货 10 包" in outcome.problems[0].zh and "10 包 open" in outcome.problems[0].en
    assert open_lines(engine) == [("A001", 10), ("B002", 240)]  # nothing of the file posted
    assert (workspace.rejected / "r2.errors.xlsx").exists()


def test_a_tolerance_lets_a_receipt_go_a_little_over(tmp_path):
    settings = Settings(Config(orders=OrdersConfig(over_receipt_pct=10)), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    seeded(settings, engine)
    purchase_order(settings, lines=[{"sku": "A001", "qty": 100, "unit_price": 20}])
    receipt(settings, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 110}])
    receipt(settings, "r2.xlsx", "RK-2", [{"sku": "A001", "qty": 1}], day=D3)
    outcomes = run_files(settings, engine)
    assert outcomes["r1.xlsx"].status == "posted"
    assert problems(outcomes["r2.xlsx"]) == [("明细!B5", "order-closed")]  # complete: nothing open


def test_wrong_references_are_problems_at_the_ref_doc_cell(workspace, engine):
    seeded(workspace, engine)
    purchase_order(workspace)
    run_files(workspace, engine)
    receipt(workspace, "unknown.xlsx", "RK-1", [{"sku": "A001", "qty": 1}], ref="CG-404")
    receipt(workspace, "other.xlsx", "RK-2", [{"sku": "A001", "qty": 1}], supplier="S02")
    receipt(workspace, "sku.xlsx", "RK-3", [{"sku": "00123", "qty": 1, "unit_cost": 3}])
    receipt(workspace, "nocost.xlsx", "RK-4", [{"sku": "A001", "qty": 1}], ref=None)
    outcomes = run_files(workspace, engine)
    assert problems(outcomes["unknown.xlsx"]) == [("明细!B5", "order-unknown")]
    assert problems(outcomes["other.xlsx"]) == [("明细!B5", "order-other-party")]
    assert "S01" in outcomes["other.xlsx"].problems[0].zh
    assert problems(outcomes["sku.xlsx"]) == [("明细!A9", "order-sku-not-ordered")]
    assert problems(outcomes["nocost.xlsx"]) == [("明细!D9", "required")]
    assert on_hand(engine, "A001") == (0, 0)


def test_a_price_off_the_order_posts_with_a_warning_in_the_processing_log(workspace, engine):
    seeded(workspace, engine)
    purchase_order(workspace)
    run_files(workspace, engine)
    receipt(workspace, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 10, "unit_cost": 23}])
    outcome = run_files(workspace, engine)["r1.xlsx"]
    assert outcome.status == "posted"
    assert any("[price-off-order]" in note for note in outcome.notes)
    with engine.connect() as conn:
        warnings = conn.execute(select(schema.files.c.warnings).where(schema.files.c.name == "r1.xlsx")).scalar()
    assert "明细!D9" in warnings and "23" in warnings
    assert on_hand(engine, "A001") == (10, Decimal("230.00"))  # the receipt's own cost stands


# --- closing and reversing ---------------------------------------------------------

def test_dropping_the_order_again_with_the_close_marker_short_closes_it_once(workspace, engine):
    seeded(workspace, engine)
    purchase_order(workspace)
    run_files(workspace, engine)
    receipt(workspace, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 30}])
    run_files(workspace, engine)
    purchase_order(workspace, name="po-close.xlsx", close="Y", close_reason="供应商缺货")
    outcome = run_files(workspace, engine)["po-close.xlsx"]
    assert outcome.status == "posted" and any("订单已关闭" in n for n in outcome.notes)
    assert open_lines(engine) == [("A001", 0), ("B002", 0)]
    purchase_order(workspace, name="po-close-again.xlsx", close="Y", close_reason="供应商缺货")
    again = run_files(workspace, engine)["po-close-again.xlsx"]
    assert again.status == "skipped" and any("already closed" in n for n in again.notes)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.order_closures)).scalar() == 1
    receipt(workspace, "r2.xlsx", "RK-2", [{"sku": "A001", "qty": 1}], day=D3)
    assert problems(run_files(workspace, engine)["r2.xlsx"]) == [("明细!B5", "order-closed")]


def test_a_close_marker_on_a_new_order_is_a_problem(workspace, engine):
    seeded(workspace, engine)
    purchase_order(workspace, close="Y")
    outcome = run_files(workspace, engine)["po.xlsx"]
    assert problems(outcome) == [("明细!E5", "order-close-new")]


@pytest.mark.slow
def test_jxc_close_order_and_reverse_from_the_command_line(tmp_path):
    jxc("init", "ws", cwd=tmp_path)
    ws = tmp_path / "ws"
    settings = Settings(Config(), ws)
    engine = open_ledger(settings.ledger_url)
    seeded(settings, engine)
    purchase_order(settings)
    receipt(settings, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 30}])
    run_files(settings, engine)

    refused = jxc("reverse", "CG-1", cwd=ws, check=False)
    assert refused.returncode == 2 and "close-order" in refused.stderr
    jxc("reverse", "RK-1", "--date", "2026-11-05", cwd=ws)  # the receipt's reversal reopens the order
    assert open_lines(engine) == [("A001", 100), ("B002", 240)]
    jxc("close-order", "CG-1", "--reason", "不再需要", cwd=ws)
    assert open_lines(engine) == [("A001", 0), ("B002", 0)]
    again = jxc("close-order", "CG-1", "--reason", "x", cwd=ws, check=False)
    assert again.returncode == 2 and "already closed" in again.stderr


def test_an_order_without_receipts_may_be_reversed_and_is_then_cancelled(workspace, engine):
    from jxc_sheets.ledger.reverse import reverse_document

    seeded(workspace, engine)
    purchase_order(workspace)
    run_files(workspace, engine)
    with engine.begin() as conn:
        reverse_document(conn, "CG-1", on=D2)
    receipt(workspace, "r1.xlsx", "RK-1", [{"sku": "A001", "qty": 1}], day=D3)
    assert problems(run_files(workspace, engine)["r1.xlsx"]) == [("明细!B5", "order-closed")]


# --- sales orders, backorders, deliveries ---------------------------------------------

def sales_order(settings, name, doc_no, qty, sku="B002") -> Path:
    return make_form(settings.inbox / name, "sales_order",
                     {"doc_no": doc_no, "doc_date": D, "customer": "C01", "promised_date": D4},
                     [{"sku": sku, "qty": qty, "unit_price": 3}])


def delivery(settings, name, doc_no, qty, ref, day=D2) -> Path:
    return make_form(settings.inbox / name, "delivery",
                     {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "customer": "C01", "ref_doc": ref},
                     [{"sku": "B002", "qty": qty}])


def test_a_sales_order_beyond_what_is_available_is_a_backorder_then_delivered(workspace, engine):
    seeded(workspace, engine)  # 50 B002 on hand
    sales_order(workspace, "so1.xlsx", "XS-1", 30)
    sales_order(workspace, "so2.xlsx", "XS-2", 40)  # 20 left after XS-1's reservation: 20 on backorder
    outcomes = run_files(workspace, engine)
    assert outcomes["so1.xlsx"].notes == ()
    assert outcomes["so2.xlsx"].status == "posted"
    assert [n for n in outcomes["so2.xlsx"].notes if "[backorder]" in n]
    assert "可用 20" in outcomes["so2.xlsx"].notes[0] and "20 of XS-2" in outcomes["so2.xlsx"].notes[0]
    with engine.connect() as conn:
        assert ledger_orders.reserved_by_sku(conn) == {"B002": 70}

    delivery(workspace, "d1.xlsx", "CK-1", 30, "XS-1")
    delivery(workspace, "d-over.xlsx", "CK-2", 41, "XS-2")
    outcomes = run_files(workspace, engine)
    assert outcomes["d1.xlsx"].status == "posted"
    assert problems(outcomes["d-over.xlsx"]) == [("明细!B9", "order-over")]
    with engine.connect() as conn:
        row = conn.execute(select(schema.lines.c.unit_price).join(schema.documents).where(
            schema.documents.c.doc_no == "CK-1")).scalar()
    assert row == 3  # the order's price, where the delivery left it empty
    assert open_lines(engine, "XS-1", "sales_order") == [("B002", 0)]

    # a delivery above what is on hand is refused as in the core, order or not
    delivery(workspace, "d2.xlsx", "CK-3", 40, "XS-2", day=D3)
    assert problems(run_files(workspace, engine)["d2.xlsx"]) == [("明细!B9", "insufficient-stock")]
    receipt(workspace, "r1.xlsx", "RK-1", [{"sku": "B002", "qty": 100, "unit_cost": 2}], ref=None, day=D3)
    delivery(workspace, "d3.xlsx", "CK-4", 40, "XS-2", day=D4)
    outcomes = run_files(workspace, engine)
    assert outcomes["d3.xlsx"].status == "posted"
    with engine.connect() as conn:
        assert ledger_orders.open_orders(conn, "sales_order") == []


def test_without_reservation_open_sales_orders_hold_no_stock(tmp_path):
    settings = Settings(Config(orders=OrdersConfig(reserve_stock=False)), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    seeded(settings, engine)
    sales_order(settings, "so1.xlsx", "XS-1", 30)
    sales_order(settings, "so2.xlsx", "XS-2", 40)
    outcomes = run_files(settings, engine)
    assert outcomes["so2.xlsx"].notes == ()


# --- sales plans ---------------------------------------------------------------------

def test_a_sales_plan_posts_its_month_and_customers(workspace, engine):
    seeded(workspace, engine)
    make_form(workspace.inbox / "plan.xlsx", "sales_plan", {"doc_no": "JH-2026-12", "doc_date": D, "month": "2026年12月"},
              [{"sku": "A001", "qty": 300, "customer": "C01"}, {"sku": "B002", "qty": 1200}])
    make_form(workspace.inbox / "bad.xlsx", "sales_plan", {"doc_no": "JH-X", "doc_date": D, "month": "十二月"},
              [{"sku": "A001", "qty": 1, "customer": "C99"}])
    outcomes = run_files(workspace, engine)
    assert outcomes["plan.xlsx"].status == "posted"
    assert problems(outcomes["bad.xlsx"]) == [("明细!B4", "not-a-month"), ("明细!D8", "unknown-customers")]
    d, l = schema.documents, schema.lines
    with engine.connect() as conn:
        assert conn.execute(select(d.c.due_date).where(d.c.doc_no == "JH-2026-12")).scalar() == date(2026, 12, 1)
        assert conn.execute(select(l.c.sku, l.c.qty, l.c.partner).order_by(l.c.id.desc()).limit(2)).all()[::-1] == [
            ("A001", 300, "C01"), ("B002", 1200, None)]
    assert on_hand(engine, "A001") == (0, 0)
