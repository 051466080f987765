"""Ledger, customer service: the feedback log (客户反馈), and what the service report
reads of it and of the returns.

A feedback row is kept by its number: a later form naming the same number updates
it — what that form leaves empty stays as it was, so a form of two columns (编号,
状态) is enough to resolve a case. Its resolved date is the form's, else the day it
was processed; set back to 处理中, a case is open again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import Connection, func, insert, select, update

from .. import clock
from ..records import MasterRow
from . import queries, schema

FIELDS = ("doc_date", "customer", "channel", "category", "sku", "ref_doc", "text", "owner", "remark")


def known_numbers(conn: Connection, numbers: Iterable[str]) -> set[str]:
    f = schema.feedback
    found: set[str] = set()
    for batch in queries.chunks(sorted(set(numbers))):
        found |= set(conn.execute(select(f.c.doc_no).where(f.c.doc_no.in_(batch))).scalars())
    return found


def record_feedback(conn: Connection, rows: Sequence[MasterRow]) -> None:
    f = schema.feedback
    now = clock.now()
    for row in rows:
        values = row.values
        old = conn.execute(select(f).where(f.c.doc_no == row.key)).first()
        merged = {k: values.get(k) if values.get(k) not in (None, "") else (getattr(old, k) if old else None)
                  for k in FIELDS}
        status = values.get("status") or (old.status if old else "open")
        resolved = None
        if status == "resolved":
            resolved = values.get("resolved_date") or (old.resolved_date if old and old.status == "resolved" else None) \
                or now.date()
        record = {**{k: v if v is not None else "" for k, v in merged.items()}, "doc_date": merged["doc_date"],
                  "status": status, "resolved_date": resolved, "updated_at": now}
        if old is None:
            conn.execute(insert(f).values(doc_no=row.key, **record))
        else:
            conn.execute(update(f).where(f.c.doc_no == row.key).values(**record))


@dataclass(frozen=True)
class Case:
    doc_no: str
    doc_date: date
    customer: str
    channel: str
    category: str
    sku: str
    ref_doc: str
    text: str
    owner: str
    status: str
    resolved_date: date | None


def cases(conn: Connection, since: date | None = None, open_only: bool = False) -> list[Case]:
    f = schema.feedback
    query = select(f.c.doc_no, f.c.doc_date, f.c.customer, f.c.channel, f.c.category, f.c.sku, f.c.ref_doc, f.c.text,
                   f.c.owner, f.c.status, f.c.resolved_date).order_by(f.c.doc_date, f.c.doc_no)
    if since is not None:
        query = query.where(f.c.doc_date >= since)
    if open_only:
        query = query.where(f.c.status == "open")
    return [Case(*r) for r in conn.execute(query)]


def sold_and_returned(conn: Connection, since: date) -> tuple[dict[tuple[str, str], Decimal],
                                                                  dict[tuple[str, str, str], Decimal]]:
    """(month, sku) → qty delivered, and (month, sku, reason) → qty returned by customers,
    from `since` on; reversals (their lines are negative) take theirs back."""
    d, l = schema.documents, schema.lines
    delivered: dict[tuple[str, str], Decimal] = {}
    returned: dict[tuple[str, str, str], Decimal] = {}
    query = (select(d.c.kind, d.c.doc_date, l.c.sku, l.c.return_reason.label("reason"), func.sum(l.c.qty).label("qty"))
             .join(l, l.c.document_id == d.c.id)
             .where(d.c.kind.in_(("delivery", "sales_return")), d.c.doc_date >= since)
             .group_by(d.c.kind, d.c.doc_date, l.c.sku, l.c.return_reason))
    for r in conn.execute(query):  # grouped by date, folded to months here: the same on SQLite and PostgreSQL
        key = r.doc_date.strftime("%Y-%m")
        if r.kind == "delivery":
            delivered[(key, r.sku)] = delivered.get((key, r.sku), Decimal(0)) + r.qty
        else:
            reason = r.reason or ""
            returned[(key, r.sku, reason)] = returned.get((key, r.sku, reason), Decimal(0)) + r.qty
    return delivered, returned


# --- repairs ---------------------------------------------------------------------------

REPAIR_FIELDS = ("promised_date", "technician", "status", "returned_date")


def repair_rows(conn: Connection, numbers: Iterable[str]) -> dict[str, object]:
    r = schema.repairs
    found = {}
    for batch in queries.chunks(sorted(set(numbers))):
        found.update({row.doc_no: row for row in conn.execute(select(r).where(r.c.doc_no.in_(batch)))})
    return found


def record_repairs(conn: Connection, docs: Sequence) -> None:
    """A repair's row, from its document: inserted the first time, its status, promised
    date, technician and returned date updated by a later drop of the same form."""
    r = schema.repairs
    now = clock.now()
    known = repair_rows(conn, [d.doc_no for d in docs])
    for doc in docs:
        h = doc.header
        status = h.get("status") or "in_hand"
        returned = (h.get("returned_date") or now.date()) if status == "returned" else None
        values = {"promised_date": h.get("promised_date"), "technician": h.get("technician") or "", "status": status,
                  "returned_date": returned, "updated_at": now}
        if doc.doc_no in known:
            conn.execute(update(r).where(r.c.doc_no == doc.doc_no).values(**values))
        else:
            conn.execute(insert(r).values(doc_no=doc.doc_no, doc_date=doc.doc_date, customer=h.get("customer") or "",
                                          repair_item=h.get("repair_item") or "", serial=h.get("serial") or "",
                                          fault=h.get("fault") or "", **values))
            known[doc.doc_no] = True


def repairs_in_hand(conn: Connection) -> list:
    r = schema.repairs
    return list(conn.execute(select(r).where(r.c.status != "returned").order_by(r.c.doc_date, r.c.doc_no)))


def delivered_prices(conn: Connection, doc_nos: Iterable[str]) -> dict[tuple[str, str], Decimal]:
    """(delivery number, sku) → its price before tax per base unit: the first priced line of the sku."""
    d, l = schema.documents, schema.lines
    found: dict[tuple[str, str], Decimal] = {}
    for batch in queries.chunks(sorted(set(doc_nos))):
        query = (select(d.c.doc_no, l.c.sku, l.c.unit_price, l.c.factor).join(l, l.c.document_id == d.c.id)
                 .where(d.c.kind == "delivery", d.c.doc_no.in_(batch), l.c.unit_price.is_not(None))
                 .order_by(d.c.doc_no, l.c.line_no))
        for r in conn.execute(query):
            found.setdefault((r.doc_no, r.sku), r.unit_price / r.factor if r.factor else r.unit_price)
    return found
