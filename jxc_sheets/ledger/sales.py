"""Ledger, sales: price lists, and what the sales checks ask of the ledger — a
customer's grade and salesperson, the price-list rows of a file's items, the last
price each customer was sold each item at, the items' prices and current costs.

Every question is asked once per file, for all its customers and items together.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import Connection, delete, func, insert, select

from ..records import MasterRow
from . import queries, schema

ALWAYS = date(1, 1, 1)  # the valid_from of a price-list row whose form left it empty
SALES_KINDS = ("sales_order", "delivery")  # what "the last price to that customer" is read from


@dataclass(frozen=True)
class Customer:
    code: str
    grade: str
    salesperson: str


@dataclass(frozen=True)
class ListPrice:
    scope: str  # customer | grade
    code: str
    sku: str
    valid_from: date
    valid_to: date | None
    price: Decimal  # before tax, per base unit
    min_price: Decimal | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class ItemPrices:
    sale_price: Decimal | None
    min_price: Decimal | None
    std_cost: Decimal | None


def price_list_key(row: MasterRow) -> tuple[str, str, str, date]:
    """(scope, code, sku, valid_from) of a price-list form row."""
    values = row.values
    scope = "customer" if values.get("customer") else "grade"
    return scope, values.get("customer") or values.get("grade") or "", row.key, values.get("valid_from") or ALWAYS


def replace_price_lists(conn: Connection, rows: Sequence[MasterRow]) -> None:
    """Each row replaces the row of its customer (or grade), item and valid_from; the others stay."""
    p = schema.price_lists
    skus_of: dict[tuple[str, str, date], set[str]] = defaultdict(set)
    for scope, code, sku, day in {price_list_key(r) for r in rows}:
        skus_of[(scope, code, day)].add(sku)
    for (scope, code, day), skus in skus_of.items():  # a form names few customers and dates, many items
        for batch in queries.chunks(sorted(skus)):
            conn.execute(delete(p).where(p.c.scope == scope, p.c.code == code, p.c.valid_from == day, p.c.sku.in_(batch)))
    latest = {price_list_key(r): r for r in rows}  # a key twice in one file: the lower row wins
    conn.execute(insert(p), [{"scope": scope, "code": code, "sku": sku, "valid_from": day,
                              "valid_to": r.values.get("valid_to"), "price": r.values["price"],
                              "min_price": r.values.get("min_price"), "remark": r.values.get("remark") or ""}
                             for (scope, code, sku, day), r in latest.items()])


def customers(conn: Connection, codes: Iterable[str]) -> dict[str, Customer]:
    c = schema.customers
    found = {}
    for batch in queries.chunks(sorted(set(codes))):
        for r in conn.execute(select(c.c.code, c.c.grade, c.c.salesperson).where(c.c.code.in_(batch))):
            found[r.code] = Customer(r.code, r.grade or "", r.salesperson or "")
    return found


def list_prices(conn: Connection, skus: Iterable[str], customer_codes: Iterable[str],
                grades: Iterable[str]) -> dict[tuple[str, str, str], list[ListPrice]]:
    """(scope, code, sku) → its rows, latest valid_from first; only the items and customers asked for."""
    p = schema.price_lists
    wanted = [("customer", sorted(set(customer_codes))), ("grade", sorted(set(grades) - {""}))]
    found: dict[tuple[str, str, str], list[ListPrice]] = defaultdict(list)
    for scope, codes in wanted:
        if not codes:
            continue
        for sku_batch in queries.chunks(sorted(set(skus))):
            for code_batch in queries.chunks(codes):
                query = select(p).where(p.c.sku.in_(sku_batch), p.c.scope == scope, p.c.code.in_(code_batch))
                for r in conn.execute(query.order_by(p.c.valid_from.desc())):
                    found[(r.scope, r.code, r.sku)].append(
                        ListPrice(r.scope, r.code, r.sku, r.valid_from, r.valid_to, r.price, r.min_price))
    return found


def last_prices(conn: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[date, Decimal]]:
    """(customer, sku) → (date, price before tax per base unit) of the latest sales order or
    delivery line to that customer with a price; reversals and reversed documents left out."""
    d, l = schema.documents, schema.lines
    pairs = sorted(set(pairs))
    found: dict[tuple[str, str], tuple[date, Decimal]] = {}
    reversed_ids = select(d.c.reverses).where(d.c.reverses.is_not(None))
    for batch in queries.chunks(pairs):
        query = (select(d.c.partner, l.c.sku, d.c.doc_date, l.c.unit_price, l.c.factor)
                 .join(l, l.c.document_id == d.c.id)
                 .where(d.c.kind.in_(SALES_KINDS), d.c.reverses.is_(None), d.c.id.not_in(reversed_ids),
                        l.c.unit_price.is_not(None), queries.pairs_in(d.c.partner, l.c.sku, batch))
                 .order_by(d.c.doc_date, d.c.id, l.c.line_no))
        for r in conn.execute(query):
            found[(r.partner, r.sku)] = (r.doc_date, r.unit_price / r.factor if r.factor else r.unit_price)
    return found


def item_prices(conn: Connection, skus: Iterable[str]) -> dict[str, ItemPrices]:
    i = schema.items
    found = {}
    for batch in queries.chunks(sorted(set(skus))):
        for r in conn.execute(select(i.c.sku, i.c.sale_price, i.c.min_price, i.c.std_cost).where(i.c.sku.in_(batch))):
            found[r.sku] = ItemPrices(r.sale_price, r.min_price, r.std_cost)
    return found


def current_costs(conn: Connection, skus: Iterable[str]) -> dict[tuple[str, str], Decimal]:
    """(sku, warehouse) → the unit cost now, and (sku, "") → the average over its warehouses
    that hold stock (a sales order naming no warehouse is compared with it)."""
    b = schema.balances
    found: dict[tuple[str, str], Decimal] = {}
    for batch in queries.chunks(sorted(set(skus))):
        for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.unit_cost).where(b.c.sku.in_(batch))):
            found[(r.sku, r.warehouse)] = r.unit_cost
        totals = (select(b.c.sku, func.sum(b.c.qty).label("qty"), func.sum(b.c.value).label("value"))
                  .where(b.c.sku.in_(batch), b.c.qty > 0).group_by(b.c.sku))
        for r in conn.execute(totals):  # sums of scaled columns come back as Decimals
            if r.qty:
                found[(r.sku, "")] = r.value / r.qty
    return found
