"""Property tests (hypothesis) over random sequences of receipts, deliveries, returns,
transfers, adjustments and opening stock, each checked and posted as the pipeline
does: the balances are the sums of the movements; value is conserved (opening + in −
out = closing, to the cent, per pair and for the whole ledger); no stock goes
negative unless allowed, and exactly the issues that would take it negative are
refused; a reversal of a pair's last document restores what was there before it;
a second drop of a posted file changes nothing; `jxc check` finds nothing."""
from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import select

from conftest import make_form
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import methods, repost, schema
from jxc_sheets.ledger.costing import METHODS
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.reverse import LedgerError, reverse_document
from jxc_sheets.pipeline import run_inbox
from jxc_sheets.records import Document
from test_integrity import fresh_ledger, seeded_file  # noqa: F401  (fixture)
from test_post import HEADER_DEFAULTS, doc, ln, submit

SKUS = ("A001", "B002", "00123")  # A001 also comes in 箱 of 24; B002 has a standard cost
WAREHOUSES = ("WH1", "WH2")
DAYS = tuple(date(2026, 11, d) for d in range(1, 5))
BOX = 24
ZERO = Decimal(0)
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Few pairs, few dates and round amounts, so that documents meet: issues that empty a
# shelf exactly, backdated issues taking stock a later document needs. Half the
# sequences keep to one pair; 9999 makes rounding residues show.
amounts = st.sampled_from([Decimal(n) for n in ("1", "2", "3", "0.5", "9999")]) | \
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30"), places=2)
costs = st.sampled_from([Decimal(c) for c in ("3.333333", "0.335", "0.01", "2")]) | \
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99"), places=2) | \
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("9"), places=6)


@dataclass(frozen=True)
class Spec:
    """A document to post, before it has a number."""

    kind: str
    day: date
    lines: tuple[tuple[str, Decimal | None, str, Decimal | None, str | None], ...]  # sku, qty, unit, cost, warehouse
    header: tuple[tuple[str, str], ...]

    def taking_all(self, stock: Stock) -> Spec:
        """The spec with each line of qty None taking all its pair holds at the date, after
        the lines above it (or 1 when nothing): the boundaries — a shelf emptied exactly,
        stock that a later document needs."""
        header = dict(self.header)
        lines, taken = [], defaultdict(Decimal)
        for sku, qty, unit, cost, wh in self.lines:
            pair = (sku, wh or header.get("from_warehouse") or header["warehouse"])
            if qty is None:
                qty, unit = max(stock.on_hand(pair, self.day) + taken[pair], Decimal(1)), ""
                qty = -qty if self.kind == "adjustment" else qty
            lines.append((sku, qty, unit, cost, wh))
            taken[pair] += replace(self, lines=(lines[-1],)).legs()[0][1]
        return replace(self, lines=tuple(lines))

    def document(self, doc_no: str) -> Document:
        lines = (ln(sku, qty, None if cost is None else str(cost), unit, wh) for sku, qty, unit, cost, wh in self.lines)
        return doc(self.kind, doc_no, self.day, *lines, **dict(self.header))

    def legs(self) -> list[tuple[tuple[str, str], Decimal]]:
        """((sku, warehouse), signed base qty) of each movement, in posting order — worked
        out here from what each kind means, not from the kinds table."""
        header = dict(self.header)
        legs = []
        for sku, qty, unit, _cost, wh in self.lines:
            base = qty * (BOX if unit == "箱" else 1)
            if self.kind == "transfer":
                legs += [((sku, header["from_warehouse"]), -base), ((sku, header["to_warehouse"]), base)]
            elif self.kind in ("delivery", "purchase_return"):
                legs.append(((sku, header["warehouse"]), -base))
            else:  # receipt, sales_return, opening, adjustment (signed)
                legs.append(((sku, wh or header["warehouse"]), base))
        return legs


KINDS = ("receipt", "delivery", "purchase_return", "sales_return", "transfer", "adjustment", "opening")


@st.composite
def specs(draw, skus: tuple[str, ...] = SKUS, warehouses: tuple[str, ...] = WAREHOUSES) -> Spec:
    kind = draw(st.sampled_from(KINDS if len(warehouses) > 1 else [k for k in KINDS if k != "transfer"]))
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        sku = draw(st.sampled_from(skus))
        qty = draw(amounts)
        if kind == "adjustment" and draw(st.booleans()):
            qty = -qty
        if (kind in ("delivery", "purchase_return", "transfer") or qty < 0) and draw(st.booleans()):
            qty = None  # all there is: see Spec.taking_all
        unit = draw(st.sampled_from(["", "箱"])) if sku == "A001" else ""
        cost = draw(costs) if kind in ("receipt", "opening") else \
            draw(st.none() | costs) if kind in ("adjustment", "purchase_return") else None
        wh = draw(st.sampled_from(warehouses)) if kind == "opening" else None
        lines.append((sku, qty, unit, cost, wh))
    if kind == "transfer":
        header = tuple(zip(("from_warehouse", "to_warehouse"), draw(st.permutations(WAREHOUSES))))
    else:
        header = () if kind == "opening" else (("warehouse", draw(st.sampled_from(warehouses))),)
    return Spec(kind, draw(st.sampled_from(DAYS)), tuple(lines), header)


sequences = st.lists(specs(), min_size=2, max_size=12) | st.lists(specs(("A001",), ("WH1",)), min_size=2, max_size=12)


class Stock:
    """The net quantity per sku × warehouse and date of what was posted. An issue may
    take only what is there at its date and is not needed by a later document: no
    end-of-day balance, at its date or after, may go below zero."""

    def __init__(self):
        self.net: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)

    def refuses(self, spec: Spec) -> bool:
        trial = defaultdict(dict, {pair: dict(days) for pair, days in self.net.items()})
        for pair, qty in spec.legs():
            if qty < 0 and _lowest_from(trial[pair], spec.day) + qty < 0:
                return True
            trial[pair][spec.day] = trial[pair].get(spec.day, ZERO) + qty
        return False

    def on_hand(self, pair: tuple[str, str], day: date) -> Decimal:
        return sum((q for d, q in self.net[pair].items() if d <= day), ZERO)

    def add(self, spec: Spec) -> None:
        for pair, qty in spec.legs():
            self.net[pair][spec.day] = self.net[pair].get(spec.day, ZERO) + qty


def _lowest_from(net: dict[date, Decimal], day: date) -> Decimal:
    return min(sum((q for d, q in net.items() if d <= t), ZERO) for t in {day, *(d for d in net if d > day)})


# --- what the ledger holds --------------------------------------------------------

def balances(engine) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    b = schema.balances
    with engine.connect() as conn:
        return {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(select(b))}


def tables(engine) -> dict[str, list[tuple]]:
    """Every row of the posting tables, for 'nothing changed'."""
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in (schema.documents, schema.lines, schema.movements, schema.balances)}


def amounts_of(engine, doc_no: str) -> list[tuple]:
    """(sku, warehouse, qty, amount) of each movement of a document: the amount is value + correction."""
    m, d = schema.movements, schema.documents
    with engine.connect() as conn:
        return [(r.sku, r.warehouse, r.qty, r.value + (r.correction or ZERO)) for r in conn.execute(
            select(m.c.sku, m.c.warehouse, m.c.qty, m.c.value, m.c.correction)
            .join(d, d.c.id == m.c.document_id).where(d.c.doc_no == doc_no).order_by(m.c.id))]


def movements_of(engine, doc_no: str) -> list[tuple]:
    m, d = schema.movements, schema.documents
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(m.c.sku, m.c.warehouse, m.c.qty, m.c.value)
                                               .join(d, d.c.id == m.c.document_id)
                                               .where(d.c.doc_no == doc_no).order_by(m.c.id))]


def assert_sound(engine, allow_negative: bool) -> None:
    """Each movement carries the running sum of its pair; the balances table is the sum
    of the movements; without negative stock no day ends below zero; with or without it,
    under every method, a shelf left empty by any movement holds no value; the layers
    the costing keeps add up to each balance; `jxc check` agrees."""
    m = schema.movements
    running: dict[tuple[str, str], tuple[Decimal, Decimal, int]] = {}
    day_ends: dict[tuple[str, str, date], tuple[Decimal, Decimal]] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(m).order_by(m.c.doc_date, m.c.id)):  # valuation order
            qty, value, n = running.get((r.sku, r.warehouse), (ZERO, ZERO, 0))
            running[(r.sku, r.warehouse)] = qty, value, n = qty + r.qty, value + r.value, n + 1
            assert (r.balance_qty, r.balance_value) == (qty, value)
            assert qty != 0 or value == 0, f"movement {r.id}: {r.sku}@{r.warehouse} holds nothing, worth {value}"
            day_ends[(r.sku, r.warehouse, r.doc_date)] = (qty, value)
        if not allow_negative:  # the rule is the end of each day's: within a day a backdated issue may
            assert all(qty >= 0 for qty, _v in day_ends.values())  # come before a receipt of the same day
        b = schema.balances
        table = {(r.sku, r.warehouse): (r.qty, r.value, r.movements) for r in conn.execute(select(b))}
        assert table == running
        layers = repost.layers_at(conn, DAYS[-1])
        assert {pair: (sum(l.qty for l in held), sum(l.value for l in held)) for pair, held in layers.items()} == \
            {pair: (qty, value) for pair, (qty, value, _n) in running.items() if qty or value}
        for held in layers.values():  # stock and shortfalls never side by side
            assert len({l.qty > 0 for l in held}) == 1
        assert check_ledger(conn) == []


def revalued(rows_before: dict[str, list[tuple]], engine) -> list[tuple]:
    """What a backdated document changed in the movements already there, as (sku,
    warehouse, 0, value difference) rows."""
    m = schema.movements
    old = {r[0]: r for r in rows_before["movements"]}
    with engine.connect() as conn:
        now = conn.execute(select(m.c.id, m.c.sku, m.c.warehouse, m.c.value).where(m.c.id.in_(list(old)))).all()
    value_at = [c.name for c in m.c].index("value")
    return [(r.sku, r.warehouse, ZERO, r.value - old[r.id][value_at]) for r in now if r.value != old[r.id][value_at]]


def assert_conserved(before: dict, after: dict, moved: list[tuple]) -> None:
    """opening + in − out = closing, per pair and for the whole ledger, to the cent. In and
    out by the direction of the quantity; their values keep their sign (with negative stock
    allowed, an issue from a pair whose value went below zero carries value in). `moved`
    includes what a backdated document revalued."""
    inflow, outflow = defaultdict(lambda: (ZERO, ZERO)), defaultdict(lambda: (ZERO, ZERO))
    for sku, wh, qty, value in moved:
        if qty > 0:
            inflow[(sku, wh)] = (inflow[(sku, wh)][0] + qty, inflow[(sku, wh)][1] + value)
        else:
            outflow[(sku, wh)] = (outflow[(sku, wh)][0] - qty, outflow[(sku, wh)][1] - value)
    for pair in set(before) | set(after):
        opening = before.get(pair, (ZERO, ZERO))
        expected = tuple(opening[i] + inflow[pair][i] - outflow[pair][i] for i in (0, 1))
        assert after.get(pair, (ZERO, ZERO)) == expected, pair
    total_in, total_out = (sum(v for _q, v in flows.values()) for flows in (inflow, outflow))
    assert sum(v for _q, v in after.values()) == sum(v for _q, v in before.values()) + total_in - total_out


# --- the properties ----------------------------------------------------------------

def _one(kind: str, day: int, qty: Decimal | None, unit: str = "", cost: str | None = None) -> Spec:
    return Spec(kind, DAYS[day - 1], (("A001", qty, unit, cost and Decimal(cost), None),), (("warehouse", "WH1"),))


# The boundaries, always tried: stock that a later document needs may not be taken by a
# backdated one (nor by reversing the receipt that brought it); the issue that empties a
# shelf of 239,976 takes its whole value.
NEEDED_LATER = [_one("receipt", 1, Decimal(2), cost="3.333333"), _one("delivery", 2, None), _one("delivery", 1, None)]
# Two shortfalls, then receipts that settle them in turn and more.
SHORT_TWICE = [_one("delivery", 1, Decimal(3)), _one("delivery", 2, Decimal(4)),
               _one("receipt", 3, Decimal(5), cost="15"), _one("receipt", 4, Decimal(10), cost="25")]
# A return of two lines, the first settling a shortfall: reversed, the last line comes off first.
RETURN_OF_TWO_LINES = [
    Spec("receipt", DAYS[0], (("B002", Decimal(1), "", Decimal("3.333333"), None), ("B002", Decimal(1), "", Decimal("0.335"), None)),
         (("warehouse", "WH1"),)),
    Spec("delivery", DAYS[0], (("B002", Decimal(3), "", None, None),), (("warehouse", "WH1"),)),
    Spec("sales_return", DAYS[0], (("B002", Decimal(2), "", None, None), ("B002", Decimal(1), "", None, None)),
         (("warehouse", "WH1"),))]
EMPTIED = [_one("receipt", 1, Decimal(9999), "箱", "3.333333"), _one("delivery", 1, None)]


def costed_ledger(seeded_file, folder: str, method: str):
    """A copy of the seeded ledger whose items are all valued by `method`."""
    engine = fresh_ledger(seeded_file, folder, "ledger.sqlite3")
    with engine.begin() as conn:
        methods.sync(conn, method, {})
    return engine


@pytest.mark.slow
@FAST
@example(sequence=NEEDED_LATER, allow_negative=False, method="moving_average")
@example(sequence=EMPTIED, allow_negative=False, method="fifo")
@example(sequence=SHORT_TWICE, allow_negative=True, method="fifo")
@example(sequence=SHORT_TWICE, allow_negative=True, method="moving_average")
@example(sequence=SHORT_TWICE, allow_negative=True, method="monthly_weighted_average")
@given(sequences, st.booleans(), st.sampled_from(METHODS))
def test_every_posting_keeps_the_ledger_sound_and_exactly_the_impossible_issues_are_refused(
        seeded_file, sequence, allow_negative, method):
    with tempfile.TemporaryDirectory() as folder:
        engine = costed_ledger(seeded_file, folder, method)
        try:
            stock, posted = Stock(), []
            for n, spec in enumerate(sequence):
                spec = spec.taking_all(stock)
                document = spec.document(f"{spec.kind}-{n}")
                before, rows = balances(engine), tables(engine)
                checked = submit(engine, document, allow_negative_stock=allow_negative)
                if not allow_negative and stock.refuses(spec):
                    assert {p.code for p in checked.problems} == {"insufficient-stock"}
                    assert tables(engine) == rows  # refused: nothing of it posted
                else:
                    assert checked.problems == ()
                    stock.add(spec)
                    posted.append(document)
                    moved = movements_of(engine, document.doc_no)
                    assert [((s, w), q) for s, w, q, _v in moved] == spec.legs()
                    assert_conserved(before, balances(engine), moved + revalued(rows, engine))
                    if spec.kind == "transfer":  # value moves between warehouses, none is made or lost: what
                        # settles a shortfall at the destination differs from it by a cost correction
                        assert sum(a for *_x, a in amounts_of(engine, document.doc_no)) == 0
                assert_sound(engine, allow_negative)
            rows = tables(engine)
            for document in posted:  # the same document again: skipped, nothing changes
                again = submit(engine, document, allow_negative_stock=allow_negative)
                assert (again.problems, again.to_post, len(again.already_posted)) == ((), (), 1)
            assert tables(engine) == rows
        finally:
            engine.dispose()


@pytest.mark.slow
@FAST
@example(sequence=NEEDED_LATER, allow_negative=False, pick=0, method="moving_average")
@example(sequence=[_one("delivery", 1, Decimal(1)), _one("delivery", 1, Decimal(1))], allow_negative=True, pick=0,
         method="fifo")  # a reversal filling one of two shortfalls
@example(sequence=RETURN_OF_TWO_LINES, allow_negative=True, pick=2, method="moving_average")
@given(sequences, st.booleans(), st.integers(min_value=0, max_value=100), st.sampled_from(METHODS))
def test_a_reversal_restores_a_pairs_last_document_and_is_refused_or_consistent_otherwise(
        seeded_file, sequence, allow_negative, pick, method):
    with tempfile.TemporaryDirectory() as folder:
        engine = costed_ledger(seeded_file, folder, method)
        try:
            stock, posted = Stock(), []  # (spec, document, balances before it)
            for n, spec in enumerate(sequence):
                spec = spec.taking_all(stock)
                document = spec.document(f"{spec.kind}-{n}")
                before = balances(engine)
                if not submit(engine, document, allow_negative_stock=allow_negative).problems:
                    stock.add(spec)
                    posted.append((spec, document, before))
            if not posted:
                return
            i = pick % len(posted)
            spec, document, before_it = posted[i]
            pairs = {pair for pair, _q in spec.legs()}
            # later: posted after it, or after it in valuation order (a backdated document's
            # values follow the ones before it: reversing them does not undo those)
            later = [d for j, (s, d, _b) in enumerate(posted) if j != i and pairs & {pair for pair, _q in s.legs()}
                     and (j > i or s.day > spec.day)]
            # a pair that both gives and takes in one document may be refused (the reversal's
            # takes are checked before its gives); a document of one direction per pair never is
            one_way = all(len({q > 0 for p, q in spec.legs() if p == pair}) == 1 for pair in pairs)
            before, rows = balances(engine), tables(engine)
            try:
                with engine.begin() as conn:
                    reversal = reverse_document(conn, document.doc_no, document.kind, on=DAYS[-1],
                                                allow_negative_stock=allow_negative)
            except LedgerError as refused:
                assert not allow_negative and (later or not one_way), str(refused)
                assert tables(engine) == rows
                return
            moved = movements_of(engine, reversal)
            # the reversal takes back each amount exactly; its value differs only where the
            # shelf is left empty, and the last units out take all the value left
            assert amounts_of(engine, reversal)[::-1] == [(s, w, -q, -a) for s, w, q, a in amounts_of(engine, document.doc_no)]
            assert_conserved(before, balances(engine), moved)
            after = balances(engine)
            if not later:  # the last document of its pairs: as if it had never been posted
                assert {p: after[p] for p in pairs} == {p: before_it.get(p, (ZERO, ZERO)) for p in pairs}
            others = (set(before) | set(after)) - pairs
            assert {p: after.get(p) for p in others} == {p: before.get(p) for p in others}
            assert_sound(engine, allow_negative)
            for doc_no in (document.doc_no, reversal):  # never twice, never a reversal's reversal
                rows = tables(engine)
                try:
                    with engine.begin() as conn:
                        reverse_document(conn, doc_no, document.kind, on=DAYS[-1], allow_negative_stock=True)
                    raise AssertionError(f"{doc_no} reversed again")
                except LedgerError:
                    assert tables(engine) == rows
        finally:
            engine.dispose()


# --- through the pipeline, as dropped files ----------------------------------------------

def write_form(folder: Path, name: str, spec: Spec, doc_no: str) -> Path:
    header_fields = {"receipt": ("warehouse", "supplier"), "purchase_return": ("warehouse", "supplier"),
                     "delivery": ("warehouse", "customer"), "sales_return": ("warehouse", "customer"),
                     "adjustment": ("warehouse", "reason"), "transfer": ("from_warehouse", "to_warehouse"),
                     "opening": ()}[spec.kind]
    header = {f: HEADER_DEFAULTS[f] for f in header_fields} | dict(spec.header)
    header |= {"doc_no": doc_no, "doc_date": spec.day}
    lines = [{"sku": sku, "qty": qty, **({"unit": unit} if unit else {}),
              **({"unit_cost": cost} if cost is not None else {}), **({"warehouse": wh} if wh else {})}
             for sku, qty, unit, cost, wh in spec.lines]
    return make_form(folder / name, spec.kind, header, lines)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(specs(), min_size=1, max_size=6))
def test_a_second_drop_of_any_posted_file_changes_nothing(seeded_file, sequence):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        engine = fresh_ledger(seeded_file, folder, "ledger.sqlite3")
        try:
            workspace = Settings(Config.model_validate({"reports": {"html": False}}), root)
            for name in ("inbox", "outbox", "archive", "rejected"):
                (root / name).mkdir()
            staging = root / "staging"
            staging.mkdir()
            stock, dropped = Stock(), {}
            for n, spec in enumerate(sequence):
                spec = spec.taking_all(stock)
                stock.add(spec)
                book = write_form(staging, f"f{n}-{spec.kind}.xlsx", spec, f"{spec.kind}-{n}")
                dropped[book.name] = book.read_bytes()
                book.rename(workspace.inbox / book.name)
            first = run_inbox(workspace, engine=engine)
            for outcome in first:
                assert outcome.status in ("posted", "rejected"), outcome
                assert {p.code for p in outcome.problems} <= {"insufficient-stock"}, outcome
            assert_sound(engine, allow_negative=False)
            rows = tables(engine)
            posted = sorted(o.file for o in first if o.status == "posted")
            for name in posted:  # the same content under another name
                (workspace.inbox / f"again-{name}").write_bytes(dropped[name])
            again = run_inbox(workspace, engine=engine)
            assert sorted((o.file, o.status) for o in again) == [(f"again-{name}", "skipped") for name in posted]
            assert tables(engine) == rows
        finally:
            engine.dispose()
