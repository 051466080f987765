"""Report stage: the month's vouchers of the money side (收款, 付款, 资金转账, 其他收支),
appended to the stock and VAT vouchers.

- 收款单: Dr 银行存款 (库存现金) / Cr 应收账款 for what it settled by the month's end, and
  预收账款 for the rest (an advance); 付款单 the mirror: Dr 应付账款 and 预付账款 / Cr the
  funds account. A reversal books the same in red.
- an advance of an earlier month settling documents this month: Dr 预收账款 / Cr 应收账款
  (Dr 应付账款 / Cr 预付账款).
- 资金转账: Dr the receiving account / Cr the paying one (nothing when both are one GL account);
- 其他收支: income Cr, expense Dr, the account the category names in `finance.reasons`,
  else 其他业务收入 / 管理费用.
The funds accounts' GL accounts: `finance.funds_accounts`, else 库存现金 for type 现金,
银行存款 for the others. 期初应收应付 is no voucher: it is the GL's opening balance.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, func, select

from ..config import FinanceConfig
from ..ledger import schema
from .month import month_bounds
from .vouchers import Chart, Entry

ZERO = Decimal(0)
SIDES = {"collection": ("customer", "receivable", "advance_received"),
         "payment": ("supplier", "goods_received", "advance_paid")}


def money_entries(conn: Connection, month: str, chart: Chart, finance: FinanceConfig) -> list[Entry]:
    start, end = month_bounds(month)
    gl = _funds_gl(conn, chart, finance)
    return [*_funds_documents(conn, start, end, chart, gl), *_advances_applied(conn, start, end, chart),
            *_transfers_and_others(conn, start, end, chart, gl)]


def _funds_gl(conn: Connection, chart: Chart, finance: FinanceConfig) -> dict[str, str]:
    f = schema.funds_accounts
    return {code: finance.funds_accounts.get(code) or chart.code("cash" if "现金" in kind or "cash" in kind.lower() else "bank")
            for code, kind in conn.execute(select(f.c.code, f.c.type))}


def _funds_documents(conn: Connection, start: date, end: date, chart: Chart, gl: dict[str, str]) -> list[Entry]:
    """Each 收款单 and 付款单 of the month: what it settled by the month's end, the rest an advance."""
    d, e, i, s = schema.documents, schema.fund_entries, schema.money_items, schema.settlements
    by_document: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for document_id, amount in conn.execute(
            select(i.c.document_id, s.c.amount).join(i, i.c.id == s.c.credit_item_id)
            .join(d, d.c.id == i.c.document_id)
            .where(d.c.kind.in_(tuple(SIDES)), d.c.doc_date >= start, d.c.doc_date <= end, s.c.doc_date <= end)):
        by_document[document_id] += amount
    entries = []
    rows = conn.execute(select(d.c.id, d.c.kind, d.c.partner, e.c.account, e.c.amount).join(e, e.c.document_id == d.c.id)
                        .where(d.c.kind.in_(tuple(SIDES)), d.c.doc_date >= start, d.c.doc_date <= end)
                        .order_by(d.c.id))
    for doc_id, kind, partner, account, amount in rows:
        side, open_role, advance_role = SIDES[kind]
        total = amount if kind == "collection" else -amount  # the money received or paid, red when reversed
        paid_off = by_document.get(doc_id, ZERO)
        parts = [(chart.code(open_role), paid_off), (chart.code(advance_role), total - paid_off)]
        funds = gl.get(account, chart.code("bank"))
        if kind == "collection":
            entries.append(Entry("collection", end, "收款", funds, total, ZERO))
            entries += [Entry("collection", end, "收款", code, ZERO, part, **_aux(chart, code, side, partner))
                        for code, part in parts if part]
        else:
            entries += [Entry("payment", end, "付款", code, part, ZERO, **_aux(chart, code, side, partner))
                        for code, part in parts if part]
            entries.append(Entry("payment", end, "付款", funds, ZERO, total))
    return entries


def _advances_applied(conn: Connection, start: date, end: date, chart: Chart) -> list[Entry]:
    """Settlements this month by receipts and payments of an earlier month: advances used."""
    d, i, s = schema.documents, schema.money_items, schema.settlements
    rows = conn.execute(select(d.c.kind, i.c.partner, s.c.amount).join(i, i.c.id == s.c.credit_item_id)
                        .join(d, d.c.id == i.c.document_id)
                        .where(d.c.kind.in_(tuple(SIDES)), d.c.doc_date < start, s.c.doc_date >= start,
                               s.c.doc_date <= end))
    applied: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for kind, partner, amount in rows:
        applied[(kind, partner)] += amount
    entries = []
    for (kind, partner), amount in sorted(applied.items()):
        if not amount:
            continue
        side, open_role, advance_role = SIDES[kind]
        first, second = (advance_role, open_role) if kind == "collection" else (open_role, advance_role)
        for code, debit in ((chart.code(first), amount), (chart.code(second), ZERO)):
            entries.append(Entry(f"advance_{kind}", end, "预收冲应收" if kind == "collection" else "预付冲应付",
                                 code, debit, amount - debit, **_aux(chart, code, side, partner)))
    return entries


def _transfers_and_others(conn: Connection, start: date, end: date, chart: Chart, gl: dict[str, str]) -> list[Entry]:
    d, e = schema.documents, schema.fund_entries
    rows = conn.execute(select(d.c.kind, e.c.account, e.c.amount, e.c.category).join(d, d.c.id == e.c.document_id)
                        .where(d.c.kind.in_(("funds_transfer", "income_expense")), e.c.doc_date >= start,
                               e.c.doc_date <= end))
    net: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)  # (voucher, summary, account) → debit − credit
    for kind, account, amount, category in rows:
        funds = gl.get(account, chart.code("bank"))
        if kind == "funds_transfer":
            net[("funds_transfer", "资金转账", funds)] += amount
        else:
            text = "其他收入" if amount > 0 else "其他支出"
            counter = chart.for_reason(category or "", "other_income" if amount > 0 else "admin_expenses")
            net[("income_expense", text, funds)] += amount
            net[("income_expense", text, counter)] -= amount
    return [Entry(voucher, end, text, account, amount if amount > 0 else ZERO, -amount if amount < 0 else ZERO)
            for (voucher, text, account), amount in sorted(net.items(), key=lambda kv: (kv[0][0], kv[1] < 0)) if amount]


def _aux(chart: Chart, account: str, side: str, partner: str) -> dict[str, str]:
    return {side: partner} if side in chart.carries.get(account, ()) else {}


def money_checks(conn: Connection, month: str, lines: list, chart: Chart, finance: FinanceConfig) -> list[tuple]:
    """The money side reconciled to its vouchers, as (name, expected, actual): what customers
    owe changed by the vouchers' 应收 + 预收, what is owed to suppliers by − (应付 + 预付), the
    funds by the funds accounts' GL accounts. Opening items (期初) are the GL's opening
    balances, in neither."""
    start, end = month_bounds(month)
    d, i, e = schema.documents, schema.money_items, schema.fund_entries
    moved = dict(conn.execute(select(i.c.side, func.coalesce(func.sum(i.c.amount), 0)).join(d, d.c.id == i.c.document_id)
                              .where(i.c.doc_date >= start, i.c.doc_date <= end, d.c.kind != "opening_ar_ap")
                              .group_by(i.c.side)).all())
    funds = conn.execute(select(func.coalesce(func.sum(e.c.amount), 0))
                         .where(e.c.doc_date >= start, e.c.doc_date <= end)).scalar()
    gl = set(_funds_gl(conn, chart, finance).values()) | {chart.code("cash"), chart.code("bank")}

    def net(*codes: str) -> Decimal:
        return sum((l.debit - l.credit for l in lines if l.account_code in codes), ZERO)

    return [
        ("应收变动 = 应收账款+预收账款 / receivables moved = the vouchers' 1122 + 2203",
         Decimal(moved.get("customer", 0)), net(chart.code("receivable"), chart.code("advance_received"))),
        ("应付变动 = -(应付账款+预付账款) / payables moved = -(the vouchers' 2202 + 1123)",
         Decimal(moved.get("supplier", 0)), -net(chart.code("goods_received"), chart.code("advance_paid"))),
        ("资金变动 = 现金+银行存款 / funds moved = the vouchers' cash and bank", Decimal(funds), net(*gl)),
    ]
