"""Closed months in the ledger: the period lock and its audit trail.

A month is open unless it is in `periods`. Closing adds it, reopening removes it;
both are written to `period_audit` with who, when and why, and never removed.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Connection, delete, func, insert, select, update

from . import schema
from .errors import LedgerError


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def closed_months(conn: Connection) -> set[str]:
    return set(conn.execute(select(schema.periods.c.month)).scalars())


def closed_among(conn: Connection, days: Iterable[date]) -> dict[date, str]:
    """The days that fall in a closed month, each with its month."""
    closed = closed_months(conn)
    return {day: month_of(day) for day in set(days) if month_of(day) in closed}


def months_with_movements(conn: Connection) -> list[str]:
    m = schema.movements
    first, last = conn.execute(select(func.min(m.c.doc_date), func.max(m.c.doc_date))).one()
    if first is None:
        return []
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def latest_closed(conn: Connection) -> str | None:
    return conn.execute(select(func.max(schema.periods.c.month))).scalar()


def close(conn: Connection, month: str, by: str, forced: bool, reason: str = "") -> None:
    if month in closed_months(conn):
        raise LedgerError(f"{month} 已结账 / {month} is already closed")
    now = datetime.now()
    conn.execute(insert(schema.periods).values(month=month, closed_at=now, closed_by=by))
    conn.execute(insert(schema.period_audit).values(month=month, action="force-close" if forced else "close",
                                                    at=now, by=by, reason=reason))


def save_closing(conn: Connection, month: str, closing: dict[tuple[str, str], tuple[Decimal, Decimal]]) -> None:
    """The month's closing balance per sku × warehouse, kept so the next month opens from it."""
    rows = [{"month": month, "sku": sku, "warehouse": wh, "qty": qty, "value": value}
            for (sku, wh), (qty, value) in closing.items() if qty or value]
    if rows:
        conn.execute(insert(schema.period_balances), rows)
    conn.execute(update(schema.periods).where(schema.periods.c.month == month).values(closing_kept=True))


def opening_from_snapshot(conn: Connection, month: str) -> dict[tuple[str, str], tuple[Decimal, Decimal]] | None:
    """The month's opening balances from the previous month's closing, when that is final:
    the previous month and every month before it with movements are closed. None otherwise."""
    start = date(int(month[:4]), int(month[5:7]), 1)
    previous = month_of(start - timedelta(days=1))
    closed = closed_months(conn)
    kept = conn.execute(select(schema.periods.c.closing_kept).where(schema.periods.c.month == previous)).scalar()
    if not kept or any(m < previous and m not in closed for m in months_with_movements(conn)):
        return None
    p = schema.period_balances
    return {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(select(p).where(p.c.month == previous))}


def reopen(conn: Connection, month: str, by: str, reason: str) -> None:
    """Reopens the latest closed month only: later months rest on its closing balances."""
    latest = latest_closed(conn)
    if latest != month:
        raise LedgerError(f"只能反结账最近结账的月份 ({latest or '无 none'}) / only the latest closed month can be reopened"
                          f" ({latest or 'none is closed'})")
    conn.execute(delete(schema.periods).where(schema.periods.c.month == month))
    conn.execute(delete(schema.period_balances).where(schema.period_balances.c.month == month))
    conn.execute(insert(schema.period_audit).values(month=month, action="reopen", at=datetime.now(), by=by,
                                                    reason=reason))


def audit_rows(conn: Connection) -> list:
    a = schema.period_audit
    return conn.execute(select(a).order_by(a.c.id)).all()
