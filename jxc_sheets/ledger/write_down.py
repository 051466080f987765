"""Ledger, write-down (存货跌价准备, 企业会计准则): net realisable values by date, the
provision booked so far, and what a month end asks for.

At a day, per sku × warehouse with stock or a provision: the net realisable value in
force (the latest on or before the day, the warehouse's own before the item's for every
warehouse), the stock's qty and value, and the provision it needs:
    required = max(0, qty × (unit cost − NRV)) = max(0, value − qty × NRV), to the cent,
less what is booked (the `amount` of the write_down documents' lines dated by the day:
+ provided, − reversed) is what to book now: positive provides more, negative reverses.
A pair without a net realisable value keeps what it has unless its shelf is empty.
The provision is a contra account (1471): stock values themselves never change.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import Connection, and_, delete, func, insert, or_, select

from ..records import MasterRow
from . import periods, queries, schema
from .costing import ZERO, money

Pair = tuple[str, str]


def replace_nrv(conn: Connection, rows: Sequence[MasterRow]) -> None:
    """The latest form wins for each sku × warehouse × date it names; other dates stay."""
    n = schema.nrv
    keys = sorted({(r.key, r.values.get("warehouse") or "", r.values["valid_from"]) for r in rows})
    for batch in queries.chunks(keys):
        conn.execute(delete(n).where(or_(*(and_(n.c.sku == s, n.c.warehouse == w, n.c.valid_from == d)
                                           for s, w, d in batch))))
    latest = {(r.key, r.values.get("warehouse") or "", r.values["valid_from"]): r for r in rows}
    conn.execute(insert(n), [{"sku": s, "warehouse": w, "valid_from": d, "nrv": r.values["nrv"],
                              "remark": r.values.get("remark") or ""} for (s, w, d), r in latest.items()])


def nrv_in_force(conn: Connection, day: date) -> dict[Pair, Decimal]:
    """(sku, warehouse) → the net realisable value on `day`; warehouse "" holds for every
    warehouse of the sku without one of its own."""
    n = schema.nrv
    found: dict[Pair, tuple[date, Decimal]] = {}
    for r in conn.execute(select(n.c.sku, n.c.warehouse, n.c.valid_from, n.c.nrv).where(n.c.valid_from <= day)):
        if (r.sku, r.warehouse) not in found or found[(r.sku, r.warehouse)][0] < r.valid_from:
            found[(r.sku, r.warehouse)] = (r.valid_from, r.nrv)
    return {pair: value for pair, (_d, value) in found.items()}


def booked(conn: Connection, until: date, pairs: Iterable[Pair] | None = None) -> dict[Pair, Decimal]:
    """(sku, warehouse) → the provision booked by `until` (write_down lines, + provided, − reversed)."""
    d, l = schema.documents, schema.lines
    query = (select(l.c.sku, l.c.warehouse, periods.stored(func.sum(l.c.amount))).join(d, d.c.id == l.c.document_id)
             .where(d.c.kind == "write_down", d.c.doc_date <= until).group_by(l.c.sku, l.c.warehouse))
    wanted = None if pairs is None else set(pairs)
    return {(sku, warehouse): Decimal(total).scaleb(-schema.MONEY_PLACES)
            for sku, warehouse, total in conn.execute(query)
            if total and (wanted is None or (sku, warehouse) in wanted)}


def stock_at(conn: Connection, day: date) -> dict[Pair, tuple[Decimal, Decimal]]:
    """(sku, warehouse) → (qty, value) at the end of `day`."""
    month = periods.month_of(day)
    start = date(day.year, day.month, 1)
    return {(r.sku, r.warehouse): (Decimal(r.qty).scaleb(-schema.QTY_PLACES), Decimal(r.value).scaleb(-schema.MONEY_PLACES))
            for r in conn.execute(periods.closing_balances(conn, month, start, day))}


@dataclass(frozen=True)
class Provision:
    sku: str
    warehouse: str
    qty: Decimal
    value: Decimal
    unit_cost: Decimal | None
    nrv: Decimal | None
    required: Decimal
    booked: Decimal

    @property
    def proposed(self) -> Decimal:
        return self.required - self.booked


def provisions(conn: Connection, day: date) -> list[Provision]:
    """Each sku × warehouse whose stock is worth more than its net realisable value on
    `day`, or that holds a provision: what it needs and what it has, by sku then warehouse."""
    nrv = nrv_in_force(conn, day)
    held = booked(conn, day)
    if not nrv and not held:
        return []  # no value given, none booked: nothing to ask, and the stock need not be added up
    stock = stock_at(conn, day)
    found = []
    for sku, warehouse in sorted({*(p for p, (q, _v) in stock.items() if q > 0), *held}):
        qty, value = stock.get((sku, warehouse), (ZERO, ZERO))
        value_per = nrv.get((sku, warehouse), nrv.get((sku, "")))
        has = held.get((sku, warehouse), ZERO)
        if qty <= 0:
            required = ZERO
        elif value_per is None:
            required = has  # nothing says what it is worth: the provision stays
        else:
            required = max(ZERO, money(value - qty * value_per))
        if required or has:
            found.append(Provision(sku, warehouse, qty, value, (value / qty).quantize(Decimal("0.000001")) if qty > 0 else None,
                                   value_per, required, has))
    return found


def booked_by_month(conn: Connection, start: date, end: date) -> dict[Pair, Decimal]:
    """(sku, warehouse) → the write-down amounts dated from `start` to `end` (signed)."""
    d, l = schema.documents, schema.lines
    found: dict[Pair, Decimal] = defaultdict(lambda: ZERO)
    for r in conn.execute(select(l.c.sku, l.c.warehouse, l.c.amount).join(d, d.c.id == l.c.document_id)
                          .where(d.c.kind == "write_down", d.c.doc_date >= start, d.c.doc_date <= end)):
        found[(r.sku, r.warehouse)] += r.amount or ZERO
    return dict(found)
