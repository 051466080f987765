"""Report stage: the months of orders.xlsx's sales sheet before this one, kept in
outbox/.cache/ as the sheet rows they become, so that a refresh reads and writes
out only the sales of this month and of the months whose sales changed.

A closed month's movements do not change while it stays closed (the period lock);
an open one's do, and its count, sums and last id say so. What is kept for a month
is used only while the month is closed with the same closing time (or still open),
its sales movements have the same count, sums and last id, the
customers and items have the same names and the sheet the same number formats;
anything else (a reopen, a restored or migrated ledger, a renamed item, another
jxc release) writes the month again from its movements. Deleting the folder is
always safe.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, func, select

from ..ledger import schema
from . import data, order_data
from .book import ROW_MARK, atomic_path

FOLDER = ".cache"  # in the outbox, beside .status/
FORMAT = 1  # raise when what a kept file holds changes
_ROW_END = "\x01"  # between the kept rows; XML text never holds it (it is written as _x0001_)


@dataclass(frozen=True)
class KeptMonth:
    """One closed month of the sales sheet."""

    month: str
    first: date
    after: date  # the first day after it
    rows: list[str]  # its rows of the sheet, encoded, with book.ROW_MARK for their number
    by_customer: order_data.SalesSums
    by_sku: order_data.SalesSums


def kept_months(conn: Connection, since: date, folder: Path, encoder, until: date | None = None) -> list[KeptMonth]:
    """The closed months from `since` on, and the open ones before the month of `until`,
    oldest first; `encoder` is the sales sheet's (Book.encoder)."""
    p = schema.periods
    closed = {month: at.isoformat() for month, at in conn.execute(select(p.c.month, p.c.closed_at))
              if data.month_range(month)[0] >= since}
    first = since
    while until is not None and first < until.replace(day=1):
        closed.setdefault(f"{first:%Y-%m}", "open")
        first = data.month_range(f"{first:%Y-%m}")[1]
    if not closed:
        return []
    signature = _signature(conn, encoder)
    return [_kept_month(conn, month, closed[month], folder, encoder, signature) for month in sorted(closed)]


def _kept_month(conn: Connection, month: str, closed_at: str, folder: Path, encoder, signature: str) -> KeptMonth:
    first, after = data.month_range(month)
    key = [FORMAT, month, closed_at, *_fingerprint(conn, first, after), signature]
    path = folder / f"sales-{month}.gz"
    kept = _read(path, key, month, first, after)
    if kept is None:
        rows = order_data.sales_rows(conn, first, after - timedelta(days=1))
        kept = KeptMonth(month, first, after, [encoder.encode(ROW_MARK, row) for row in rows],
                         order_data.sales_sums(rows, "customer"), order_data.sales_sums(rows, "sku"))
        _keep(path, key, kept)
    return kept


def _read(path: Path, key: list, month: str, first: date, after: date) -> KeptMonth | None:
    try:
        header, rows = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n", 1)
        kept = json.loads(header)
        if kept["key"] != key:
            return None
        return KeptMonth(month, first, after, rows.split(_ROW_END) if rows else [],
                         _decimals(kept["customers"]), _decimals(kept["skus"]))
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None  # not kept yet, or unreadable: written again


def _keep(path: Path, key: list, kept: KeptMonth) -> None:
    header = json.dumps({"key": key, "customers": _texts(kept.by_customer), "skus": _texts(kept.by_sku)},
                        ensure_ascii=False)
    try:
        with atomic_path(path) as temp:
            temp.write_bytes(gzip.compress(f"{header}\n{_ROW_END.join(kept.rows)}".encode("utf-8"), compresslevel=1))
    except OSError:
        pass  # a full disk or a read-only outbox costs the next refresh time, nothing else


def _texts(sums: order_data.SalesSums) -> dict[str, list[str]]:
    return {key: [str(amount) for amount in amounts] for key, amounts in sums.items()}


def _decimals(sums: dict[str, list[str]]) -> order_data.SalesSums:
    return {key: [Decimal(amount) for amount in amounts] for key, amounts in sums.items()}


def _fingerprint(conn: Connection, first: date, after: date) -> list[str]:
    """Count, sums and last id of the month's sales movements: any change to them changes this."""
    m = schema.movements
    found = conn.execute(
        select(func.count(), func.sum(m.c.qty), func.sum(m.c.value), func.max(m.c.id))
        .where(m.c.kind.in_(order_data.SALES_KINDS), m.c.doc_date >= first, m.c.doc_date < after)).one()
    return [str(v) for v in found]


def _signature(conn: Connection, encoder) -> str:
    """Changes when a customer's or an item's name changes, or the sheet's number formats."""
    digest = hashlib.sha256(repr(encoder.cells_signature).encode("utf-8"))
    for table, key in ((schema.customers, "code"), (schema.items, "sku")):
        for code, name in conn.execute(select(table.c[key], table.c.name).order_by(table.c[key])):
            digest.update(f"{code}\x00{name}\x01".encode("utf-8"))
    return digest.hexdigest()
