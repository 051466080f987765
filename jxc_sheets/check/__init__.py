"""Stage check: typed documents against the ledger, one module per domain.

- master: codes exist and are active, units are the item's own (alternate units
  convert to the base unit here);
- numbers: a document number is new, or names a document already posted with the
  very same content, which is then skipped;
- tax: each priced line worked out to 金额, 税额 and 价税合计, and its value in stock;
- orders: receipts and deliveries fit the orders they name; orders close;
- counts: counts against the book at their date, approvals of their variances;
- assembly: an assembly or disassembly made into its posting lines, from its BOM;
- landed: a landed cost spread over the receipt lines it names;
- write_down: a write-down's reversals within the provision booked, its lines' figures from the ledger;
- periods: nothing dated in a closed month;
- batches: a tracked item's lines name batches that are there (or FEFO picks them),
  expired batches are not delivered; an item with stock switches only with an opening;
- stock: an issue finds its stock at its date, unless negative stock is allowed;
  nothing is dated on or before a posted count of its item;
- money: receipts and payments of funds settle documents of their own partner that are open;
- sales: empty sale prices from the price lists, the salesperson from the customer, sales
  below their minimum price or below cost;
- service: exchanges made into a return and a delivery, return reasons, feedback rows, repairs;
- quality: rejected receipt quantities to the quarantine warehouse, which sells nothing.

`check` composes them. Everything the ledger is asked is asked once per file, never per line.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

from sqlalchemy import Connection

from .. import kinds
from ..config import BatchesConfig, CountsConfig, MoneyConfig, OrdersConfig, QualityConfig, SalesConfig, TaxConfig
from ..kinds import KINDS
from ..ledger import queries
from ..ledger.counts import CountResult, Decision
from ..ledger.orders import Closure, Fulfilment
from ..records import Document, MasterRow, Problem
from .assembly import expand_assemblies
from .batches import BatchPlan, check_batches
from .landed import expand_landed
from .write_down import check_write_downs
from .counts import backdated_before_counts, check_counts
from .master import check_master_row, resolve, resolve_code
from .money import check_credit, check_money
from .numbers import split_posted, with_hash
from .orders import check_orders
from .periods import check_periods
from .quality import check_quality
from .sales import SalesPrices
from .service import (
    check_feedback, check_repairs, check_return_reasons, expand_exchanges, price_exchanges, repair_updates,
)
from .stock import check_stock, uncosted_issues
from .tax import price_documents


@dataclass(frozen=True)
class Checked:
    to_post: tuple[Document, ...]
    already_posted: tuple[Document, ...]
    master: tuple[MasterRow, ...]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[Problem, ...] = field(default=())  # the file posts; the processing log shows them
    fulfilments: tuple[Fulfilment, ...] = field(default=())
    closures: tuple[Closure, ...] = field(default=())
    counts: tuple[CountResult, ...] = field(default=())
    decisions: tuple[Decision, ...] = field(default=())
    money: tuple[Document, ...] = field(default=())  # receipts and payments of funds, opening receivables/payables
    batches: BatchPlan | None = None  # the batch movements of tracked items, and the batches new to the ledger
    repairs: tuple[Document, ...] = field(default=())  # repairs to record: new ones, and those dropped again to update

    @property
    def posting(self) -> tuple[Document, ...]:
        """Every document this file posts, stock and money."""
        return self.to_post + self.money


def check(conn: Connection, documents: Sequence[Document], master_rows: Sequence[MasterRow],
          allow_negative_stock: bool, order_rules: OrdersConfig = OrdersConfig(),
          count_rules: CountsConfig = CountsConfig(), tax_rules: TaxConfig = TaxConfig(),
          money_rules: MoneyConfig = MoneyConfig(), chart: str = "enterprise",
          batch_rules: BatchesConfig = BatchesConfig(), sales_rules: SalesConfig = SalesConfig(),
          quality_rules: QualityConfig = QualityConfig()) -> Checked:
    data = queries.master_data(conn, [row.key for row in master_rows if row.kind == "items"],
                               [line.sku for doc in documents if doc.kind not in kinds.MONEY_KINDS
                                for line in doc.lines if line.sku])
    problems: list[Problem] = []
    rows = tuple(check_feedback(conn, [check_master_row(row, data, problems) for row in master_rows], problems))
    documents = expand_exchanges(documents, problems)  # before hashing: each leg is a document of its own
    money = check_money(conn, [doc for doc in documents if doc.kind in kinds.MONEY_KINDS], data)
    documents = [doc for doc in documents if doc.kind not in kinds.MONEY_KINDS]
    problems += [*money.problems, *check_periods(conn, money.to_post)]
    # a landed cost is hashed as typed, then spread over the receipt lines it reaches
    spread = expand_landed(conn, [with_hash(doc) for doc in documents if doc.kind == "landed_cost"], problems,
                           [doc.doc_no for doc in documents if doc.kind == "receipt"])
    data.items.read_ahead(line.sku for doc in spread for line in doc.lines)  # the receipts' items it reached
    resolved = sorted([*(with_hash(resolve(doc, data, problems)) for doc in documents if doc.kind != "landed_cost"),
                       *(resolve(doc, data, problems) for doc in spread)], key=lambda d: d.doc_date)
    new, posted = split_posted(conn, resolved, problems)
    new = check_write_downs(conn, new, chart, problems)
    new = check_quality(check_repairs(new, problems), quality_rules, data.warehouses, problems)
    repair_notes: list[str] = []
    updated = repair_updates(conn, posted, problems, repair_notes)
    posted = [doc for doc in posted if (doc.kind, doc.doc_no) not in {(u.kind, u.doc_no) for u in updated}]
    new, assembly_warnings = expand_assemblies(conn, new, data.items, problems)
    partners = queries.partner_tax_rates(conn, {doc.header.get(KINDS[doc.kind].partner_field) or ""
                                                for doc in new if KINDS[doc.kind].partner_field})
    check_return_reasons(new, sales_rules.more_return_reasons, problems)
    sales = SalesPrices(conn, new)
    price_notes: list[str] = []
    new = price_exchanges(conn, new, price_notes)
    new = sales.default_prices(sales.with_salesperson(new), price_notes, ordered=False)
    new = price_documents(new, data.items, partners, tax_rules, problems)
    skus = {line.sku for doc in new for line in doc.lines}
    orders = check_orders(conn, new, posted, order_rules, {sku: data.items[sku].unit for sku in skus if sku in data.items},
                          [quality_rules.quarantine_warehouse] if quality_rules.quarantine_warehouse else [])
    ordered = sales.default_prices(orders.documents, price_notes, ordered=True)  # what the order did not price
    orders = replace(orders, documents=tuple(price_documents(ordered, data.items, partners, tax_rules, problems,
                                                                         again=True)))
    floors = sales.floors(orders.documents, sales_rules)
    problems += floors.problems
    counts = check_counts(conn, orders.documents, count_rules, data.items)
    problems += [*orders.problems, *counts.problems, *check_periods(conn, counts.documents)]
    warnings = orders.warnings + tuple(assembly_warnings) + floors.warnings
    before_counts = backdated_before_counts(conn, counts.documents)
    if count_rules.backdating == "refuse":
        problems += before_counts
    else:
        warnings += tuple(before_counts)
    plan = check_batches(conn, counts.documents, rows, data.items, batch_rules, allow_negative_stock)
    documents = plan.documents
    problems += plan.problems
    warnings += plan.warnings
    if not allow_negative_stock:
        problems += check_stock(conn, documents, data.warehouses)
    else:
        costs = {sku: data.items[sku].std_cost for sku in {line.sku for doc in documents for line in doc.lines}
                 if sku in data.items}
        warnings += tuple(uncosted_issues(conn, documents, costs))
    credit = check_credit(conn, documents, money_rules)
    warnings += tuple(credit) if money_rules.credit_limit == "warn" else ()
    problems += credit if money_rules.credit_limit == "refuse" else []
    return Checked(documents, tuple(posted) + money.already_posted, rows, tuple(problems),
                   tuple(price_notes + repair_notes) + orders.notes + counts.notes + plan.notes, warnings,
                   orders.fulfilments, orders.closures, counts.results, counts.decisions, money.to_post, plan,
                   tuple(doc for doc in documents if doc.kind == "repair") + tuple(updated))


__all__ = ["Checked", "check", "check_stock", "resolve_code"]
