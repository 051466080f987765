"""`jxc reverse DOC_NO`: the reversal (红字冲销) of a posted document.

The reversal is a new document, `DOC_NO-R`, whose movements take back exactly
what the original's moved — the same quantities at the same values, following the
original if a backdated document revalues it (fifo takes the goods back out of the
original's own layer) — so the ledger stays append-only and a correction is
reversal plus a new document.
"""
from __future__ import annotations

import getpass
import hashlib
from datetime import date

from sqlalchemy import Connection, insert, select

from ..problems import problem
from .. import clock, kinds
from . import batches, chain, money, orders, periods, queries, schema
from . import costing
from .errors import LedgerError
from .post import NewMovement, append_movements

SUFFIX = "-R"
__all__ = ["LedgerError", "reverse_document"]


def reverse_document(conn: Connection, doc_no: str, kind: str | None = None, on: date | None = None,
                     allow_negative_stock: bool = False) -> str:
    """Posts the reversal of `doc_no` (inside the caller's transaction) and returns its number."""
    original = _original(conn, doc_no, kind)
    on = on or clock.today()
    if periods.closed_among(conn, [on]):
        raise LedgerError(f"{periods.month_of(on)} 已结账, 冲销请用未结账月份的日期 (--date)"
                          f" / {periods.month_of(on)} is closed: date the reversal in an open month (--date)")
    if on < original.doc_date:
        raise LedgerError(f"冲销日期 {on} 早于原单日期 {original.doc_date} / the reversal date is before the document's date")
    if kinds.KINDS[original.kind].is_order and orders.fulfilled_by_order(conn, original.id):
        raise LedgerError(f"{doc_no} 已有收发货, 不能冲销; 如不再执行, 请关闭它(jxc close-order {doc_no})"
                          f" / {doc_no} has receipts or deliveries against it: close it instead (jxc close-order {doc_no})")
    d, m = schema.documents, schema.movements
    moves = conn.execute(select(m).where(m.c.document_id == original.id).order_by(m.c.id)).all()
    if not allow_negative_stock:
        _check_stock(conn, moves, on)
    new_no = original.doc_no + SUFFIX
    if queries.document_by_no(conn, new_no, original.kind):
        raise LedgerError(f"单号 {new_no} 已被占用, 无法冲销 / {new_no} is taken: the reversal needs that number")
    row = {c.name: getattr(original, c.name) for c in d.c if c.name != "id"}
    row.update(doc_no=new_no, doc_date=on, reverses=original.id, posted_at=clock.now(), file_id=None,
               source_file="jxc reverse", prepared_by=login_name(), content_hash=_reversal_hash(original.content_hash),
               remark=f"冲销 {original.doc_no} / reversal of {original.doc_no}")
    new_id = conn.execute(insert(d).values(**row)).inserted_primary_key[0]
    lines = conn.execute(select(schema.lines).where(schema.lines.c.document_id == original.id)).all()
    if lines:  # a receipt or payment of funds has none
        conn.execute(insert(schema.lines), [
            {**{c.name: getattr(l, c.name) for c in schema.lines.c if c.name != "id"},
             "document_id": new_id, "qty": -l.qty, "qty_entered": -l.qty_entered} for l in lines
        ])
    # goods still in transit are taken back where they would arrive, once they have; the
    # last movement first, so that a document that is its pairs' last comes off exactly
    movements = [NewMovement(new_id, mv.line_no, mv.kind, max(on, mv.doc_date), mv.sku, mv.warehouse, -mv.qty,
                             costing.REVERSE, linked_to=mv.id) for mv in reversed(moves)]
    append_movements(conn, movements)
    batches.reverse(conn, original.id, new_id, on, allow_negative_stock)
    batches.reverse_serials(conn, original.id, new_id, on)
    orders.reverse_fulfilments(conn, original.id, new_id, on)
    money.reverse_money(conn, original.id, new_id, new_no, on)
    chain.seal(conn, [new_id])
    return new_no


def _original(conn: Connection, doc_no: str, kind: str | None):
    found = queries.document_by_no(conn, doc_no, kind)
    if not found:
        raise LedgerError(f"单号 {doc_no} 未过账 / no posted document {doc_no}")
    if len(found) > 1:
        kinds = ", ".join(sorted(r.kind for r in found))
        raise LedgerError(f"单号 {doc_no} 属于多种单据({kinds}), 请用 --kind 指定 / {doc_no} exists as {kinds}: name one with --kind")
    original = found[0]
    if original.reverses is not None:
        raise LedgerError(f"{doc_no} 本身是冲销单, 不能再冲销 / {doc_no} is itself a reversal")
    d = schema.documents
    if conn.execute(select(d.c.doc_no).where(d.c.reverses == original.id)).first():
        raise LedgerError(f"{doc_no} 已经冲销过 / {doc_no} has already been reversed")
    return original


def _check_stock(conn: Connection, moves, on: date) -> None:
    takes = [(mv.sku, mv.warehouse, mv.qty) for mv in moves if mv.qty > 0]  # reversed, these leave
    timeline = queries.stock_timeline(conn, {(s, w) for s, w, _q in takes}, on)
    for sku, warehouse, qty in takes:
        pair = timeline[(sku, warehouse)]
        available = pair.available(on)
        if available < qty:
            raise LedgerError(problem("insufficient-stock", sku=sku, warehouse=warehouse, date=on.isoformat(),
                                      available=format(available.normalize(), "f"),
                                      needed=format(qty.normalize(), "f")).message)
        pair.add(on, -qty)


def _reversal_hash(original_hash: str) -> str:
    # content_hash is VARCHAR(64): PostgreSQL refuses a longer "reversal-of-<hash>"
    return hashlib.sha256(f"reversal-of-{original_hash}".encode()).hexdigest()


def login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some service accounts
        return ""
