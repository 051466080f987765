"""Stage post: checked documents and master rows → ledger rows, inside the
caller's transaction (one per file: all of it posts, or none).

Movements are computed in Python from the balance rows of the pairs touched, read a
chunk of pairs per query, valued before they are written where nothing else is needed
(repost.value_appended), and written with executemany (bulk.py): no per-line round
trips. What a backdated or linked movement changes, repost.revalue values afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Mapping, Sequence

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, tuple_, update

from .. import clock, kinds
from ..records import Document, MasterRow
from . import assembly, bulk, chain, costing, queries, repost, sales, schema, service, write_down
from .costing import ZERO, money


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
    notes: str | None = None


def record_file(conn: Connection, record: FileRecord, at: datetime | None = None) -> int:
    values = {**record.__dict__, "processed_at": at or clock.now()}
    return conn.execute(insert(schema.files).values(**values)).inserted_primary_key[0]


def set_moved_to(conn: Connection, file_id: int, moved_to: str) -> None:
    conn.execute(update(schema.files).where(schema.files.c.id == file_id).values(moved_to=moved_to))


def record_rejected_documents(conn: Connection, file_id: int, keys: Sequence[tuple[str, str]]) -> None:
    """The (kind, doc_no) a rejected file held, as written: a later posting of one resolves the file."""
    if keys:
        conn.execute(insert(schema.rejected_documents),
                     [{"file_id": file_id, "kind": kind, "doc_no": doc_no} for kind, doc_no in sorted(set(keys))])


def rejected_files_matching(conn: Connection, names: Sequence[str], keys: Sequence[tuple[str, str]]) -> list:
    """Rejected (or failed) files dropped under one of `names` (lower case), or holding one of
    the documents `keys`: (id, name, moved_to) rows, oldest first."""
    f, r = schema.files, schema.rejected_documents
    by_doc = set()
    for chunk in queries.chunks(sorted(set(keys))):
        held = select(r.c.file_id).where(tuple_(r.c.kind, r.c.doc_no).in_(chunk))
        by_doc |= set(conn.execute(held).scalars())
    found = select(f.c.id, f.c.name, f.c.moved_to).where(
        f.c.status.in_(("rejected", "failed")), f.c.moved_to != "",
        or_(func.lower(f.c.name).in_(list(names)), f.c.id.in_(sorted(by_doc))))
    return list(conn.execute(found.order_by(f.c.id)))


# --- master data ---------------------------------------------------------------

# master kinds kept in tables of their own shape (versions, date ranges, cases), not upserted by key
OWN_WRITERS = {"boms": assembly.replace_boms, "nrv": write_down.replace_nrv,
               "price_list": sales.replace_price_lists, "feedback": service.record_feedback}


def upsert_master(conn: Connection, rows: Sequence[MasterRow]) -> None:
    """Master data is the one thing that is edited in place: the latest file wins."""
    for kind_name in kinds.MASTER_ORDER:
        kind_rows = [r for r in rows if r.kind == kind_name]
        if not kind_rows:
            continue
        if kind_name in OWN_WRITERS:
            OWN_WRITERS[kind_name](conn, kind_rows)
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
                   now: datetime | None = None) -> list[int]:
    """Posts `docs` (in date order) and returns their ids."""
    if not docs:
        return []
    now = now or clock.now()
    d = schema.documents
    doc_rows = [_document_row(doc, file_id, now) for doc in docs]
    ids = [row[0] for row in conn.execute(insert(d).returning(d.c.id, sort_by_parameter_order=True), doc_rows)]
    bulk.insert_rows(conn, schema.lines, (_line_row(doc_id, doc, line) for doc_id, doc in zip(ids, docs)
                                          for line in doc.lines))
    movements = _movements(conn, list(zip(ids, docs)))
    append_movements(conn, movements)
    chain.seal(conn, ids, [SimpleNamespace(**row, id=doc_id) for doc_id, row in zip(ids, doc_rows)], movements)
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
        "posted_at": now, "reverses": None, "invoice_type": h.get("invoice_type") or None,
        "salesperson": h.get("salesperson") or None,
    }


def _line_row(doc_id: int, doc: Document, line) -> dict:
    return {
        "document_id": doc_id, "line_no": line.line_no, "sku": line.sku, "warehouse": line.warehouse or "",
        "qty": line.qty, "unit": line.unit, "qty_entered": line.qty_entered, "factor": line.factor,
        "unit_cost": line.unit_cost, "unit_price": line.unit_price, "batch": line.batch, "remark": line.remark,
        "expected_date": line.expected_date, "partner": line.partner or None,
        "tax_rate": line.tax_rate, "amount": line.amount, "tax": line.tax, "gross": line.gross,
        "price_incl": line.price_incl, "production_date": line.production_date, "expiry_date": line.expiry_date,
        "serials": "\n".join(line.serials) or None, "price_rule": line.price_rule or None,
        "return_reason": line.return_reason or None,
        "rejected_qty": line.rejected_qty or None, "reject_reason": line.reject_reason or None,
    }


@dataclass(slots=True)
class NewMovement:
    """A movement about to be appended: a row of `movements`, valued in place before or
    after it is written (repost.py). Slots, not a dict: a batch file makes 100,000."""

    document_id: int
    line_no: int
    kind: str
    doc_date: date
    sku: str
    warehouse: str
    qty: Decimal
    basis: str
    given: Decimal | None = None
    linked_to: int | None = None
    id: int = 0
    value: Decimal = ZERO
    unit_cost: Decimal = ZERO
    balance_qty: Decimal = ZERO
    balance_value: Decimal = ZERO
    last_rate: Decimal | None = None
    correction: Decimal = ZERO

    @property
    def pair(self) -> tuple[str, str]:
        return self.sku, self.warehouse


def _movements(conn: Connection, docs: list[tuple[int, Document]]) -> list[NewMovement]:
    """The movement rows, before they are valued."""
    returned = _returned_movements(conn, [doc for _i, doc in docs])
    return [NewMovement(doc_id, line.line_no, doc.kind, day, line.sku, warehouse, qty,
                        *_basis(doc, line, qty, returned, warehouse))
            for doc_id, doc in docs for line in doc.lines for warehouse, qty, day in kinds.legs(doc, line)]


def _basis(doc: Document, line, qty: Decimal, returned: Mapping[tuple[str, str], int],
           warehouse: str = "") -> tuple[str, Decimal | None, int | None]:
    """What a new movement's value rests on (costing.py)."""
    kind = kinds.KINDS[doc.kind]
    rejected = kinds.rejected_base_qty(line) if doc.kind == "receipt" else None
    if rejected and (line.stock_amount is not None or line.unit_cost is not None):  # its value shared by its two legs
        to_quarantine = money(_stock_amount(line) * rejected / line.qty)
        quarantined = warehouse == doc.header["quarantine"] and qty == rejected
        return costing.COST, to_quarantine if quarantined else _stock_amount(line) - to_quarantine, None
    if doc.kind in costing.SHARED_KINDS and qty > 0:  # the fee (assembly) or the weight (disassembly)
        return costing.SHARE, line.amount or ZERO, None
    if doc.kind == "landed_cost":
        return costing.LANDED, line.amount or ZERO, line.follows
    linked = returned.get((doc.header.get("ref_doc"), line.sku)) if doc.kind in RETURNS else None
    if qty < 0 and kind.cost_field and line.unit_cost is not None:  # a purchase return at its own price
        return costing.COST, -_stock_amount(line), linked
    if linked:
        return costing.LINK, None, linked
    if qty < 0:
        return costing.ISSUE, None, None
    if doc.kind == "transfer":
        return costing.LINK, None, None  # its out leg's id is known once inserted
    if kind.cost_field and line.unit_cost is not None:
        return costing.COST, _stock_amount(line), None
    return costing.CURRENT, None, None


def _stock_amount(line) -> Decimal:
    """What the goods are worth in stock: as check/tax.py worked it out, else qty × the
    unit cost (which is per entered unit)."""
    return line.stock_amount if line.stock_amount is not None else money(abs(line.qty_entered) * line.unit_cost)


RETURNS = {"sales_return": "delivery", "purchase_return": "receipt"}  # comes back at the cost it left with


def _returned_movements(conn: Connection, docs: Sequence[Document]) -> dict[tuple[str, str], int]:
    """(referenced doc_no, sku) → the movement a return takes its cost from."""
    wanted = {(RETURNS[doc.kind], doc.header.get("ref_doc")) for doc in docs
              if doc.kind in RETURNS and doc.header.get("ref_doc")}
    if not wanted:
        return {}
    d, m = schema.documents, schema.movements
    found: dict[tuple[str, str], int] = {}
    for batch in queries.chunks(sorted(wanted)):
        rows = conn.execute(select(d.c.doc_no, m.c.sku, m.c.id).join(m, m.c.document_id == d.c.id)
                            .where(queries.pairs_in(d.c.kind, d.c.doc_no, batch)).order_by(m.c.id))
        for r in rows:
            found.setdefault((r.doc_no, r.sku), r.id)
    return found


def _link_transfer_legs(movements: list[NewMovement]) -> None:
    """A transfer's in leg follows its out leg: the row just before it."""
    for before, row in zip(movements, movements[1:]):
        if row.kind == "transfer" and row.qty > 0 and row.linked_to is None:
            row.linked_to = before.id


def first_keys(movements: Sequence[NewMovement]) -> dict[tuple[str, str], tuple[date, int]]:
    """Each pair's earliest movement in valuation order: where its revaluing starts."""
    starts: dict[tuple[str, str], tuple[date, int]] = {}
    for row in movements:
        pair, key = row.pair, (row.doc_date, row.id)
        if pair not in starts or key < starts[pair]:
            starts[pair] = key
    return starts


def append_movements(conn: Connection, movements: list[NewMovement]) -> list[int]:
    """Appends movements, valued, and counts them in their pairs' balance rows; returns
    their ids (also set on the rows). A moving-average pair appended after everything it
    had is valued before its rows are written; the rest by repost.revalue afterwards."""
    if not movements:
        return []
    m = schema.movements
    for row, move_id in zip(movements, bulk.take_ids(conn, m, len(movements))):
        row.id = move_id
    _link_transfer_legs(movements)
    held = _balance_rows(conn, movements)
    ahead = repost.value_appended(conn, movements, {pair: b.last_date for pair, b in held.items()},
                                  {pair: b.state for pair, b in held.items()})
    bulk.insert_rows(conn, m, movements, MOVEMENT_COLUMNS)
    _count_in_balances(conn, movements, held, ahead)
    rest = [row for row in movements if row.pair not in ahead]
    repost.revalue(conn, first_keys(rest), [row.id for row in rest])
    return [row.id for row in movements]


MOVEMENT_COLUMNS = [c.name for c in schema.movements.c]


@dataclass(frozen=True)
class _Balance:
    state: costing.CostState
    last_date: date
    movements: int


def _balance_rows(conn: Connection, movements: Sequence[NewMovement]) -> dict[tuple[str, str], _Balance]:
    """The balance rows of the pairs `movements` touch, as they are before them."""
    b = schema.balances
    found = {}
    for batch in queries.chunks(sorted({row.pair for row in movements})):
        for r in conn.execute(select(b).where(queries.pairs_in(b.c.sku, b.c.warehouse, batch))):
            found[(r.sku, r.warehouse)] = _Balance(costing.CostState(r.qty, r.value, r.unit_cost), r.last_date, r.movements)
    return found


def _count_in_balances(conn: Connection, movements: Sequence[NewMovement], held: Mapping[tuple[str, str], _Balance],
                       valued: Mapping[tuple[str, str], costing.CostState]) -> None:
    """Each pair's count of movements and latest date, and its state where it was valued already."""
    latest: dict[tuple[str, str], date] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in movements:
        latest[row.pair] = max(latest.get(row.pair, row.doc_date), row.doc_date)
        counts[row.pair] = counts.get(row.pair, 0) + 1
    rows = []
    for pair in latest:
        before = held.get(pair)
        state = valued.get(pair) or (before.state if before else costing.CostState())
        rows.append({"sku": pair[0], "warehouse": pair[1], "qty": state.qty, "value": state.value,
                     "unit_cost": state.unit_cost, "last_date": max(latest[pair], before.last_date) if before else latest[pair],
                     "movements": counts[pair] + (before.movements if before else 0)})
    bulk.insert_rows(conn, schema.balances, [row for row in rows if (row["sku"], row["warehouse"]) not in held])
    bulk.update_rows(conn, schema.balances, [row for row in rows if (row["sku"], row["warehouse"]) in held],
                     ["qty", "value", "unit_cost", "last_date", "movements"], ["sku", "warehouse"])
