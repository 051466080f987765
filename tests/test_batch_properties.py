"""Property test (hypothesis) for batches: random receipts, deliveries (a batch named, or
first-expiry-first-out), transfers (some in transit), adjustments and reversals of a
batch- and expiry-tracked item over two warehouses, each checked and posted as the
pipeline posts a file. After every step the batches of the item in each warehouse add up
to its balance there at every date, no batch is ever below zero, a refused document
leaves nothing behind, and `jxc check` finds nothing."""
from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from sqlalchemy import func, select

from jxc_sheets.check import check
from jxc_sheets.config import BatchesConfig
from jxc_sheets.ledger import batches as ledger_batches
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.errors import LedgerError
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.post import FileRecord, post_documents, record_file, upsert_master
from jxc_sheets.ledger.reverse import reverse_document
from jxc_sheets.records import Line, MasterRow
from test_post import MASTER, doc

DAYS = tuple(date(2026, 11, d) for d in range(1, 7))
BATCHES = {"B1": date(2026, 11, 3), "B2": date(2026, 11, 30), "B3": date(2027, 3, 1)}  # B1 expires mid-run
FOOD = MasterRow("items", "FOOD1", {"sku": "FOOD1", "name": "牛奶", "unit": "箱", "batch_tracked": True,
                                    "expiry_tracked": True, "shelf_life_days": 90, "active": True}, 2, {})
RULES = BatchesConfig(auto_pick="fefo")


def line(qty: Decimal, batch: str = "", cost: str | None = None) -> Line:
    return Line(0, "FOOD1", qty, "", qty, Decimal(1), None if cost is None else Decimal(cost), None, batch, "", None, {})


qtys = st.sampled_from([Decimal(n) for n in ("1", "2", "5", "0.5", "7")])
batch_or_fefo = st.sampled_from(["", "B1", "B2", "B3"])
warehouses = st.sampled_from(["WH1", "WH2"])
days = st.sampled_from(DAYS)
receipts = st.tuples(st.just("receipt"), st.sampled_from(DAYS[:3]), warehouses, st.sampled_from(list(BATCHES)),
                     st.sampled_from([Decimal(n) for n in ("5", "10", "2.5")]))
steps = st.one_of(  # after a few receipts; receipts weigh double, so that issues find stock more often than not
    receipts, receipts,
    st.tuples(st.just("delivery"), days, warehouses, batch_or_fefo, qtys),
    st.tuples(st.just("transfer"), days, warehouses, batch_or_fefo, qtys, st.integers(0, 2)),
    st.tuples(st.just("adjustment"), days, warehouses, batch_or_fefo, qtys),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
)


def document(step: tuple, n: int):
    kind, day, wh, batch, qty, *rest = step
    if kind == "receipt":  # test_post.doc numbers the lines as given, less their dates: the expiry goes on after
        received = doc("receipt", f"R{n}", day, line(qty, batch, "10"), warehouse=wh)
        return replace(received, lines=tuple(replace(l, expiry_date=BATCHES[batch]) for l in received.lines))
    if kind == "delivery":
        return doc("delivery", f"D{n}", day, line(qty, batch), warehouse=wh)
    if kind == "adjustment":
        return doc("adjustment", f"A{n}", day, line(-qty, batch), warehouse=wh)
    other = "WH2" if wh == "WH1" else "WH1"
    return doc("transfer", f"T{n}", day, line(qty, batch), from_warehouse=wh, to_warehouse=other,
               arrival_date=day + timedelta(days=rest[0]) if rest[0] else None)


def submit(engine, document):
    """As pipeline._post, less the files' bookkeeping it does not need."""
    with engine.begin() as conn:
        checked = check(conn, [document], [], False, batch_rules=RULES)
        if checked.problems:
            conn.rollback()
            return checked
        file_id = record_file(conn, FileRecord("t.xlsx", "0" * 64, document.kind, "posted"))
        ids = dict(zip(((d.kind, d.doc_no) for d in checked.to_post), post_documents(conn, checked.to_post, file_id)))
        ledger_batches.record_batches(conn, checked.batches.new_batches, checked.batches.moves, ids)
    return checked


def tables(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in
                (schema.documents, schema.movements, schema.batch_movements, schema.batch_balances)}


def assert_batches_add_up(engine) -> None:
    """At the end of every date, per warehouse: Σ batches = the item's balance, and no batch below zero."""
    with engine.connect() as conn:
        m, bm = schema.movements, schema.batch_movements
        pair = defaultdict(Decimal)
        for r in conn.execute(select(m.c.warehouse, m.c.doc_date, m.c.qty).where(m.c.sku == "FOOD1")):
            pair[(r.warehouse, r.doc_date)] += r.qty
        per_batch = defaultdict(Decimal)
        for r in conn.execute(select(bm.c.warehouse, bm.c.batch, bm.c.doc_date, bm.c.qty)):
            per_batch[(r.warehouse, r.batch, r.doc_date)] += r.qty
        dates = sorted({d for _w, d in pair} | {d for _w, _b, d in per_batch})
        for wh in ("WH1", "WH2"):
            for day in dates:
                total = sum((q for (w, d), q in pair.items() if w == wh and d <= day), Decimal(0))
                by_batch = defaultdict(Decimal)
                for (w, b, d), q in per_batch.items():
                    if w == wh and d <= day:
                        by_batch[b] += q
                assert sum(by_batch.values(), Decimal(0)) == total, (wh, day)
                assert all(q >= 0 for q in by_batch.values()), (wh, day, dict(by_batch))
        assert check_ledger(conn) == []


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("batches") / "seeded.sqlite3"
    engine = open_ledger(f"sqlite:///{path}")
    with engine.begin() as conn:
        upsert_master(conn, [*MASTER, FOOD])
    engine.dispose()
    return path


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(receipts, min_size=1, max_size=4), st.lists(steps, min_size=1, max_size=12))
def test_the_batches_of_an_item_and_warehouse_sum_to_its_balance_at_every_date(seeded, stocked, sequence):
    sequence = stocked + sequence
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(seeded, Path(folder) / "l.sqlite3")
        engine = open_ledger(f"sqlite:///{Path(folder) / 'l.sqlite3'}")
        try:
            posted: list[str] = []
            for n, step in enumerate(sequence):
                before = tables(engine)
                if step[0] == "reverse":
                    if not posted:
                        continue
                    target = posted[step[1] % len(posted)]
                    try:
                        with engine.begin() as conn:
                            reverse_document(conn, target, on=DAYS[-1])
                        posted.remove(target)
                        event("reversed")
                    except LedgerError:
                        assert tables(engine) == before  # refused: nothing of it stays
                        event("reversal refused")
                else:
                    checked = submit(engine, document(step, n))
                    if checked.problems:
                        assert tables(engine) == before
                        codes = {p.code for p in checked.problems}
                        assert codes <= {"insufficient-stock", "batch-not-in-stock", "batch-short", "batch-expired",
                                         "batch-required"}, codes
                        event(f"{step[0]} refused: {sorted(codes)}")
                    else:
                        posted.append(checked.to_post[0].doc_no)
                        event(f"{step[0]} posted" + (" by fefo" if step[0] != "receipt" and not step[3] else ""))
                assert_batches_add_up(engine)
        finally:
            engine.dispose()
