"""Report stage: the costing figures finance checks in the month-end pack —
- `fifo_layers` (先进先出余层): under FIFO, what is left of each receipt at the month's
  end: the receipt, its date, the qty left and its unit cost (a shortfall shows as a
  negative layer);
- `monthly_rates` (月末一次加权平均单价): under the monthly weighted average, each pair's
  rate for the month — the unit cost its issues carry once the month is closed;
- `cost_corrections` (成本调整): each movement whose amount differs from what it did to
  the stock (costing.py), one line each: value + correction = the document's amount.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterator, NamedTuple

from sqlalchemy import Connection, select

from ..ledger import methods, queries, schema
from ..ledger.costing import FIFO, MONTHLY, rate
from ..ledger.repost import layers_at
from .book import Column
from .month import month_bounds


class LayerRow(NamedTuple):  # a tuple in the sheet's column order: hundreds of thousands are written as they are
    sku: str
    warehouse: str
    receipt: str
    receipt_date: date | None
    qty: Decimal
    unit_cost: Decimal
    value: Decimal


LAYER_LEFT_COLUMNS = (Column("sku", "物料编码", width=14), Column("warehouse", "仓库"), Column("receipt", "入库单号", width=14),
                      Column("receipt_date", "入库日期", "date"), Column("qty", "剩余数量", "qty"),
                      Column("unit_cost", "单位成本", "cost"), Column("value", "金额", "money"))


def fifo_layers(conn: Connection, month: str) -> Iterator[LayerRow]:
    _start, end = month_bounds(month)
    chosen = methods.load(conn)
    fifo = [sku for sku in conn.execute(select(schema.items.c.sku)).scalars() if chosen.method_of(sku)(month) == FIFO]
    held = layers_at(conn, end, fifo)  # no other item's history is valued again: none under an average method
    origins = {layer.origin for layers in held.values() for layer in layers if layer.origin}
    m, d = schema.movements, schema.documents
    numbers = {}
    for batch in queries.chunks(sorted(origins), 5_000):  # a receipt per pair, 200,000 of them on a big ledger
        numbers.update({r.id: (r.doc_no, r.doc_date) for r in conn.execute(
            select(m.c.id, d.c.doc_no, m.c.doc_date).join(d, d.c.id == m.c.document_id).where(m.c.id.in_(batch)))})
    return (LayerRow(sku, warehouse, *numbers.get(layer.origin, ("期初 / 缺货 opening or short", layer.day)),
                     layer.qty, rate(layer.value / layer.qty) if layer.qty else Decimal(0), layer.value)
            for (sku, warehouse), layers in sorted(held.items()) for layer in layers)  # made as the sheet is written


@dataclass(frozen=True)
class RateRow:
    sku: str
    warehouse: str
    month_rate: Decimal | None
    closing_qty: Decimal
    closing_value: Decimal


RATE_COLUMNS = (Column("sku", "物料编码", width=14), Column("warehouse", "仓库"),
                Column("month_rate", "月末一次加权平均单价", "cost", width=20),
                Column("closing_qty", "期末数量", "qty"), Column("closing_value", "期末金额", "money"))


def monthly_rates(conn: Connection, month: str) -> list[RateRow]:
    """The rate of each monthly-average pair that moved in the month: its issues' unit cost,
    else (nothing issued) its closing value ÷ qty."""
    start, end = month_bounds(month)
    chosen = methods.load(conn)
    m = schema.movements
    rows = conn.execute(select(m.c.sku, m.c.warehouse, m.c.basis, m.c.kind, m.c.unit_cost, m.c.balance_qty,
                               m.c.balance_value).where(m.c.doc_date >= start, m.c.doc_date <= end)
                        .order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id))
    found: dict[tuple[str, str], RateRow] = {}
    for r in rows:
        if chosen.method_of(r.sku)(month) != MONTHLY:
            continue
        pair = (r.sku, r.warehouse)
        issued = r.basis == "issue" and r.kind != "transfer"
        before = found.get(pair)
        month_rate = r.unit_cost if issued else (before.month_rate if before else None)
        found[pair] = RateRow(r.sku, r.warehouse, month_rate, r.balance_qty, r.balance_value)
    return [row if row.month_rate is not None or not row.closing_qty
            else RateRow(row.sku, row.warehouse, rate(row.closing_value / row.closing_qty), row.closing_qty,
                         row.closing_value)
            for _pair, row in sorted(found.items())]


@dataclass(frozen=True)
class CorrectionRow:
    doc_date: date
    kind: str
    doc_no: str
    sku: str
    warehouse: str
    qty: Decimal
    value: Decimal
    correction: Decimal
    amount: Decimal


CORRECTION_COLUMNS = (Column("doc_date", "日期", "date"), Column("kind", "单据类型"), Column("doc_no", "单号", width=14),
                      Column("sku", "物料编码", width=14), Column("warehouse", "仓库"), Column("qty", "数量", "qty"),
                      Column("value", "存货金额", "money"), Column("correction", "成本调整", "money"),
                      Column("amount", "单据金额", "money"))


def cost_corrections(conn: Connection, month: str) -> list[CorrectionRow]:
    start, end = month_bounds(month)
    m, d = schema.movements, schema.documents
    query = (select(m.c.doc_date, m.c.kind, d.c.doc_no, m.c.sku, m.c.warehouse, m.c.qty, m.c.value, m.c.correction)
             .join(d, d.c.id == m.c.document_id)
             .where(m.c.doc_date >= start, m.c.doc_date <= end, m.c.correction != 0).order_by(m.c.doc_date, m.c.id))
    return [CorrectionRow(*r[:7], r.correction, r.value + r.correction) for r in conn.execute(query)]

