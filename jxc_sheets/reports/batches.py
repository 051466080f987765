"""Report stage: outbox/batches.xlsx — stock of batch-tracked items by batch, and its expiry.

Sheets: `batches` (批次余额表: every batch with stock today, its dates, days to expiry and
value), `near_expiry` (近效期: within the item's 近效期预警(天), default
`batches.warning_days`), `expired` (已过期: past 有效期至 and still in stock, with value),
`slow_batches` (呆滞批次: no issue for `batches.slow_days`), `serials` (序列号台账: where each
serial is now; its history is `jxc trace SERIAL`). A batch is valued at its item ×
warehouse unit cost: costing is per item × warehouse, not per batch. Goods in transit to a
warehouse are in its batches from their arrival date, as in stock.xlsx.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Connection, func, select

from ..config import BatchesConfig
from ..ledger import schema
from ..ledger.costing import money
from .book import Book, Column

KIND = "batches"
STATUS = {"expired": "已过期 expired", "near": "近效期 near expiry", "ok": ""}

BATCH_COLUMNS = (
    Column("sku", "物料编码", width=16), Column("name", "名称", width=22), Column("unit", "单位", width=8),
    Column("warehouse", "仓库", width=10), Column("batch", "批号", width=16),
    Column("production_date", "生产日期", "date"), Column("expiry_date", "有效期至", "date"),
    Column("days_left", "剩余天数", "int", width=10), Column("qty", "数量", "qty", 14),
    Column("unit_cost", "单位成本", "cost", 14), Column("value", "金额", "money", 14),
    Column("status", "状态", width=16), Column("supplier", "供应商", width=12),
    Column("first_in", "首次入库", "date"), Column("last_issue", "最近出库", "date"),
)
SLOW_COLUMNS = (*BATCH_COLUMNS, Column("idle_days", "未出库天数", "int", width=12))
SERIAL_COLUMNS = (
    Column("sku", "物料编码", width=16), Column("name", "名称", width=22), Column("serial", "序列号", width=20),
    Column("status", "状态", width=16), Column("warehouse", "仓库", width=10), Column("partner", "往来单位", width=12),
    Column("batch", "批号", width=14), Column("doc_no", "最近单号", width=16), Column("doc_date", "最近日期", "date"),
)
SERIAL_STATUS = {"in_stock": "在库 in stock", "shipped": "已发货 shipped", "returned": "已退供应商 returned",
                 "out": "已出库 out"}


@dataclass(frozen=True)
class BatchRow:
    sku: str
    name: str
    unit: str
    warehouse: str
    batch: str
    production_date: date | None
    expiry_date: date | None
    days_left: int | None
    qty: Decimal
    unit_cost: Decimal
    value: Decimal
    status: str
    supplier: str
    first_in: date | None
    last_issue: date | None
    warning_days: int
    idle_days: int = 0


def batch_rows(conn: Connection, today: date, rules: BatchesConfig = BatchesConfig()) -> list[BatchRow]:
    """Every batch with stock today, soonest expiry first."""
    bb, bm, t, i, b = schema.batch_balances, schema.batch_movements, schema.batches, schema.items, schema.balances
    arriving: dict[tuple, Decimal] = defaultdict(Decimal)
    for r in conn.execute(select(bm.c.sku, bm.c.warehouse, bm.c.batch, func.sum(bm.c.qty).label("qty"))
                          .where(bm.c.doc_date > today).group_by(bm.c.sku, bm.c.warehouse, bm.c.batch)):
        arriving[(r.sku, r.warehouse, r.batch)] = r.qty
    dates = {(r.sku, r.warehouse, r.batch): (r.first_in, r.last_issue) for r in conn.execute(
        select(bm.c.sku, bm.c.warehouse, bm.c.batch,
               func.min(bm.c.doc_date).filter(bm.c.qty > 0).label("first_in"),
               func.max(bm.c.doc_date).filter(bm.c.qty < 0).label("last_issue"))
        .where(bm.c.doc_date <= today).group_by(bm.c.sku, bm.c.warehouse, bm.c.batch))}
    query = (select(bb.c.sku, bb.c.warehouse, bb.c.batch, bb.c.qty, i.c.name, i.c.unit, i.c.expiry_warning_days,
                    t.c.production_date, t.c.expiry_date, t.c.partner, b.c.unit_cost)
             .select_from(bb.outerjoin(t, (t.c.sku == bb.c.sku) & (t.c.batch == bb.c.batch))
                          .outerjoin(i, i.c.sku == bb.c.sku)
                          .outerjoin(b, (b.c.sku == bb.c.sku) & (b.c.warehouse == bb.c.warehouse))))
    rows = []
    for r in conn.execute(query):
        key = (r.sku, r.warehouse, r.batch)
        qty = r.qty - arriving.get(key, Decimal(0))
        if qty <= 0:
            continue
        warning = r.expiry_warning_days if r.expiry_warning_days is not None else rules.warning_days
        days_left = (r.expiry_date - today).days if r.expiry_date else None
        status = "ok" if days_left is None else "expired" if days_left < 0 else "near" if days_left <= warning else "ok"
        unit_cost = r.unit_cost or Decimal(0)
        first_in, last_issue = dates.get(key, (None, None))
        idle_since = last_issue or first_in
        rows.append(BatchRow(r.sku, r.name or "", r.unit or "", r.warehouse, r.batch, r.production_date, r.expiry_date,
                             days_left, qty, unit_cost, money(qty * unit_cost), STATUS[status], r.partner or "",
                             first_in, last_issue, warning, (today - idle_since).days if idle_since else 0))
    return sorted(rows, key=lambda row: (row.expiry_date or date.max, row.sku, row.warehouse, row.batch))


def write_batches(conn: Connection, path: Path, today: date, rules: BatchesConfig = BatchesConfig()) -> None:
    rows = batch_rows(conn, today, rules)
    with Book(path) as book:
        book.add_table("batches", BATCH_COLUMNS, rows)
        book.add_table("near_expiry", BATCH_COLUMNS, [r for r in rows if r.status == STATUS["near"]])
        book.add_table("expired", BATCH_COLUMNS, [r for r in rows if r.status == STATUS["expired"]])
        book.add_table("slow_batches", SLOW_COLUMNS, sorted((r for r in rows if r.idle_days >= rules.slow_days),
                                                            key=lambda r: -r.idle_days))
        book.add_table("serials", SERIAL_COLUMNS, serial_rows(conn))
        book.add_meta(KIND)


def serial_rows(conn: Connection) -> list[SimpleNamespace]:
    """Where each serial is now (序列号台账): in stock where, or shipped to whom, by which document.
    Its history is `jxc trace SERIAL`."""
    t, d, i = schema.serials, schema.documents, schema.items
    query = (select(t.c.sku, i.c.name, t.c.serial, t.c.status, t.c.warehouse, t.c.partner, t.c.batch, d.c.doc_no, d.c.doc_date)
             .join(d, d.c.id == t.c.document_id).outerjoin(i, i.c.sku == t.c.sku).order_by(t.c.sku, t.c.serial))
    return [SimpleNamespace(**{**r._mapping, "name": r.name or "", "status": SERIAL_STATUS.get(r.status, r.status)})
            for r in conn.execute(query)]


@dataclass(frozen=True)
class ExpiryPanel:
    """The dashboard's: value of stock expiring within `days`, and of stock expired."""

    days: int
    expiring_value: Decimal
    expired_value: Decimal


def expiry_panel(conn: Connection, today: date, days: int = 30) -> ExpiryPanel:
    rows = batch_rows(conn, today)
    expiring = sum((r.value for r in rows if r.days_left is not None and 0 <= r.days_left <= days), Decimal(0))
    expired = sum((r.value for r in rows if r.days_left is not None and r.days_left < 0), Decimal(0))
    return ExpiryPanel(days, expiring, expired)


def has_batches(conn: Connection) -> bool:
    """Whether any batch was ever posted: the dashboard shows expiry only then."""
    return conn.execute(select(schema.batch_balances.c.sku).limit(1)).first() is not None
