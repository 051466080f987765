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

from collections import defaultdict
from decimal import Decimal
from operator import add
from typing import Iterable, Iterator, NamedTuple

from sqlalchemy import Connection, select

from ..ledger import schema
from .book import Column

ZERO = Decimal(0)
PRICE_PLACES = 4
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


def stock_rows(conn: Connection, summary_rows: Iterable, scaled: Iterable[tuple[int, ...]]
               ) -> tuple[list[StockRow], Iterator[StockRow]]:
    """(per item across warehouses + 合计, per warehouse × item with 小计 + 合计) from the
    pack's summary rows and, for each, its (qty, value) of 期初, 收入, 发出 and 期末 as the
    ledger's scaled integers (`scaled`): added up exactly, each made a Decimal once. The
    rows per warehouse are made as they are written, not held."""
    items = {r.sku: (r.name, r.spec or "", r.unit) for r in
             conn.execute(select(schema.items.c.sku, schema.items.c.name, schema.items.c.spec, schema.items.c.unit))}
    per_item: dict[str, tuple[int, ...]] = {}
    per_warehouse: dict[str, list[tuple[str, tuple[int, ...]]]] = defaultdict(list)
    for r, amounts in zip(summary_rows, scaled):
        per_warehouse[r.warehouse].append((r.sku, amounts))
        before = per_item.get(r.sku)
        per_item[r.sku] = amounts if before is None else tuple(map(add, before, amounts))
    by_item = [_row("", sku, items.get(sku, ("", "", "")), amounts) for sku, amounts in sorted(per_item.items())]
    by_item.append(_row("", TOTAL, ("", "", ""), _added(per_item.values()), priced=False))
    return by_item, _by_warehouse(per_warehouse, items, _added(per_item.values()))


def _by_warehouse(per_warehouse: dict[str, list[tuple[str, tuple[int, ...]]]], items: dict,
                  total: list[int]) -> Iterator[StockRow]:
    for warehouse, rows in sorted(per_warehouse.items()):
        rows.sort()
        for sku, amounts in rows:
            yield _row(warehouse, sku, items.get(sku, ("", "", "")), amounts)
        yield _row(warehouse, SUBTOTAL, ("", "", ""), _added(a for _s, a in rows), priced=False)
    yield _row("", TOTAL, ("", "", ""), total, priced=False)


def _added(rows: Iterable[tuple[int, ...]]) -> list[int]:
    total = [0] * 8
    for amounts in rows:
        total = list(map(add, total, amounts))
    return total


_PLACES = (-schema.QTY_PLACES, -schema.MONEY_PLACES)
_PRICE_SCALE = 10 ** (PRICE_PLACES + schema.QTY_PLACES - schema.MONEY_PLACES)  # value ÷ qty, scaled, to 4 places


def _row(warehouse: str, sku: str, item: tuple[str, str, str], amounts, priced: bool = True) -> StockRow:
    numbers = []
    for qty, value in zip(amounts[::2], amounts[1::2]):
        numbers += [Decimal(qty).scaleb(_PLACES[0]) if qty else ZERO,
                    _price(value, qty) if priced and qty else None,
                    Decimal(value).scaleb(_PLACES[1]) if value else ZERO]
    return StockRow(warehouse, sku, *item, *numbers)


def _price(value: int, qty: int) -> Decimal:
    """value ÷ qty to 4 places, half up (away from zero), from the scaled integers: exact."""
    whole = (2 * abs(value) * _PRICE_SCALE + abs(qty)) // (2 * abs(qty))
    return Decimal(-whole if (value < 0) != (qty < 0) else whole).scaleb(-PRICE_PLACES)
