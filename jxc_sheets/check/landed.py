"""Check, landed cost (费用分摊单): an expense spread over the receipt lines it names.

Each form line names a receipt (and optionally one of its items); the expense is
split over the receipt lines reached by their amount (金额, the default), their
quantity, their weight (qty × the item master's 单位重量), or by hand (each form line's 分摊金额, split over its receipt's lines by
amount), to the cent, the last line taking the remainder; the tax the same way.
Refused: a receipt not posted yet (the expense waits for it: drop the receipt
first, or with the form in one batch — the pipeline posts a batch's receipts before
the landed costs naming them — or the form again once the goods are in), a receipt
in the same file (it has no movements to follow yet), a receipt in a closed month,
an expense dated before its receipt, by weight an item with no weight.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Sequence

from sqlalchemy import Connection

from ..ledger import landed, periods
from ..ledger.costing import ZERO
from ..ledger.repost import split_by_weights
from ..problems import problem
from ..records import Document, Line, Problem

BASES = {"": "amount", "amount": "amount", "金额": "amount", "按金额": "amount", "qty": "qty", "数量": "qty",
         "按数量": "qty", "weight": "weight", "重量": "weight", "按重量": "weight", "manual": "manual", "手工": "manual"}


def expand_landed(conn: Connection, docs: Sequence[Document], problems: list[Problem],
                  same_file: Sequence[str] = ()) -> list[Document]:
    """Each landed cost with one line per receipt line it reaches, carrying its share
    (amount, tax) and the receipt movement it follows. `same_file`: the receipts the
    file itself holds."""
    if not docs:
        return []
    receipts = landed.receipt_lines(conn, {line.receipt_no for doc in docs for line in doc.lines})
    closed = periods.closed_among(conn, {r.doc_date for lines in receipts.values() for r in lines})
    by_weight = [doc for doc in docs if BASES.get(_basis_text(doc)) == "weight"]
    weights = landed.item_weights(conn, {r.sku for doc in by_weight for line in doc.lines
                                         for r in receipts.get(line.receipt_no, ())})
    return [_expand(doc, receipts, closed, problems, weights, set(same_file)) for doc in docs]


def _basis_text(doc: Document) -> str:
    return str(doc.header.get("basis") or "").strip().lower()


def _expand(doc: Document, receipts, closed, problems: list[Problem], weights, same_file) -> Document:
    before = len(problems)
    basis = BASES.get(_basis_text(doc))
    if basis is None:
        problems.append(problem("landed-basis", doc.where.get("basis", ""), doc.header.get("basis")))
    reached: list[tuple[Line, landed.ReceiptLine]] = []
    seen: set = set()  # the receipt movements reached so far: each takes its share once
    for line in doc.lines:
        found = receipts.get(line.receipt_no)
        cell = line.where.get("receipt_no", "")
        if not found:
            code = "landed-receipt-same-file" if line.receipt_no in same_file else "landed-receipt-unknown"
            problems.append(problem(code, cell, line.receipt_no, ref=line.receipt_no))
            continue
        if found[0].doc_date in closed:
            problems.append(problem("landed-receipt-closed", cell, line.receipt_no, ref=line.receipt_no,
                                    month=closed[found[0].doc_date]))
        if found[0].doc_date > doc.doc_date:
            problems.append(problem("landed-before-receipt", doc.where.get("doc_date", ""), doc.doc_date.isoformat(),
                                    ref=line.receipt_no, date=found[0].doc_date.isoformat()))
        lines = [r for r in found if not line.sku or r.sku == line.sku]
        if not lines:
            problems.append(problem("landed-sku-not-on-receipt", line.where.get("sku", ""), line.sku,
                                    sku=line.sku, ref=line.receipt_no))
        if basis == "manual" and line.amount is None:
            problems.append(problem("required", line.where.get("amount", ""), label="分摊金额", key="amount"))
        for r in lines:
            if r.movement not in seen:
                seen.add(r.movement)
                reached.append((line, r))
    if basis == "weight":
        weightless = sorted({r.sku for _l, r in reached if not weights.get(r.sku)})
        if weightless:
            problems.append(problem("landed-no-weight", doc.where.get("basis", ""), doc.header.get("basis"),
                                    skus=", ".join(weightless)))
    total = doc.header.get("expense_amount") or ZERO
    if basis == "manual" and len(problems) == before:
        typed = sum((line.amount or ZERO for line in doc.lines), ZERO)
        if typed != total:
            problems.append(problem("landed-manual-total", doc.where.get("expense_amount", ""), str(total),
                                    total=str(total), lines=str(typed)))
    if len(problems) > before or not reached:
        return replace(doc, lines=())
    amounts = _shares(doc, basis, reached, total, weights)
    taxes = split_by_weights(doc.header.get("expense_tax") or ZERO, [(r.movement, amounts[r.movement]) for _l, r in reached])
    return replace(doc, lines=tuple(
        Line(n, r.sku, ZERO, "", ZERO, Decimal(1), None, None, "", line.remark, r.warehouse, line.where,
             amount=amounts[r.movement], tax=taxes[r.movement], gross=amounts[r.movement] + taxes[r.movement],
             follows=r.movement, receipt_no=r.doc_no)
        for n, (line, r) in enumerate(reached, start=1)))


def _shares(doc: Document, basis: str, reached, total: Decimal, weights) -> dict[int, Decimal]:
    if basis != "manual":
        weigh = {"qty": lambda r: r.qty, "weight": lambda r: r.qty * weights[r.sku]}.get(basis, lambda r: r.amount)
        return split_by_weights(total, [(r.movement, weigh(r)) for _l, r in reached])
    shares: dict[int, Decimal] = {}
    for line in doc.lines:  # each typed amount over its own receipt lines, by their amounts
        mine = [r for typed, r in reached if typed is line]
        shares.update(split_by_weights(line.amount or ZERO, [(r.movement, r.amount) for r in mine]) if mine else {})
    return shares
