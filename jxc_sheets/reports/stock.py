"""Report stage: outbox/stock.xlsx — stock on hand now, read from `balances`.

Sheets: `stock` (the plain table: one row per sku × warehouse with stock),
`summary` (value by warehouse and by category — no quantity totals, the items'
units differ — with a chart of value by warehouse), `below_safety` (items whose total is below safety stock) and
`in_transit` (transfers on their way: in neither warehouse's stock, a line of
their own in the warehouse totals; the category totals and safety stock count them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from .. import clock
from . import data
from .book import EXCEL_MAX_ROWS, Book, Column

STOCK_COLUMNS = (
    Column("sku", "物料编码", width=16),
    Column("name", "名称", width=24),
    Column("category", "类别", width=12),
    Column("unit", "单位", width=8),
    Column("warehouse", "仓库", width=12),
    Column("site", "地点", width=12),
    Column("qty", "数量", "qty", width=14),
    Column("unit_cost", "单位成本", "cost", width=14),
    Column("value", "金额", "money", width=16),
    Column("safety_stock", "安全库存", "qty", width=14),
    Column("below_safety", "低于安全库存", width=18),
)

WAREHOUSE_COLUMNS = (
    Column("warehouse", "仓库", width=14),
    Column("name", "仓库名称", width=20),
    Column("site", "地点", width=12),
    Column("skus", "品种数", "int", width=12),
    Column("value", "金额", "money", width=18),  # no qty: the items' units differ, their sum means nothing
)

CATEGORY_COLUMNS = (
    Column("category", "类别"),
    Column("skus", "品种数", "int"),
    Column("value", "金额", "money"),
)

SHORTAGE_COLUMNS = (
    Column("sku", "物料编码", width=16),
    Column("name", "名称", width=24),
    Column("unit", "单位", width=8),
    Column("total_qty", "合计数量", "qty", width=14),
    Column("safety_stock", "安全库存", "qty", width=14),
    Column("shortfall", "缺口", "qty", width=14),
    Column("reorder_qty", "订货批量", "qty", width=14),
    Column("default_supplier", "默认供应商", width=18),
    Column("supplier_name", "供应商名称", width=24),
)

TRANSIT_COLUMNS = (
    Column("doc_no", "调拨单号", width=18),
    Column("from_warehouse", "调出仓库", width=12),
    Column("from_site", "调出地点", width=12),
    Column("to_warehouse", "调入仓库", width=12),
    Column("to_site", "调入地点", width=12),
    Column("sku", "物料编码", width=16),
    Column("name", "名称", width=24),
    Column("unit", "单位", width=8),
    Column("qty", "数量", "qty", width=14),
    Column("value", "金额", "money", width=16),
    Column("doc_date", "调出日期", "date", width=12),
    Column("arrival_date", "到货日期", "date", width=12),
)

TOTAL_LABEL = "合计 total"
TRANSIT_LABEL = "在途 in transit"
NO_CATEGORY = "(未分类 none)"
_FIRST_WAREHOUSE_ROW = 2  # summary: a title row, a label row, then the warehouses; the chart reads them


@dataclass(frozen=True)
class _Total:
    """A totals row: the label in the first column, the sums in the others."""

    warehouse: str = ""
    category: str = ""
    name: str = ""
    site: str = ""
    skus: int = 0
    qty: Decimal = Decimal(0)
    value: Decimal = Decimal(0)


def write_stock(conn: Connection, path: Path, today: date | None = None) -> None:
    today = today or clock.today()
    transit = data.in_transit(conn, today)
    with Book(path, kind="stock") as book:
        _write_stock_sheet(book, conn, today)
        summary = book.add_sheet("summary")
        _write_summary(book, summary, data.warehouse_totals(conn, today), data.category_totals(conn), transit)
        book.add_table("below_safety", SHORTAGE_COLUMNS, data.shortages(conn))
        book.add_table("in_transit", TRANSIT_COLUMNS, transit)


def _write_stock_sheet(book: Book, conn: Connection, today: date) -> None:
    flag = next(i for i, c in enumerate(STOCK_COLUMNS) if c.key == "below_safety")
    warning = book.workbook.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    for sheet in book.add_table("stock", STOCK_COLUMNS, data.stock_rows(conn, today)):
        sheet.conditional_format(1, flag, EXCEL_MAX_ROWS - 1, flag, {
            "type": "cell", "criteria": "==", "value": '"Y"', "format": warning})


def _write_summary(book: Book, sheet: Worksheet, by_warehouse: list[data.WarehouseTotal],
                   by_category: list[data.CategoryTotal], transit: list[data.Transit]) -> None:
    for col, column in enumerate(WAREHOUSE_COLUMNS):
        sheet.set_column(col, col, column.width)
    # after the warehouses, so the chart (which reads the warehouse rows) leaves it out
    rows = by_warehouse + ([_transit_total(transit)] if transit else [])
    row = _write_totals_table(book, sheet, 0, "按仓库汇总 by warehouse", WAREHOUSE_COLUMNS, rows,
                              _Total(warehouse=TOTAL_LABEL, skus=sum(w.skus for w in rows),
                                     qty=sum((w.qty for w in rows), Decimal(0)),
                                     value=sum((w.value for w in rows), Decimal(0))))
    categories = [c if c.category else data.CategoryTotal(NO_CATEGORY, c.skus, c.value) for c in by_category]
    last_row = _write_totals_table(book, sheet, row + 1, "按类别汇总 by category", CATEGORY_COLUMNS, categories,
                                   _Total(category=TOTAL_LABEL, skus=sum(c.skus for c in categories),
                                          value=sum((c.value for c in categories), Decimal(0)))) - 1
    if by_warehouse:
        _insert_value_chart(book, sheet, by_warehouse, last_row)


def _transit_total(transit: list[data.Transit]) -> data.WarehouseTotal:
    return data.WarehouseTotal(TRANSIT_LABEL, "", "", len({(t.sku, t.to_warehouse) for t in transit}),
                               sum((t.qty for t in transit), Decimal(0)), sum((t.value for t in transit), Decimal(0)))


def _write_totals_table(book: Book, sheet: Worksheet, row: int, title: str, columns: tuple[Column, ...],
                        rows: list, total: _Total) -> int:
    """A titled table with a totals row; returns the next free row."""
    sheet.write_string(row, 0, title, book.bold)
    book.write_labels(sheet, row + 1, 0, columns)
    row += 2
    for item in rows:
        book.write_row(sheet, row, 0, columns, item)
        row += 1
    book.write_row(sheet, row, 0, columns, total, book.total_formats)
    return row + 1


def _insert_value_chart(book: Book, sheet: Worksheet, by_warehouse: list[data.WarehouseTotal], last_row: int) -> None:
    last = _FIRST_WAREHOUSE_ROW + len(by_warehouse) - 1
    label_col = 1 if all(w.name for w in by_warehouse) else 0
    value_col = next(i for i, c in enumerate(WAREHOUSE_COLUMNS) if c.key == "value")
    chart = book.workbook.add_chart({"type": "bar"})
    chart.add_series({
        "name": "库存金额 stock value",
        "categories": [sheet.name, _FIRST_WAREHOUSE_ROW, label_col, last, label_col],
        "values": [sheet.name, _FIRST_WAREHOUSE_ROW, value_col, last, value_col],
        "fill": {"color": "#4472C4"},
        "data_labels": {"value": True, "num_format": "#,##0"},
    })
    chart.set_title({"name": "各仓库存金额 Stock value by warehouse"})
    chart.set_legend({"none": True})
    # Bar charts list the first category at the bottom unless reversed; "max" keeps the values axis below.
    chart.set_y_axis({"reverse": True, "crossing": "max"})
    chart.set_x_axis({"num_format": "#,##0"})
    height = min(CHART_MAX_HEIGHT, max(300, 60 + 28 * len(by_warehouse)))
    chart.set_size({"width": 640, "height": height})
    sheet.insert_chart(xl_rowcol_to_cell(1, len(WAREHOUSE_COLUMNS) + 1), chart)
    if last_row > chart_end_row(height):
        # the printed page ends under the chart, so the chart is never cut in two
        sheet.set_h_pagebreaks([chart_end_row(height) + 1])


CHART_MAX_HEIGHT = 560  # px: 28 rows of 20 px, well inside one printed page


def chart_end_row(height: int) -> int:
    """The last row (0-based) a chart anchored at row 1 covers, rows being 20 px."""
    return 1 + -(-height // 20)
