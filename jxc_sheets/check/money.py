"""Check, the money side: receipts and payments of funds and opening receivables/payables
against the ledger. Codes are known (partner, funds account); a document a payment names
(核销) is a posted one of the same partner with something still open, and no more than
that is settled; the lines settle no more than the payment's amount; an opening item is
not recorded twice."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Sequence

from sqlalchemy import Connection, select

from .. import kinds
from ..config import MoneyConfig
from ..ledger import money as ledger_money
from ..ledger import schema
from ..problems import problem
from ..records import Document, MasterData, MoneyLine, Problem
from .master import resolve_code
from .numbers import _plain, split_posted

PARTY_ZH = {"customer": "客户", "supplier": "供应商"}


@dataclass(frozen=True)
class MoneyChecked:
    to_post: tuple[Document, ...]
    already_posted: tuple[Document, ...]
    problems: tuple[Problem, ...]


def check_money(conn: Connection, docs: Sequence[Document], data: MasterData) -> MoneyChecked:
    if not docs:
        return MoneyChecked((), (), ())
    problems: list[Problem] = []
    resolved = sorted((_numbered(with_money_hash(_resolve(doc, data, problems))) for doc in docs), key=lambda d: d.doc_date)
    new, posted = split_posted(conn, resolved, problems)
    problems += check_settlements(conn, [d for d in new if d.kind in ledger_money.FUNDS_KINDS])
    problems += check_opening(conn, [d for d in new if d.kind == "opening_ar_ap"])
    problems += check_statement_lines(conn, [d for d in new if d.kind == "statement_confirmation"])
    return MoneyChecked(tuple(new), tuple(posted), tuple(problems))


SIDES = {"customer": "customer", "客户": "customer", "supplier": "supplier", "供应商": "supplier"}


def _resolve(doc: Document, data: MasterData, problems: list[Problem]) -> Document:
    kind = kinds.KINDS[doc.kind]
    header = dict(doc.header)
    if doc.kind == "statement_confirmation":
        return _resolve_statement(doc, data, problems)
    for f in kind.header:
        if f.ref and header.get(f.key):
            header[f.key] = _known(f.ref, header[f.key], data, doc.where.get(f.key, ""), problems)
    lines = tuple(_resolve_line(line, data, problems) for line in doc.lines)
    return replace(doc, header=header, lines=lines)


def _resolve_line(line: MoneyLine, data: MasterData, problems: list[Problem]) -> MoneyLine:
    def known(ref: str, key: str, code: str) -> str:
        return _known(ref, code, data, line.where.get(key, ""), problems) if code else code

    return replace(line, partner=known(f"{line.side}s", line.side, line.partner),
                   account=known("funds_accounts", "from_account", line.account),
                   to_account=known("funds_accounts", "to_account", line.to_account))


def _known(ref: str, code: str, data: MasterData, where: str, problems: list[Problem]) -> str:
    found = resolve_code(code, data.codes(ref))
    if found is None:
        problems.append(problem(f"unknown-{ref}", where, code, code=code))
        return code
    return found


def _resolve_statement(doc: Document, data: MasterData, problems: list[Problem]) -> Document:
    """A confirmation's lines belong to the statement's partner."""
    header = dict(doc.header)
    side = SIDES.get((header.get("side") or "").lower())
    if not header.get("partner"):
        return doc  # answered at its cell already
    if side is None:
        problems.append(problem("statement-line-unknown", doc.where.get("side", ""), header.get("side"),
                                ref=doc.doc_no, partner=header.get("partner")))
        return doc
    header["side"] = side
    header["partner"] = _known(f"{side}s", header["partner"], data, doc.where.get("partner", ""), problems)
    lines = tuple(replace(line, side=side, partner=header["partner"]) for line in doc.lines)
    return replace(doc, header=header, lines=lines)


def _numbered(doc: Document) -> Document:
    """A confirmation is recorded under its statement's number and its content: the same
    answers dropped twice are the same document (skipped), later answers a new one."""
    if doc.kind != "statement_confirmation":
        return doc
    return replace(doc, doc_no=f"{doc.doc_no}#{doc.content_hash[:8]}")


def check_statement_lines(conn: Connection, docs: Sequence[Document]) -> list[Problem]:
    """Each line answered names a document of the statement's partner."""
    i = schema.money_items
    problems = []
    for doc in docs:
        refs = {l.ref_doc for l in doc.lines}
        known = set(conn.execute(select(i.c.ref).where(i.c.side == doc.header["side"], i.c.partner == doc.header["partner"],
                                                       i.c.ref.in_(sorted(refs)))).scalars()) if refs else set()
        problems += [problem("statement-line-unknown", line.where.get("ref_doc", ""), line.ref_doc, ref=line.ref_doc,
                             partner=doc.header["partner"]) for line in doc.lines if line.ref_doc not in known]
    return problems


def with_money_hash(doc: Document) -> Document:
    content = {
        "kind": doc.kind,
        "header": {k: _plain(v) for k, v in sorted(doc.header.items())},
        "lines": [[l.ref_doc, _plain(l.amount), l.remark, l.side, l.partner, _plain(l.ref_date), _plain(l.due_date),
                   l.advance] + ([l.line_no, l.confirm] if l.confirm else [])
                  + ([l.account, l.to_account, l.category] if l.account or l.category else []) for l in doc.lines],
    }
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return replace(doc, content_hash=digest)


def check_settlements(conn: Connection, docs: Sequence[Document]) -> list[Problem]:
    """Each document a receipt or payment names is the partner's, posted, and still open;
    the file's documents together settle no more than is open on it, and each settles no
    more than its own amount."""
    problems: list[Problem] = []
    by_side: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        by_side[ledger_money.FUNDS_KINDS[doc.kind][0]].append(doc)
    for side, side_docs in by_side.items():
        found = ledger_money.open_by_ref(conn, side, [l.ref_doc for d in side_docs for l in d.lines])
        left: dict[int, Decimal] = {}
        for doc in side_docs:
            partner, amount = doc.header[side], doc.header["amount"]
            if partner is None or amount is None:
                continue  # already answered at its cell
            settled = Decimal(0)
            for line in doc.lines:
                taken = _settle_line(line, side, partner, found.get(line.ref_doc, []), left, amount - settled, problems)
                settled += taken
            if settled > amount:
                problems.append(problem("settle-over-amount", doc.where.get("amount", ""), amount,
                                        settled=settled, amount=amount))
    return problems


def _settle_line(line: MoneyLine, side: str, partner: str, items: list, left: dict[int, Decimal],
                 unspent: Decimal, problems: list[Problem]) -> Decimal:
    """What the line settles, and its problem if it cannot."""
    where = line.where.get("settle_doc", "")
    if not items:
        problems.append(problem("settle-unknown", where, line.ref_doc, ref=line.ref_doc, party_zh=PARTY_ZH[side],
                                party=side))
        return Decimal(0)
    item = next((i for i in items if i.partner == partner), None)
    if item is None:
        problems.append(problem("settle-other-partner", where, line.ref_doc, ref=line.ref_doc,
                                owner=items[0].partner, partner=partner))
        return Decimal(0)
    open_now = left.setdefault(item.id, item.open)
    if open_now <= 0:
        problems.append(problem("settle-done", where, line.ref_doc, ref=line.ref_doc))
        return Decimal(0)
    wanted = line.amount if line.amount is not None else min(open_now, max(unspent, Decimal(0)))
    if wanted > open_now:
        problems.append(problem("settle-over", line.where.get("settle_amount", where), line.amount,
                                ref=line.ref_doc, open=open_now))
        return Decimal(0)
    left[item.id] = open_now - wanted
    return wanted


def check_opening(conn: Connection, docs: Sequence[Document]) -> list[Problem]:
    """An opening item is recorded once: the same partner and original number twice is refused."""
    i = schema.money_items
    wanted = {(l.side, l.partner, l.ref_doc) for d in docs for l in d.lines}
    if not wanted:
        return []
    recorded = set()
    for side in ("customer", "supplier"):
        refs = sorted({ref for s, _p, ref in wanted if s == side})
        if refs:
            recorded |= {tuple(r) for r in conn.execute(select(i.c.side, i.c.partner, i.c.ref).where(
                i.c.side == side, i.c.ref.in_(refs), i.c.line_no > 0))}
    problems, seen = [], set()
    for doc in docs:
        for line in doc.lines:
            key = (line.side, line.partner, line.ref_doc)
            if key in recorded or key in seen:
                problems.append(problem("opening-repeated", line.where.get("ref_doc", ""), line.ref_doc, ref=line.ref_doc,
                                        partner=line.partner, party_zh=PARTY_ZH[line.side]))
            seen.add(key)
    return problems


CREDIT_KINDS = ("sales_order", "delivery")


def check_credit(conn: Connection, docs: Sequence[Document], rules: MoneyConfig) -> list[Problem]:
    """A sales order or delivery may not take its customer's receivable past their 信用额度:
    what is open now (advances count against it), plus this file's earlier documents of the
    customer, plus this one at Σ qty × price, each line to the cent. Refused at the customer
    cell, or only warned (`money.credit_limit: warn`): the caller decides by the rule."""
    wanted = [d for d in docs if d.kind in CREDIT_KINDS and d.header.get("customer")]
    if not wanted:
        return []
    c = schema.customers
    customers = sorted({d.header["customer"] for d in wanted})
    limits = dict(conn.execute(select(c.c.code, c.c.credit_limit).where(c.c.code.in_(customers), c.c.credit_limit.is_not(None))).all())
    running = {code: ledger_money.balance_of(conn, "customer", code) for code in limits}
    problems = []
    for doc in wanted:
        customer = doc.header["customer"]
        if customer not in limits:
            continue
        amount = sum((ledger_money.cents(l.qty_entered * l.unit_price) for l in doc.lines if l.unit_price is not None),
                     Decimal(0))
        if running[customer] + amount > limits[customer]:
            problems.append(problem("credit-limit", doc.where.get("customer", ""), customer, customer=customer,
                                    limit=limits[customer], open=running[customer], amount=amount,
                                    over=running[customer] + amount - limits[customer]))
        running[customer] += amount
    return problems
