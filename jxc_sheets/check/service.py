"""Check, after-sales and customer service: exchanges made into their two legs,
return reasons from the list, feedback rows against the log.

- **Exchange** (换货单): its 退回 lines become a sales return and its 换出 lines a
  delivery, both under the exchange's number and in the one transaction of its file:
  both legs post, or neither (a leg short of stock, a bad cell anywhere, refuses the
  whole file). The return leg names the original delivery (原出库单号) and comes back
  at its cost; the delivery leg names no sales order and takes its price as any
  delivery does (check/sales.py). An exchange must have both legs.
- **Return reasons**: a return line's 退货原因 is one of the six, or one that
  `sales.more_return_reasons` adds.
- **Feedback**: category and status are among the known words; a new number carries
  its date, customer and category, a known one may carry only what changes.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from sqlalchemy import Connection

from .. import kinds
from ..ledger import service as ledger_service
from ..problems import problem
from ..records import Document, MasterRow, Problem
from .sales import RULES, show, unpriced

EXCHANGE_REASON = "换货 exchange"


def expand_exchanges(docs: Sequence[Document], problems: list[Problem]) -> list[Document]:
    out = []
    for doc in docs:
        if doc.kind != "exchange":
            out.append(doc)
            continue
        legs: dict[str, list] = {"return": [], "out": []}
        before = len(problems)
        for line in doc.lines:
            leg = kinds.EXCHANGE_LEGS.get(line.leg.strip().lower())
            if leg is None:
                problems.append(problem("exchange-leg", line.where.get("leg", ""), line.leg))
                continue
            legs[leg].append(line)
        missing = [zh for leg, zh in (("return", "退回"), ("out", "换出")) if not legs[leg]]
        if missing and len(problems) == before:
            problems.append(problem("exchange-both-legs", doc.where.get("doc_no", ""), doc.doc_no,
                                    doc_no=doc.doc_no, missing="、".join(missing)))
        if missing:
            continue
        header = {**doc.header, "reason": EXCHANGE_REASON}
        out.append(replace(doc, kind="sales_return", header=header, lines=tuple(legs["return"])))
        out.append(replace(doc, kind="delivery", header={**header, "ref_doc": None},
                           lines=tuple(replace(line, return_reason="") for line in legs["out"])))
    return out


def price_exchanges(conn: Connection, docs: Sequence[Document], notes: list[str]) -> list[Document]:
    """An exchange's legs priced alike, so the goods sent instead cost the customer what the
    goods returned were worth: a return line left without a price takes the original
    delivery's (原出库单号) price of its item; a line sent out without one takes the price
    of the same item returned. What is still unpriced then takes a delivery's rules."""
    returns = {doc.doc_no: doc for doc in docs if doc.kind == "sales_return" and doc.header.get("reason") == EXCHANGE_REASON}
    if not returns:
        return list(docs)
    original = ledger_service.delivered_prices(conn, {d.header.get("ref_doc") for d in returns.values() if d.header.get("ref_doc")})

    def priced(doc: Document, line, base: Decimal | None, rule: str):
        if base is None or not unpriced(line):
            return line
        price = (base * line.factor).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        zh, en = RULES[rule]
        notes.append(f"{doc.doc_no} 第 {line.line_no} 行 {line.sku}: 单价 {show(price)} 取自{zh}"
                     f" / line {line.line_no} {line.sku}: unit price {show(price)} from {en}")
        return replace(line, unit_price=price, price_rule=rule)

    out = []
    back: dict[str, dict[str, Decimal]] = {}
    for doc in docs:
        if doc.doc_no in returns and doc.kind == "sales_return":
            ref = doc.header.get("ref_doc") or ""
            doc = replace(doc, lines=tuple(priced(doc, line, original.get((ref, line.sku)), "original") for line in doc.lines))
            back[doc.doc_no] = {line.sku: line.unit_price / line.factor for line in doc.lines
                                if line.unit_price is not None and line.factor}
        out.append(doc)
    return [replace(doc, lines=tuple(priced(doc, line, back[doc.doc_no].get(line.sku), "exchange") for line in doc.lines))
            if doc.kind == "delivery" and doc.doc_no in back and doc.header.get("reason") == EXCHANGE_REASON else doc
            for doc in out]


def check_return_reasons(docs: Sequence[Document], more: Sequence[str], problems: list[Problem]) -> None:
    allowed = (*kinds.RETURN_REASONS, *more)
    for doc in docs:
        if doc.kind not in ("sales_return", "purchase_return"):
            continue
        for line in doc.lines:
            if line.return_reason and line.return_reason not in allowed:
                problems.append(problem("return-reason", line.where.get("return_reason", ""), line.return_reason,
                                        allowed="、".join(allowed)))


def check_feedback(conn: Connection, rows: Sequence[MasterRow], problems: list[Problem]) -> list[MasterRow]:
    """The rows with category and status in their one spelling (咨询…, open / resolved)."""
    wanted = [r for r in rows if r.kind == "feedback"]
    if not wanted:
        return list(rows)
    known = ledger_service.known_numbers(conn, [r.key for r in wanted])
    out = []
    for row in rows:
        if row.kind != "feedback":
            out.append(row)
            continue
        values = dict(row.values)
        category = values.get("category")
        if category:
            values["category"] = kinds.FEEDBACK_CATEGORIES.get(str(category).strip().lower())
            if values["category"] is None:
                problems.append(problem("feedback-category", row.where.get("category", ""), category))
        status = values.get("status")
        if status:
            values["status"] = kinds.FEEDBACK_STATUSES.get(str(status).strip().lower())
            if values["status"] is None:
                problems.append(problem("feedback-status", row.where.get("status", ""), status))
        if row.key not in known:
            for key in ("doc_date", "customer", "category"):
                if not row.values.get(key):
                    label = kinds.KINDS["feedback"].field(key).label
                    problems.append(problem("feedback-new", row.where.get(key, ""), "", label=label, doc_no=row.key))
            known.add(row.key)  # a later row of the same file updates it
        out.append(replace(row, values=values))
    return out


REPAIR_REASON = "维修 repair"  # finance.reasons books the parts to 销售费用 by the word 维修
REPAIR_STATUS_EN = {"in_hand": "in hand", "repaired": "repaired", "returned": "returned"}


def _repair_status(doc: Document, problems: list[Problem]) -> Document:
    typed = str(doc.header.get("status") or "").strip().lower()
    status = kinds.REPAIR_STATUSES.get(typed)
    if status is None:
        problems.append(problem("repair-status", doc.where.get("status", ""), doc.header.get("status")))
        status = "in_hand"
    return replace(doc, header={**doc.header, "status": status})


def check_repairs(docs: Sequence[Document], problems: list[Problem]) -> list[Document]:
    """New repairs: a known status, and a warehouse for the parts they use."""
    out = []
    for doc in docs:
        if doc.kind == "repair":
            doc = _repair_status(doc, problems)
            if doc.lines and not doc.header.get("warehouse"):
                problems.append(problem("required", doc.where.get("warehouse", ""), "",
                                        label=kinds.KINDS["repair"].field("warehouse").label, key="warehouse"))
            doc = replace(doc, header={**doc.header, "reason": REPAIR_REASON})
        out.append(doc)
    return out


def repair_updates(conn: Connection, posted: Sequence[Document], problems: list[Problem],
                   notes: list[str]) -> list[Document]:
    """Repairs dropped again whose status, promised date, technician or returned date changed."""
    wanted = [_repair_status(d, problems) for d in posted if d.kind == "repair"]
    rows = ledger_service.repair_rows(conn, [d.doc_no for d in wanted])
    changed = []
    for doc in wanted:
        row = rows.get(doc.doc_no)
        h = doc.header
        if row is None or (row.status, row.promised_date, row.technician or "") != \
                (h["status"], h.get("promised_date"), h.get("technician") or "") or \
                (h.get("returned_date") and h.get("returned_date") != row.returned_date):
            changed.append(doc)
            notes.append(f"{doc.doc_no}: 维修状态 {h['status']} 已更新 / repair updated: {REPAIR_STATUS_EN[h['status']]}")
    return changed
