"""Check, write-down (存货跌价准备): the month-end pack's proposal, dropped back.

Each line books its 本次计提 on its sku × warehouse: + provides, − reverses. A reversal
may take back at most the provision booked on that pair by the form's date (with the
form's earlier lines): beyond it the line is refused at its cell. The line's figures
are taken again from the ledger at the form's date (the form's own are for reading):
qty and unit cost of the stock, and the net realisable value (unit_price). Only under
企业会计准则: 小企业会计准则 books no provision, so there the form is refused.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Sequence

from sqlalchemy import Connection

from ..ledger import write_down
from ..ledger.costing import ZERO
from ..problems import problem
from ..records import Document, Problem

ONE = Decimal(1)


def check_write_downs(conn: Connection, docs: Sequence[Document], chart: str, problems: list[Problem]) -> list[Document]:
    """The write-downs with their lines' qty, unit cost and net realisable value filled in."""
    mine = [doc for doc in docs if doc.kind == "write_down"]
    if not mine:
        return list(docs)
    filled = {}
    for doc in mine:
        if chart != "enterprise":
            problems.append(problem("write-down-small-business", doc.where.get("doc_no", ""), doc.doc_no, chart=chart))
            continue
        filled[id(doc)] = _filled(conn, doc, problems)
    return [filled.get(id(doc), doc) for doc in docs]


def _filled(conn: Connection, doc: Document, problems: list[Problem]) -> Document:
    stock = write_down.stock_at(conn, doc.doc_date)
    nrv = write_down.nrv_in_force(conn, doc.doc_date)
    held = write_down.booked(conn, doc.doc_date)
    lines = []
    for line in doc.lines:
        pair = (line.sku, line.warehouse or "")
        amount = line.amount or ZERO
        has = held.get(pair, ZERO)
        if amount < 0 and -amount > has:
            problems.append(problem("write-down-reversal-exceeds", line.where.get("amount", ""), str(amount),
                                    amount=str(-amount), sku=line.sku, warehouse=pair[1], booked=str(has)))
        held[pair] = has + amount
        qty, value = stock.get(pair, (ZERO, ZERO))
        lines.append(replace(line, qty=qty, qty_entered=qty, factor=ONE, amount=amount,
                             unit_cost=(value / qty).quantize(Decimal("0.000001")) if qty > 0 else None,
                             unit_price=nrv.get(pair, nrv.get((line.sku, "")))))
    return replace(doc, lines=tuple(lines))
