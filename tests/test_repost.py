"""Backdated documents (reposting): whatever order documents are posted in, every
movement ends with the value a full replay gives — the same documents posted in
(date, posting sequence) order into a second ledger, where nothing is ever
backdated — for all three costing methods, on random sequences (hypothesis)."""
from __future__ import annotations

import tempfile
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from jxc_sheets.ledger import methods, schema
from jxc_sheets.ledger.integrity import check_ledger
from test_integrity import fresh_ledger, seeded_file  # noqa: F401  (fixture)
from test_post import Q, doc, ln, posted

SKUS = ("A001", "B002")
WAREHOUSES = ("WH1", "WH2")
DAYS = (date(2026, 9, 28), date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5))

quantities = st.sampled_from(["1", "2", "3", "7", "0.5"])
costs = st.sampled_from(["3.333333", "0.335", "2", "9.99", "0.01"])


@st.composite
def documents(draw):
    kind = draw(st.sampled_from(["receipt", "receipt", "delivery", "sales_return", "purchase_return",
                                 "transfer", "adjustment"]))
    day = draw(st.sampled_from(DAYS))
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        sku, qty = draw(st.sampled_from(SKUS)), draw(quantities)
        if kind == "receipt":
            lines.append(ln(sku, qty, draw(costs)))
        elif kind == "adjustment":
            lines.append(ln(sku, qty if draw(st.booleans()) else f"-{qty}", draw(st.none() | costs)))
        else:
            lines.append(ln(sku, qty))
    header = {"warehouse": draw(st.sampled_from(WAREHOUSES))}
    if kind == "transfer":
        source = draw(st.sampled_from(WAREHOUSES))
        header = {"from_warehouse": source, "to_warehouse": next(w for w in WAREHOUSES if w != source)}
    return kind, day, tuple(lines), header


sequences = st.lists(documents(), min_size=2, max_size=9).flatmap(
    lambda docs: st.tuples(st.just(docs), st.permutations(range(len(docs)))))


def post_all(engine, method: str, specs, order) -> None:
    with engine.begin() as conn:
        methods.sync(conn, method, {})
    for i in order:
        kind, day, lines, header = specs[i]
        posted(engine, doc(kind, f"D{i}", day, *lines, **header), allow_negative_stock=True)


def valued(engine) -> dict[tuple, tuple]:
    m, d = schema.movements, schema.documents
    query = select(d.c.doc_no, m.c.line_no, m.c.warehouse, m.c.qty, m.c.value).join(d, d.c.id == m.c.document_id)
    with engine.connect() as conn:
        return {(r.doc_no, r.line_no, r.warehouse, r.qty > 0): (r.qty, r.value) for r in conn.execute(query)}


def stock(engine) -> dict[tuple, tuple]:
    with engine.connect() as conn:
        return {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(select(schema.balances))}


def replay_equals_backdated_posting(seeded_file, method: str, sequence) -> None:
    specs, order = sequence
    in_date_order = sorted(order, key=lambda i: (specs[i][1], order.index(i)))
    with tempfile.TemporaryDirectory() as folder:
        backdated = fresh_ledger(seeded_file, folder, "backdated.sqlite3")
        replayed = fresh_ledger(seeded_file, folder, "replayed.sqlite3")
        try:
            post_all(backdated, method, specs, order)
            post_all(replayed, method, specs, in_date_order)
            assert valued(backdated) == valued(replayed)
            assert stock(backdated) == stock(replayed)
            with backdated.connect() as conn:
                assert check_ledger(conn) == []
        finally:
            backdated.dispose()
            replayed.dispose()


SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@SETTINGS
@given(sequences)
def test_moving_average_backdated_equals_replayed(seeded_file, sequence):
    replay_equals_backdated_posting(seeded_file, "moving_average", sequence)


@pytest.mark.slow
@SETTINGS
@given(sequences)
def test_fifo_backdated_equals_replayed(seeded_file, sequence):
    replay_equals_backdated_posting(seeded_file, "fifo", sequence)


@pytest.mark.slow
@SETTINGS
@given(sequences)
def test_monthly_average_backdated_equals_replayed(seeded_file, sequence):
    replay_equals_backdated_posting(seeded_file, "monthly_weighted_average", sequence)


def test_only_the_backdated_documents_pairs_are_revalued(seeded_file):
    """Two pairs; a receipt backdated into one of them rewrites that pair's later rows
    and leaves the other's untouched (not even rewritten to the same values)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = fresh_ledger(seeded_file, folder, "ledger.sqlite3")
        try:
            posted(engine, doc("receipt", "R1", DAYS[0], ln("A001", "10", "2"), ln("B002", "10", "2")))
            posted(engine, doc("delivery", "S1", DAYS[3], ln("A001", "5"), ln("B002", "5")))
            with engine.begin() as conn:  # a trigger counts the rows each later posting rewrites
                conn.exec_driver_sql("CREATE TABLE touched (sku TEXT)")
                conn.exec_driver_sql("CREATE TRIGGER t AFTER UPDATE OF value ON movements "
                                     "BEGIN INSERT INTO touched VALUES (NEW.sku); END")
            posted(engine, doc("receipt", "R0", DAYS[1], ln("A001", "10", "4")))
            with engine.connect() as conn:
                touched = [r[0] for r in conn.exec_driver_sql("SELECT sku FROM touched")]
            assert sorted(touched) == ["A001", "A001"]  # R0's own row, and S1's A001 line
            assert valued(engine)[("S1", 1, "WH1", False)] == (Q("-5"), Q("-15.00"))  # 5 × 60 / 20
            assert valued(engine)[("S1", 2, "WH1", False)] == (Q("-5"), Q("-10.00"))
        finally:
            engine.dispose()
