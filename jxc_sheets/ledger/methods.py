"""Which costing method values which item in which month.

`costing.method` in config.yaml applies to all items, `costing.items` overrides it
for some. The ledger keeps the history (`costing_methods`): a change in config
takes effect at a period boundary — from the month after the latest month with
movements of the items it concerns — so no month is ever valued by two methods,
and months already valued keep their method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from sqlalchemy import Connection, func, insert, select

from .. import clock
from . import schema
from .costing import FIFO, MOVING_AVERAGE, methods_by_month

ALL = "*"
BEGINNING = "0000-00"


@dataclass(frozen=True)
class Methods:
    """{scope: {from_month: method}}; scope "*" is every item, else a sku ("" = as every item)."""

    history: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def method_of(self, sku: str) -> Callable[[str], str]:
        merged = dict(self.history.get(ALL, {}))
        own = self.history.get(sku, {})
        if not own:
            return methods_by_month(merged)
        starts = sorted(set(merged) | set(own))
        everyone, mine = methods_by_month(merged), _own_by_month(own)
        return methods_by_month({s: mine(s) or everyone(s) for s in starts})

    def any_fifo(self, sku: str, from_month: str) -> bool:
        """Fifo in `from_month` or any month after it."""
        method_of = self.method_of(sku)
        starts = {s for scope in (ALL, sku) for s in self.history.get(scope, {}) if s > from_month}
        return any(method_of(m) == FIFO for m in {from_month, *starts})

    def only_average(self, sku: str, from_month: str) -> bool:
        """The moving average in `from_month` and every month after it."""
        method_of = self.method_of(sku)
        starts = {s for scope in (ALL, sku) for s in self.history.get(scope, {}) if s > from_month}
        return all(method_of(m) == MOVING_AVERAGE for m in {from_month, *starts})

    def current(self, scope: str) -> str | None:
        own = self.history.get(scope, {})
        return own[max(own)] if own else None


def _own_by_month(own: Mapping[str, str]) -> Callable[[str], str]:
    starts = sorted(own)

    def method_of(month: str) -> str:
        chosen = ""
        for start in starts:
            if start <= month:
                chosen = own[start]
        return chosen
    return method_of


def load(conn: Connection) -> Methods:
    c = schema.costing_methods
    history: dict[str, dict[str, str]] = {}
    for r in conn.execute(select(c.c.scope, c.c.from_month, c.c.method)):
        history.setdefault(r.scope, {})[r.from_month] = r.method
    return Methods(history)


def sync(conn: Connection, method: str, items: Mapping[str, str]) -> list[str]:
    """Records what config.yaml asks for where it differs from the ledger; returns a note
    for each change: from which month it applies."""
    known = load(conn)
    wanted = {ALL: method, **{sku: items.get(sku, "") for sku in set(items) | (set(known.history) - {ALL})}}
    notes = []
    for scope, chosen in sorted(wanted.items()):
        current = known.current(scope)
        if current == chosen or (current is None and chosen == ("" if scope != ALL else MOVING_AVERAGE)):
            continue
        start = _next_free_month(conn, None if scope == ALL else scope)
        conn.execute(insert(schema.costing_methods).values(scope=scope, from_month=start, method=chosen,
                                                           recorded_at=clock.now()))
        who = "全部物料 all items" if scope == ALL else scope
        notes.append(f"成本计价方法 costing method: {who} → {chosen or method}, "
                     f"自 {start} 起 / from {start}" if start != BEGINNING else
                     f"成本计价方法 costing method: {who} → {chosen or method}")
    return notes


def _next_free_month(conn: Connection, sku: str | None) -> str:
    """The month after the latest month with movements (of `sku`, or of any item)."""
    m = schema.movements
    query = select(func.max(m.c.doc_date))
    if sku is not None:
        query = query.where(m.c.sku == sku)
    latest = conn.execute(query).scalar()
    if latest is None:
        return BEGINNING
    year, month = latest.year + latest.month // 12, latest.month % 12 + 1
    return f"{year:04d}-{month:02d}"


__all__ = ["Methods", "load", "sync", "MOVING_AVERAGE", "FIFO"]
