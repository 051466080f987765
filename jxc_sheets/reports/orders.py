"""Report stage: outbox/orders.xlsx — what purchasing and sales follow.

Sheets: `purchase_orders` (open lines by supplier, with days late),
`sales_orders` (open lines by customer, with backorders), `suppliers` (on-time,
fill and return rates over `orders.supplier_window_days`), `sales` (by month ×
customer × item over the last twelve months and this one: qty, revenue, cost,
gross margin), `sales_by_customer`,
`sales_by_item`, `plan` (sales plan against actual by item and month) and
`reorder` (every suggestion, with or without a supplier). The rules behind the
numbers are in order_data.py and reorder.py.
"""
from __future__ import annotations

from datetime import date, timedelta
from itertools import chain
from pathlib import Path

from sqlalchemy import Connection

from ..config import OrdersConfig
from . import closed_sales, order_data, reorder
from .book import Book, Column

PURCHASE_COLUMNS = (
    Column("supplier", "供应商", width=12), Column("supplier_name", "供应商名称", width=20),
    Column("doc_no", "订单号", width=18), Column("doc_date", "订单日期", "date"),
    Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("unit", "单位", width=8),
    Column("ordered", "订购数量", "qty"), Column("received", "已收数量", "qty"), Column("outstanding", "未收数量", "qty"),
    Column("unit_price", "不含税单价", "cost"), Column("expected_date", "预计到货", "date"), Column("days_late", "逾期天数", "int"),
)
SALES_ORDER_COLUMNS = (
    Column("customer", "客户", width=12), Column("customer_name", "客户名称", width=20),
    Column("doc_no", "订单号", width=18), Column("doc_date", "订单日期", "date"), Column("promised_date", "承诺交期", "date"),
    Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("unit", "单位", width=8),
    Column("ordered", "订购数量", "qty"), Column("delivered", "已发数量", "qty"), Column("outstanding", "未发数量", "qty"),
    Column("backorder", "缺货待发", "qty"), Column("days_late", "逾期天数", "int"),
)
SUPPLIER_COLUMNS = (
    Column("supplier", "供应商", width=12), Column("supplier_name", "供应商名称", width=20),
    Column("lines_due", "到期行数", "int"), Column("on_time", "准时行数", "int"), Column("on_time_rate", "准时率%", "qty"),
    Column("ordered", "到期订购数量", "qty", width=14), Column("received", "已收数量", "qty"), Column("fill_rate", "满足率%", "qty"),
    Column("received_in_window", "期间收货", "qty"), Column("returned", "期间退货", "qty"), Column("return_rate", "退货率%", "qty"),
    Column("rejected", "检验不合格", "qty"), Column("rejection_rate", "不合格率%", "qty"),
    Column("reject_reasons", "不合格原因", width=30),
    Column("lead_time_days", "平均交期天数", "qty"), Column("lead_time_sd", "交期标准差", "qty"),
    Column("price_trend_pct", "价格变动%", "qty"), Column("score", "评分", "qty"), Column("grade", "等级", width=6),
)
SALES_COLUMNS = (
    Column("month", "月份", width=9), Column("customer", "客户", width=12), Column("customer_name", "客户名称", width=20),
    Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("qty", "数量", "qty"),
    Column("revenue", "销售额(不含税)", "money", width=14), Column("cogs", "销售成本", "money", width=14),
    Column("gross_margin", "毛利", "money", width=14), Column("margin_pct", "毛利率%", "qty"),
)
PLAN_COLUMNS = (
    Column("month", "月份", width=9), Column("sku", "物料编码", width=14), Column("name", "名称", width=20),
    Column("planned", "计划数量", "qty"), Column("actual", "实际销量", "qty"), Column("difference", "差异", "qty"),
    Column("achieved_pct", "达成率%", "qty"),
)
REORDER_COLUMNS = (
    Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("unit", "单位", width=8),
    Column("supplier", "供应商", width=12), Column("supplier_name", "供应商名称", width=20),
    Column("on_hand", "现有", "qty"), Column("on_order", "在途", "qty"), Column("reserved", "订单占用", "qty"),
    Column("projected", "预计可用", "qty"), Column("daily_demand", "日均需求", "qty"), Column("demand_from", "需求来源"),
    Column("lead_time_days", "提前期天数", "int"), Column("safety_stock", "安全库存", "qty"),
    Column("reorder_point", "订货点", "qty"), Column("qty", "建议订购", "qty"), Column("unit_price", "参考单价(不含税)", "cost"),
    Column("expected_date", "预计到货", "date"),
)


def write_orders(conn: Connection, path: Path, today: date, rules: OrdersConfig, cache: Path | None = None,
                 suggestions: list[reorder.Suggestion] | None = None) -> None:
    """`cache`: the folder where the months of the sales sheet before this one are kept
    (closed_sales.py), None writes them all from the movements; `suggestions`: the reorder
    suggestions when they were made already (for the reorder forms)."""
    with Book(path, kind="orders") as book:
        book.add_table("purchase_orders", PURCHASE_COLUMNS, order_data.open_purchase_lines(conn, today))
        book.add_table("sales_orders", SALES_ORDER_COLUMNS, order_data.open_sales_lines(conn, today))
        book.add_table("suppliers", SUPPLIER_COLUMNS, order_data.supplier_scores(conn, today, rules.supplier_window_days, rules))
        # the last twelve months and this one: the pack of each closed month keeps the older ones
        _add_sales(book, conn, date(today.year - 1, today.month, 1), cache, today)
        book.add_table("plan", PLAN_COLUMNS, order_data.plan_rows(conn))
        book.add_table("reorder", REORDER_COLUMNS,
                       reorder.suggestions(conn, today, rules) if suggestions is None else suggestions)


def _add_sales(book: Book, conn: Connection, since: date, cache: Path | None, today: date) -> None:
    """The sales sheet from `since`, and its sums by customer and by item: the months before
    today's as they were kept (when their sales did not change), today's from the movements."""
    kept = closed_sales.kept_months(conn, since, cache, book.encoder(SALES_COLUMNS), today) if cache else []
    parts, sales, start = [], [], since
    for month in [*kept, None]:  # None: the months after the last closed one
        if month is None or start < month.first:
            live = order_data.sales_rows(conn, start, month.first - timedelta(days=1) if month else None)
            parts.append(live)
            sales += live
        if month:
            parts.append(month.rows)
            start = month.after
    book.add_table("sales", SALES_COLUMNS, chain(*parts))
    by_customer, by_item = order_data.sales_sums(sales, "customer"), order_data.sales_sums(sales, "sku")
    for month in kept:
        for sums, kept_sums in ((by_customer, month.by_customer), (by_item, month.by_sku)):
            for key, amounts in kept_sums.items():
                order_data.add_sums(sums, key, amounts)
    customers, items = order_data.sales_names(conn)
    book.add_table("sales_by_customer", _sum_columns("customer", "客户"), order_data.margin_rows(by_customer, customers))
    book.add_table("sales_by_item", _sum_columns("sku", "物料编码"), order_data.margin_rows(by_item, items))


def _sum_columns(key: str, zh: str) -> tuple[Column, ...]:
    return (Column("key", zh, width=14), Column("name", "名称", width=20), *SALES_COLUMNS[5:])
