"""Ledger, batches: stock of tracked items per item × warehouse × batch.

Batch movements sit beside the movements of the same document line and add up to
them; the movements keep their costing per item × warehouse, unchanged. A batch is
where goods came from and when they expire; a FIFO layer is a cost — a delivery of
batch B2 may well be valued at the cost of older goods.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, func, insert, select, update

from . import bulk, schema
from .errors import LedgerError
from .queries import PairTimeline, chunks, pairs_in

ZERO = Decimal(0)


@dataclass(frozen=True)
class BatchMove:
    """A row of batch_movements, its document known by (kind, doc_no) until posted."""

    kind: str
    doc_no: str
    line_no: int
    doc_date: date
    sku: str
    warehouse: str
    batch: str
    qty: Decimal
    partner: str = ""


@dataclass(frozen=True)
class NewBatch:
    sku: str
    batch: str
    production_date: date | None
    expiry_date: date | None
    kind: str
    doc_no: str
    line_no: int
    partner: str


@dataclass(frozen=True)
class SerialMove:
    """A row of serial_movements, its document known by (kind, doc_no) until posted."""

    kind: str
    doc_no: str
    line_no: int
    doc_date: date
    sku: str
    serial: str
    warehouse: str
    qty: Decimal  # +1 in, -1 out
    partner: str = ""
    batch: str = ""


@dataclass(frozen=True)
class SerialState:
    """Where a serial is: in stock in a warehouse, shipped to a customer, returned to a
    supplier, or out otherwise (written off, taken back by a reversal)."""

    status: str  # in_stock | shipped | returned | out
    warehouse: str = ""
    partner: str = ""
    doc_no: str = ""
    batch: str = ""


SHIPPED = {"delivery": "shipped", "purchase_return": "returned"}


def serial_after(kind: str, qty: Decimal, warehouse: str, partner: str, doc_no: str, batch: str = "") -> SerialState:
    """A serial's state after one move of it."""
    if qty > 0:
        return SerialState("in_stock", warehouse, partner, doc_no, batch)
    return SerialState(SHIPPED.get(kind, "out"), "", partner if kind in SHIPPED else "", doc_no, batch)


def serial_states(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], SerialState]:
    """(sku, serial) → where it is now, for those of `keys` ever seen."""
    t, d = schema.serials, schema.documents
    found = {}
    for chunk in chunks(sorted(set(keys))):
        query = select(t.c.sku, t.c.serial, t.c.status, t.c.warehouse, t.c.partner, t.c.batch, d.c.doc_no) \
            .join(d, d.c.id == t.c.document_id).where(pairs_in(t.c.sku, t.c.serial, chunk))
        for r in conn.execute(query):
            found[(r.sku, r.serial)] = SerialState(r.status, r.warehouse, r.partner, r.doc_no, r.batch)
    return found


def record_serials(conn: Connection, moves: Sequence[SerialMove], ids: Mapping[tuple[str, str], int]) -> None:
    """The serial movements of the documents just posted, and each serial's place after them."""
    rows = [{"document_id": ids[(mv.kind, mv.doc_no)], "line_no": mv.line_no, "kind": mv.kind, "doc_date": mv.doc_date,
             "sku": mv.sku, "serial": mv.serial, "warehouse": mv.warehouse, "qty": mv.qty, "partner": mv.partner}
            for mv in moves if (mv.kind, mv.doc_no) in ids]
    _append_serials(conn, rows, {(mv.kind, mv.doc_no, mv.line_no, mv.sku, mv.serial): mv.batch for mv in moves})


def _append_serials(conn: Connection, rows: list[dict], batches: Mapping[tuple, str] | None = None) -> None:
    if not rows:
        return
    bulk.insert_rows(conn, schema.serial_movements, rows)
    kinds_of = {row["document_id"]: row["kind"] for row in rows}
    d = schema.documents
    numbers = {r.id: r.doc_no for r in conn.execute(select(d.c.id, d.c.doc_no).where(d.c.id.in_(sorted(kinds_of))))}
    last: dict[tuple[str, str], dict] = {}
    for row in rows:  # in order: a transfer's in leg comes after its out leg
        key = (row["sku"], row["serial"])
        batch = (batches or {}).get((row["kind"], numbers[row["document_id"]], row["line_no"], *key), "")
        state = serial_after(row["kind"], row["qty"], row["warehouse"], row["partner"], "", batch)
        last[key] = {"sku": key[0], "serial": key[1], "batch": state.batch, "warehouse": state.warehouse,
                     "status": state.status, "partner": state.partner, "document_id": row["document_id"]}
    t = schema.serials
    held = set(serial_states(conn, last))
    bulk.insert_rows(conn, t, [row for key, row in last.items() if key not in held])
    changed = [row for key, row in last.items() if key in held]
    keep_batch = [row for row in changed if not row["batch"]]  # a move naming no batch leaves the serial's own
    bulk.update_rows(conn, t, keep_batch, ["warehouse", "status", "partner", "document_id"], ["sku", "serial"])
    bulk.update_rows(conn, t, [row for row in changed if row["batch"]], ["batch", "warehouse", "status", "partner", "document_id"],
                     ["sku", "serial"])


def reverse_serials(conn: Connection, original_id: int, new_id: int, on: date) -> None:
    """The reversal moves each serial of the original back, last move first: a serial
    brought in must still be where it came, one shipped must still be with that customer."""
    sm = schema.serial_movements
    rows = conn.execute(select(sm).where(sm.c.document_id == original_id).order_by(sm.c.id.desc())).all()
    if not rows:
        return
    states = serial_states(conn, {(r.sku, r.serial) for r in rows})
    for r in rows:
        state = states.get((r.sku, r.serial))
        expected = serial_after(r.kind, r.qty, r.warehouse, r.partner, "")
        if state is None or (state.status, state.warehouse) != (expected.status, expected.warehouse):
            where = f"{state.status} {state.warehouse or state.partner}" if state else "?"
            raise LedgerError(f"序列号 {r.serial} ({r.sku}) 已不在原单过账后的位置 ({where}), 不能冲销; 请先冲销后续单据"
                              f" / serial {r.serial} of {r.sku} has moved on since ({where}): reverse the later documents first")
        states[(r.sku, r.serial)] = SerialState("in_stock" if r.qty < 0 else "out", r.warehouse if r.qty < 0 else "")
    _append_serials(conn, [{"document_id": new_id, "line_no": r.line_no, "kind": r.kind, "doc_date": max(on, r.doc_date),
                            "sku": r.sku, "serial": r.serial, "warehouse": r.warehouse, "qty": -r.qty,
                            "partner": r.partner} for r in rows])


def shipped_batches(conn: Connection, deliveries: Iterable[str]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(delivery doc_no, sku) → the batches that delivery shipped."""
    bm, d = schema.batch_movements, schema.documents
    found: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for chunk in chunks(sorted(set(deliveries))):
        query = (select(d.c.doc_no, bm.c.sku, bm.c.batch, func.sum(bm.c.qty).label("qty"))
                 .join(d, d.c.id == bm.c.document_id).where(d.c.kind == "delivery", d.c.doc_no.in_(chunk))
                 .group_by(d.c.doc_no, bm.c.sku, bm.c.batch))
        for r in conn.execute(query):
            if r.qty < 0:
                found[(r.doc_no, r.sku)][r.batch] = -r.qty
    return {key: tuple(sorted(batches)) for key, batches in found.items()}


def tracked_stock(conn: Connection, sku: str, serials: bool = False) -> Decimal:
    """What of `sku` is in stock by batch (or, `serials`, how many of its serials are)."""
    if serials:
        t = schema.serials
        return Decimal(conn.execute(select(func.count()).where(t.c.sku == sku, t.c.status == "in_stock")).scalar() or 0)
    bb = schema.batch_balances
    return conn.execute(select(func.coalesce(func.sum(bb.c.qty), 0)).where(bb.c.sku == sku)).scalar() or Decimal(0)


def stock_of(conn: Connection, skus: Sequence[str]) -> dict[tuple[str, str], Decimal]:
    """(sku, warehouse) → qty on hand now, for `skus`."""
    b = schema.balances
    found = {}
    for chunk in chunks(skus):
        for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.qty).where(b.c.sku.in_(chunk))):
            found[(r.sku, r.warehouse)] = r.qty
    return found


Dates = dict[tuple[str, str], tuple[date | None, date | None]]


def batch_timeline(conn: Connection, pairs: Iterable[tuple[str, str]], since: date) -> dict[tuple[str, str, str], PairTimeline]:
    """Every batch of the (sku, warehouse) pairs: its qty now and its net movement per date after `since`."""
    return batch_stock(conn, pairs, since)[0]


def batch_stock(conn: Connection, pairs: Iterable[tuple[str, str]],
                since: date) -> tuple[dict[tuple[str, str, str], PairTimeline], Dates]:
    """`batch_timeline`, and the (production, expiry) dates of the batches with stock, read with it.
    A batch emptied long ago is not read: its balance row stays, at zero."""
    bb, bm, t = schema.batch_balances, schema.batch_movements, schema.batches
    found: dict[tuple[str, str, str], PairTimeline] = {}
    dates: Dates = {}
    for chunk in chunks(sorted(set(pairs))):
        query = (select(bb.c.sku, bb.c.warehouse, bb.c.batch, bb.c.qty, t.c.production_date, t.c.expiry_date)
                 .outerjoin(t, (t.c.sku == bb.c.sku) & (t.c.batch == bb.c.batch))
                 .where(pairs_in(bb.c.sku, bb.c.warehouse, chunk), bb.c.qty != 0))
        for sku, warehouse, batch, qty, production, expiry in conn.execute(query):
            found[(sku, warehouse, batch)] = PairTimeline(qty)
            dates[(sku, batch)] = (production, expiry)
        later = (select(bm.c.sku, bm.c.warehouse, bm.c.batch, bm.c.doc_date, func.sum(bm.c.qty).label("qty"))
                 .where(pairs_in(bm.c.sku, bm.c.warehouse, chunk), bm.c.doc_date > since)
                 .group_by(bm.c.sku, bm.c.warehouse, bm.c.batch, bm.c.doc_date))
        for r in conn.execute(later):
            found.setdefault((r.sku, r.warehouse, r.batch), PairTimeline(ZERO)).deltas[r.doc_date] = r.qty
    return found, dates


def batch_book_at(conn: Connection, warehouse: str, day: date, skus: Iterable[str]) -> dict[tuple[str, str], Decimal]:
    """(sku, batch) → qty in `warehouse` at the end of `day`, for `skus` (a count's book per batch)."""
    bm = schema.batch_movements
    found = {}
    for chunk in chunks(sorted(set(skus))):
        query = (select(bm.c.sku, bm.c.batch, func.sum(bm.c.qty).label("qty"))
                 .where(bm.c.warehouse == warehouse, bm.c.doc_date <= day, bm.c.sku.in_(chunk)).group_by(bm.c.sku, bm.c.batch))
        found.update({(r.sku, r.batch): r.qty for r in conn.execute(query) if r.qty})
    return found


def batch_dates(conn: Connection, keys: Iterable[tuple[str, str]]) -> Dates:
    """(sku, batch) → (production date, expiry date), of those of `keys` registered."""
    t = schema.batches
    found = {}
    for chunk in chunks(sorted(set(keys))):
        query = select(t.c.sku, t.c.batch, t.c.production_date, t.c.expiry_date).where(pairs_in(t.c.sku, t.c.batch, chunk))
        for r in conn.execute(query):
            found[(r.sku, r.batch)] = (r.production_date, r.expiry_date)
    return found


def record_batches(conn: Connection, new: Sequence[NewBatch], moves: Sequence[BatchMove],
                   ids: Mapping[tuple[str, str], int], switched: Sequence[str] = (),
                   serials_switched: Sequence[str] = ()) -> None:
    """Writes the batches met for the first time and the batch movements of the documents
    just posted (`ids`: (kind, doc_no) → id); a document not among them (already posted)
    writes nothing. `switched`, `serials_switched`: the items an opening turned to batch
    (serial) tracking."""
    i = schema.items
    if switched:
        conn.execute(update(i).where(i.c.sku.in_(list(switched))).values(batch_tracked=True))
    if serials_switched:
        conn.execute(update(i).where(i.c.sku.in_(list(serials_switched))).values(serial_tracked=True))
    if new:
        conn.execute(insert(schema.batches), [
            {"sku": b.sku, "batch": b.batch, "production_date": b.production_date, "expiry_date": b.expiry_date,
             "document_id": ids[(b.kind, b.doc_no)], "line_no": b.line_no, "partner": b.partner}
            for b in new if (b.kind, b.doc_no) in ids])
    rows = [{"document_id": ids[(mv.kind, mv.doc_no)], "line_no": mv.line_no, "kind": mv.kind, "doc_date": mv.doc_date,
             "sku": mv.sku, "warehouse": mv.warehouse, "batch": mv.batch, "qty": mv.qty, "partner": mv.partner}
            for mv in moves if (mv.kind, mv.doc_no) in ids]
    append(conn, rows)


def append(conn: Connection, rows: list[dict]) -> None:
    """Batch movement rows, written and counted in their batch balances."""
    if not rows:
        return
    bulk.insert_rows(conn, schema.batch_movements, rows)
    delta: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        delta[(row["sku"], row["warehouse"], row["batch"])] += row["qty"]
    bb = schema.batch_balances
    held = {}
    for chunk in chunks(sorted(delta)):
        query = select(bb.c.sku, bb.c.warehouse, bb.c.batch, bb.c.qty).where(
            pairs_in(bb.c.sku, bb.c.warehouse, [(s, w) for s, w, _b in chunk]), bb.c.batch.in_(sorted({b for _s, _w, b in chunk})))
        for r in conn.execute(query):
            held[(r.sku, r.warehouse, r.batch)] = r.qty
    fresh = [{"sku": s, "warehouse": w, "batch": b, "qty": q} for (s, w, b), q in delta.items() if (s, w, b) not in held]
    changed = [{"sku": s, "warehouse": w, "batch": b, "qty": held[(s, w, b)] + q} for (s, w, b), q in delta.items()
               if (s, w, b) in held]
    bulk.insert_rows(conn, bb, fresh)
    bulk.update_rows(conn, bb, changed, ["qty"], ["sku", "warehouse", "batch"])


def reverse(conn: Connection, original_id: int, new_id: int, on: date, allow_negative_stock: bool = False) -> None:
    """The reversal takes back exactly the batches the original moved, on `on` (or on the
    leg's own date, for goods that arrive later); a batch since issued cannot go back."""
    bm, m = schema.batch_movements, schema.movements
    rows = conn.execute(select(bm).where(bm.c.document_id == original_id).order_by(bm.c.id)).all()
    if not rows:
        return
    moved = set(conn.execute(select(m.c.line_no).where(m.c.document_id == original_id)).scalars())
    if any(r.kind == "opening" and r.line_no not in moved for r in rows):
        raise LedgerError("这张期初单把已有库存转为批次管理 (转批次管理), 不能冲销; 批号有误请用其他出入库单调整"
                          " / this opening put stock already held into batches (switch_tracking): it cannot be"
                          " reversed; correct a batch with an adjustment")
    if not allow_negative_stock:
        takes = [r for r in rows if r.qty > 0]
        timeline = batch_timeline(conn, {(r.sku, r.warehouse) for r in takes}, on)
        for r in takes:
            line = timeline.get((r.sku, r.warehouse, r.batch)) or PairTimeline(ZERO)
            available = line.available(max(on, r.doc_date))
            if available < r.qty:
                raise LedgerError(f"批号 {r.batch} ({r.sku}) 在仓库 {r.warehouse} 只剩 {_show(available)}, 冲销需要收回 {_show(r.qty)};"
                                  f" 请先冲销或收回后续出库 / batch {r.batch} of {r.sku} in {r.warehouse} has only"
                                  f" {_show(available)} left, the reversal takes back {_show(r.qty)}: reverse the later issues first")
            line.add(max(on, r.doc_date), -r.qty)
    append(conn, [{"document_id": new_id, "line_no": r.line_no, "kind": r.kind, "doc_date": max(on, r.doc_date),
                   "sku": r.sku, "warehouse": r.warehouse, "batch": r.batch, "qty": -r.qty, "partner": r.partner}
                  for r in rows])


def _show(qty: Decimal) -> str:
    return format(qty.normalize(), "f")


__all__ = ["append", "batch_dates", "batch_stock", "batch_timeline", "record_batches", "record_serials", "reverse", "reverse_serials",
           "serial_states", "stock_of"]
