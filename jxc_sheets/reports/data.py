"""Report stage: the queries the outbox reports read.

Current stock comes from `balances` (one row per sku × warehouse), never from
re-adding the movement history; the ledger mirror reads one month of
`movements` by the indexed `doc_date`. Big tables are returned as streamed
result rows whose attribute names are the report's column keys; small
summaries as frozen records. Every number stays a Decimal here.
"""
from __future__ import annotations

import re
from collections import defaultdict, namedtuple
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Iterator

from sqlalchemy import Connection, Row, and_, case, func, or_, select, type_coerce

from ..ledger.schema import Qty, balances, documents, files, items, movements, suppliers, warehouses

STREAM = {"yield_per": 2000}
"""Execution options that stream a big result instead of loading it whole."""

STATUS_LABELS = {
    "posted": "已过账 posted",
    "skipped": "已跳过(重复) skipped",
    "rejected": "已退回 rejected",
    "failed": "出错 failed",
}


@dataclass(frozen=True)
class WarehouseTotal:
    warehouse: str
    name: str
    site: str
    skus: int
    qty: Decimal
    value: Decimal


@dataclass(frozen=True)
class CategoryTotal:
    category: str
    skus: int
    value: Decimal


@dataclass(frozen=True)
class Shortage:
    """An item whose stock over all warehouses is below its safety stock."""

    sku: str
    name: str
    unit: str
    total_qty: Decimal
    safety_stock: Decimal
    shortfall: Decimal
    reorder_qty: Decimal
    default_supplier: str
    supplier_name: str


@dataclass(frozen=True)
class FileRow:
    processed_at: datetime
    file: str
    kind: str
    status: str
    documents: int
    lines: int
    problems: int
    first_problems: str
    warnings: str
    moved_to: str
    notes: str = ""


@dataclass(frozen=True)
class Transit:
    """One line of a transfer whose goods have left one warehouse and not yet reached
    the other (到货日期 arrival_date later than the day asked about)."""

    doc_no: str
    from_warehouse: str
    from_site: str
    to_warehouse: str
    to_site: str
    sku: str
    name: str
    unit: str
    qty: Decimal
    value: Decimal
    doc_date: date
    arrival_date: date


@dataclass(frozen=True)
class StockOverview:
    total_value: Decimal
    skus_in_stock: int


def _in_stock():
    return or_(balances.c.qty != 0, balances.c.value != 0)


def _item_totals():
    """Each item's qty over all warehouses."""
    return (
        select(balances.c.sku, func.sum(balances.c.qty).label("total_qty"))
        .group_by(balances.c.sku)
        .subquery("item_totals")
    )


def _is_below_safety(total, safety_stock):
    # Safety stock is per item; inactive items are no longer reordered.
    return and_(items.c.active, total < safety_stock)


def in_transit(conn: Connection, on: date) -> list[Transit]:
    """The goods in transit at the end of `on`: transfers dated on or before it whose in
    leg is dated after it. The in leg is in the ledger (and in `balances`) from posting,
    dated its arrival; until then the goods are in neither warehouse's stock."""
    source, target = warehouses.alias("source"), warehouses.alias("target")
    stmt = (
        select(
            documents.c.doc_no,
            documents.c.warehouse.label("from_warehouse"),
            func.coalesce(source.c.site, "").label("from_site"),
            movements.c.warehouse.label("to_warehouse"),
            func.coalesce(target.c.site, "").label("to_site"),
            movements.c.sku,
            func.coalesce(items.c.name, "").label("name"),
            func.coalesce(items.c.unit, "").label("unit"),
            movements.c.qty,
            movements.c.value,
            documents.c.doc_date,
            movements.c.doc_date.label("arrival_date"),
        )
        .select_from(
            movements.join(documents, documents.c.id == movements.c.document_id)
            .outerjoin(items, items.c.sku == movements.c.sku)
            .outerjoin(source, source.c.code == documents.c.warehouse)
            .outerjoin(target, target.c.code == movements.c.warehouse)
        )
        .where(movements.c.kind == "transfer", movements.c.doc_date > on, documents.c.doc_date <= on)
        .order_by(movements.c.doc_date, documents.c.doc_no, movements.c.line_no)
    )
    return [Transit(**row._asdict()) for row in conn.execute(stmt)]


def arriving(transit: Iterable[Transit]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(qty, value) still on its way to each sku × warehouse."""
    found: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for t in transit:
        found[(t.sku, t.to_warehouse)][0] += t.qty
        found[(t.sku, t.to_warehouse)][1] += t.value
    return {pair: (qty, value) for pair, (qty, value) in found.items()}


def stock_rows(conn: Connection, today: date | None = None) -> Iterator[Row]:
    """Every sku × warehouse with stock, by warehouse then sku, streamed. With `today`,
    the goods still in transit to a warehouse are not in its stock."""
    coming = arriving(in_transit(conn, today)) if today else {}
    totals = _item_totals()
    total = func.coalesce(totals.c.total_qty, 0)
    stmt = (
        select(
            balances.c.sku,
            func.coalesce(items.c.name, "").label("name"),
            func.coalesce(items.c.category, "").label("category"),
            func.coalesce(items.c.unit, "").label("unit"),
            balances.c.warehouse,
            func.coalesce(warehouses.c.site, "").label("site"),
            balances.c.qty,
            balances.c.unit_cost,
            balances.c.value,
            func.coalesce(items.c.safety_stock, 0).label("safety_stock"),
            case((_is_below_safety(total, items.c.safety_stock), "Y"), else_="").label("below_safety"),
        )
        .select_from(
            balances.outerjoin(items, items.c.sku == balances.c.sku)
            .outerjoin(warehouses, warehouses.c.code == balances.c.warehouse)
            .outerjoin(totals, totals.c.sku == balances.c.sku)
        )
        .where(_in_stock())
        .order_by(balances.c.warehouse, balances.c.sku)
    )
    rows = conn.execute(stmt, execution_options=STREAM)
    return _less_arriving(rows, coming) if coming else iter(rows)


def _less_arriving(rows: Iterable[Row], coming: dict[tuple[str, str], tuple[Decimal, Decimal]]) -> Iterator:
    shape = None
    for row in rows:
        pair = (row.sku, row.warehouse)
        if pair not in coming:
            yield row
            continue
        qty, value = row.qty - coming[pair][0], row.value - coming[pair][1]
        if qty or value:
            shape = shape or namedtuple("StockRow", row._fields)  # the same fields in the same order
            yield shape(**{**row._asdict(), "qty": qty, "value": value, "unit_cost": _unit_cost(qty, value)})


def _unit_cost(qty: Decimal, value: Decimal) -> Decimal:
    return (value / qty).quantize(Decimal("0.000001"), ROUND_HALF_UP) if qty else Decimal(0)


def warehouse_totals(conn: Connection, today: date | None = None) -> list[WarehouseTotal]:
    """Stock per warehouse, by warehouse code; warehouses with nothing in stock are left out.
    With `today`, the goods still in transit to a warehouse are not in its stock."""
    stmt = (
        select(
            balances.c.warehouse,
            func.coalesce(warehouses.c.name, "").label("name"),
            func.coalesce(warehouses.c.site, "").label("site"),
            func.count().label("skus"),
            func.sum(balances.c.qty).label("qty"),
            func.sum(balances.c.value).label("value"),
        )
        .select_from(balances.outerjoin(warehouses, warehouses.c.code == balances.c.warehouse))
        .where(_in_stock())
        .group_by(balances.c.warehouse, warehouses.c.name, warehouses.c.site)
        .order_by(balances.c.warehouse)
    )
    totals = [WarehouseTotal(**row._asdict()) for row in conn.execute(stmt)]
    coming = arriving(in_transit(conn, today)) if today else {}
    return _totals_less_arriving(conn, totals, coming) if coming else totals


def _totals_less_arriving(conn: Connection, totals: list[WarehouseTotal],
                          coming: dict[tuple[str, str], tuple[Decimal, Decimal]]) -> list[WarehouseTotal]:
    held = {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(
        select(balances.c.sku, balances.c.warehouse, balances.c.qty, balances.c.value)
        .where(balances.c.warehouse.in_(sorted({wh for _sku, wh in coming})),
               balances.c.sku.in_(sorted({sku for sku, _wh in coming}))))}
    less: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for pair, (qty, value) in coming.items():
        less[pair[1]][0] += held.get(pair) == (qty, value)  # all of it is still on its way
        less[pair[1]][1] += qty
        less[pair[1]][2] += value
    adjusted = [WarehouseTotal(t.warehouse, t.name, t.site, t.skus - less[t.warehouse][0],
                               t.qty - less[t.warehouse][1], t.value - less[t.warehouse][2])
                if t.warehouse in less else t for t in totals]
    return [t for t in adjusted if t.skus]


def category_totals(conn: Connection) -> list[CategoryTotal]:
    """Stock value per item category, by category."""
    # Grouped by the bare column: PostgreSQL does not match two coalesce(…, $n) as one expression.
    stmt = (
        select(
            items.c.category,
            func.count(func.distinct(balances.c.sku)).label("skus"),
            func.sum(balances.c.value).label("value"),
        )
        .select_from(balances.outerjoin(items, items.c.sku == balances.c.sku))
        .where(_in_stock())
        .group_by(items.c.category)
    )
    totals: dict[str, CategoryTotal] = {}
    for category, skus, value in conn.execute(stmt):
        category = category or ""  # no category, or an sku missing from items
        before = totals.get(category, CategoryTotal(category, 0, Decimal(0)))
        totals[category] = CategoryTotal(category, before.skus + skus, before.value + value)
    return [totals[c] for c in sorted(totals)]


def shortages(conn: Connection) -> list[Shortage]:
    """Active items whose total stock is below their safety stock, by sku."""
    totals = _item_totals()
    total = type_coerce(func.coalesce(totals.c.total_qty, 0), Qty())
    stmt = (
        select(
            items.c.sku,
            items.c.name,
            items.c.unit,
            total.label("total_qty"),
            items.c.safety_stock,
            type_coerce(items.c.safety_stock - total, Qty()).label("shortfall"),
            items.c.reorder_qty,
            items.c.default_supplier,
            func.coalesce(suppliers.c.name, "").label("supplier_name"),
        )
        .select_from(
            items.outerjoin(totals, totals.c.sku == items.c.sku)
            .outerjoin(suppliers, suppliers.c.code == items.c.default_supplier)
        )
        .where(_is_below_safety(total, items.c.safety_stock))
        .order_by(items.c.sku)
    )
    return [Shortage(**row._asdict()) for row in conn.execute(stmt)]


def stock_overview(conn: Connection) -> StockOverview:
    value = conn.execute(select(func.sum(balances.c.value))).scalar()
    skus = conn.execute(select(func.count(func.distinct(balances.c.sku))).where(balances.c.qty != 0)).scalar()
    return StockOverview(total_value=value or Decimal(0), skus_in_stock=skus or 0)


def _file_columns():
    return (
        files.c.processed_at,
        files.c.name.label("file"),
        files.c.kind,
        files.c.status,
        files.c.documents,
        files.c.lines,
        files.c.problems,
        files.c.first_problems,
        func.coalesce(files.c.warnings, "").label("warnings"),
        files.c.moved_to,
        func.coalesce(files.c.notes, "").label("notes"),
    )


def _newest_first():
    return (files.c.processed_at.desc(), files.c.id.desc())


def recent_files(conn: Connection, limit: int) -> list[FileRow]:
    stmt = select(*_file_columns()).order_by(*_newest_first()).limit(limit)
    return [FileRow(**row._asdict()) for row in conn.execute(stmt)]


def log_rows(conn: Connection, limit: int) -> Iterator[Row]:
    """The newest `limit` processed files, newest first, status in words, streamed."""
    status = case(STATUS_LABELS, value=files.c.status, else_=files.c.status)
    columns = [status.label("status") if c.name == "status" else c for c in _file_columns()]
    stmt = select(*columns).order_by(*_newest_first()).limit(limit)
    return iter(conn.execute(stmt, execution_options=STREAM))


def files_by_status(conn: Connection, day: date) -> dict[str, int]:
    """How many files were processed on `day`, per status."""
    start = datetime.combine(day, datetime.min.time())
    stmt = (
        select(files.c.status, func.count())
        .where(files.c.processed_at >= start, files.c.processed_at < start + timedelta(days=1))
        .group_by(files.c.status)
    )
    return {status: count for status, count in conn.execute(stmt)}


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(month: str) -> tuple[date, date]:
    """'2026-11' → (2026-11-01, 2026-12-01): the first day and the first day after."""
    match = _MONTH.match(month)
    if match is None:
        raise ValueError(f"月份格式应为 YYYY-MM / month must be YYYY-MM (got {month!r})")
    first = date(int(match[1]), int(match[2]), 1)
    return first, _next_month(first)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def movement_months(conn: Connection) -> list[str]:
    """Every month that has movements, oldest first."""
    # One indexed min() per month, so this stays quick on a million movements.
    months: list[str] = []
    start: date | None = None
    while True:
        stmt = select(func.min(movements.c.doc_date))
        if start is not None:
            stmt = stmt.where(movements.c.doc_date >= start)
        first = conn.execute(stmt).scalar()
        if first is None:
            return months
        months.append(f"{first:%Y-%m}")
        start = _next_month(first)


def ledger_rows(conn: Connection, month: str) -> Iterator[Row]:
    """Every movement of `month` ("YYYY-MM") in posting order, streamed."""
    first, after = month_range(month)
    stmt = (
        select(
            movements.c.doc_date,
            movements.c.kind,
            documents.c.doc_no,
            movements.c.line_no,
            movements.c.sku,
            func.coalesce(items.c.name, "").label("name"),
            movements.c.warehouse,
            documents.c.partner,
            movements.c.qty,
            movements.c.unit_cost,
            movements.c.value,
            movements.c.balance_qty,
            movements.c.balance_value,
            documents.c.source_file,
        )
        .select_from(
            movements.join(documents, documents.c.id == movements.c.document_id)
            .outerjoin(items, items.c.sku == movements.c.sku)
        )
        .where(movements.c.doc_date >= first, movements.c.doc_date < after)
        .order_by(movements.c.id)
    )
    return iter(conn.execute(stmt, execution_options=STREAM))
