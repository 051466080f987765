"""Check, sales: the price of a sale line left empty, the salesperson of a sales
document left empty, and sales below their minimum price or below cost.

- **Price**: a sales order or delivery line with no price at all (neither 单价 nor
  含税单价, 金额 or 价税合计) takes, the first that has one: the customer's own price list
  (价格表 rows naming the customer), its grade's (rows naming the customer's 等级), the
  last price this customer was sold the item at, the item's 销售单价. List prices and the
  item's price are before tax and per base unit; a line in another unit takes them
  times its factor. A delivery against a sales order takes the order's price first
  (check/orders.py). Each price taken is told in the answer and the processing log,
  and the ledger keeps the rule on the line (`lines.price_rule`).
- **Salesperson**: a sales order, delivery or sales return without 业务员 takes the
  customer's.
- **Floors**: a sale priced (before tax, per base unit) below its minimum price — the
  price-list row's 最低价, else the item's 最低售价 — or below the item's current cost
  (at the delivering warehouse; a sales order naming none: the average over the
  warehouses holding it) is refused at the price cell or posted with a warning, as
  `sales.below_minimum` and `sales.below_cost` say.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from sqlalchemy import Connection

from ..config import SalesConfig
from ..ledger import sales as ledger_sales
from ..ledger.sales import Customer, ItemPrices, ListPrice
from ..problems import problem
from ..records import Document, Line, Problem

PRICED_KINDS = ("sales_order", "delivery")  # take a price when left empty; checked against floors
SALESPERSON_KINDS = ("sales_order", "delivery", "sales_return")
COST_STEP = Decimal("0.000001")
RULES = {  # price_rule → (zh, en)
    "customer": ("客户价格表", "the customer's price list"),
    "grade": ("等级价格表", "the customer grade's price list"),
    "last": ("上次售价", "the last price to this customer"),
    "item": ("物料销售单价", "the item's sale_price"),
    "original": ("原出库单价", "the original delivery's price"),  # an exchange's goods returned (check/service.py)
    "exchange": ("换货退回价", "the price of the same goods returned"),  # an exchange's goods sent instead
}


@dataclass(frozen=True)
class Floors:
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


class SalesPrices:
    """One file's view of customers, price lists, last prices and item prices: asked once."""

    def __init__(self, conn: Connection, docs: Sequence[Document]):
        self.conn = conn
        sales = [d for d in docs if d.kind in SALESPERSON_KINDS]
        codes = {d.header.get("customer") or "" for d in sales}
        self.customers: dict[str, Customer] = ledger_sales.customers(conn, codes)
        skus = {line.sku for d in sales for line in d.lines}
        self.lists = ledger_sales.list_prices(conn, skus, self.customers, {c.grade for c in self.customers.values()})
        self.items: dict[str, ItemPrices] = ledger_sales.item_prices(conn, skus)
        self._last: dict[tuple[str, str], tuple[date, Decimal]] | None = None
        self._costs: dict[tuple[str, str], Decimal] | None = None
        self.pairs = {(d.header.get("customer") or "", line.sku) for d in sales for line in d.lines}
        self.skus = skus

    # --- the salesperson -------------------------------------------------------------

    def with_salesperson(self, docs: Sequence[Document]) -> list[Document]:
        out = []
        for doc in docs:
            customer = self.customers.get(doc.header.get("customer") or "")
            if doc.kind in SALESPERSON_KINDS and not doc.header.get("salesperson") and customer and customer.salesperson:
                doc = replace(doc, header={**doc.header, "salesperson": customer.salesperson})
            out.append(doc)
        return out

    # --- prices left empty ----------------------------------------------------------------

    def default_prices(self, docs: Sequence[Document], notes: list[str], *, ordered: bool) -> list[Document]:
        """Prices for the empty lines of sales orders and deliveries; `ordered`: only
        deliveries against an order (whose order gave what it could first), else the rest."""
        out = []
        for doc in docs:
            against_order = doc.kind == "delivery" and bool(doc.header.get("ref_doc"))
            if doc.kind not in PRICED_KINDS or against_order != ordered or not any(map(unpriced, doc.lines)):
                out.append(doc)
                continue
            lines = []
            for line in doc.lines:
                found = self.price(doc, line) if unpriced(line) else None
                if found is None:
                    lines.append(line)
                    continue
                rule, base = found
                price = (base * line.factor).quantize(COST_STEP, rounding=ROUND_HALF_UP)
                lines.append(replace(line, unit_price=price, price_rule=rule))
                zh, en = RULES[rule]
                notes.append(f"{doc.doc_no} 第 {line.line_no} 行 {line.sku}: 单价 {show(price)} 取自{zh}"
                             f" / line {line.line_no} {line.sku}: unit price {show(price)} from {en}")
            out.append(replace(doc, lines=tuple(lines)))
        return out

    def price(self, doc: Document, line: Line) -> tuple[str, Decimal] | None:
        """(rule, price before tax per base unit) for the line, or None."""
        row = self.list_row(doc, line.sku)
        if row is not None:
            return row.scope, row.price
        last = self.last_prices().get((doc.header.get("customer") or "", line.sku))
        if last is not None:
            return "last", last[1]
        item = self.items.get(line.sku)
        if item is not None and item.sale_price is not None:
            return "item", item.sale_price
        return None

    def list_row(self, doc: Document, sku: str) -> ListPrice | None:
        """The price-list row in force on the document's date: the customer's, else its grade's."""
        customer = self.customers.get(doc.header.get("customer") or "")
        if customer is None:
            return None
        for scope, code in (("customer", customer.code), ("grade", customer.grade)):
            for row in self.lists.get((scope, code, sku), ()):  # latest valid_from first
                if row.valid_on(doc.doc_date):
                    return row
        return None

    def last_prices(self) -> dict[tuple[str, str], tuple[date, Decimal]]:
        if self._last is None:
            self._last = ledger_sales.last_prices(self.conn, self.pairs)
        return self._last

    # --- floors -----------------------------------------------------------------------------

    def floors(self, docs: Sequence[Document], rules: SalesConfig) -> Floors:
        below_min: list[Problem] = []
        below_cost: list[Problem] = []
        for doc in docs:
            if doc.kind not in PRICED_KINDS:
                continue
            for line in doc.lines:
                if line.unit_price is None or not line.factor:
                    continue
                base = line.unit_price / line.factor
                where = line.where.get("unit_price", "")
                minimum, source = self.minimum(doc, line.sku)
                if minimum is not None and base < minimum:
                    below_min.append(problem("price-below-minimum", where, show(line.unit_price), sku=line.sku,
                                             price=show(_round(base)), minimum=show(minimum),
                                             source_zh=source[0], source=source[1]))
                cost = self.cost(doc, line.sku)
                if cost is not None and cost > 0 and base < cost:
                    below_cost.append(problem("price-below-cost", where, show(line.unit_price), sku=line.sku,
                                              price=show(_round(base)), cost=show(_round(cost))))
        problems = (below_min if rules.below_minimum == "refuse" else []) + (below_cost if rules.below_cost == "refuse" else [])
        warnings = (below_min if rules.below_minimum == "warn" else []) + (below_cost if rules.below_cost == "warn" else [])
        return Floors(tuple(problems), tuple(warnings))

    def minimum(self, doc: Document, sku: str) -> tuple[Decimal | None, tuple[str, str]]:
        row = self.list_row(doc, sku)
        if row is not None and row.min_price is not None:
            return row.min_price, RULES[row.scope]
        item = self.items.get(sku)
        return (item.min_price if item else None), ("物料最低售价", "the item's min_price")

    def cost(self, doc: Document, sku: str) -> Decimal | None:
        if self._costs is None:
            self._costs = ledger_sales.current_costs(self.conn, self.skus)
        found = self._costs.get((sku, doc.header.get("warehouse") or ""))
        if found is None and doc.header.get("warehouse"):
            found = self._costs.get((sku, ""))
        if found is None:
            item = self.items.get(sku)
            found = item.std_cost if item else None
        return found


def unpriced(line: Line) -> bool:
    return line.unit_price is None and line.price_incl is None and line.amount is None and line.gross is None


def _round(number: Decimal) -> Decimal:
    return number.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def show(number: Decimal) -> str:
    return format(number.normalize(), "f")
