"""Report stage: the months of analysis.xlsx, kept in outbox/.cache/ as the rows of its
sales sheet they become and their sums by month, item, category, customer, salesperson
and warehouse, so that a refresh reads from the ledger and encodes again only the months
whose sales changed (after a delivery: its own month, not the twelve before it).

What is kept for a month is used only while its sales movements have the same count,
sums and last id (a posting adds one; a backdated receipt or a reposting revalues their
cost), the items and customers the same names and categories, and the sheet the same
number formats; anything else reads the month again from its movements. Deleting the
folder is always safe; without a folder every month is read from the ledger.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Callable

from sqlalchemy import Connection, func, select

from ..ledger import schema
from ..ledger.periods import stored
from .book import atomic_path
from .order_data import SALES_KINDS

FORMAT = 1  # raise when what a kept file holds changes
PREFIX = "analysis-"
_ROW_END = "\x01"  # between the kept rows; XML text never holds it (it is written as _x0001_)


@dataclass(frozen=True)
class Month:
    """One month of the analysis."""

    month: str
    rows: list[str]  # its rows of the sales sheet, encoded, with book.ROW_MARK for their number
    sums: dict[str, dict]  # dimension ("total", "sku", "customer", …) → its key → [qty, revenue, cogs]


def months(conn: Connection, since: date, today: date, folder: Path | None, encoder,
           from_ledger: Callable[..., Month]) -> list[Month]:
    """The months from `since` through today's (or the last one with sales), oldest first;
    `from_ledger(conn, month, first, after, encoder)` reads one that is not kept."""
    signature = _signature(conn, encoder)
    last = conn.execute(select(func.max(schema.movements.c.doc_date))
                        .where(schema.movements.c.kind.in_(SALES_KINDS))).scalar()
    found, first = [], since
    while first <= max(today, last or today):
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        month = f"{first:%Y-%m}"
        key = [FORMAT, month, *_fingerprint(conn, first, after), signature]
        path = folder / f"{PREFIX}{month}.gz" if folder else None
        kept = _read(path, key, month) if path else None
        if kept is None:
            kept = from_ledger(conn, month, first, after, encoder)
            if path and kept.rows:  # a month without sales costs one query, nothing to keep
                _keep(path, key, kept)
        found.append(kept)
        first = after
    if folder:
        _forget_before(folder, f"{since:%Y-%m}")
    return found


def _fingerprint(conn: Connection, first: date, after: date) -> list[str]:
    m = schema.movements
    found = conn.execute(select(func.count(), stored(func.sum(m.c.qty)), stored(func.sum(m.c.value)), func.max(m.c.id))
                         .where(m.c.kind.in_(SALES_KINDS), m.c.doc_date >= first, m.c.doc_date < after)).one()
    return [str(v) for v in found]


def _signature(conn: Connection, encoder) -> str:
    """Changes when an item's name or category or a customer's name changes, or the sheet's number formats."""
    digest = hashlib.sha256(repr(encoder.cells_signature).encode("utf-8"))
    i, c = schema.items, schema.customers
    for row in conn.execute(select(i.c.sku, i.c.name, i.c.category).order_by(i.c.sku)):
        digest.update("\x00".join(map(str, row)).encode("utf-8") + b"\x01")
    digest.update(b"\x02")
    for row in conn.execute(select(c.c.code, c.c.name).order_by(c.c.code)):
        digest.update("\x00".join(map(str, row)).encode("utf-8") + b"\x01")
    return digest.hexdigest()


def _read(path: Path, key: list, month: str) -> Month | None:
    try:
        header, rows = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n", 1)
        kept = json.loads(header)
        if kept["key"] != key:
            return None
        sums = {dimension: {k: [Decimal(v) for v in amounts] for k, amounts in by_key.items()}
                for dimension, by_key in kept["sums"].items()}
        return Month(month, rows.split(_ROW_END) if rows else [], sums)
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None  # not kept yet, or unreadable: read again


def _keep(path: Path, key: list, kept: Month) -> None:
    sums = {dimension: {k: [str(v) for v in amounts] for k, amounts in by_key.items()}
            for dimension, by_key in kept.sums.items()}
    header = json.dumps({"key": key, "sums": sums}, ensure_ascii=False)
    try:
        with atomic_path(path) as temp:
            temp.write_bytes(gzip.compress(f"{header}\n{_ROW_END.join(kept.rows)}".encode("utf-8"), compresslevel=1))
    except OSError:
        pass  # a full disk or a read-only outbox costs the next refresh time, nothing else


def _forget_before(folder: Path, first: str) -> None:
    """Months that left the span are not kept any longer."""
    for path in folder.glob(f"{PREFIX}????-??.gz"):
        if path.stem[len(PREFIX):] < first:
            path.unlink(missing_ok=True)
