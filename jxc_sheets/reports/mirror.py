"""Report stage: outbox/ledger/YYYY-MM.xlsx — the ledger mirror (流水账).

Every movement of one month in posting order, streamed from an indexed
date-range query into a constant-memory workbook, so a busy month never sits
in memory whole.

A mirror is rewritten only when its month changed: its `_meta` sheet keeps what it
was written from (`source`: the count and last id of the month's movements and the
sums of their quantities, costs, values and balances, one range query on the date
index; and a digest of the items' names it shows). A posting adds rows; a backdated
one revalues the later movements of its pairs (and of the pairs their transfers fed),
which changes those months' sums: so after a batch the months it posted into are
looked at, and every later month already mirrored, and only those whose source
differs are written again. `jxc report` looks at every month (a renamed item makes
them all due); `jxc report --all` writes them all.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from sqlalchemy import Connection, func, select

from ..ledger import schema
from ..ledger.periods import stored
from . import data
from .book import Book, Column, written_from

LEDGER_COLUMNS = (
    Column("doc_date", "日期", "date", width=12),
    Column("kind", "单据类型", width=14),
    Column("doc_no", "单号", width=16),
    Column("line_no", "行号", "int", width=8),
    Column("sku", "物料编码", width=16),
    Column("name", "名称", width=24),
    Column("warehouse", "仓库", width=12),
    Column("partner", "往来单位", width=14),
    Column("qty", "数量", "qty", width=14),
    Column("unit_cost", "单位成本", "cost", width=14),
    Column("value", "金额", "money", width=16),
    Column("balance_qty", "结存数量", "qty", width=14),
    Column("balance_value", "结存金额", "money", width=16),
    Column("source_file", "来源文件", width=28),
)


def months_to_write(conn: Connection, months: Iterable[str] | None) -> list[str]:
    """The months asked for (checked and deduplicated, in order), or every month with movements."""
    if months is None:
        return data.movement_months(conn)
    asked = list(dict.fromkeys(months))
    for month in asked:
        data.month_range(month)  # raises on a malformed month before anything is written
    return asked


def months_due(conn: Connection, folder: Path, months: Iterable[str] | None, rebuild: bool = False) -> list[str]:
    """The mirrors in `folder` to write: of `months` (None: every month with movements) and,
    when months are named, of every later month already mirrored (a backdated posting
    revalues them), those missing or written from another source; all of them with `rebuild`."""
    asked = months_to_write(conn, months)
    if months is not None and asked:
        first = min(asked)
        asked = sorted(set(asked) | {p.stem for p in folder.glob("????-??.xlsx") if p.stem > first})
    if rebuild:
        return asked
    names = names_signature(conn)
    return [month for month in asked if written_from(folder / f"{month}.xlsx") != month_source(conn, month, names)]


def month_source(conn: Connection, month: str, names: str) -> str:
    """What the month's mirror would be written from (see the module's docstring); `names`:
    the items' names it shows (names_signature)."""
    first, after = data.month_range(month)
    m = schema.movements
    found = conn.execute(select(func.count(), func.max(m.c.id), *(stored(func.sum(c)) for c in (
        m.c.qty, m.c.unit_cost, m.c.value, m.c.balance_qty, m.c.balance_value)))
        .where(m.c.doc_date >= first, m.c.doc_date < after)).one()
    return "|".join([*(str(v or 0) for v in found), names])


def names_signature(conn: Connection) -> str:
    """Changes when an item's name changes: every mirror shows them."""
    digest = hashlib.sha256()
    for sku, name in conn.execute(select(schema.items.c.sku, schema.items.c.name).order_by(schema.items.c.sku)):
        digest.update(f"{sku}\x00{name}\x01".encode("utf-8"))
    return digest.hexdigest()[:16]


def write_month(conn: Connection, path: Path, month: str) -> None:
    source = month_source(conn, month, names_signature(conn))  # in the same read as the rows: what they are
    with Book(path) as book:
        book.add_table("ledger", LEDGER_COLUMNS, data.ledger_rows(conn, month))
        book.add_meta("ledger_month", source=source)
