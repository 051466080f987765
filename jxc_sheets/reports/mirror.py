"""Report stage: outbox/ledger/YYYY-MM.xlsx — the ledger mirror (流水账).

Every movement of one month in posting order, streamed from an indexed
date-range query into a constant-memory workbook, so a busy month never sits
in memory whole.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from sqlalchemy import Connection

from . import data
from .book import Book, Column

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


def write_month(conn: Connection, path: Path, month: str) -> None:
    with Book(path, kind="ledger_month") as book:
        book.add_table("ledger", LEDGER_COLUMNS, data.ledger_rows(conn, month))
