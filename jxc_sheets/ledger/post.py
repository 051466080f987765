"""Stage post: checked documents and master rows → ledger rows, inside the
caller's transaction (one per file: all of it posts, or none).

Movements are computed in Python from the cost state of the pairs touched,
loaded in one query, and written with executemany: no per-line round trips.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from .. import kinds
from ..records import Document, MasterRow
from . import chain, queries, schema
from .costing import ZERO, Costing, CostState, MovingAverage, rate


@dataclass(frozen=True)
class FileRecord:
    """One row of the processing log (the `files` table)."""

    name: str
    file_hash: str
    kind: str
    status: str
    documents: int = 0
    lines: int = 0
    problems: int = 0
    first_problems: str = ""
    moved_to: str = ""
    warnings: str | None = None
    first_date: date | None = None


def record_file(conn: Connection, record: FileRecord, at: datetime | None = None) -> int:
    values = {**record.__dict__, "processed_at": at or datetime.now()}
    return conn.execute(insert(schema.files).values(**values)).inserted_primary_key[0]


def set_moved_to(conn: Connection, file_id: int, moved_to: str) -> None:
    conn.execute(update(schema.files).where(schema.files.c.id == file_id).values(moved_to=moved_to))


# --- master data ---------------------------------------------------------------

def upsert_master(conn: Connection, rows: Sequence[MasterRow]) -> None:
    """Master data is the one thing that is edited in place: the latest file wins."""
    for kind_name in kinds.MASTER_ORDER:
        kind_rows = [r for r in rows if r.kind == kind_name]
        if not kind_rows:
            continue
        table = schema.MASTER_TABLES[kind_name]
        key = table.c[kinds.KINDS[kind_name].key]
        values = [_master_values(kind_name, r) for r in kind_rows]
        existing = set()
        for batch in queries.chunks([r.key for r in kind_rows]):
            existing |= set(conn.execute(select(key).where(key.in_(batch))).scalars())
        new = [v for v in values if v[key.name] not in existing]
        old = [v for v in values if v[key.name] in existing]
        if new:
            conn.execute(insert(table), new)
        if old:
            columns = [c for c in old[0] if c != key.name]
            statement = update(table).where(key == bindparam("_key")).values({c: bindparam(c) for c in columns})
            conn.execute(statement, [{**v, "_key": v[key.name]} for v in old])
        if kind_name == "items":
            _replace_units(conn, kind_rows)


def _master_values(kind_name: str, row: MasterRow) -> dict:
    table = schema.MASTER_TABLES[kind_name]
    values = {}
    for column in table.c:
        value = row.values.get(column.name)
        if value is None:
            value = column.default.arg if column.default is not None and not callable(column.default.arg) else None
        values[column.name] = value
    if kind_name == "items" and values["active"] is None:
        values["active"] = True
    return values


def _replace_units(conn: Connection, rows: Sequence[MasterRow]) -> None:
    u = schema.item_units
    for batch in queries.chunks([r.key for r in rows]):
        conn.execute(delete(u).where(u.c.sku.in_(batch)))
    units = [{"sku": r.key, "unit": name, "factor": factor} for r in rows for name, factor in (r.values.get("alt_units") or ())]
    if units:
        conn.execute(insert(u), units)


# --- documents -----------------------------------------------------------------

def post_documents(conn: Connection, docs: Sequence[Document], file_id: int | None,
                   costing: Costing | None = None, now: datetime | None = None) -> list[int]:
    """Posts `docs` (in date order) and returns their ids."""
    if not docs:
        return []
    now = now or datetime.now()
    d = schema.documents
    ids = [
        row[0] for row in conn.execute(
            insert(d).returning(d.c.id, sort_by_parameter_order=True),
            [_document_row(doc, file_id, now) for doc in docs],
        )
    ]
    line_rows = [_line_row(doc_id, doc, line) for doc_id, doc in zip(ids, docs) for line in doc.lines]
    if line_rows:  # a count without differences has none
        conn.execute(insert(schema.lines), line_rows)
    movements = list(_movements(conn, list(zip(ids, docs)), costing or MovingAverage()))
    write_movements(conn, movements)
    chain.seal(conn, ids)
    return ids


def _document_row(doc: Document, file_id: int | None, now: datetime) -> dict:
    kind = kinds.KINDS[doc.kind]
    h = doc.header
    return {
        "kind": doc.kind, "doc_no": doc.doc_no, "doc_date": doc.doc_date,
        "warehouse": h.get("warehouse") or h.get("from_warehouse") or "",
        "to_warehouse": h.get("to_warehouse") or "",
        "partner": (h.get(kind.partner_field) if kind.partner_field else None) or "",
        "ref_doc": h.get("ref_doc") or "", "reason": h.get("reason") or "",
        "due_date": h.get("expected_date") or h.get("promised_date") or h.get("month"),
        "prepared_by": h.get("prepared_by") or "", "remark": h.get("remark") or "",
        "source_file": doc.source, "content_hash": doc.content_hash, "file_id": file_id,
        "posted_at": now, "reverses": None,
    }


def _line_row(doc_id: int, doc: Document, line) -> dict:
    return {
        "document_id": doc_id, "line_no": line.line_no, "sku": line.sku, "warehouse": line.warehouse or "",
        "qty": line.qty, "unit": line.unit, "qty_entered": line.qty_entered, "factor": line.factor,
        "unit_cost": line.unit_cost, "unit_price": line.unit_price, "batch": line.batch, "remark": line.remark,
        "expected_date": line.expected_date, "partner": line.partner or None,
    }


def _movements(conn: Connection, docs: list[tuple[int, Document]], costing: Costing) -> Iterable[dict]:
    from ..check import legs  # one definition of which warehouse a line moves

    planned = [(doc_id, doc, line, wh, qty, day) for doc_id, doc in docs for line in doc.lines for wh, qty, day in legs(doc, line)]
    states = queries.cost_states(conn, {(line.sku, wh) for _i, _d, line, wh, _q, _day in planned})
    std_costs = _std_costs(conn, {line.sku for _i, _d, line, _w, _q, _day in planned})
    carried: Decimal | None = None  # a transfer's out value, taken in by its in leg
    for doc_id, doc, line, wh, qty, day in planned:
        state = states.get((line.sku, wh), CostState())
        if qty < 0:
            value = -costing.issue_value(state, -qty)
            carried = -value
        elif doc.kind == "transfer" and carried is not None:
            value, carried = carried, None
        elif kinds.KINDS[doc.kind].cost_field and line.unit_cost is not None:
            value = costing.receipt_value(state, line.qty_entered, line.unit_cost)  # the cost is per entered unit
        else:
            value = costing.receipt_value(state, qty, _current_cost(line, state, std_costs))
        state = state.moved(qty, value)
        states[(line.sku, wh)] = state
        yield _movement_row(doc_id, doc, day, line.line_no, line.sku, wh, qty, value, state)


def _current_cost(line, state: CostState, std_costs: Mapping[str, Decimal]) -> Decimal:
    """Returns and gains without a cost come in at the current average, else the item's
    standard cost, else zero."""
    if state.unit_cost > 0:
        return state.unit_cost
    return std_costs.get(line.sku) or ZERO


def _std_costs(conn: Connection, skus: set[str]) -> dict[str, Decimal]:
    i = schema.items
    found = {}
    for batch in queries.chunks(sorted(skus)):
        found.update({r.sku: r.std_cost for r in conn.execute(select(i.c.sku, i.c.std_cost).where(i.c.sku.in_(batch)))})
    return found


def _movement_row(doc_id: int, doc: Document, day: date, line_no: int, sku: str, warehouse: str,
                  qty: Decimal, value: Decimal, after: CostState) -> dict:
    return {
        "document_id": doc_id, "line_no": line_no, "kind": doc.kind, "doc_date": day,
        "sku": sku, "warehouse": warehouse, "qty": qty, "value": value,
        "unit_cost": rate(value / qty) if qty else ZERO,
        "balance_qty": after.qty, "balance_value": after.value, "balance_unit_cost": after.unit_cost,
    }


def write_movements(conn: Connection, movements: list[dict]) -> None:
    """Appends the movements and brings the balances of their pairs up to date."""
    if not movements:
        return
    conn.execute(insert(schema.movements), [{k: v for k, v in m.items() if k != "balance_unit_cost"} for m in movements])
    last: dict[tuple[str, str], dict] = {}
    counts: dict[tuple[str, str], int] = {}
    for m in movements:
        pair = (m["sku"], m["warehouse"])
        last[pair] = m
        counts[pair] = counts.get(pair, 0) + 1
    b = schema.balances
    existing: dict[tuple[str, str], tuple[date, int]] = {}
    for batch in queries.chunks(sorted(last)):
        rows = conn.execute(select(b.c.sku, b.c.warehouse, b.c.last_date, b.c.movements).where(queries.pairs_in(b.c.sku, b.c.warehouse, batch)))
        existing.update({(r.sku, r.warehouse): (r.last_date, r.movements) for r in rows})
    rows = []
    for pair, m in last.items():
        old_date, old_count = existing.get(pair, (m["doc_date"], 0))
        latest = max(old_date, m["doc_date"])
        rows.append({"sku": pair[0], "warehouse": pair[1], "qty": m["balance_qty"], "value": m["balance_value"],
                     "unit_cost": m["balance_unit_cost"], "last_date": latest, "movements": old_count + counts[pair]})
    new = [r for r in rows if (r["sku"], r["warehouse"]) not in existing]
    old = [r for r in rows if (r["sku"], r["warehouse"]) in existing]
    if new:
        conn.execute(insert(b), new)
    if old:
        statement = update(b).where(b.c.sku == bindparam("_sku"), b.c.warehouse == bindparam("_wh")).values(
            qty=bindparam("qty"), value=bindparam("value"), unit_cost=bindparam("unit_cost"),
            last_date=bindparam("last_date"), movements=bindparam("movements"))
        conn.execute(statement, [{**r, "_sku": r["sku"], "_wh": r["warehouse"]} for r in old])
