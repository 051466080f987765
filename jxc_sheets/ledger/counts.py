"""Counts in the ledger: the book at a count date, each counted sku with its
variance (`count_lines`), and the supervisor's decisions on the variances that
were held for approval (`count_decisions`, one per line, never changed).

A line's status is derived, never stored: exact (no difference), posted (within
tolerance, posted with the count), held (waiting for a decision), approved or
declined.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, func, insert, select

from .. import clock
from . import queries, schema

ZERO = Decimal(0)
EXACT, POSTED, HELD, APPROVED, DECLINED = "exact", "posted", "held", "approved", "declined"
STATUS_LABELS = {EXACT: "无差异 exact", POSTED: "已过账 posted", HELD: "待审批 held",
                 APPROVED: "已批准 approved", DECLINED: "不过账 declined"}


@dataclass(frozen=True)
class CountedSku:
    """One sku of a count against the book at the count date."""

    line_no: int
    sku: str
    location: str
    book_qty: Decimal
    counted_qty: Decimal
    difference: Decimal
    unit_cost: Decimal
    value_difference: Decimal
    within_tolerance: bool
    reason: str
    where: Mapping[str, str]
    batches: tuple[tuple[str, Decimal, Decimal], ...] = ()  # a batch-tracked item's (batch, book, counted)


@dataclass(frozen=True)
class CountResult:
    doc_no: str  # the count
    lines: tuple[CountedSku, ...]


@dataclass(frozen=True)
class Decision:
    count_line_id: int
    approved: bool
    reason: str
    approval_no: str  # the approval document that posts it ("" when declined)


@dataclass(frozen=True)
class CountLine:
    """A posted count line with its status."""

    id: int
    document_id: int
    doc_no: str
    doc_date: date
    warehouse: str
    line_no: int
    sku: str
    location: str
    book_qty: Decimal
    counted_qty: Decimal
    difference: Decimal
    unit_cost: Decimal
    value_difference: Decimal
    within_tolerance: bool
    reason: str
    status: str
    decision_reason: str
    batches: tuple[tuple[str, Decimal, Decimal], ...] = ()


# --- the book --------------------------------------------------------------------------

def book_at(conn: Connection, warehouse: str, day: date, skus: Iterable[str] | None = None) -> dict[str, tuple[Decimal, Decimal]]:
    """sku → (qty, value) in `warehouse` at the end of `day`: every movement dated up to it."""
    m = schema.movements
    query = (select(m.c.sku, func.sum(m.c.qty).label("qty"), func.sum(m.c.value).label("value"))
             .where(m.c.warehouse == warehouse, m.c.doc_date <= day).group_by(m.c.sku))
    if skus is None:
        return {r.sku: (r.qty, r.value) for r in conn.execute(query)}
    found = {}
    for batch in queries.chunks(sorted(set(skus))):
        found.update({r.sku: (r.qty, r.value) for r in conn.execute(query.where(m.c.sku.in_(batch)))})
    return found


def last_unit_costs(conn: Connection, warehouse: str, day: date, skus: Iterable[str]) -> dict[str, Decimal]:
    """sku → the unit cost of its last movement in `warehouse` up to `day` (for a shelf counted empty)."""
    m = schema.movements
    found: dict[str, Decimal] = {}
    for batch in queries.chunks(sorted(set(skus))):
        query = (select(m.c.sku, m.c.unit_cost).where(m.c.warehouse == warehouse, m.c.doc_date <= day,
                                                        m.c.sku.in_(batch)).order_by(m.c.doc_date, m.c.id))
        found.update({r.sku: r.unit_cost for r in conn.execute(query)})
    return found


# --- posted counts ----------------------------------------------------------------------

def count_lines(conn: Connection, doc_no: str | None = None, only_held: bool = False,
                document_ids: Sequence[int] | None = None) -> list[CountLine]:
    c, d, k = schema.count_lines, schema.documents, schema.count_decisions
    query = (select(c, d.c.doc_no, d.c.doc_date, d.c.warehouse, k.c.approved, k.c.reason.label("decision_reason"))
             .join(d, d.c.id == c.c.document_id).outerjoin(k, k.c.count_line_id == c.c.id)
             .order_by(d.c.doc_date, d.c.id, c.c.line_no))
    if doc_no is not None:
        query = query.where(d.c.kind == "count", d.c.doc_no == doc_no)
    if document_ids is not None:
        query = query.where(c.c.document_id.in_(list(document_ids)))
    lines = [_count_line(r) for r in conn.execute(query)]
    return [l for l in lines if l.status == HELD] if only_held else lines


def _count_line(r) -> CountLine:
    if r.difference == 0:
        status = EXACT
    elif r.within_tolerance:
        status = POSTED
    elif r.approved is None:
        status = HELD
    else:
        status = APPROVED if r.approved else DECLINED
    return CountLine(r.id, r.document_id, r.doc_no, r.doc_date, r.warehouse, r.line_no, r.sku, r.location,
                     r.book_qty, r.counted_qty, r.difference, r.unit_cost, r.value_difference, r.within_tolerance,
                     r.reason, status, r.decision_reason or "", _batches(r.batches))


def _batches(text: str | None) -> tuple[tuple[str, Decimal, Decimal], ...]:
    return tuple((b, Decimal(book), Decimal(counted)) for b, book, counted in json.loads(text)) if text else ()


def approvals_of(conn: Connection, count_no: str) -> int:
    """How many approval documents a count has had (they are numbered COUNT-SP1, -SP2, …)."""
    d = schema.documents
    return conn.execute(select(func.count()).where(d.c.kind == "count_approval",
                                                   d.c.doc_no.like(f"{count_no}-SP%"))).scalar() or 0


def record_counts(conn: Connection, results: Sequence[CountResult], ids: Mapping[tuple[str, str], int]) -> None:
    rows = [{"document_id": ids[("count", result.doc_no)], "line_no": l.line_no, "sku": l.sku, "location": l.location,
             "book_qty": l.book_qty, "counted_qty": l.counted_qty, "difference": l.difference,
             "unit_cost": l.unit_cost, "value_difference": l.value_difference,
             "within_tolerance": l.within_tolerance, "reason": l.reason,
             "batches": json.dumps([[b, _plain(book), _plain(counted)] for b, book, counted in l.batches],
                                   ensure_ascii=False) if l.batches else None}
            for result in results for l in result.lines]
    if rows:
        conn.execute(insert(schema.count_lines), rows)


def _plain(qty: Decimal) -> str:
    return format(qty.normalize(), "f")


def record_decisions(conn: Connection, decisions: Sequence[Decision], ids: Mapping[tuple[str, str], int],
                     decided_by: str, at: datetime | None = None) -> None:
    if decisions:
        conn.execute(insert(schema.count_decisions), [
            {"count_line_id": d.count_line_id, "approved": d.approved, "reason": d.reason,
             "document_id": ids.get(("count_approval", d.approval_no)), "decided_at": at or clock.now(),
             "decided_by": decided_by} for d in decisions
        ])


def last_counted(conn: Connection) -> dict[tuple[str, str], date]:
    """(sku, warehouse) → the date it was last counted."""
    c, d = schema.count_lines, schema.documents
    query = (select(c.c.sku, d.c.warehouse, func.max(d.c.doc_date).label("day"))
             .join(d, d.c.id == c.c.document_id).group_by(c.c.sku, d.c.warehouse))
    return {(r.sku, r.warehouse): r.day for r in conn.execute(query)}


def last_counts(conn: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[date, str]]:
    """(sku, warehouse) → (date, count number) of the latest posted count of each pair."""
    c, d = schema.count_lines, schema.documents
    found: dict[tuple[str, str], tuple[date, str]] = {}
    for batch in queries.chunks(sorted(set(pairs))):
        query = (select(c.c.sku, d.c.warehouse, d.c.doc_date, d.c.doc_no).join(d, d.c.id == c.c.document_id)
                 .where(queries.pairs_in(c.c.sku, d.c.warehouse, batch)))
        for r in conn.execute(query):
            pair = (r.sku, r.warehouse)
            if pair not in found or r.doc_date > found[pair][0]:
                found[pair] = (r.doc_date, r.doc_no)
    return found
