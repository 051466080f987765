"""Check, stock: every issue finds its stock at its date (unless negative stock is allowed),
and an issue that nothing can value is named."""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping, Sequence

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


def uncosted_issues(conn: Connection, docs: Sequence[Document], std_costs: Mapping[str, Decimal | None]) -> list[Problem]:
    """Warnings: an issue of an item that has never had a cost in that warehouse (nor
    earlier in this file) and has no standard cost is valued at 0; costing takes the
    standard cost when there is one."""
    moves = [(doc, line, wh, qty) for doc in docs for line in doc.lines for wh, qty, _day in legs(doc, line)]
    wanted = {(line.sku, wh) for _doc, line, wh, qty in moves if qty < 0 and not std_costs.get(line.sku)}
    if not wanted:
        return []
    costed = {pair for pair, state in queries.cost_states(conn, wanted).items() if state.unit_cost or state.value}
    warnings = []
    for doc, line, wh, qty in moves:
        pair = (line.sku, wh)
        if qty > 0 and (line.unit_cost or doc.kind == "transfer"):
            costed.add(pair)
        elif qty < 0 and pair in wanted and pair not in costed:
            warnings.append(problem("issued-at-zero", line.where.get("qty", ""), line.qty_entered, sku=line.sku, warehouse=wh))
            costed.add(pair)  # once per pair and file
    return warnings
