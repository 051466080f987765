"""What the pipeline asks the ledger: one query per question and file, never per line."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Iterable, Iterator, Mapping, Sequence, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, func, select, tuple_

from . import schema
from ..records import Item, MasterData
from .costing import CostState

T = TypeVar("T")
CHUNK = 500  # keeps IN lists well inside every database's parameter limit


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def pairs_in(first, second, pairs: Sequence[tuple]) -> ColumnElement[bool]:
    """`(first, second) IN pairs`, written so that the index on (first, second) is used:
    SQLite (3.40) scans the whole table for a row-value IN alone — a million movements
    for every file posted. Each column's own IN lets it seek; the row-value IN then keeps
    exactly the pairs asked for."""
    return and_(first.in_(sorted({a for a, _ in pairs})), second.in_(sorted({b for _, b in pairs})),
                tuple_(first, second).in_(pairs))


def master_data(conn: Connection, moved_of: Iterable[str] = (), skus: Iterable[str] = ()) -> MasterData:
    """Items, units and codes; `moved_skus` only says which of `moved_of` have moved (the
    items a master file changes), not reading every pair of a big ledger for each file.
    Items are read as they are asked for, `skus` (a file's) in one go ahead: a file never
    reads the whole item master."""
    items = LedgerItems(conn)
    items.read_ahead([*moved_of, *skus])

    def codes(table) -> frozenset[str]:
        return frozenset(conn.execute(select(table.c.code)).scalars())

    moved: set[str] = set()
    for batch in chunks(sorted(set(moved_of))):
        moved |= set(conn.execute(select(schema.balances.c.sku).where(schema.balances.c.sku.in_(batch)).distinct()).scalars())
    return MasterData(items, codes(schema.warehouses), codes(schema.suppliers), codes(schema.customers), frozenset(moved),
                      codes(schema.funds_accounts))


class LedgerItems(Mapping[str, Item]):
    """The item master as a mapping read from the ledger on demand, each item once (the
    connection's transaction keeps it as it was). Iterating reads every item: only a code
    of digits not found as typed (leading zeros lost) asks for that."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.found: dict[str, Item] = {}
        self.absent: set[str] = set()
        self.complete = False

    def read_ahead(self, skus: Iterable[str]) -> None:
        wanted = sorted({sku for sku in skus if sku and sku not in self.found and sku not in self.absent})
        i = schema.items
        for batch in chunks(wanted):
            self._read(i.c.sku.in_(batch))
            self.absent.update(sku for sku in batch if sku not in self.found)

    def _read(self, condition=None) -> None:
        i, u = schema.items, schema.item_units
        query = select(i.c.sku, i.c.unit, i.c.active, i.c.std_cost, i.c.tax_rate, i.c.batch_tracked, i.c.expiry_tracked,
                       i.c.shelf_life_days, i.c.expiry_warning_days, i.c.serial_tracked)
        units_query = select(u.c.sku, u.c.unit, u.c.factor)
        if condition is not None:
            query = query.where(condition)
            units_query = units_query.where(u.c.sku.in_(select(i.c.sku).where(condition)))
        units: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for sku, unit, factor in self.conn.execute(units_query):
            units[sku][unit] = factor
        for r in self.conn.execute(query):
            self.found[r.sku] = Item(r.sku, r.unit, r.active, units.get(r.sku, {}), r.std_cost, r.tax_rate,
                                     bool(r.batch_tracked), bool(r.expiry_tracked), r.shelf_life_days,
                                     r.expiry_warning_days, bool(r.serial_tracked))

    def _read_all(self) -> None:
        if not self.complete:
            self._read()
            self.complete = True

    def __getitem__(self, sku: str) -> Item:
        if sku not in self.found and not self.complete and sku not in self.absent:
            self.read_ahead([sku])
        return self.found[sku]

    def __contains__(self, sku: object) -> bool:
        if not isinstance(sku, str):
            return False
        try:
            self[sku]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        self._read_all()
        return iter(self.found)

    def __len__(self) -> int:
        self._read_all()
        return len(self.found)

    def __bool__(self) -> bool:
        return bool(self.found) or self.conn.execute(select(schema.items.c.sku).limit(1)).first() is not None


def partner_tax_rates(conn: Connection, codes: Iterable[str]) -> dict[str, Decimal]:
    """Supplier or customer code → its own 税率, for those that have one."""
    found: dict[str, Decimal] = {}
    for table in (schema.suppliers, schema.customers):
        for batch in chunks(sorted(set(codes))):
            query = select(table.c.code, table.c.tax_rate).where(table.c.code.in_(batch), table.c.tax_rate.is_not(None))
            found.update({r.code: r.tax_rate for r in conn.execute(query)})
    return found


def posted_hashes(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    d = schema.documents
    found = {}
    for batch in chunks(sorted(keys)):
        rows = conn.execute(select(d.c.kind, d.c.doc_no, d.c.content_hash).where(pairs_in(d.c.kind, d.c.doc_no, batch)))
        found.update({(r.kind, r.doc_no): r.content_hash for r in rows})
    return found


@dataclass
class PairTimeline:
    """One sku × warehouse: its balance now and its net movement per date from a date on."""

    current: Decimal
    deltas: dict[date, Decimal] = field(default_factory=dict)  # net qty per date, after `since`

    def add(self, day: date, qty: Decimal) -> None:
        self.current += qty
        self.deltas[day] = self.deltas.get(day, Decimal(0)) + qty

    def on_hand(self, day: date) -> Decimal:
        return self.current - sum((q for d, q in self.deltas.items() if d > day), Decimal(0))

    def available(self, day: date) -> Decimal:
        return min(self.on_hand(d) for d in {day, *(d for d in self.deltas if d > day)})


def stock_timeline(conn: Connection, pairs: set[tuple[str, str]], since: date) -> dict[tuple[str, str], PairTimeline]:
    b, m = schema.balances, schema.movements
    timeline = {pair: PairTimeline(Decimal(0)) for pair in pairs}
    for batch in chunks(sorted(pairs)):
        for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.qty).where(pairs_in(b.c.sku, b.c.warehouse, batch))):
            timeline[(r.sku, r.warehouse)].current = r.qty
        later = (
            select(m.c.sku, m.c.warehouse, m.c.doc_date, func.sum(m.c.qty).label("qty"))
            .where(pairs_in(m.c.sku, m.c.warehouse, batch), m.c.doc_date > since)
            .group_by(m.c.sku, m.c.warehouse, m.c.doc_date)
        )
        for r in conn.execute(later):
            timeline[(r.sku, r.warehouse)].deltas[r.doc_date] = r.qty
    return timeline


def cost_states(conn: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CostState]:
    b = schema.balances
    states = {}
    for batch in chunks(sorted(set(pairs))):
        query = select(b.c.sku, b.c.warehouse, b.c.qty, b.c.value, b.c.unit_cost).where(pairs_in(b.c.sku, b.c.warehouse, batch))
        for r in conn.execute(query):
            states[(r.sku, r.warehouse)] = CostState(r.qty, r.value, r.unit_cost)
    return states


def document_by_no(conn: Connection, doc_no: str, kind: str | None = None) -> Sequence:
    d = schema.documents
    query = select(d).where(d.c.doc_no == doc_no)
    if kind:
        query = query.where(d.c.kind == kind)
    return conn.execute(query).all()
