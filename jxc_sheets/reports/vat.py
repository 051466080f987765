"""Report stage: the month's VAT vouchers (增值税), appended to the stock vouchers.

- sales (销售出库, 销售退回 in red): Dr 应收账款 价税合计 / Cr 主营业务收入 金额 + 销项税额
  税额 (a small-scale taxpayer: 应交增值税), by customer;
- input VAT on purchases (and landed costs) a general taxpayer may deduct (专票): Dr 进项税额 /
  Cr 应付账款, by supplier — the goods themselves are booked at their value by the stock vouchers,
  and tax that is not deductible is part of that value;
- 进项税额转出: goods lost by 非正常损失 (an adjustment or count loss whose reason holds
  one of `tax.abnormal_loss`): their cost × the item's rate, from the reason's account;
- 视同销售: goods given away (a reason holding one of `tax.deemed_sale`): output VAT on
  their price (the item's 销售单价, else cost × 110 %, the 组成计税价格), to the reason's
  account.
Rates are the lines' own; an adjustment's, the item's (else `tax.default_rate`).
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Connection, select

from ..config import TaxConfig
from ..ledger import schema
from ..ledger.costing import money
from .month import month_bounds
from .vouchers import Chart, Entry

ZERO = Decimal(0)
DEEMED_MARKUP = Decimal("1.1")  # 组成计税价格 = 成本 × (1 + 成本利润率 10%)


def vat_entries(conn: Connection, month: str, chart: Chart, tax: TaxConfig) -> list[Entry]:
    _start, end = month_bounds(month)
    return [*_sales(conn, month, chart, tax), *_input_vat(conn, month, chart, tax),
            *_losses_and_gifts(conn, month, chart, tax)]


def _priced_lines(conn: Connection, month: str, kinds: tuple[str, ...]) -> Iterable[tuple]:
    """(kind, partner, invoice type, 金额, 税额, 价税合计) of each priced line, a reversal's in
    red; a line without 价税合计 (written before tax existed) at qty × its price, tax 0, as
    ledger/money.py owes it."""
    start, end = month_bounds(month)
    l, d = schema.lines, schema.documents
    rows = conn.execute(select(d.c.kind, d.c.partner, d.c.invoice_type, l.c.qty_entered, l.c.amount, l.c.tax, l.c.gross,
                               l.c.unit_price, l.c.unit_cost)
                        .join(d, d.c.id == l.c.document_id)
                        .where(d.c.kind.in_(kinds), d.c.doc_date >= start, d.c.doc_date <= end))
    for kind, partner, invoice, qty, amount, tax, gross, unit_price, unit_cost in rows:
        red = -1 if qty is not None and qty < 0 else 1
        price = unit_price if unit_price is not None else unit_cost
        if gross is None and kind != "landed_cost":
            if price is None or qty is None:
                continue
            amount = gross = money(abs(qty) * price)
            tax = ZERO
        yield kind, partner, invoice, red * (amount or ZERO), red * (tax or ZERO), red * (gross or ZERO)


def _sales(conn: Connection, month: str, chart: Chart, tax: TaxConfig) -> list[Entry]:
    _start, end = month_bounds(month)
    by_customer: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for kind, customer, _invoice, amount, vat, gross in _priced_lines(conn, month, ("delivery", "sales_return")):
        sign = -1 if kind == "sales_return" else 1
        totals = by_customer[customer]
        totals[0] += sign * amount
        totals[1] += sign * vat
        totals[2] += sign * gross
    vat_account = chart.code("output_vat" if tax.taxpayer == "general" else "vat_payable")
    entries = []
    for customer, (amount, vat, gross) in sorted(by_customer.items()):
        aux = _aux(chart, chart.code("receivable"), customer=customer)
        entries.append(Entry("sales", end, "销售收入", chart.code("receivable"), gross, ZERO, **aux))
        entries.append(Entry("sales", end, "销售收入", chart.code("revenue"), ZERO, amount))
        if vat:
            entries.append(Entry("sales", end, "销项税额", vat_account, ZERO, vat))
    return [e for e in entries if e.debit or e.credit]


def _input_vat(conn: Connection, month: str, chart: Chart, tax: TaxConfig) -> list[Entry]:
    if tax.taxpayer != "general":
        return []
    _start, end = month_bounds(month)
    by_supplier: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for kind, supplier, invoice, _amount, vat, _gross in _priced_lines(conn, month, ("receipt", "purchase_return",
                                                                                     "landed_cost")):
        if vat and (invoice or "专票") == "专票":
            by_supplier[supplier] += -vat if kind == "purchase_return" else vat
    entries = []
    for supplier, vat in sorted(by_supplier.items()):
        if vat:
            payable = chart.code("goods_received")
            entries.append(Entry("input_vat", end, "进项税额", chart.code("input_vat"), vat, ZERO))
            entries.append(Entry("input_vat", end, "进项税额", payable, ZERO, vat, **_aux(chart, payable, supplier=supplier)))
    return entries


def _losses_and_gifts(conn: Connection, month: str, chart: Chart, tax: TaxConfig) -> list[Entry]:
    """进项税额转出 and 视同销售, from the month's outgoing adjustments and count losses by their reason."""
    start, end = month_bounds(month)
    m, d, i = schema.movements, schema.documents, schema.items
    query = (select(d.c.reason, m.c.qty, m.c.value, i.c.tax_rate, i.c.sale_price)
             .join(d, d.c.id == m.c.document_id).outerjoin(i, i.c.sku == m.c.sku)
             .where(m.c.kind.in_(("adjustment", "count", "count_approval")), m.c.qty < 0,
                    m.c.doc_date >= start, m.c.doc_date <= end))
    out_vat: dict[str, Decimal] = defaultdict(lambda: ZERO)
    deemed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for reason, qty, value, item_rate, sale_price in conn.execute(query):
        reason = reason or ""
        rate = item_rate if item_rate is not None else tax.default_rate
        account = chart.for_reason(reason, "other")
        if tax.taxpayer == "general" and any(word in reason for word in tax.abnormal_loss):
            out_vat[account] += money(-value * rate)
        elif any(word in reason for word in tax.deemed_sale):
            price = -qty * sale_price if sale_price is not None else -value * DEEMED_MARKUP
            deemed[account] += money(price * (rate if tax.taxpayer == "general" else tax.small_rate))
    entries = []
    for account, amount in sorted(out_vat.items()):
        if amount:
            entries += [Entry("input_vat_out", end, "进项税额转出", account, amount, ZERO),
                        Entry("input_vat_out", end, "进项税额转出", chart.code("input_vat_out"), ZERO, amount)]
    vat_account = chart.code("output_vat" if tax.taxpayer == "general" else "vat_payable")
    for account, amount in sorted(deemed.items()):
        if amount:
            entries += [Entry("deemed_sale", end, "视同销售销项税额", account, amount, ZERO),
                        Entry("deemed_sale", end, "视同销售销项税额", vat_account, ZERO, amount)]
    return entries


def _aux(chart: Chart, account: str, **values: str) -> dict[str, str]:
    dims = chart.carries.get(account, ())
    return {key: value for key, value in values.items() if key in dims}
