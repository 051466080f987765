"""Stage check, the orders part: receipts and deliveries against the orders they
name, short-close requests, and sales orders beyond what is available.

- A receipt whose `ref_doc` names a purchase order (a delivery, a sales order)
  fulfils that order's lines by sku, oldest line first. It may not take more
  than is open plus the tolerance; the problem at the qty cell says what is
  still open. A receipt line without a unit cost takes the order's price; one
  whose cost is off the order's price by more than the tolerance is accepted
  with a warning.
- An order dropped again with its close marker set is a short-close request:
  what is still open on it is cancelled. (Its content hash leaves the marker
  out, so it is recognised as the same order.)
- A sales order for more than is available (on hand less what open sales
  orders already hold) is accepted as a backorder, with a warning.
Warnings are Problems too — same catalogue, same format — but they never stop
a file from posting; they go to the processing log.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence

from sqlalchemy import Connection

from .. import kinds
from ..config import OrdersConfig
from ..ledger import orders as ledger_orders
from ..ledger.orders import Closure, Fulfilment, Order
from ..problems import problem
from ..records import Document, Line, Problem

COST_STEP = Decimal("0.000001")
HUNDRED = Decimal(100)
ORDER_WORDS = {  # order kind → (order zh, order en, party zh, fulfilling zh)
    "purchase_order": ("采购订单", "purchase order", "供应商", "收货"),
    "sales_order": ("销售订单", "sales order", "客户", "发货"),
}


@dataclass(frozen=True)
class OrderCheck:
    documents: tuple[Document, ...]  # with prices taken from their orders
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    fulfilments: tuple[Fulfilment, ...]
    closures: tuple[Closure, ...]
    notes: tuple[str, ...]


def check_orders(conn: Connection, new: Sequence[Document], posted: Sequence[Document],
                 rules: OrdersConfig, base_units: Mapping[str, str], unsellable: Sequence[str] = ()) -> OrderCheck:
    """`new` are the file's documents to post (in date order), `posted` those already in the ledger;
    `unsellable`: warehouses whose stock is not available to sell (quarantine)."""
    run = _Run(conn, rules, base_units, unsellable)
    documents = tuple(run.document(doc) for doc in new)
    for doc in posted:
        run.close_request(doc)
    return OrderCheck(documents, tuple(run.problems), tuple(run.warnings), tuple(run.fulfilments),
                      tuple(run.closures), tuple(run.notes))


class _Run:
    """One file's pass: orders are loaded once and updated in memory as its documents use them."""

    def __init__(self, conn: Connection, rules: OrdersConfig, base_units: Mapping[str, str], unsellable: Sequence[str] = ()):
        self.conn, self.rules, self.base_units, self.unsellable = conn, rules, base_units, unsellable
        self.orders: dict[tuple[str, str], Order | None] = {}
        self.available: dict[str, Decimal] | None = None
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.fulfilments: list[Fulfilment] = []
        self.closures: list[Closure] = []
        self.notes: list[str] = []

    def order(self, kind: str, doc_no: str) -> Order | None:
        if (kind, doc_no) not in self.orders:
            self.orders[(kind, doc_no)] = ledger_orders.orders_by_no(self.conn, kind, [doc_no]).get(doc_no)
        return self.orders[(kind, doc_no)]

    def document(self, doc: Document) -> Document:
        kind = kinds.KINDS[doc.kind]
        if kind.is_order and doc.header.get("close"):
            self.problems.append(problem("order-close-new", doc.where.get("close", ""), "Y", doc_no=doc.doc_no))
        if doc.kind == "sales_order":
            self.backorders(doc)
        if kind.fulfils and doc.header.get("ref_doc"):
            return self.fulfil(doc, kind)
        return doc  # a receipt without an order has its unit costs: validate requires them

    # --- receipts and deliveries against an order ------------------------------

    def fulfil(self, doc: Document, kind: kinds.Kind) -> Document:
        ref = doc.header["ref_doc"]
        order_zh, order_en, party_zh, done_zh = ORDER_WORDS[kind.fulfils]
        words = dict(ref=ref, order_zh=order_zh, order_en=order_en, done_zh=done_zh)
        where = doc.where.get("ref_doc", "")
        order = self.order(kind.fulfils, ref)
        if order is None:
            self.problems.append(problem("order-unknown", where, ref, **words))
            return doc
        party = doc.header.get(kind.partner_field)
        if order.partner != party:
            self.problems.append(problem("order-other-party", where, ref, owner=order.partner, party=party,
                                         party_zh=party_zh, **words))
            return doc
        if not order.is_open:
            self.problems.append(problem("order-closed", where, ref, **words))
            return doc
        lines = []
        for line in doc.lines:
            order, line = self.fulfil_line(doc, line, order, words)
            lines.append(line)
        self.orders[(kind.fulfils, ref)] = order
        return replace(doc, lines=tuple(lines))

    def fulfil_line(self, doc: Document, line: Line, order: Order, words: dict) -> tuple[Order, Line]:
        ordered = [l for l in order.lines if l.sku == line.sku]
        if not ordered:
            self.problems.append(problem("order-sku-not-ordered", line.where.get("sku", ""), line.sku, sku=line.sku, **words))
            return order, line
        tolerance = self.tolerance(order.kind)
        open_qty = sum((order.outstanding(l) for l in ordered), Decimal(0))
        allowed = sum((l.ordered * (1 + tolerance / HUNDRED) - l.fulfilled for l in ordered), Decimal(0))
        if line.qty > allowed:
            self.problems.append(problem(
                "order-over", line.where.get("qty", ""), line.qty_entered, sku=line.sku, open=_show(open_qty),
                unit=self.base_units.get(line.sku, ""), qty=_show(line.qty), tolerance=_show(tolerance), **words))
            return order, line
        left = line.qty
        for i, order_line in enumerate(ordered):
            take = left if i == len(ordered) - 1 else min(left, order.outstanding(order_line))
            if take > 0:
                self.fulfilments.append(Fulfilment(doc.kind, doc.doc_no, line.line_no, order.id,
                                                   order_line.line_no, line.sku, take, doc.doc_date))
                order = order.with_fulfilled(order_line.line_no, take)
                left -= take
        return order, self.priced(doc, line, ordered[0].unit_price, words)

    def tolerance(self, order_kind: str) -> Decimal:
        pct = self.rules.over_receipt_pct if order_kind == "purchase_order" else self.rules.over_delivery_pct
        return Decimal(str(pct))

    def priced(self, doc: Document, line: Line, base_price: Decimal | None, words: dict) -> Line:
        """The order's price where the line has none; a warning where the two differ too much."""
        if base_price is None:
            return line
        price = (base_price * line.factor).quantize(COST_STEP, rounding=ROUND_HALF_UP)
        field = "unit_cost" if doc.kind == "receipt" else "unit_price"
        own = getattr(line, field)
        if own is None:
            return replace(line, **{field: price})
        limit = Decimal(str(self.rules.price_tolerance_pct))
        if price and abs(own - price) * HUNDRED > price * limit:
            self.warnings.append(problem("price-off-order", line.where.get(field, ""), own, sku=line.sku,
                                         price=_show(own), ordered=_show(price), tolerance=_show(limit), **words))
        return line

    # --- short-closing ------------------------------------------------------------

    def close_request(self, doc: Document) -> None:
        if not (kinds.KINDS[doc.kind].is_order and doc.header.get("close")):
            return
        order = self.order(doc.kind, doc.doc_no)
        if order is None or order.closed:
            self.notes.append(f"{doc.doc_no}: 已关闭 / already closed")
            return
        self.closures.append(Closure(order.id, order.doc_no, doc.header.get("close_reason") or ""))
        self.orders[(doc.kind, doc.doc_no)] = replace(order, closed=True)
        self.notes.append(f"{doc.doc_no}: 订单已关闭, 未完成数量取消 / order closed, what was open is cancelled")

    # --- backorders -----------------------------------------------------------------

    def backorders(self, doc: Document) -> None:
        if self.available is None:
            on_hand = ledger_orders.on_hand_by_sku(self.conn, exclude=self.unsellable)
            reserved = ledger_orders.reserved_by_sku(self.conn) if self.rules.reserve_stock else {}
            self.available = {sku: qty - reserved.get(sku, Decimal(0)) for sku, qty in on_hand.items()}
            for sku, qty in reserved.items():
                self.available.setdefault(sku, -qty)
        for line in doc.lines:
            available = self.available.get(line.sku, Decimal(0))
            if line.qty > available:
                short = line.qty - max(available, Decimal(0))
                self.warnings.append(problem("backorder", line.where.get("qty", ""), line.qty_entered, sku=line.sku,
                                             available=_show(max(available, Decimal(0))), short=_show(short),
                                             doc_no=doc.doc_no))
            if self.rules.reserve_stock:
                self.available[line.sku] = available - line.qty


def _show(qty: Decimal) -> str:
    return format(qty.normalize(), "f")
