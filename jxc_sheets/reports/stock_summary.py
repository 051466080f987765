"""Report stage: the 收发存汇总表 as 金蝶 and 用友 print it, two sheets of the month-end pack.

- `收发存汇总 stock summary`: one row per item across all warehouses, with 规格 and 单位;
  期初, 本期收入, 本期发出 and 期末, each 数量 / 单价 / 金额; then a 合计 row;
- `收发存按仓库 by warehouse`: the same per warehouse, each warehouse's items and its
  小计 row, then the 合计.
收入 and 发出 are every in and out column of the pack's `summary` (transfers too, as the
ERPs' report counts 调拨 on both sides), so 期初 + 收入 − 发出 = 期末 on every row. 单价 is
金额 ÷ 数量 to 4 places, left empty where the 数量 is 0 and on the total rows (their
quantities add up units of different items).
"""
from __future__ import annotations

import functools
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, NamedTuple

from sqlalchemy import Connection, select

from ..ledger import schema
from .book import Column

ZERO = Decimal(0)
PRICE = Decimal("0.0001")
MEASURES = ("opening", "received", "issued", "closing")
MEASURE_ZH = {"opening": "期初", "received": "本期收入", "issued": "本期发出", "closing": "期末"}
SUMMARY_SHEET = "收发存汇总 stock summary"
BY_WAREHOUSE_SHEET = "收发存按仓库 by warehouse"
TOTAL, SUBTOTAL = "合计 total", "小计 subtotal"


class StockRow(NamedTuple):
    warehouse: str
    sku: str
    name: str
    spec: str
    unit: str
    opening_qty: Decimal
    opening_price: Decimal | None
    opening_value: Decimal
    received_qty: Decimal
    received_price: Decimal | None
    received_value: Decimal
    issued_qty: Decimal
    issued_price: Decimal | None
    issued_value: Decimal
    closing_qty: Decimal
    closing_price: Decimal | None
    closing_value: Decimal


COLUMNS = (Column("warehouse", "仓库"), Column("sku", "物料编码", width=14), Column("name", "名称", width=20),
           Column("spec", "规格", width=14), Column("unit", "单位", width=7),
           *(Column(f"{m}_{part}", f"{MEASURE_ZH[m]}{zh}", kind, width=13)
             for m in MEASURES for part, zh, kind in (("qty", "数量", "qty"), ("price", "单价", "cost"),
                                                       ("value", "金额", "money"))))
ITEM_COLUMNS = COLUMNS[1:]


def stock_rows(conn: Connection, summary_rows: Iterable) -> tuple[list[StockRow], list[StockRow]]:
    """(per item across warehouses + 合计, per warehouse × item with 小计 + 合计) from the
    pack's summary rows (each with opening_/in_*/out_*/closing_ qty and value)."""
    items = {r.sku: (r.name, r.spec or "", r.unit) for r in
             conn.execute(select(schema.items.c.sku, schema.items.c.name, schema.items.c.spec, schema.items.c.unit))}
    per_item: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * 8)
    per_warehouse: dict[str, list[tuple[str, list[Decimal]]]] = defaultdict(list)
    for r in summary_rows:
        amounts = _amounts(r)
        per_warehouse[r.warehouse].append((r.sku, amounts))
        per_item[r.sku] = [a + b for a, b in zip(per_item[r.sku], amounts)]
    by_item = [_row("", sku, items.get(sku, ("", "", "")), amounts) for sku, amounts in sorted(per_item.items())]
    by_item.append(_row("", TOTAL, ("", "", ""), _added(per_item.values()), priced=False))
    by_warehouse = []
    for warehouse, rows in sorted(per_warehouse.items()):
        by_warehouse += [_row(warehouse, sku, items.get(sku, ("", "", "")), amounts) for sku, amounts in sorted(rows)]
        by_warehouse.append(_row(warehouse, SUBTOTAL, ("", "", ""), _added(a for _s, a in rows), priced=False))
    by_warehouse.append(_row("", TOTAL, ("", "", ""), _added(per_item.values()), priced=False))
    return by_item, by_warehouse


def _amounts(r) -> list[Decimal]:
    """(qty, value) of 期初, 收入, 发出, 期末 of a summary row."""
    at = _positions(r._fields)
    return [r.opening_qty, r.opening_value, *(sum([r[i] for i in columns], ZERO) for columns in at),
            r.closing_qty, r.closing_value]


@functools.cache
def _positions(fields: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    """Where in a summary row the in_ qty, in_ value, out_ qty and out_ value columns are."""
    return tuple(tuple(i for i, f in enumerate(fields) if f.startswith(side) and f.endswith(measure))
                 for side in ("in_", "out_") for measure in ("_qty", "_value"))


def _added(rows: Iterable[list[Decimal]]) -> list[Decimal]:
    total = [ZERO] * 8
    for amounts in rows:
        total = [a + b for a, b in zip(total, amounts)]
    return total


def _row(warehouse: str, sku: str, item: tuple[str, str, str], amounts: list[Decimal], priced: bool = True) -> StockRow:
    numbers = []
    for qty, value in zip(amounts[::2], amounts[1::2]):
        price = (value / qty).quantize(PRICE, ROUND_HALF_UP) if priced and qty else None
        numbers += [qty, price, value]
    return StockRow(warehouse, sku, *item, *numbers)
