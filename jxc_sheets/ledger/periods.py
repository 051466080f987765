"""Closed months in the ledger: the period lock and its audit trail.

A month is open unless it is in `periods`. Closing adds it, reopening removes it;
both are written to `period_audit` with who, when and why, and never removed.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

from sqlalchemy import (BigInteger, Connection, Select, delete, func, insert, literal, or_, select, type_coerce,
                        union_all, update)

from .. import clock
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
    now = clock.now()
    conn.execute(insert(schema.periods).values(month=month, closed_at=now, closed_by=by))
    conn.execute(insert(schema.period_audit).values(month=month, action="force-close" if forced else "close",
                                                    at=now, by=by, reason=reason))


def save_closing(conn: Connection, month: str, start: date, end: date) -> None:
    """The month's closing balance per sku × warehouse — its opening and its movements
    (`start` to `end`), added up by the database — kept so the next month opens from it."""
    closing = closing_balances(conn, month, start, end).subquery()
    conn.execute(insert(schema.period_balances).from_select(
        ["month", "sku", "warehouse", "qty", "value"],
        select(literal(month), closing.c.sku, closing.c.warehouse, closing.c.qty, closing.c.value)
        .where(or_(closing.c.qty != 0, closing.c.value != 0))))
    conn.execute(update(schema.periods).where(schema.periods.c.month == month).values(closing_kept=True))


def kept_closing(month: str) -> Select:
    """(sku, warehouse, qty, value) of the month's kept closing balances, qty and value as
    the scaled integers the ledger stores."""
    p = schema.period_balances
    return select(p.c.sku, p.c.warehouse, stored(p.c.qty).label("qty"), stored(p.c.value).label("value")).where(
        p.c.month == month)


def closing_balances(conn: Connection, month: str, start: date, end: date) -> Select:
    """(sku, warehouse, qty, value) at the month's end, as scaled integers: the previous
    month's kept closing and the month's movements when the month opens from it, else
    every movement by the end."""
    if not opens_from_closing(conn, month):
        return _added_up(schema.movements, schema.movements.c.doc_date <= end)
    m = schema.movements
    moved = select(m.c.sku, m.c.warehouse, stored(m.c.qty), stored(m.c.value)).where(m.c.doc_date >= start,
                                                                                       m.c.doc_date <= end)
    return _added_up(union_all(kept_closing(previous_month(month)), moved).subquery())


def _added_up(rows, *where) -> Select:
    """(sku, warehouse, qty, value) of `rows` (movements, or what has their columns) per sku × warehouse."""
    return (select(rows.c.sku, rows.c.warehouse, stored(func.sum(rows.c.qty)).label("qty"),
                   stored(func.sum(rows.c.value)).label("value"))
            .where(*where).group_by(rows.c.sku, rows.c.warehouse))


def stored(column):
    """A Scaled column, or a sum of one, read as the integer stored: exact, and no Decimal
    made for each value."""
    return type_coerce(column, BigInteger)


def previous_month(month: str) -> str:
    return month_of(date(int(month[:4]), int(month[5:7]), 1) - timedelta(days=1))


def opens_from_closing(conn: Connection, month: str) -> bool:
    """Whether the month opens from the previous month's kept closing balances
    (period_balances): the previous month and every month before it with movements are closed."""
    previous = previous_month(month)
    closed = closed_months(conn)
    kept = conn.execute(select(schema.periods.c.closing_kept).where(schema.periods.c.month == previous)).scalar()
    return bool(kept) and not any(m < previous and m not in closed for m in months_with_movements(conn))


def reopen(conn: Connection, month: str, by: str, reason: str) -> None:
    """Reopens the latest closed month only: later months rest on its closing balances."""
    latest = latest_closed(conn)
    if latest != month:
        raise LedgerError(f"只能反结账最近结账的月份 ({latest or '无 none'}) / only the latest closed month can be reopened"
                          f" ({latest or 'none is closed'})")
    conn.execute(delete(schema.periods).where(schema.periods.c.month == month))
    conn.execute(delete(schema.period_balances).where(schema.period_balances.c.month == month))
    conn.execute(insert(schema.period_audit).values(month=month, action="reopen", at=clock.now(), by=by,
                                                    reason=reason))


def audit_rows(conn: Connection) -> list:
    a = schema.period_audit
    return conn.execute(select(a).order_by(a.c.id)).all()
