"""Orders in the ledger: what is ordered, what has been received or delivered
against it, what is still open, and short-closing.

An order is a posted document of an order kind; its lines are the ordered
quantities. Receipts and deliveries that name it in `ref_doc` add `fulfilments`
rows (their reversals add the same rows negated), so "outstanding" is always
ordered − fulfilled, summed in SQL, never a counter kept up to date by hand.
A short-closed (`order_closures`) or reversed order has nothing outstanding.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, and_, func, insert, select

from .. import clock
from . import queries, schema
from .errors import LedgerError

ZERO = Decimal(0)


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    sku: str
    ordered: Decimal  # base unit
    fulfilled: Decimal
    unit_price: Decimal | None  # per base unit
    expected_date: date | None

    @property
    def open_qty(self) -> Decimal:
        return max(self.ordered - self.fulfilled, ZERO)


@dataclass(frozen=True)
class Order:
    id: int
    kind: str
    doc_no: str
    doc_date: date
    partner: str
    warehouse: str
    due_date: date | None
    lines: tuple[OrderLine, ...]
    closed: bool  # short-closed or reversed: nothing is outstanding any more

    @property
    def is_open(self) -> bool:
        return not self.closed and any(l.open_qty > 0 for l in self.lines)

    def outstanding(self, line: OrderLine) -> Decimal:
        return ZERO if self.closed else line.open_qty

    def with_fulfilled(self, line_no: int, qty: Decimal) -> "Order":
        lines = tuple(replace(l, fulfilled=l.fulfilled + qty) if l.line_no == line_no else l for l in self.lines)
        return replace(self, lines=lines)


@dataclass(frozen=True)
class Fulfilment:
    """A receipt or delivery line taking `qty` (base unit) off an order line."""

    kind: str  # of the fulfilling document
    doc_no: str
    line_no: int
    order_id: int
    order_line_no: int
    sku: str
    qty: Decimal
    doc_date: date


@dataclass(frozen=True)
class Closure:
    order_id: int
    doc_no: str
    reason: str


def orders_by_no(conn: Connection, kind: str, doc_nos: Iterable[str]) -> dict[str, Order]:
    d = schema.documents
    wanted = sorted(set(doc_nos))
    rows = []
    for batch in queries.chunks(wanted):
        rows += conn.execute(select(d).where(d.c.kind == kind, d.c.doc_no.in_(batch))).all()
    return _orders(conn, rows)


def open_orders(conn: Connection, kind: str) -> list[Order]:
    """Every order of `kind` with something still outstanding, oldest first."""
    d = schema.documents
    rows = conn.execute(select(d).where(d.c.kind == kind, d.c.reverses.is_(None)).order_by(d.c.doc_date, d.c.id)).all()
    return [o for o in _orders(conn, rows).values() if o.is_open]


def all_orders(conn: Connection, kind: str, since: date | None = None) -> list[Order]:
    """Every order of `kind` (open or not) dated on or after `since`, reversals left out."""
    d = schema.documents
    query = select(d).where(d.c.kind == kind, d.c.reverses.is_(None)).order_by(d.c.doc_date, d.c.id)
    if since:
        query = query.where(d.c.doc_date >= since)
    return list(_orders(conn, conn.execute(query).all()).values())


def _orders(conn: Connection, rows: Sequence) -> dict[str, Order]:
    if not rows:
        return {}
    d, l, f, c = schema.documents, schema.lines, schema.fulfilments, schema.order_closures
    ids = [r.id for r in rows]
    lines, fulfilled, closed = defaultdict(list), {}, set()
    for batch in queries.chunks(ids):
        lines_query = select(l).where(l.c.document_id.in_(batch)).order_by(l.c.document_id, l.c.line_no)
        for line in conn.execute(lines_query):
            lines[line.document_id].append(line)
        sums = (select(f.c.order_id, f.c.order_line_no, func.sum(f.c.qty).label("qty"))
                .where(f.c.order_id.in_(batch)).group_by(f.c.order_id, f.c.order_line_no))
        fulfilled.update({(r.order_id, r.order_line_no): r.qty for r in conn.execute(sums)})
        closed |= set(conn.execute(select(c.c.order_id).where(c.c.order_id.in_(batch))).scalars())
        closed |= set(conn.execute(select(d.c.reverses).where(d.c.reverses.in_(batch))).scalars())
    found = {}
    for r in rows:
        order_lines = tuple(
            OrderLine(line.line_no, line.sku, line.qty, fulfilled.get((r.id, line.line_no), ZERO),
                      _base_price(line), line.expected_date or r.due_date)
            for line in lines[r.id])
        found[r.doc_no] = Order(r.id, r.kind, r.doc_no, r.doc_date, r.partner, r.warehouse, r.due_date,
                                order_lines, r.id in closed)
    return found


def _base_price(line) -> Decimal | None:
    """An order line's price per base unit (the form's price is per the unit entered)."""
    if line.unit_price is None:
        return None
    return line.unit_price / line.factor if line.factor else line.unit_price


def record_fulfilments(conn: Connection, fulfilments: Sequence[Fulfilment], ids: Mapping[tuple[str, str], int]) -> None:
    """Writes the fulfilments of documents just posted; `ids` maps (kind, doc_no) to their ids."""
    if fulfilments:
        conn.execute(insert(schema.fulfilments), [
            {"order_id": f.order_id, "order_line_no": f.order_line_no, "document_id": ids[(f.kind, f.doc_no)],
             "line_no": f.line_no, "sku": f.sku, "qty": f.qty, "doc_date": f.doc_date} for f in fulfilments
        ])


def record_closures(conn: Connection, closures: Sequence[Closure], closed_by: str, at: datetime | None = None) -> None:
    if closures:
        conn.execute(insert(schema.order_closures), [
            {"order_id": c.order_id, "reason": c.reason, "closed_at": at or clock.now(), "closed_by": closed_by}
            for c in closures
        ])


def reverse_fulfilments(conn: Connection, original_id: int, reversal_id: int, on: date) -> None:
    """The reversal of a receipt or delivery gives back what it fulfilled: the order reopens."""
    f = schema.fulfilments
    rows = conn.execute(select(f).where(f.c.document_id == original_id).order_by(f.c.id)).all()
    if rows:
        conn.execute(insert(f), [
            {"order_id": r.order_id, "order_line_no": r.order_line_no, "document_id": reversal_id,
             "line_no": r.line_no, "sku": r.sku, "qty": -r.qty, "doc_date": on} for r in rows
        ])


def fulfilled_by_order(conn: Connection, order_id: int) -> Decimal:
    f = schema.fulfilments
    return conn.execute(select(func.coalesce(func.sum(f.c.qty), 0)).where(f.c.order_id == order_id)).scalar() or ZERO


def reserved_by_sku(conn: Connection) -> dict[str, Decimal]:
    """What open sales orders still want, per sku (base unit): stock promised to customers."""
    return _outstanding_by_sku(conn, "sales_order")


def on_order_by_sku(conn: Connection) -> dict[str, Decimal]:
    """What open purchase orders are still to bring, per sku (base unit)."""
    return _outstanding_by_sku(conn, "purchase_order")


def _outstanding_by_sku(conn: Connection, kind: str) -> dict[str, Decimal]:
    outstanding: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for order in open_orders(conn, kind):
        for line in order.lines:
            outstanding[line.sku] += order.outstanding(line)
    return dict(outstanding)


def on_hand_by_sku(conn: Connection, skus: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> dict[str, Decimal]:
    """Per sku, over all warehouses but those `exclude`d (the quarantine warehouse sells nothing)."""
    b = schema.balances
    query = select(b.c.sku, func.sum(b.c.qty).label("qty")).group_by(b.c.sku)
    if exclude:
        query = query.where(b.c.warehouse.not_in(list(exclude)))
    if skus is None:
        return {r.sku: r.qty for r in conn.execute(query)}
    found = {}
    for batch in queries.chunks(sorted(set(skus))):
        found.update({r.sku: r.qty for r in conn.execute(query.where(b.c.sku.in_(batch)))})
    return found


def closure_of(conn: Connection, order_id: int):
    c = schema.order_closures
    return conn.execute(select(c).where(c.c.order_id == order_id)).first()


def fulfilling_documents(conn: Connection, order_ids: Iterable[int]) -> dict[int, list]:
    """Per order: the receipts or deliveries (and reversals) that fulfilled it, with dates and quantities."""
    f, d = schema.fulfilments, schema.documents
    found: dict[int, list] = defaultdict(list)
    for batch in queries.chunks(sorted(set(order_ids))):
        query = (select(f.c.order_id, f.c.order_line_no, f.c.qty, f.c.doc_date, d.c.doc_no, d.c.kind)
                 .join(d, and_(d.c.id == f.c.document_id)).where(f.c.order_id.in_(batch)).order_by(f.c.id))
        for r in conn.execute(query):
            found[r.order_id].append(r)
    return dict(found)


def close_order(conn: Connection, doc_no: str, reason: str, closed_by: str, kind: str | None = None) -> Order:
    """Short-closes an open order (`jxc close-order`): what is still open on it is cancelled."""
    kinds_asked = [kind] if kind else ["purchase_order", "sales_order"]
    found = [o for k in kinds_asked for o in orders_by_no(conn, k, [doc_no]).values()]
    if not found:
        raise LedgerError(f"没有已过账的订单 {doc_no} / no posted order {doc_no}")
    if len(found) > 1:
        raise LedgerError(f"{doc_no} 既是采购订单也是销售订单, 请用 --kind 指定 / {doc_no} is both a purchase and a"
                          f" sales order: name one with --kind")
    order = found[0]
    if not order.is_open:
        raise LedgerError(f"订单 {doc_no} 已关闭或已完成 / order {doc_no} is already closed or complete")
    record_closures(conn, [Closure(order.id, doc_no, reason)], closed_by)
    return order
