"""Report stage: what the order reports read — open purchase and sales orders,
backorders, supplier performance, sales with their margin, and plan against
actual. Plain frozen records, every number a Decimal.

Rules (the README's 订单报表 section says the same):
- days late: today − the line's expected (promised) date, for what is still open;
- backorders: on hand over all warehouses is given to open sales-order lines
  oldest promise first; what a line cannot get is its backorder;
- supplier performance, over the lines due in the last `window` days:
  on-time rate = lines fully received by their expected date ÷ lines due,
  fill rate = received ÷ ordered (a short-closed line counts what was ordered),
  return rate = returned ÷ received from that supplier in the window;
  rejection rate = 不合格数量 ÷ received in the window, with the reasons and their quantities;
  lead time = days from the order to each receipt against it in the window: its mean and
  standard deviation (the variability); price trend = the mean over items received at least
  twice in the window of (last unit cost − first) ÷ first; score = the rates weighted by
  `orders.supplier_weights` (on_time, fill, quality = 100 − rejection rate, returns = 100 −
  return rate; a rate with nothing behind it leaves its weight out), grade A from
  `orders.supplier_grade_a`, B from `orders.supplier_grade_b`, else C;
- sales: revenue = qty entered × unit price, to the cent; cost of goods sold =
  the value the delivery took out of stock; returns and reversals subtract.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable, NamedTuple

from sqlalchemy import Connection, and_, func, select

from ..ledger import orders as ledger_orders
from ..config import OrdersConfig
from ..ledger import schema
from ..ledger.costing import money

ZERO = Decimal(0)


@dataclass(frozen=True)
class OpenPurchaseLine:
    supplier: str
    supplier_name: str
    doc_no: str
    doc_date: date
    sku: str
    name: str
    unit: str
    ordered: Decimal
    received: Decimal
    outstanding: Decimal
    unit_price: Decimal | None
    expected_date: date | None
    days_late: int | None


@dataclass(frozen=True)
class OpenSalesLine:
    customer: str
    customer_name: str
    doc_no: str
    doc_date: date
    promised_date: date | None
    sku: str
    name: str
    unit: str
    ordered: Decimal
    delivered: Decimal
    outstanding: Decimal
    backorder: Decimal
    days_late: int | None


@dataclass(frozen=True)
class SupplierScore:
    supplier: str
    supplier_name: str
    lines_due: int
    on_time: int
    on_time_rate: Decimal | None
    ordered: Decimal
    received: Decimal
    fill_rate: Decimal | None
    returned: Decimal
    received_in_window: Decimal
    return_rate: Decimal | None
    rejected: Decimal = ZERO
    rejection_rate: Decimal | None = None
    reject_reasons: str = ""  # 破损 3; 受潮 1 — the largest first
    lead_time_days: Decimal | None = None
    lead_time_sd: Decimal | None = None
    price_trend_pct: Decimal | None = None
    score: Decimal | None = None
    grade: str = ""


class SalesRow(NamedTuple):  # a tuple: a year of sales by customer × item runs to hundreds of thousands
    month: str
    customer: str
    customer_name: str
    sku: str
    name: str
    qty: Decimal
    revenue: Decimal
    cogs: Decimal
    gross_margin: Decimal
    margin_pct: Decimal | None


@dataclass(frozen=True)
class PlanRow:
    month: str
    sku: str
    name: str
    planned: Decimal
    actual: Decimal
    difference: Decimal
    achieved_pct: Decimal | None


def _names(conn: Connection, table, key: str = "code") -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute(select(table.c[key], table.c.name))}


def _items(conn: Connection) -> dict[str, tuple[str, str]]:
    i = schema.items
    return {r.sku: (r.name, r.unit) for r in conn.execute(select(i.c.sku, i.c.name, i.c.unit))}


def _late(due: date | None, today: date) -> int | None:
    return (today - due).days if due and today > due else None


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part * 100 / whole).quantize(Decimal("0.1")) if whole else None


# --- open orders ---------------------------------------------------------------------

def open_purchase_lines(conn: Connection, today: date) -> list[OpenPurchaseLine]:
    names, items = _names(conn, schema.suppliers), _items(conn)
    rows = []
    for order in ledger_orders.open_orders(conn, "purchase_order"):
        for line in order.lines:
            if order.outstanding(line) > 0:
                name, unit = items.get(line.sku, ("", ""))
                rows.append(OpenPurchaseLine(
                    order.partner, names.get(order.partner, ""), order.doc_no, order.doc_date, line.sku, name, unit,
                    line.ordered, line.fulfilled, order.outstanding(line), line.unit_price, line.expected_date,
                    _late(line.expected_date, today)))
    return sorted(rows, key=lambda r: (r.supplier, r.expected_date or date.max, r.doc_no))


def open_sales_lines(conn: Connection, today: date) -> list[OpenSalesLine]:
    names, items = _names(conn, schema.customers), _items(conn)
    orders = ledger_orders.open_orders(conn, "sales_order")
    on_hand = ledger_orders.on_hand_by_sku(conn)
    pending = sorted(((order.due_date or order.doc_date, order.doc_date, order.doc_no, order, line)
                      for order in orders for line in order.lines if order.outstanding(line) > 0),
                     key=lambda p: p[:3])
    left = {sku: max(qty, ZERO) for sku, qty in on_hand.items()}
    rows = []
    for _due, _day, _no, order, line in pending:
        outstanding = order.outstanding(line)
        given = min(outstanding, left.get(line.sku, ZERO))
        left[line.sku] = left.get(line.sku, ZERO) - given
        name, unit = items.get(line.sku, ("", ""))
        rows.append(OpenSalesLine(
            order.partner, names.get(order.partner, ""), order.doc_no, order.doc_date, order.due_date, line.sku,
            name, unit, line.ordered, line.fulfilled, outstanding, outstanding - given, _late(order.due_date, today)))
    return sorted(rows, key=lambda r: (r.customer, r.promised_date or date.max, r.doc_no))


# --- supplier performance ---------------------------------------------------------------

def supplier_scores(conn: Connection, today: date, window: int, rules: OrdersConfig | None = None) -> list[SupplierScore]:
    rules = rules or OrdersConfig()
    since = today - timedelta(days=window)
    orders = ledger_orders.all_orders(conn, "purchase_order", since - timedelta(days=365))
    fulfilled = ledger_orders.fulfilling_documents(conn, [o.id for o in orders])
    due: dict[str, list] = defaultdict(list)
    for order in orders:
        for line in order.lines:
            if line.expected_date and since <= line.expected_date <= today:
                due[order.partner].append((order, line))
    moved = _supplier_movements(conn, since, today)
    rejected = _rejections(conn, since, today)
    lead_times: dict[str, list[int]] = defaultdict(list)
    for order in orders:
        for f in fulfilled.get(order.id, []):
            if since <= f.doc_date <= today and f.qty > 0:
                lead_times[order.partner].append((f.doc_date - order.doc_date).days)
    trends = _price_trends(conn, since, today)
    names = _names(conn, schema.suppliers)
    scores = []
    for supplier in sorted(set(due) | set(moved)):
        lines = due.get(supplier, [])
        on_time = sum(1 for order, line in lines if _received_by(fulfilled.get(order.id, []), line) >= line.ordered)
        ordered = sum((line.ordered for _o, line in lines), ZERO)
        received = sum((min(line.fulfilled, line.ordered) for _o, line in lines), ZERO)
        received_all, returned = moved.get(supplier, (ZERO, ZERO))
        reasons = rejected.get(supplier, {})
        rejected_qty = sum(reasons.values(), ZERO)
        on_time_rate, fill_rate = percent(Decimal(on_time), Decimal(len(lines))), percent(received, ordered)
        return_rate, rejection_rate = percent(returned, received_all), percent(rejected_qty, received_all)
        days = lead_times.get(supplier, [])
        score = _score(rules.supplier_weights, {"on_time": on_time_rate, "fill": fill_rate,
                                                "quality": None if rejection_rate is None else 100 - rejection_rate,
                                                "returns": None if return_rate is None else 100 - return_rate})
        scores.append(SupplierScore(supplier, names.get(supplier, ""), len(lines), on_time, on_time_rate, ordered, received,
                                    fill_rate, returned, received_all, return_rate, rejected_qty, rejection_rate,
                                    "; ".join(f"{reason or '未填'} {format(qty.normalize(), 'f')}" for reason, qty in
                                              sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
                                    _tenth(Decimal(sum(days)) / len(days)) if days else None,
                                    _tenth(Decimal(str(statistics.pstdev(days)))) if days else None,
                                    trends.get(supplier), score, _grade(score, rules)))
    return scores


def _tenth(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"))


def _score(weights: dict[str, float], rates: dict[str, Decimal | None]) -> Decimal | None:
    """The weighted mean of the rates that have something behind them."""
    used = {k: Decimal(str(w)) for k, w in weights.items() if rates.get(k) is not None and w > 0}
    total = sum(used.values(), ZERO)
    return _tenth(sum((rates[k] * w for k, w in used.items()), ZERO) / total) if total else None


def _grade(score: Decimal | None, rules: OrdersConfig) -> str:
    if score is None:
        return ""
    return "A" if score >= Decimal(str(rules.supplier_grade_a)) else "B" if score >= Decimal(str(rules.supplier_grade_b)) else "C"


def _price_trends(conn: Connection, since: date, today: date) -> dict[str, Decimal]:
    """Per supplier: the mean % change from the first to the last unit cost (per base unit) of
    each item received from it at least twice in the window; reversals left out."""
    d, l = schema.documents, schema.lines
    query = (select(d.c.partner, l.c.sku, l.c.unit_cost, l.c.factor).join(l, l.c.document_id == d.c.id)
             .where(d.c.kind == "receipt", d.c.doc_date >= since, d.c.doc_date <= today, d.c.reverses.is_(None),
                    l.c.unit_cost.is_not(None), l.c.qty > 0)
             .order_by(d.c.doc_date, d.c.id, l.c.line_no))
    seen: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for r in conn.execute(query):
        if r.factor:
            seen[(r.partner, r.sku)].append(r.unit_cost / r.factor)
    changes: dict[str, list[Decimal]] = defaultdict(list)
    for (supplier, _sku), costs in seen.items():
        if len(costs) >= 2 and costs[0]:
            changes[supplier].append((costs[-1] - costs[0]) * 100 / costs[0])
    return {k: _tenth(sum(v, ZERO) / len(v)) for k, v in changes.items()}


def _rejections(conn: Connection, since: date, today: date) -> dict[str, dict[str, Decimal]]:
    """Per supplier and reason: the 不合格数量 of its receipts in the window, in base units."""
    d, l = schema.documents, schema.lines
    query = (select(d.c.partner, l.c.qty, l.c.rejected_qty, l.c.factor, l.c.reject_reason).join(l, l.c.document_id == d.c.id)
             .where(d.c.kind == "receipt", d.c.doc_date >= since, d.c.doc_date <= today, l.c.rejected_qty.is_not(None)))
    found: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for r in conn.execute(query):  # a reversal's line is negative: it takes its rejection back
        found[r.partner][r.reject_reason or ""] += r.rejected_qty * r.factor * (-1 if r.qty < 0 else 1)
    return found


def _received_by(fulfilments: Iterable, line) -> Decimal:
    return sum((f.qty for f in fulfilments if f.order_line_no == line.line_no and f.doc_date <= line.expected_date), ZERO)


def _supplier_movements(conn: Connection, since: date, today: date) -> dict[str, tuple[Decimal, Decimal]]:
    """Per supplier: qty received and qty returned in the window (base units; reversals net out)."""
    m, d = schema.movements, schema.documents
    query = (select(d.c.partner, m.c.kind, m.c.qty).join(d, d.c.id == m.c.document_id)
             .where(m.c.kind.in_(["receipt", "purchase_return"]), m.c.doc_date >= since, m.c.doc_date <= today))
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for r in conn.execute(query):
        if r.kind == "receipt":
            totals[r.partner][0] += r.qty
        else:
            totals[r.partner][1] -= r.qty
    return {k: (v[0], v[1]) for k, v in totals.items()}


# --- sales and plans --------------------------------------------------------------------

SALES_KINDS = ("delivery", "sales_return")


def sales_lines(conn: Connection, since: date | None = None, until: date | None = None):
    """Every delivery and sales-return movement with its document's customer and line's price."""
    m, d, l = schema.movements, schema.documents, schema.lines
    query = (select(m.c.doc_date, m.c.kind, m.c.sku, m.c.warehouse, m.c.qty, m.c.value, d.c.partner,
                    l.c.qty_entered, l.c.unit_price)
             .join(d, d.c.id == m.c.document_id)
             .join(l, and_(l.c.document_id == m.c.document_id, l.c.line_no == m.c.line_no))
             .where(m.c.kind.in_(SALES_KINDS)))
    if since:
        query = query.where(m.c.doc_date >= since)
    if until:
        query = query.where(m.c.doc_date <= until)
    return conn.execute(query)


def sale_amounts(row) -> tuple[Decimal, Decimal, Decimal]:
    """(qty sold, revenue, cost of goods sold) of one sales_lines row; returns and reversals subtract."""
    sign = -1 if row.kind == "sales_return" else 1
    return -row.qty, sign * money(row.qty_entered * (row.unit_price or ZERO)), -row.value


@dataclass(frozen=True)
class Margin:
    key: str
    name: str
    qty: Decimal
    revenue: Decimal
    cogs: Decimal
    gross_margin: Decimal
    margin_pct: Decimal | None


def margin_rows(totals: dict[str, list[Decimal]], names: dict[str, str]) -> list[Margin]:
    """Margin rows from key → [qty, revenue, cogs] sums."""
    return [Margin(key, names.get(key, ""), qty, revenue, cogs, revenue - cogs, percent(revenue - cogs, revenue))
            for key, (qty, revenue, cogs) in sorted(totals.items())]


def add_sale(totals: dict, key, row) -> None:
    for i, amount in enumerate(sale_amounts(row)):
        totals[key][i] += amount


SalesTotals = dict[tuple[str, str, str], list[Decimal]]
"""(YYYY-MM, customer, sku) → [qty, revenue, cost of goods sold]."""


def sales_totals(conn: Connection, since: date | None = None, until: date | None = None) -> SalesTotals:
    totals: SalesTotals = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for r in sales_lines(conn, since, until):
        add_sale(totals, (f"{r.doc_date:%Y-%m}", r.partner, r.sku), r)
    return totals


def sales_rows(conn: Connection, since: date | None = None, until: date | None = None,
               totals: SalesTotals | None = None) -> list[SalesRow]:
    """Sales by month × customer × item from `since` to `until`, added up here unless `totals` are given."""
    totals = sales_totals(conn, since, until) if totals is None else totals
    customers, items = _names(conn, schema.customers), _items(conn)
    return [SalesRow(month, customer, customers.get(customer, ""), sku, items.get(sku, ("", ""))[0],
                     qty, revenue, cogs, revenue - cogs, percent(revenue - cogs, revenue))
            for (month, customer, sku), (qty, revenue, cogs) in sorted(totals.items())]


def sold_by_month(conn: Connection) -> dict[tuple[str, str], Decimal]:
    """(sku, YYYY-MM) → qty sold, net of returns."""
    sold: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for r in sales_lines(conn):
        sold[(r.sku, r.doc_date.strftime("%Y-%m"))] -= r.qty
    return dict(sold)


SalesSums = dict[str, list[Decimal]]
"""customer or sku → [qty, revenue, cost of goods sold]."""


def sales_sums(rows: Iterable[SalesRow], key: str) -> SalesSums:
    """The rows' amounts added up by `key` ("customer" or "sku")."""
    sums: SalesSums = {}
    for row in rows:
        add_sums(sums, getattr(row, key), (row.qty, row.revenue, row.cogs))
    return sums


def add_sums(sums: SalesSums, key: str, amounts) -> None:
    total = sums.get(key)
    if total is None:
        sums[key] = list(amounts)
    else:
        for i, amount in enumerate(amounts):
            total[i] += amount


def sales_names(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    """customer → name, sku → name."""
    return _names(conn, schema.customers), _names(conn, schema.items, "sku")


def sold_by_sku(conn: Connection, since: date, until: date) -> dict[str, Decimal]:
    """sku → qty sold from `since` to `until`, net of returns (added up by the database)."""
    m = schema.movements
    query = (select(m.c.sku, func.sum(m.c.qty).label("qty"))
             .where(m.c.kind.in_(SALES_KINDS), m.c.doc_date >= since, m.c.doc_date <= until).group_by(m.c.sku))
    return {r.sku: -r.qty for r in conn.execute(query)}


def planned_by_month(conn: Connection) -> dict[tuple[str, str], Decimal]:
    """(sku, YYYY-MM) → planned qty, over the sales plans not reversed."""
    d, l = schema.documents, schema.lines
    reversed_ids = select(d.c.reverses).where(d.c.reverses.is_not(None))
    query = (select(d.c.due_date, l.c.sku, l.c.qty).join(l, l.c.document_id == d.c.id)
             .where(d.c.kind == "sales_plan", d.c.reverses.is_(None), d.c.id.not_in(reversed_ids)))
    planned: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for r in conn.execute(query):
        planned[(r.sku, r.due_date.strftime("%Y-%m"))] += r.qty
    return dict(planned)


def plan_rows(conn: Connection) -> list[PlanRow]:
    planned = planned_by_month(conn)
    if not planned:  # without a plan the whole sales history need not be read
        return []
    sold, items = sold_by_month(conn), _items(conn)
    return [PlanRow(month, sku, items.get(sku, ("", ""))[0], qty, sold.get((sku, month), ZERO),
                    sold.get((sku, month), ZERO) - qty, percent(sold.get((sku, month), ZERO), qty))
            for (sku, month), qty in sorted(planned.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def orders_at_a_glance(conn: Connection, today: date) -> tuple[list[OpenPurchaseLine], list[OpenSalesLine]]:
    """For the dashboard: late purchase-order lines, and sales-order lines on backorder."""
    late = [l for l in open_purchase_lines(conn, today) if l.days_late]
    backorders = [l for l in open_sales_lines(conn, today) if l.backorder > 0]
    return late, backorders

