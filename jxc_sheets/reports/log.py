"""Report stage: outbox/log.xlsx — the processing log staff read: the latest
dropped files, newest first, what became of each and why."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from . import data
from .book import EXCEL_MAX_ROWS, Book, Column

LOG_COLUMNS = (
    Column("processed_at", "处理时间", "datetime", width=20),
    Column("file", "文件", width=32),
    Column("kind", "单据类型", width=14),
    Column("status", "状态", width=20),
    Column("documents", "单据数", "int", width=10),
    Column("lines", "行数", "int", width=10),
    Column("problems", "问题数", "int", width=10),
    Column("first_problems", "主要问题", width=80),
    Column("warnings", "提醒", width=60),
    Column("moved_to", "移至", width=32),
    Column("notes", "说明", width=60),  # what jxc filled in: a price from the price list, an order closed
)

STATUS_COLOURS = {
    "posted": ("#C6EFCE", "#006100"),
    "skipped": ("#EDEDED", "#404040"),
    "rejected": ("#FFEB9C", "#9C5700"),
    "failed": ("#FFC7CE", "#9C0006"),
}


def write_log(conn: Connection, path: Path, limit: int) -> None:
    with Book(path, kind="log") as book:
        for sheet in book.add_table("log", LOG_COLUMNS, data.log_rows(conn, limit)):
            _colour_status(book, sheet)


def _colour_status(book: Book, sheet) -> None:
    col = next(i for i, c in enumerate(LOG_COLUMNS) if c.key == "status")
    for status, (fill, font) in STATUS_COLOURS.items():
        sheet.conditional_format(1, col, EXCEL_MAX_ROWS - 1, col, {
            "type": "text", "criteria": "ends with", "value": status,
            "format": book.workbook.add_format({"bg_color": fill, "font_color": font}),
        })
