"""Report stage: reorder suggestions, written as filled purchase-order forms —
one per supplier in outbox/reorder/ — that purchasing reviews, edits and drops
into the inbox, where each becomes a real purchase order.

For every active item (stock over all warehouses):
- daily demand: the sales plans of this month and the next two, where there
  are any (planned qty ÷ the days of the planned months), else the average
  daily sales (deliveries less returns) over `usage_window_days`;
- lead time: the item's, else its default supplier's, else 0 days;
- reorder point = daily demand × lead time + safety stock;
- projected = on hand + still on order − reserved by open sales orders;
- when projected ≤ reorder point: order up to the target (reorder point +
  reorder_qty), at least min_order_qty, rounded up to the order multiple
  (whole units when the item has none).
Items without a default supplier are listed in orders.xlsx but get no form.
"""
from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import Connection, select

from .. import kinds
from ..config import OrdersConfig
from ..ledger import orders as ledger_orders
from ..ledger import schema
from ..sheets.forms import choices_from, write_form
from . import order_data
from .book import atomic_path

ZERO = Decimal(0)
QTY_STEP = Decimal("0.0001")
FORM_PREFIX = "采购建议-"
PREPARED_BY = "jxc 补货建议 / reorder suggestion"
PLAN, USAGE = "销售计划 plan", "近期用量 usage"


@dataclass(frozen=True)
class Suggestion:
    sku: str
    name: str
    unit: str
    supplier: str
    supplier_name: str
    on_hand: Decimal
    on_order: Decimal
    reserved: Decimal
    projected: Decimal
    daily_demand: Decimal
    demand_from: str  # PLAN | USAGE
    lead_time_days: int
    safety_stock: Decimal
    reorder_point: Decimal
    target: Decimal
    qty: Decimal
    unit_price: Decimal | None
    expected_date: date


def suggestions(conn: Connection, today: date, rules: OrdersConfig, unsellable: tuple[str, ...] = ()) -> list[Suggestion]:
    """`unsellable`: warehouses whose stock does not count (the quarantine warehouse)."""
    i, s = schema.items, schema.suppliers
    supplier_rows = {r.code: r for r in conn.execute(select(s.c.code, s.c.name, s.c.lead_time_days))}
    on_hand = ledger_orders.on_hand_by_sku(conn, exclude=unsellable)
    on_order = ledger_orders.on_order_by_sku(conn)
    reserved = ledger_orders.reserved_by_sku(conn) if rules.reserve_stock else {}
    planned = _planned_daily(conn, today)
    used = _used_daily(conn, today, rules.usage_window_days)
    prices = _last_prices(conn)
    found = []
    for item in conn.execute(select(i).where(i.c.active.is_(True)).order_by(i.c.sku)):
        supplier = supplier_rows.get(item.default_supplier)
        lead = item.lead_time_days or (supplier.lead_time_days if supplier else 0) or 0
        daily, source = (planned[item.sku], PLAN) if item.sku in planned else (used.get(item.sku, ZERO), USAGE)
        reorder_point = (daily * lead + item.safety_stock).quantize(QTY_STEP, rounding=ROUND_CEILING)
        projected = on_hand.get(item.sku, ZERO) + on_order.get(item.sku, ZERO) - reserved.get(item.sku, ZERO)
        target = reorder_point + item.reorder_qty
        if projected > reorder_point or target <= projected:
            continue
        qty = _order_qty(target - projected, item.min_order_qty, item.order_multiple)
        found.append(Suggestion(
            item.sku, item.name, item.unit, item.default_supplier, supplier.name if supplier else "",
            on_hand.get(item.sku, ZERO), on_order.get(item.sku, ZERO), reserved.get(item.sku, ZERO), projected,
            daily, source, lead, item.safety_stock, reorder_point, target, qty,
            prices.get((item.default_supplier, item.sku), item.std_cost), today + timedelta(days=lead)))
    return found


def _order_qty(needed: Decimal, minimum: Decimal | None, multiple: Decimal | None) -> Decimal:
    qty = max(needed, minimum or ZERO)
    step = multiple if multiple and multiple > 0 else Decimal(1)
    return (qty / step).to_integral_value(rounding=ROUND_CEILING) * step


def _planned_daily(conn: Connection, today: date) -> dict[str, Decimal]:
    months = [_add_months(today.replace(day=1), n) for n in range(3)]
    keys = {m.strftime("%Y-%m"): calendar.monthrange(m.year, m.month)[1] for m in months}
    qty: dict[str, Decimal] = {}
    days: dict[str, int] = {}
    for (sku, month), planned in order_data.planned_by_month(conn).items():
        if month in keys:
            qty[sku] = qty.get(sku, ZERO) + planned
            days[sku] = days.get(sku, 0) + keys[month]
    return {sku: (qty[sku] / days[sku]).quantize(QTY_STEP) for sku in qty}


def _add_months(first: date, n: int) -> date:
    month = first.month - 1 + n
    return date(first.year + month // 12, month % 12 + 1, 1)


def _used_daily(conn: Connection, today: date, window: int) -> dict[str, Decimal]:
    sold = order_data.sold_by_sku(conn, today - timedelta(days=window), today)
    return {sku: (qty / window).quantize(QTY_STEP) for sku, qty in sold.items() if qty > 0}


def _last_prices(conn: Connection) -> dict[tuple[str, str], Decimal]:
    """(supplier, sku) → the price per base unit of the latest purchase order line."""
    d, l = schema.documents, schema.lines
    query = (select(d.c.partner, l.c.sku, l.c.unit_price, l.c.factor).join(l, l.c.document_id == d.c.id)
             .where(d.c.kind == "purchase_order", d.c.reverses.is_(None)).order_by(d.c.doc_date, d.c.id))
    return {(r.partner, r.sku): (r.unit_price / r.factor).quantize(Decimal("0.000001"))
            for r in conn.execute(query) if r.unit_price is not None and r.factor}


# --- the forms ------------------------------------------------------------------------

def write_reorder_forms(conn: Connection, folder: Path, today: date, found: list[Suggestion],
                        kept: Path | None = None) -> list[Path]:
    """One filled purchase-order form per supplier, written again only when what it would hold
    changed (`kept`: a file of a digest per form; a buyer's copy is not overwritten for nothing,
    and a refresh writes no form for nothing); forms of suppliers with nothing to
    order any more are removed, so the folder always shows what to order now. Returns the
    forms written."""
    by_supplier: dict[str, list[Suggestion]] = {}
    for suggestion in found:
        if suggestion.supplier:
            by_supplier.setdefault(suggestion.supplier, []).append(suggestion)
    folder.mkdir(parents=True, exist_ok=True)
    choices = choices_from(conn)
    before, digests, written = _digests(kept), {}, []
    for supplier, lines in sorted(by_supplier.items()):
        path = folder / f"{FORM_PREFIX}{_safe(supplier)}.xlsx"
        header, rows = _form(conn, today, supplier, lines)
        digests[path.name] = hashlib.sha256(repr((header, rows, choices)).encode("utf-8")).hexdigest()
        if before.get(path.name) != digests[path.name] or not path.exists():
            written.append(write_form(path, kinds.KINDS["purchase_order"], choices, header=header, lines=rows))
    for old in folder.glob(f"{FORM_PREFIX}*.xlsx"):
        if old.name not in digests:
            old.unlink(missing_ok=True)
    if kept:
        try:
            with atomic_path(kept) as temp:
                temp.write_text(json.dumps(digests, ensure_ascii=False), encoding="utf-8")
        except OSError:
            pass  # the next refresh writes the forms again, nothing else
    return written


def _digests(kept: Path | None) -> dict[str, str]:
    try:
        return json.loads(kept.read_text(encoding="utf-8")) if kept else {}
    except (OSError, ValueError):
        return {}  # never written, or damaged: every form is written


def _form(conn: Connection, today: date, supplier: str, lines: list[Suggestion]) -> tuple[dict, list[dict]]:
    header = {
        "doc_no": _free_number(conn, f"PO{today:%Y%m%d}-{supplier}"[:56]),
        "doc_date": today, "supplier": supplier,
        "expected_date": max(s.expected_date for s in lines),
        "prepared_by": PREPARED_BY,
        "remark": "请核对数量与单价后放入 inbox / check quantities and prices, then drop into the inbox",
    }
    rows = [{"sku": s.sku, "qty": s.qty, "unit": s.unit, "unit_price": s.unit_price, "expected_date": s.expected_date,
             "remark": _why(s)} for s in lines]
    return header, rows


def _why(s: Suggestion) -> str:
    return (f"现有 {_show(s.on_hand)} + 在途 {_show(s.on_order)} - 占用 {_show(s.reserved)} = {_show(s.projected)}"
            f" ≤ 订货点 {_show(s.reorder_point)} (日均 {_show(s.daily_demand)} {s.demand_from} × {s.lead_time_days} 天"
            f" + 安全库存 {_show(s.safety_stock)})")


def _free_number(conn: Connection, base: str) -> str:
    """The suggestion's number, or base-2, -3… when an earlier suggestion of the day was already posted."""
    d = schema.documents
    taken = set(conn.execute(select(d.c.doc_no).where(d.c.kind == "purchase_order", d.c.doc_no.like(f"{base}%"))).scalars())
    number, n = base, 1
    while number in taken:
        n += 1
        number = f"{base}-{n}"
    return number


def _safe(code: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", code)


def _show(qty: Decimal) -> str:
    """A quantity in a remark, to the cent at most: 订货点 481.27, not 481.2666."""
    return format(qty.quantize(Decimal("0.01"), ROUND_HALF_UP).normalize(), "f")
