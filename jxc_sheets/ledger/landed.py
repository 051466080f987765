"""Ledger, landed cost (费用分摊): the receipt lines an expense can be spread over.

A landed cost posts one movement of qty 0 per receipt line it reaches, on that
line's pair, linked to the receipt's movement (basis landed, costing.py): its part
of the expense raises what is still on hand of that receipt and sends the rest to
cost of sales.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Connection, select

from . import queries, schema


@dataclass(frozen=True)
class ReceiptLine:
    doc_no: str
    doc_date: date
    line_no: int
    sku: str
    warehouse: str
    qty: Decimal
    amount: Decimal  # what the line brought into stock (the receipt's given value)
    movement: int


def receipt_lines(conn: Connection, doc_nos: Iterable[str]) -> dict[str, list[ReceiptLine]]:
    """receipt doc_no → its lines as they moved stock (receipts not posted are absent)."""
    d, m = schema.documents, schema.movements
    found: dict[str, list[ReceiptLine]] = {}
    for batch in queries.chunks(sorted(set(doc_nos))):
        query = select(d.c.doc_no, d.c.doc_date, m.c.line_no, m.c.sku, m.c.warehouse, m.c.qty,
                       m.c.given, m.c.value, m.c.id).join(m, m.c.document_id == d.c.id) \
            .where(d.c.kind == "receipt", d.c.doc_no.in_(batch), m.c.qty > 0).order_by(m.c.id)
        for r in conn.execute(query):
            found.setdefault(r.doc_no, []).append(ReceiptLine(r.doc_no, r.doc_date, r.line_no, r.sku, r.warehouse, r.qty,
                                                              r.given if r.given is not None else r.value, r.id))
    return found


def item_weights(conn: Connection, skus: Iterable[str]) -> dict[str, Decimal | None]:
    """sku → the weight of one base unit (items.weight; None when the item master has none)."""
    i = schema.items
    found: dict[str, Decimal | None] = {}
    for batch in queries.chunks(sorted(set(skus))):
        found.update({r.sku: r.weight for r in conn.execute(select(i.c.sku, i.c.weight).where(i.c.sku.in_(batch)))})
    return found
