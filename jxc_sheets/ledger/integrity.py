"""`jxc check`: recompute every balance from the movements and compare.

Three things must agree: the sum of a pair's movements, the running balance
stored on each movement (in valuation order, date then posting sequence), and the
balances table; the values of the open months must be what costing gives them again
(repost.py); every settlement of receivables and payables must pair and stay within its
items (money.py); and the documents' hash chain must be unbroken (chain.py). Any
difference is listed.

The routine run (`jxc check --since LAST`) starts from the last chain point a clean
check verified, kept in the meta table: it walks the chain from there, and checks the
running balances of the open months only (nothing is posted into a closed month); the
rest costs SQL aggregates or the open months alone, and runs as in the full check.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select, type_coerce

from .. import kinds
from . import chain, money, periods, repost, schema

STOCK_KINDS = sorted(k.name for k in kinds.KINDS.values() if k.category is kinds.Category.STOCK and k.legs)  # a write-down moves none
VERIFIED = "check_verified"  # the meta row of the last chain point a clean check verified


@dataclass(frozen=True)
class Verified:
    """A chain point a clean `jxc check` verified, and when."""

    point: chain.Point
    at: datetime


@dataclass(frozen=True)
class Checked:
    differences: list[str]
    verified: chain.Point | None  # the chain's last document verified (None: no documents)


def check_ledger(conn: Connection) -> list[str]:
    return check(conn).differences


def check(conn: Connection, since: chain.Point | None = None) -> Checked:
    """The full check; from `since` on (a point a clean check verified), the routine one."""
    if conn.dialect.name == "postgresql":
        # the sums' hash and the windows' sorts in memory, not spilled to disk; no JIT
        # compiling (a third of a second a query) for queries that each run once
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        conn.exec_driver_sql("SET LOCAL jit = off")
    from_day = repost.first_open_day(periods.closed_months(conn)) if since else date.min
    broken, verified = chain.walk(conn, since)
    return Checked(_sums_against_balances(conn) + _running_balances(conn, from_day) + _documents_without_movements(conn)
                   + _fulfilments_off_their_orders(conn) + money.differences(conn) + _batches_against_balances(conn)
                   + repost.replay_differences(conn) + broken, verified)


def last_verified(conn: Connection) -> Verified | None:
    kept = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == VERIFIED)).scalar()
    if kept is None:
        return None
    found = json.loads(kept)
    return Verified(chain.Point(found["document_id"], found["chain_hash"]), datetime.fromisoformat(found["at"]))


def record_verified(conn: Connection, point: chain.Point, at: datetime) -> None:
    """Keeps `point` as the last one verified, unless a later one is kept already."""
    kept, m = last_verified(conn), schema.meta
    if kept is not None and kept.point.document_id > point.document_id:
        return
    value = json.dumps({"document_id": point.document_id, "chain_hash": point.chain_hash, "at": at.isoformat()})
    if kept is None:
        conn.execute(m.insert().values(key=VERIFIED, value=value))
    else:
        conn.execute(m.update().where(m.c.key == VERIFIED).values(value=value))


def _batches_against_balances(conn: Connection) -> list[str]:
    """Each batch balance is the sum of its batch movements, the batches of a tracked item in
    a warehouse add up to that item's balance there, and so do its serials in stock (batches.py)."""
    bm, bb, b, i = schema.batch_movements, schema.batch_balances, schema.balances, schema.items
    sums = {(r.sku, r.warehouse, r.batch): r.qty for r in conn.execute(
        select(bm.c.sku, bm.c.warehouse, bm.c.batch, func.sum(bm.c.qty).label("qty")).group_by(bm.c.sku, bm.c.warehouse, bm.c.batch))}
    held = {(r.sku, r.warehouse, r.batch): r.qty for r in conn.execute(select(bb))}
    differences = [f"{s} @ {w} 批号 batch {batch}: 批次流水合计 batch movements {sums.get((s, w, batch))} ≠ 批次余额 batch balance"
                   f" {held.get((s, w, batch))}" for s, w, batch in sorted(set(sums) | set(held))
                   if sums.get((s, w, batch), 0) != held.get((s, w, batch), 0)]
    tracked = select(i.c.sku).where((i.c.batch_tracked.is_(True)) | (i.c.expiry_tracked.is_(True)))
    per_pair: dict[tuple[str, str], Decimal] = {}
    for (s, w, _batch), qty in held.items():
        per_pair[(s, w)] = per_pair.get((s, w), Decimal(0)) + qty
    for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.qty).where(b.c.sku.in_(tracked))):
        if per_pair.get((r.sku, r.warehouse), Decimal(0)) != r.qty:
            differences.append(f"{r.sku} @ {r.warehouse}: 各批合计 batches {per_pair.get((r.sku, r.warehouse), 0)}"
                               f" ≠ 余额 balance {r.qty}")
    sr = schema.serials
    in_stock = {(r.sku, r.warehouse): r.n for r in conn.execute(
        select(sr.c.sku, sr.c.warehouse, func.count().label("n")).where(sr.c.status == "in_stock").group_by(sr.c.sku, sr.c.warehouse))}
    serial_items = select(i.c.sku).where(i.c.serial_tracked.is_(True))
    for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.qty).where(b.c.sku.in_(serial_items))):
        if in_stock.get((r.sku, r.warehouse), 0) != r.qty:
            differences.append(f"{r.sku} @ {r.warehouse}: 在库序列号 serials in stock {in_stock.get((r.sku, r.warehouse), 0)}"
                               f" ≠ 余额 balance {r.qty}")
    return differences


def _sums_against_balances(conn: Connection) -> list[str]:
    """Compared in SQL, on the scaled integers: only the pairs that differ come back."""
    m, b = schema.movements, schema.balances
    sums = select(m.c.sku, m.c.warehouse, func.sum(m.c.qty).label("qty"), func.sum(m.c.value).label("value"),
                  func.count().label("n")).group_by(m.c.sku, m.c.warehouse).subquery()
    off = conn.execute(select(sums, b.c.qty.label("b_qty"), b.c.value.label("b_value"), b.c.movements.label("b_n"))
                       .outerjoin(b, (b.c.sku == sums.c.sku) & (b.c.warehouse == sums.c.warehouse))
                       .where(b.c.sku.is_(None) | (b.c.qty != sums.c.qty) | (b.c.value != sums.c.value)
                              | (b.c.movements != sums.c.n)))
    found = {(r.sku, r.warehouse): ((r.qty, r.value, r.n), None if r.b_n is None else (r.b_qty, r.b_value, r.b_n))
             for r in off}
    unmoved = conn.execute(select(b).where(~select(m.c.id).where(m.c.sku == b.c.sku, m.c.warehouse == b.c.warehouse)
                                           .exists()))
    found.update({(r.sku, r.warehouse): (None, (r.qty, r.value, r.movements)) for r in unmoved})
    return [f"{pair[0]} @ {pair[1]}: 流水合计 movements {_show(want)} ≠ 余额表 balances {_show(have)}"
            for pair, (want, have) in sorted(found.items())]


def _running_balances(conn: Connection, from_day: date = date.min) -> list[str]:
    """Each movement's balance after it is the one before it (in valuation order: date, then
    posting sequence) plus its own qty and value; a window function in SQL finds the breaks,
    each once. From `from_day` on: the rows before it are taken as they stand."""
    m = schema.movements
    before = {"partition_by": (m.c.sku, m.c.warehouse), "order_by": (m.c.doc_date, m.c.id)}
    running = select(m.c.id, m.c.sku, m.c.warehouse, m.c.doc_date, m.c.balance_qty, m.c.balance_value,
                     type_coerce(func.coalesce(func.lag(m.c.balance_qty).over(**before), *_before(m.c.balance_qty, from_day))
                                 + m.c.qty, schema.Qty()).label("qty"),
                     type_coerce(func.coalesce(func.lag(m.c.balance_value).over(**before),
                                               *_before(m.c.balance_value, from_day)) + m.c.value,
                                 schema.Money()).label("value"))
    if from_day != date.min:
        running = running.where(m.c.doc_date >= from_day)
    r = running.subquery().c
    breaks = select(r).where((r.qty != r.balance_qty) | (r.value != r.balance_value)) \
        .order_by(r.sku, r.warehouse, r.doc_date, r.id)
    return [f"movement {r.id} {r.sku} @ {r.warehouse}: 结存 balance after ({r.balance_qty}, {r.balance_value})"
            f" ≠ 累计 running ({r.qty}, {r.value})" for r in conn.execute(breaks)]


def _before(column, day: date) -> list:
    """What a pair held before `day` (its last row's `column`, an index seek), then nothing."""
    if day == date.min:
        return [0]
    m, x = schema.movements, schema.movements.alias("x")
    return [select(x.c[column.name]).where(x.c.sku == m.c.sku, x.c.warehouse == m.c.warehouse, x.c.doc_date < day)
            .order_by(x.c.doc_date.desc(), x.c.id.desc()).limit(1).scalar_subquery(), 0]


def _documents_without_movements(conn: Connection) -> list[str]:
    """A stock document moves stock — or, an opening switching items to batch tracking, batches."""
    d, m, bm = schema.documents, schema.movements, schema.batch_movements
    orphans = conn.execute(select(d.c.kind, d.c.doc_no).where(
        d.c.kind.in_(STOCK_KINDS), ~select(m.c.id).where(m.c.document_id == d.c.id).exists(),
        ~select(bm.c.id).where(bm.c.document_id == d.c.id).exists())).all()
    return [f"{r.kind} {r.doc_no}: 单据没有库存流水 / document without movements" for r in orphans]


def _fulfilments_off_their_orders(conn: Connection) -> list[str]:
    """Every fulfilment names a line of its order, and no order line is fulfilled below zero."""
    f, l, d = schema.fulfilments, schema.lines, schema.documents
    sums = (select(d.c.doc_no, f.c.order_line_no, func.sum(f.c.qty).label("qty"), func.count(l.c.id).label("lines"))
            .join(d, d.c.id == f.c.order_id)
            .outerjoin(l, (l.c.document_id == f.c.order_id) & (l.c.line_no == f.c.order_line_no))
            .group_by(d.c.doc_no, f.c.order_line_no))
    return [f"{r.doc_no} 第 {r.order_line_no} 行 line: 收发货记录与订单不符 / fulfilments do not match the order"
            f" (qty {r.qty})" for r in conn.execute(sums) if r.lines == 0 or r.qty < 0]


def _show(values) -> str:
    if values is None:
        return "—"
    qty, value, n = values
    return f"qty {qty}, value {value}, {n} movements"
