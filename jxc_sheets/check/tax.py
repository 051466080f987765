"""Check, tax (增值税): every priced line worked out to 金额, 税额 and 价税合计 from what
was typed, and what its goods are worth in stock.

What a line may give, the first that is there deciding (per entered unit, to the cent):
- 价税合计 (gross): 金额 = gross ÷ (1 + rate), 税额 = gross − 金额;
- 金额 (amount): 税额 = 金额 × rate, 价税合计 = 金额 + 税额;
- 含税单价: 价税合计 = qty × it, then as from the gross;
- 单价 (before tax): 金额 = qty × it, then as from the amount.
A 税额 typed from the invoice wins, within 0.06 of 金额 × rate (the per-line tolerance
of the VAT invoice system); further off is a problem at its cell.

Rounding is per line, half-up to the cent, as a VAT invoice prints it: the document's
税额 is the sum of its lines' 税额, which is the invoice's 合计税额.

The rate: the line's own 税率, else its partner's, else its item's, else
`tax.default_rate`. A small-scale taxpayer (小规模纳税人) sells at `tax.small_rate`.

What goods are worth in stock: 金额 when the input VAT is deductible — a general
taxpayer holding a 专票 (the default on purchases) — else 价税合计: a 普票, no invoice, or
any purchase of a small-scale taxpayer carries its tax into the cost.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Mapping, Sequence

from ..config import TaxConfig
from ..kinds import KINDS, Kind
from ..ledger.costing import money, rate
from ..problems import problem
from ..records import Document, Item, Line, Problem, evolver

ZERO = Decimal(0)
ONE = Decimal(1)
TOLERANCE = Decimal("0.06")
PURCHASES = {"purchase_order", "receipt", "purchase_return"}
INVOICE_TYPES = {
    "专票": ("专票", "专用发票", "增值税专用发票", "special", "special vat invoice"),
    "普票": ("普票", "普通发票", "增值税普通发票", "电子普票", "ordinary"),
    "无票": ("无票", "无", "没有", "none", "no invoice"),
}
NEEDS_PRICE = {"purchase_order", "sales_order", "opening"}


def price_documents(docs: Sequence[Document], items: Mapping[str, Item], partner_rates: Mapping[str, Decimal | None],
                    rules: TaxConfig, problems: list[Problem], again: bool = False) -> list[Document]:
    """The documents with each priced line worked out as far as what it gives allows; a
    line with nothing to go on stays as it is (a receipt against an order takes the
    order's price, then comes here `again`: a missing price is not reported twice)."""
    found: list[Problem] = []
    priced = [_priced(doc, KINDS[doc.kind], items, partner_rates, rules, found)
              if KINDS[doc.kind].taxed or doc.kind == "opening" else doc for doc in docs]
    problems += [p for p in found if not (again and p.code == "price-required")]
    return priced


def _priced(doc: Document, kind: Kind, items: Mapping[str, Item], partner_rates: Mapping[str, Decimal | None],
            rules: TaxConfig, problems: list[Problem]) -> Document:
    invoice = _invoice_type(doc, problems) if doc.kind in PURCHASES else None
    partner = doc.header.get(kind.partner_field) if kind.partner_field else None
    deductible = doc.kind in PURCHASES and rules.taxpayer == "general" and invoice == "专票"
    lines = []
    for line in doc.lines:
        if line.gross is not None and line.amount is not None and line.stock_amount is not None:
            lines.append(line)  # worked out already
            continue
        if doc.kind == "opening" and doc.header.get("switch_tracking") and line.unit_cost is None and line.amount is None:
            lines.append(line)  # it may put stock already held into batches: check/batches.py asks for a cost if not
            continue
        if doc.kind == "opening":
            line_rate = ZERO  # stock at its cost: no invoice
        elif doc.kind in PURCHASES:
            line_rate = _rate(line, partner_rates.get(partner), items, rules, ZERO if invoice == "无票" else None)
        else:
            line_rate = _rate(line, partner_rates.get(partner), items, rules, rules.small_rate if rules.taxpayer == "small" else None)
        lines.append(_line(line, kind, line_rate, deductible or doc.kind == "opening", problems))
    header = {**doc.header, "invoice_type": invoice} if invoice else doc.header
    return replace(doc, header=header, lines=tuple(lines))


def _invoice_type(doc: Document, problems: list[Problem]) -> str:
    typed = doc.header.get("invoice_type")
    if not typed:
        return "专票"
    text = str(typed).strip().lower()
    for name, spellings in INVOICE_TYPES.items():
        if text in spellings:
            return name
    problems.append(problem("invoice-type", doc.where.get("invoice_type", ""), typed))
    return "专票"


def _rate(line: Line, partner_rate: Decimal | None, items: Mapping[str, Item], rules: TaxConfig,
          forced: Decimal | None) -> Decimal:
    if line.tax_rate is not None:
        return line.tax_rate
    if forced is not None:
        return forced
    if partner_rate is not None:
        return partner_rate
    item = items.get(line.sku)
    return item.tax_rate if item and item.tax_rate is not None else rules.default_rate


def _line(line: Line, kind: Kind, line_rate: Decimal, deductible: bool, problems: list[Problem]) -> Line:
    price_key = kind.price_field
    price = getattr(line, price_key) if price_key else None
    qty = abs(line.qty_entered)
    where = line.where
    if price is not None and line.price_incl is not None and abs(price * (ONE + line_rate) - line.price_incl) > Decimal("0.01"):
        problems.append(problem("price-mismatch", where.get("price_incl", ""), line.price_incl,
                                price_incl=_show(line.price_incl), price=_show(price), rate=_percent(line_rate)))
    if line.gross is not None:
        gross = line.gross
        amount = line.amount if line.amount is not None else \
            gross - line.tax if line.tax is not None else money(gross / (ONE + line_rate))
    elif line.amount is not None:
        amount = line.amount
        gross = None
    elif price is not None:
        amount, gross = money(qty * price), None
    elif line.price_incl is not None:
        gross = money(qty * line.price_incl)
        amount = gross - line.tax if line.tax is not None else money(gross / (ONE + line_rate))
    else:
        if kind.name in NEEDS_PRICE:
            problems.append(problem("price-required", where.get(price_key or "amount", ""), "", sku=line.sku))
        return line
    expected = money(amount * line_rate)
    tax = line.tax if line.tax is not None else (gross - amount if gross is not None else expected)
    if abs(tax - expected) > TOLERANCE:
        problems.append(problem("tax-mismatch", where.get("tax" if line.tax is not None else "gross", ""), tax,
                                tax=_show(tax), amount=_show(amount), rate=_percent(line_rate), expected=_show(expected)))
    gross = amount + tax
    unit = price if price is not None else (rate(amount / qty) if qty else ZERO)
    worked_out = (line_rate, amount, tax, gross,
                  line.price_incl if line.price_incl is not None else (rate(gross / qty) if qty else ZERO),
                  amount if deductible else gross)
    return PRICED[price_key](line, unit, *worked_out) if price_key else PRICED[None](line, *worked_out)


WORKED_OUT = ("tax_rate", "amount", "tax", "gross", "price_incl", "stock_amount")
PRICED = {key: evolver(Line, *(key, *WORKED_OUT) if key else WORKED_OUT)
          for key in {kind.price_field for kind in KINDS.values()}}  # each kind's line made priced


def _show(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _percent(fraction: Decimal) -> str:
    return f"{_show(fraction * 100)}%"
