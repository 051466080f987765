"""`jxc check`: the balances, the running balances and the movements agree — and a
hand-edited ledger is caught. With a property test over random receipts and
deliveries: the ledger follows the documented costing rules, and replaying the
same documents gives the same ledger."""
from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, func, insert, select, text, update

from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.reverse import reverse_document
from test_post import D1, D2, D3, D4, Q, all_balances, delivery, doc, ln, moves, posted, receipt, seed, submit
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)


def busy_ledger(engine) -> None:
    """A little of everything: opening, receipts in two units, deliveries, a transfer,
    a return, an adjustment and a reversal."""
    posted(engine, doc("opening", "OP1", D1, ln("A001", 10, "20.00", warehouse="WH1"),
                       ln("B002", 5, "5.00", warehouse="WH2")))
    posted(engine, receipt("R1", D2, ln("A001", 1, "480.00", unit="箱"), ln("00123", 3, "3.333333")))
    posted(engine, delivery("S1", D2, ln("A001", 7), ln("00123", 1)), doc("transfer", "T1", D3, ln("A001", 5)))
    posted(engine, doc("sales_return", "SR1", D3, ln("A001", 1)), doc("adjustment", "ADJ1", D4, ln("00123", -2)))
    with engine.begin() as conn:
        reverse_document(conn, "S1", on=D4)


def findings(engine) -> list[str]:
    with engine.connect() as conn:
        return check_ledger(conn)


def test_a_good_ledger_has_no_findings(ledger):
    busy_ledger(ledger)
    assert findings(ledger) == []


def test_balances_are_the_sums_of_movements_and_each_movement_carries_the_running_sum(ledger):
    busy_ledger(ledger)
    running: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for sku, wh, qty, value, balance_qty, balance_value in moves(ledger):
        before = running.get((sku, wh), (Decimal(0), Decimal(0)))
        running[(sku, wh)] = (before[0] + qty, before[1] + value)
        assert (balance_qty, balance_value) == running[(sku, wh)]
    assert {pair: b[:2] for pair, b in all_balances(ledger).items()} == running
    # opening 10 × 20 + 24 × 20 = 680.00 for 34; S1 took 7 (140.00) and came back; T1 took 5 (100.00);
    # SR1 brought 1 at 20.00
    assert running[("A001", "WH1")] == (Q("30"), Q("600.00"))
    assert running[("A001", "WH2")] == (Q("5"), Q("100.00"))


def test_an_altered_balance_is_found(ledger):
    busy_ledger(ledger)
    with ledger.begin() as conn:
        conn.execute(update(schema.balances).where(schema.balances.c.sku == "A001", schema.balances.c.warehouse == "WH1")
                     .values(qty=Q("31")))
    [finding] = findings(ledger)
    assert finding.startswith("A001 @ WH1:")
    assert "qty 30" in finding and "qty 31" in finding


def test_an_altered_balance_value_by_raw_sql_is_found(ledger):
    busy_ledger(ledger)
    with ledger.begin() as conn:  # one cent, in the scaled integer the database holds
        conn.execute(text("UPDATE balances SET value = value + 1 WHERE sku = 'B002' AND warehouse = 'WH2'"))
    [finding] = findings(ledger)
    assert finding.startswith("B002 @ WH2:") and "value 25.01" in finding


def test_an_altered_movement_breaks_the_sums_and_the_running_balance(ledger):
    busy_ledger(ledger)
    m = schema.movements
    with ledger.begin() as conn:
        first = conn.execute(select(func.min(m.c.id)).where(m.c.sku == "00123")).scalar_one()
        conn.execute(update(m).where(m.c.id == first).values(value=Q("9.99")))
    found = findings(ledger)
    # the value is derived (the chain seals what it rests on): costing it again finds it
    assert [f.split(":")[0] for f in found] == ["00123 @ WH1", f"movement {first} 00123 @ WH1",
                                                f"movement {first} 00123 @ WH1 2026-11-02"]


def test_an_altered_cost_and_value_together_break_the_chain(ledger):
    busy_ledger(ledger)
    m = schema.movements
    with ledger.begin() as conn:  # consistent everywhere but in the chain, which sealed the cost given
        first = conn.execute(select(func.min(m.c.id)).where(m.c.sku == "00123")).scalar_one()
        conn.execute(update(m).where(m.c.id == first).values(given=m.c.given + 1))
    assert [f.split(":")[0] for f in findings(ledger)] == [f"movement {first} 00123 @ WH1 2026-11-02", "receipt R1"]


def test_a_missing_balance_and_a_document_without_movements_are_found(ledger):
    busy_ledger(ledger)
    d = schema.documents
    with ledger.begin() as conn:
        conn.execute(delete(schema.balances).where(schema.balances.c.sku == "B002"))
        row = conn.execute(select(d).where(d.c.doc_no == "R1")).one()
        values = {c.name: getattr(row, c.name) for c in d.c if c.name != "id"}
        conn.execute(insert(d).values(values | {"doc_no": "EMPTY1"}))
    found = findings(ledger)
    # without movements, and a document the chain never sealed
    assert [f.split(":")[0] for f in found] == ["B002 @ WH2", "receipt EMPTY1", "receipt EMPTY1"]


def test_the_check_leaves_the_connection_usable(ledger):
    busy_ledger(ledger)
    with ledger.begin() as conn:
        assert check_ledger(conn) == []
        conn.execute(update(schema.balances).where(schema.balances.c.sku == "B002").values(qty=Q("6")))
        assert [f.split(":")[0] for f in check_ledger(conn)] == ["B002 @ WH2"]
        conn.rollback()
    assert findings(ledger) == []


# --- property: the documented rules, on random receipts and deliveries --------------

PAIRS = [("A001", "WH1"), ("A001", "WH2"), ("B002", "WH1")]
qty = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4)
cost = st.decimals(min_value=Decimal("0"), max_value=Decimal("99.999999"), places=6)
share = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1"), places=2)
step = st.one_of(
    st.tuples(st.just("receipt"), st.sampled_from(PAIRS), qty, cost),
    st.tuples(st.just("delivery"), st.sampled_from(PAIRS), share, st.just(None)),
    st.tuples(st.just("delivery-all"), st.sampled_from(PAIRS), st.just(None), st.just(None)),
)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def documents_and_expectations(steps) -> tuple[list, dict, list[Decimal]]:
    """The documents of `steps` (deliveries capped at stock on hand) and what the documented
    rules say of them, worked out here independently of the ledger: receipts bring
    qty × cost to the cent; an issue takes its share of the value to the cent, all of it
    when it empties the shelf."""
    held: dict[tuple[str, str], tuple[Decimal, Decimal]] = {pair: (Decimal(0), Decimal(0)) for pair in PAIRS}
    docs, values = [], []
    for n, (what, (sku, wh), amount, unit_cost) in enumerate(steps):
        day = date(2026, 1, 1) + timedelta(days=n // 3)
        on_hand, value = held[(sku, wh)]
        if what == "receipt":
            docs.append(receipt(f"R{n}", day, ln(sku, amount, str(unit_cost)), warehouse=wh))
            moved, worth = amount, cents(amount * unit_cost)
        else:
            out = on_hand if what == "delivery-all" else (on_hand * amount).quantize(Decimal("0.0001"))
            if out <= 0:
                continue
            docs.append(delivery(f"S{n}", day, ln(sku, out), warehouse=wh))
            moved, worth = -out, -(value if out == on_hand else cents(out * value / on_hand))
        held[(sku, wh)] = (on_hand + moved, value + worth)
        values.append(worth)
    return docs, held, values


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory) -> Path:
    """A seeded SQLite ledger, closed (so its WAL is checkpointed), to be copied per example."""
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite3"
    engine = open_ledger(f"sqlite:///{path}")
    seed(engine)
    engine.dispose()
    return path


def fresh_ledger(seeded: Path, folder: str, name: str):
    path = Path(folder) / name
    shutil.copyfile(seeded, path)
    return open_ledger(f"sqlite:///{path}")


def movement_rows(engine) -> list[tuple]:
    return [m[:4] for m in moves(engine)]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=14))
def test_random_receipts_and_deliveries_follow_the_rules_and_replay_identically(seeded_file, steps):
    docs, expected, values = documents_and_expectations(steps)
    with tempfile.TemporaryDirectory() as folder:
        incremental = fresh_ledger(seeded_file, folder, "incremental.sqlite3")
        for document in docs:  # one file per document
            posted(incremental, document)
        replayed = fresh_ledger(seeded_file, folder, "replayed.sqlite3")
        posted(replayed, *docs)  # all of them in one file
        try:
            balances = all_balances(incremental)
            # on hand and value: what the rules say, and the sums of the movements
            assert {pair: b[:2] for pair, b in balances.items()} == {p: e for p, e in expected.items() if p in balances}
            assert [m[3] for m in movement_rows(incremental)] == values
            assert findings(incremental) == []
            for _sku, _wh, q, v, balance_qty, balance_value in moves(incremental):
                assert balance_qty >= 0 and balance_value >= 0
                assert balance_value == 0 or balance_qty > 0  # nothing left on an empty shelf
                assert v == 0 or (v > 0) == (q > 0)
            # replay = incremental; posting twice = posting once
            assert all_balances(replayed) == balances
            assert movement_rows(replayed) == movement_rows(incremental)
            again = submit(incremental, *docs)
            assert again.problems == () and again.to_post == () and len(again.already_posted) == len(docs)
            assert all_balances(incremental) == balances
        finally:
            incremental.dispose()
            replayed.dispose()


def test_a_document_changed_or_deleted_behind_the_programs_back_breaks_the_chain_there(ledger):
    busy_ledger(ledger)
    d = schema.documents
    with ledger.begin() as conn:
        conn.execute(update(d).where(d.c.doc_no == "R1").values(partner="S99"))  # a quiet edit
    assert [f.split(":")[0] for f in findings(ledger)] == ["receipt R1"]
    with ledger.begin() as conn:
        conn.execute(update(d).where(d.c.doc_no == "R1").values(partner="S01"))  # put back: whole again
    assert findings(ledger) == []


def test_the_chain_is_walked_a_page_at_a_time_and_still_sees_every_document(ledger):
    from jxc_sheets.ledger import chain

    busy_ledger(ledger)
    with ledger.connect() as conn:
        ids = list(conn.execute(select(schema.documents.c.id).order_by(schema.documents.c.id)).scalars())
        paged = [(d.id, [m.id for m in ms]) for d, ms in chain._all_documents_with_movements(conn, page=2)]
        whole = [(d.id, [m.id for m in ms]) for d, ms in chain._documents_with_movements(conn, ids)]
    assert len(ids) > 4 and paged == whole


# --- the streaming walk of the chain (chain.walk): what chain.link computes -----------------

def linked_by_link(conn) -> list[tuple[int, str]]:
    """Every document's chain hash as chain.link computes it from the rows read back."""
    from jxc_sheets.ledger import chain

    previous, found = chain.GENESIS, []
    for document, its_moves in chain._documents_with_movements(conn):
        previous = chain.link(previous, document, its_moves)
        found.append((document.id, previous))
    return found


def test_the_streaming_walk_verifies_what_posting_sealed_byte_for_byte(ledger):
    """Sealed by the normal posting path; walked again from the raw columns. The documents
    hold what the JSON of a link must write carefully: a reason with quotes, a backslash, a
    line break and Chinese; quantities 10 (1E+1 once normalised), 100 (1E+2), 0.0001,
    a negative one (the adjustment), a cost of 3.333333; a reversal (reverses, linked_to)."""
    from jxc_sheets.ledger import chain

    busy_ledger(ledger)
    posted(ledger, doc("adjustment", "ADJ2", D4, ln("A001", "-0.0001"), ln("00123", 100),
                       reason='报损 "破损"\\ 第二行\n second line'))
    with ledger.connect() as conn:
        sealed = [(r.id, r.chain_hash) for r in conn.execute(
            select(schema.documents.c.id, schema.documents.c.chain_hash).order_by(schema.documents.c.id))]
        assert linked_by_link(conn) == sealed  # the rule itself, as before
        assert chain.walk(conn) == ([], chain.Point(*sealed[-1]))
        for n, point in enumerate(sealed):  # from any point verified, to the end
            assert chain.walk(conn, chain.Point(*point)) == ([], chain.Point(*sealed[-1])), n
    assert findings(ledger) == []


def test_a_quantity_changed_in_sql_breaks_the_chain_at_its_document(ledger):
    """One movement of R1 gains one ten-thousandth in the scaled integer the database holds:
    the sums and running balances of its pair say so, and the chain names R1."""
    from jxc_sheets.ledger import chain

    busy_ledger(ledger)
    d, m = schema.documents, schema.movements
    with ledger.begin() as conn:
        r1 = conn.execute(select(d.c.id).where(d.c.doc_no == "R1")).scalar_one()
        first = conn.execute(select(func.min(m.c.id)).where(m.c.document_id == r1)).scalar_one()
        conn.execute(text(f"UPDATE movements SET qty = qty + 1 WHERE id = {first}"))
    with ledger.connect() as conn:
        broken, point = chain.walk(conn)
        before_r1 = conn.execute(select(d.c.id, d.c.chain_hash).where(d.c.id < r1).order_by(d.c.id.desc())).first()
    assert [b.split(":")[0] for b in broken] == ["receipt R1"] and point == chain.Point(*before_r1)
    assert [f.split(":")[0] for f in findings(ledger)][-1] == "receipt R1"


@given(st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1) | st.integers(-10 ** 8, 10 ** 8).map(lambda n: n * 10 ** 6),
       st.sampled_from([schema.QTY_PLACES, schema.MONEY_PLACES, schema.COST_PLACES]))
def test_a_scaled_integer_is_written_as_its_normalised_decimal(n, places):
    from jxc_sheets.ledger import chain

    assert chain.scaled_text(n, places) == str(Decimal(n).scaleb(-places).normalize())


# --- the routine run: jxc check --since LAST --------------------------------------------------

def test_the_routine_check_walks_the_chain_on_from_the_last_point_verified(ledger):
    """A clean full check records its last document; the routine run walks on from there,
    finds a change after it, and says so when the point itself no longer holds. A quiet
    edit before the point is the full check's to find (the routine run's bound)."""
    from datetime import datetime

    from jxc_sheets.ledger import chain, integrity

    busy_ledger(ledger)
    d = schema.documents
    with ledger.begin() as conn:
        conn.execute(schema.meta.delete().where(schema.meta.c.key == integrity.VERIFIED))
        assert integrity.last_verified(conn) is None
        full = integrity.check(conn)
        last = conn.execute(select(d.c.id, d.c.chain_hash).order_by(d.c.id.desc())).first()
        assert full == integrity.Checked([], chain.Point(*last))
        integrity.record_verified(conn, full.verified, datetime(2026, 11, 5, 18, 0))
        integrity.record_verified(conn, chain.Point(1, "an earlier point"), datetime(2026, 11, 6))  # kept: the later
        assert integrity.last_verified(conn) == integrity.Verified(full.verified, datetime(2026, 11, 5, 18, 0))
    posted(ledger, receipt("R9", D4, ln("B002", 2, "5.00"), warehouse="WH2"))
    with ledger.begin() as conn:
        routine = integrity.check(conn, full.verified)
        r9 = conn.execute(select(d.c.id, d.c.chain_hash).where(d.c.doc_no == "R9")).one()
        assert routine == integrity.Checked([], chain.Point(*r9))
        conn.execute(update(d).where(d.c.doc_no == "R1").values(partner="S99"))  # before the point
        assert integrity.check(conn, full.verified).differences == []
        assert [f.split(":")[0] for f in integrity.check(conn).differences] == ["receipt R1"]
        conn.execute(update(d).where(d.c.doc_no == "R9").values(partner="S99"))  # after it
        assert [f.split(":")[0] for f in integrity.check(conn, full.verified).differences] == ["receipt R9"]
        conn.execute(update(d).where(d.c.id == full.verified.document_id).values(chain_hash="0" * 64))
        [gone] = integrity.check(conn, full.verified).differences
        assert gone.startswith(f"核对点 verified point: 单据 document #{full.verified.document_id}")
        assert "run the full jxc check" in gone
        conn.rollback()


def test_the_routine_check_follows_the_running_balances_of_the_open_months(ledger, tmp_path):
    """October closed (a receipt of 10 A001 @ 2.00 on 10-02); November open (another). A running
    balance broken in November is found by the routine run; October's rows are taken as they
    stand (10 + 1 then 20 + 1 agree with each other): the full check finds October's."""
    from jxc_sheets.closing import close_month
    from jxc_sheets.config import Config, Settings
    from jxc_sheets.ledger import integrity

    posted(ledger, receipt("RO", date(2026, 10, 2), ln("A001", 10, "2.00")))
    close_month(ledger, Settings(Config(), tmp_path), "2026-10", "test", today=date(2026, 11, 25))
    posted(ledger, receipt("RN", D1, ln("A001", 10, "2.00")))
    m, d = schema.movements, schema.documents
    with ledger.begin() as conn:
        point = integrity.check(conn).verified
        ro, rn = (conn.execute(select(m.c.id).join(d, d.c.id == m.c.document_id).where(d.c.doc_no == n)).scalar_one()
                  for n in ("RO", "RN"))
        conn.execute(text(f"UPDATE movements SET balance_qty = balance_qty + 10000 WHERE id = {rn}"))
        assert [f.split(":")[0] for f in integrity.check(conn, point).differences] == [f"movement {rn} A001 @ WH1"]
        conn.execute(text(f"UPDATE movements SET balance_qty = balance_qty + 10000 WHERE id = {ro}"))
        assert integrity.check(conn, point).differences == []
        assert [f.split(":")[0] for f in integrity.check(conn).differences] == [f"movement {ro} A001 @ WH1"]
        conn.rollback()
