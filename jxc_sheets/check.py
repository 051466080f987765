"""Stage check: typed documents against the ledger.

Master data exists and is active, units are the item's own (alternate units
convert to the base unit here), the document number is new — or names a
document already posted with the very same content, which is then skipped —
and stock suffices at the document's date unless negative stock is allowed.
Everything the ledger is asked is asked once per file, never per line.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection

from . import kinds
from .check_counts import check_counts
from .check_orders import check_orders
from .config import CountsConfig, OrdersConfig
from .ledger import periods, queries
from .ledger.counts import CountResult, Decision
from .ledger.orders import Closure, Fulfilment
from .problems import problem
from .records import Document, Item, Line, MasterData, MasterRow, Problem
from .validate import ONE

QTY_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class Checked:
    to_post: tuple[Document, ...]
    already_posted: tuple[Document, ...]
    master: tuple[MasterRow, ...]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[Problem, ...] = field(default=())  # the file posts; the processing log shows them
    fulfilments: tuple[Fulfilment, ...] = field(default=())
    closures: tuple[Closure, ...] = field(default=())
    counts: tuple[CountResult, ...] = field(default=())
    decisions: tuple[Decision, ...] = field(default=())


def check(conn: Connection, documents: Sequence[Document], master_rows: Sequence[MasterRow],
          allow_negative_stock: bool, order_rules: OrdersConfig = OrdersConfig(),
          count_rules: CountsConfig = CountsConfig()) -> Checked:
    data = queries.master_data(conn, [row.key for row in master_rows if row.kind == "items"])
    problems: list[Problem] = []
    rows = tuple(_check_master_row(row, data, problems) for row in master_rows)
    resolved = sorted((with_hash(_resolve(doc, data, problems)) for doc in documents), key=lambda d: d.doc_date)
    new, posted = _split_posted(conn, resolved, problems)
    orders = check_orders(conn, new, posted, order_rules, {sku: item.unit for sku, item in data.items.items()})
    counts = check_counts(conn, orders.documents, count_rules, data.items)
    problems += [*orders.problems, *counts.problems, *check_periods(conn, counts.documents)]
    if not allow_negative_stock:
        problems += check_stock(conn, counts.documents, data.warehouses)
    return Checked(counts.documents, tuple(posted), rows, tuple(problems), orders.notes + counts.notes,
                   orders.warnings, orders.fulfilments, orders.closures, counts.results, counts.decisions)


# --- codes and units -----------------------------------------------------------

def resolve_code(code: str, known: Mapping[str, object] | frozenset[str]) -> str | None:
    """The known code the user meant, or None. A code of digits whose leading
    zeros Excel dropped (00123 saved as 123) still finds its one item."""
    if code in known:
        return code
    if code.isdigit():
        matches = [k for k in known if k.isdigit() and k.lstrip("0") == code.lstrip("0")]
        if len(matches) == 1:
            return matches[0]
    return None


def _resolve(doc: Document, data: MasterData, problems: list[Problem]) -> Document:
    """The document with its codes and units resolved; lines that cannot be are left
    out (their problems are added), so the stock check still sees the others."""
    kind = kinds.KINDS[doc.kind]
    header = dict(doc.header)
    for f in kind.header:
        if f.ref and header.get(f.key):
            header[f.key] = _known(f.ref, header[f.key], data, doc.where.get(f.key, ""), problems)
    lines = []
    for line in doc.lines:
        before = len(problems)
        resolved = _resolve_line(line, data, problems)
        if len(problems) == before:
            lines.append(resolved)
    return replace(doc, header=header, lines=tuple(lines))


def _known(ref: str, code: str, data: MasterData, where: str, problems: list[Problem]) -> str:
    found = resolve_code(code, data.codes(ref))
    if found is None:
        problems.append(problem(f"unknown-{ref}", where, code, code=code))
        return code
    return found


def _resolve_line(line: Line, data: MasterData, problems: list[Problem]) -> Line:
    where = line.where
    warehouse = line.warehouse and _known("warehouses", line.warehouse, data, where.get("warehouse", ""), problems)
    partner = line.partner and _known("customers", line.partner, data, where.get("customer", ""), problems)
    sku = resolve_code(line.sku, data.items)
    if sku is None:
        problems.append(problem("unknown-items", where.get("sku", ""), line.sku, code=line.sku))
        return line
    item = data.items[sku]
    if not item.active:
        problems.append(problem("inactive-item", where.get("sku", ""), line.sku, code=sku))
    unit, factor = _unit(item, line.unit)
    if factor is None:
        known = "、".join((item.unit, *item.units))
        problems.append(problem("unknown-unit", where.get("unit", ""), line.unit, sku=sku, unit=line.unit, units=known))
        return line
    qty = line.qty_entered if line.qty_entered is None or factor == ONE else \
        (line.qty_entered * factor).quantize(QTY_STEP, rounding=ROUND_HALF_UP)
    # unit_cost stays per entered unit, so 1000 箱 @ 50.00 is worth exactly 50,000.00
    return replace(line, sku=sku, warehouse=warehouse, partner=partner, unit=unit, factor=factor, qty=qty)


def _unit(item: Item, entered: str) -> tuple[str, Decimal | None]:
    if not entered or entered.lower() == item.unit.lower():
        return item.unit, ONE
    for name, factor in item.units.items():
        if name.lower() == entered.lower():
            return name, factor
    return entered, None


def _check_master_row(row: MasterRow, data: MasterData, problems: list[Problem]) -> MasterRow:
    values = dict(row.values)
    kind = kinds.KINDS[row.kind]
    for f in kind.lines:
        if f.ref and values.get(f.key):
            values[f.key] = _known(f.ref, values[f.key], data, row.where.get(f.key, ""), problems)
    if row.kind == "items":
        old = data.items.get(row.key)
        if old and row.key in data.moved_skus and old.unit.lower() != str(values["unit"]).lower():
            problems.append(problem("unit-change", row.where.get("unit", ""), values["unit"],
                                    sku=row.key, old=old.unit, new=values["unit"]))
    return replace(row, values=values)


# --- document numbers ----------------------------------------------------------

def with_hash(doc: Document) -> Document:
    """The content hash: kind, header and lines as posted (units already resolved)."""
    content = {
        "kind": doc.kind,
        "header": {k: _plain(v) for k, v in sorted(doc.header.items()) if k not in kinds.NOT_HASHED},
        "lines": [_line_content(l) for l in doc.lines],
    }
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return replace(doc, content_hash=digest)


def _line_content(line: Line) -> list:
    content = [line.sku, line.warehouse, _plain(line.qty), line.unit, _plain(line.unit_cost),
               _plain(line.unit_price), line.batch, line.remark]
    if line.expected_date or line.partner:  # only orders and plans have these: older hashes stay as they were
        content += [_plain(line.expected_date), line.partner]
    return content


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, date):
        return value.isoformat()
    return value


def _split_posted(conn: Connection, docs: list[Document], problems: list[Problem]) -> tuple[list[Document], list[Document]]:
    posted = queries.posted_hashes(conn, {(d.kind, d.doc_no) for d in docs})
    new, same, seen = [], [], {}
    for doc in docs:
        key = (doc.kind, doc.doc_no)
        where = doc.where.get("doc_no", "")
        if key in seen:
            if seen[key] != doc.content_hash:
                problems.append(problem("doc-no-repeated", where, doc.doc_no, doc_no=doc.doc_no))
            continue
        seen[key] = doc.content_hash
        if key not in posted:
            new.append(doc)
        elif posted[key] == doc.content_hash:
            same.append(doc)
        else:
            problems.append(problem("doc-no-conflict", where, doc.doc_no, doc_no=doc.doc_no))
    return new, same


# --- closed months ----------------------------------------------------------------

def check_periods(conn: Connection, docs: Sequence[Document]) -> list[Problem]:
    """A closed month takes no more documents: finance has reported its numbers. Nor
    goods arriving in it: a transfer's in leg would move its closing stock."""
    dated = [(doc, "doc_date", doc.doc_date) for doc in docs]
    dated += [(doc, "arrival_date", doc.header["arrival_date"]) for doc in docs if doc.header.get("arrival_date")]
    closed = periods.closed_among(conn, (day for _doc, _key, day in dated))
    return [problem("period-closed", doc.where.get(key, ""), day.isoformat(), month=closed[day], doc_no=doc.doc_no)
            for doc, key, day in dated if day in closed]


# --- stock ---------------------------------------------------------------------

def legs(doc: Document, line: Line) -> Iterable[tuple[str, Decimal, date]]:
    """(warehouse, signed qty, date) of each movement a line makes. A transfer's goods
    arrive on its arrival date (到货日期) when it has one: in transit until then."""
    kind = kinds.KINDS[doc.kind]
    for leg in kind.legs:
        warehouse = line.warehouse if leg.warehouse_field == "warehouse" and line.warehouse else doc.header[leg.warehouse_field]
        qty = -line.qty if leg.sign < 0 else line.qty  # sign 0: as signed on the line
        yield warehouse, qty, leg_date(doc, qty)


def leg_date(doc: Document, qty: Decimal) -> date:
    arrival = doc.header.get("arrival_date") if qty > 0 else None
    return max(arrival, doc.doc_date) if arrival else doc.doc_date


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
