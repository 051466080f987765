"""Check, stock: every issue finds its stock at its date (unless negative stock is allowed)."""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from sqlalchemy import Connection

from ..kinds import legs
from ..ledger import queries
from ..problems import problem
from ..records import Document, Problem


def check_stock(conn: Connection, docs: Sequence[Document],
                known_warehouses: frozenset[str] | None = None) -> list[Problem]:
    """Every issue must find the stock at its date, and must not take stock that a
    later document already used: available = the lowest balance from that date on.
    `docs` are in date order; this file's own earlier receipts count. An unknown
    warehouse is reported once, as such, not again on every line as empty."""
    moves = [(doc, line, wh, qty, day) for doc in docs for line in doc.lines for wh, qty, day in legs(doc, line)]
    pairs = {(line.sku, wh) for _doc, line, wh, qty, _day in moves
             if qty < 0 and (known_warehouses is None or wh in known_warehouses)}
    if not pairs:
        return []
    timeline = queries.stock_timeline(conn, pairs, min(doc.doc_date for doc in docs))
    problems = []
    refused: set[tuple[int, int]] = set()  # a refused transfer line brings nothing to its other warehouse
    for doc, line, wh, qty, day in moves:
        pair = timeline.get((line.sku, wh))
        if pair is None or (id(doc), line.line_no) in refused:
            continue
        if qty < 0:
            available = pair.available(doc.doc_date)
            if available + qty < 0:
                problems.append(problem("insufficient-stock", line.where.get("qty", ""), line.qty_entered,
                                        sku=line.sku, warehouse=wh, date=doc.doc_date.isoformat(),
                                        available=_show(available), needed=_show(-qty)))
                refused.add((id(doc), line.line_no))
                continue
        pair.add(day, qty)
    return problems


def _show(qty: Decimal) -> str:
    return format(qty.normalize(), "f")
