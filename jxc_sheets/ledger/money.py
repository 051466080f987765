"""Ledger, the money side (往来与资金): receivables and payables, their settlement, and
the funds accounts. Inside the caller's transaction, like post.py.

- Every delivery and sales return is an item of its customer, every receipt and purchase
  return an item of its supplier, at `document_amounts`; an opening line is an item of
  its own. A receipt of funds (收款单) or a payment (付款单) is an item that lowers what
  is owed, and an entry in its funds account.
- Items are signed: + raises what the customer owes us (what we owe the supplier), - lowers
  it. A partner's balance is the sum of their items.
- A settlement (核销) pairs a credit item (-) with a debit item (+). Named settlements are
  made first; what is left of any credit then settles the partner's oldest open debits
  (by due date), now or when a later document posts: an advance (预收 / 预付) waits.
- Append-only: a reversal adds a negating item, undoes the original's settlements with
  negative ones, and settles the original against its reversal.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import BigInteger, Connection, bindparam, case, func, insert, select, type_coerce, update

from .. import clock
from ..records import Document
from . import bulk, chain, queries, schema

ZERO = Decimal(0)
CENT = Decimal("0.01")

# the stock kinds that are items: (side, sign, the line's unit field)
STOCK_ITEMS = {
    "delivery": ("customer", +1, "unit_price"), "sales_return": ("customer", -1, "unit_price"),
    "receipt": ("supplier", +1, "unit_cost"), "purchase_return": ("supplier", -1, "unit_cost"),
    "landed_cost": ("supplier", +1, "amount"),  # the expense's 金额 + 税额, owed to its supplier
}
FUNDS_KINDS = {"collection": ("customer", +1), "payment": ("supplier", -1)}  # side, sign in the funds account
SIDE_OF_KIND = {**{k: v[0] for k, v in STOCK_ITEMS.items()}, **{k: v[0] for k, v in FUNDS_KINDS.items()}}
Partner = tuple[str, str]  # (side, code)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def document_amounts(conn: Connection, ids: Iterable[int]) -> dict[int, Decimal]:
    """The amount each stock document is a receivable or payable at: the sum of its lines'
    价税合计 (check/tax.py; what the invoice says, tax included), or for lines posted
    before it existed qty entered × unit price (deliveries, sales returns) or × unit cost
    (receipts, purchase returns), each rounded to the cent, half up; a supplier return
    with no price at the cost it left with. A reversal's comes out negative. Documents of
    other kinds, and other lines without a price, count 0."""
    d, l = schema.documents, schema.lines
    found = {doc_id: ZERO for doc_id in ids}
    unpriced: set[int] = set()
    for batch in queries.chunks(sorted(found)):
        rows = conn.execute(select(l.c.document_id, d.c.kind, l.c.qty_entered, l.c.unit_price, l.c.unit_cost, l.c.gross,
                                   l.c.amount, l.c.tax)
                            .join(d, d.c.id == l.c.document_id).where(l.c.document_id.in_(batch)))
        for r in rows:
            if r.kind not in STOCK_ITEMS:
                continue
            if r.kind == "landed_cost":
                found[r.document_id] += (r.amount or ZERO) + (r.tax or ZERO)
                continue
            if r.gross is not None:
                found[r.document_id] += r.gross if r.qty_entered >= 0 else -r.gross
                continue
            price = getattr(r, STOCK_ITEMS[r.kind][2])
            if price is not None:
                found[r.document_id] += cents(r.qty_entered * price)
            elif r.kind == "purchase_return":
                unpriced.add(r.document_id)
    m = schema.movements
    for batch in queries.chunks(sorted(unpriced)):  # a supplier return with no price: at the cost it left with
        for doc_id, value, correction in conn.execute(
                select(m.c.document_id, func.sum(m.c.value), func.sum(m.c.correction))
                .where(m.c.document_id.in_(batch)).group_by(m.c.document_id)):
            found[doc_id] += -(Decimal(value or 0) + Decimal(correction or 0))
    return found


def payment_days(conn: Connection, side: str, codes: Iterable[str]) -> dict[str, int]:
    table = schema.MASTER_TABLES[f"{side}s"]
    days = {}
    for batch in queries.chunks(sorted(set(codes))):
        days.update({code: n or 0 for code, n in conn.execute(
            select(table.c.code, table.c.payment_days).where(table.c.code.in_(batch)))})
    return days


# --- items born from stock documents ---------------------------------------------------

def record_documents(conn: Connection, ids: Iterable[int]) -> set[Partner]:
    """The items of the deliveries, receipts and returns among `ids` (posted just now);
    returns the partners touched. A return naming its delivery (receipt) settles it first."""
    d = schema.documents
    rows = []
    for batch in queries.chunks(sorted(ids)):
        rows += conn.execute(select(d.c.id, d.c.kind, d.c.doc_no, d.c.doc_date, d.c.partner, d.c.ref_doc)
                             .where(d.c.id.in_(batch), d.c.kind.in_(STOCK_ITEMS))).all()
    if not rows:
        return set()
    amounts = document_amounts(conn, [r.id for r in rows])
    days = {side: payment_days(conn, side, [r.partner for r in rows if STOCK_ITEMS[r.kind][0] == side])
            for side in ("customer", "supplier")}
    items = []
    for r in rows:
        side, sign, _unit = STOCK_ITEMS[r.kind]
        items.append(dict(document_id=r.id, line_no=0, side=side, partner=r.partner, ref=r.doc_no, doc_date=r.doc_date,
                          due_date=r.doc_date + timedelta(days=days[side].get(r.partner, 0)), amount=sign * amounts[r.id]))
    item_ids = _insert_items(conn, items)
    for r, item_id, item in zip(rows, item_ids, items):
        if item["amount"] < 0 and r.ref_doc:
            settle_named(conn, item_id, item["side"], item["partner"], [(r.ref_doc, None)], r.id, r.doc_date)
    return {(item["side"], item["partner"]) for item in items}


def _insert_items(conn: Connection, items: Sequence[dict]) -> list[int]:
    if not items:
        return []
    t = schema.money_items
    return [row[0] for row in conn.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True), list(items))]


# --- money documents ----------------------------------------------------------------

def post_money(conn: Connection, docs: Sequence[Document], file_id: int | None) -> set[Partner]:
    """Posts receipts and payments of funds and opening receivables/payables; returns the
    partners touched (for `allocate`)."""
    if not docs:
        return set()
    from .post import _document_row  # the documents row is the same as a stock document's

    now = clock.now()
    d = schema.documents
    doc_rows = [_document_row(doc, file_id, now) for doc in docs]
    ids = [row[0] for row in conn.execute(insert(d).returning(d.c.id, sort_by_parameter_order=True), doc_rows)]
    bulk.insert_rows(conn, schema.money_lines, [
        dict(document_id=doc_id, line_no=line.line_no, ref_doc=line.ref_doc, amount=line.amount, side=line.side,
             partner=line.partner, ref_date=line.ref_date, due_date=line.due_date, advance=line.advance,
             remark=line.remark, confirm=line.confirm, account=line.account, to_account=line.to_account,
             category=line.category)
        for doc_id, doc in zip(ids, docs) for line in doc.lines])
    touched: set[Partner] = set()
    for doc_id, doc in zip(ids, docs):
        if doc.kind in FUNDS_KINDS:
            touched |= _post_funds(conn, doc_id, doc)
        elif doc.kind == "opening_ar_ap":
            touched |= _post_opening(conn, doc_id, doc)
        elif doc.kind in ("funds_transfer", "income_expense"):
            _post_entries(conn, doc_id, doc)
        # a statement confirmation is its lines: recorded, it moves no money
    chain.seal(conn, ids, [_Row(row, doc_id) for doc_id, row in zip(ids, doc_rows)], [])
    return touched


class _Row:
    def __init__(self, values: Mapping, doc_id: int):
        self.__dict__.update(values, id=doc_id)


def _post_funds(conn: Connection, doc_id: int, doc: Document) -> set[Partner]:
    side, sign = FUNDS_KINDS[doc.kind]
    partner, amount = doc.header[side], doc.header["amount"]
    conn.execute(insert(schema.fund_entries).values(
        document_id=doc_id, line_no=0, account=doc.header["account"], doc_date=doc.doc_date, amount=sign * amount,
        partner=partner, category="", remark=doc.header.get("remark") or ""))
    [item_id] = _insert_items(conn, [dict(document_id=doc_id, line_no=0, side=side, partner=partner, ref=doc.doc_no,
                                          doc_date=doc.doc_date, due_date=doc.doc_date, amount=-amount)])
    settle_named(conn, item_id, side, partner, [(line.ref_doc, line.amount) for line in doc.lines], doc_id, doc.doc_date)
    return {(side, partner)}


def _post_entries(conn: Connection, doc_id: int, doc: Document) -> None:
    """A transfer takes the amount out of one account into another; other income (+) and
    expense (-) move the header's account, under their category."""
    entries = []
    for line in doc.lines:
        if doc.kind == "funds_transfer":
            entries += [(line.account, -line.amount, ""), (line.to_account, line.amount, "")]
        else:
            entries.append((doc.header["account"], line.amount, line.category))
        bulk.insert_rows(conn, schema.fund_entries, [
            dict(document_id=doc_id, line_no=line.line_no, account=account, doc_date=doc.doc_date, amount=amount,
                 partner="", category=category, remark=line.remark or doc.header.get("remark") or "")
            for account, amount, category in entries])
        entries = []


def _post_opening(conn: Connection, doc_id: int, doc: Document) -> set[Partner]:
    days = {side: payment_days(conn, side, [l.partner for l in doc.lines if l.side == side])
            for side in ("customer", "supplier")}
    items = []
    for line in doc.lines:
        on = line.ref_date or doc.doc_date
        due = line.due_date or on + timedelta(days=days[line.side].get(line.partner, 0))
        items.append(dict(document_id=doc_id, line_no=line.line_no, side=line.side, partner=line.partner,
                          ref=line.ref_doc, doc_date=on, due_date=due, amount=-line.amount if line.advance else line.amount))
    _insert_items(conn, items)
    return {(item["side"], item["partner"]) for item in items}


# --- settling --------------------------------------------------------------------

@dataclass(frozen=True)
class OpenItem:
    id: int
    document_id: int
    side: str
    partner: str
    ref: str
    doc_date: date
    due_date: date
    amount: Decimal
    open: Decimal  # + what is still owed on a debit; - what is still unspent of a credit


def _settled_sums(items=None, on: date | None = None):
    """What is settled of each item (debits +, credits −), up to the end of `on` when given;
    only of the items `items` (a select of money_items ids) when given, which lets the
    database read just their settlements by index instead of summing every settlement."""
    s = schema.settlements
    debit = select(s.c.debit_item_id.label("item_id"), s.c.amount.label("amount"))
    credit = select(s.c.credit_item_id.label("item_id"), (-s.c.amount).label("amount"))
    if items is not None:
        debit, credit = debit.where(s.c.debit_item_id.in_(items)), credit.where(s.c.credit_item_id.in_(items))
    if on is not None:
        debit, credit = debit.where(s.c.doc_date <= on), credit.where(s.c.doc_date <= on)
    both = debit.union_all(credit).subquery()
    return select(both.c.item_id, func.sum(both.c.amount).label("settled")).group_by(both.c.item_id).subquery()


def open_items(conn: Connection, where=None, on: date | None = None) -> list[OpenItem]:
    """Items not settled in full, oldest due first; `where` narrows the items (a SQL
    condition on money_items). With `on`, as they stood at the end of that day."""
    i = schema.money_items
    query = select(i.c.id, i.c.document_id, i.c.side, i.c.partner, i.c.ref, i.c.doc_date, i.c.due_date, i.c.amount)
    if on is None or not _settled_since(conn, on):
        remaining = _raw(i.c.amount - func.coalesce(i.c.settled, 0))
    else:
        settled = _settled_sums(None if where is None else select(i.c.id).where(where), on)
        remaining = _raw(i.c.amount - func.coalesce(settled.c.settled, 0))
        query = query.outerjoin(settled, settled.c.item_id == i.c.id)
    query = (query.add_columns(remaining.label("open")).where(remaining != 0)
             .order_by(i.c.side, i.c.partner, i.c.due_date, i.c.doc_date, i.c.id))
    if where is not None:
        query = query.where(where)
    if on is not None:
        query = query.where(i.c.doc_date <= on)
    return [OpenItem(*_scaled(r)) for r in conn.execute(query)]


def _scaled(row) -> tuple:
    """`open` is computed in SQL over the stored integers: back to Decimal cents."""
    values = list(row)
    values[-1] = _money(values[-1])
    return tuple(values)


def open_by_ref(conn: Connection, side: str, refs: Iterable[str]) -> dict[str, list[OpenItem]]:
    """The debit items on `side` named `refs`, settled or not (open 0), by ref."""
    i = schema.money_items
    found: dict[str, list[OpenItem]] = defaultdict(list)
    for batch in queries.chunks(sorted(set(refs))):
        settled = _settled_sums(select(i.c.id).where(i.c.side == side, i.c.ref.in_(batch), i.c.amount > 0))
        query = (select(i.c.id, i.c.document_id, i.c.side, i.c.partner, i.c.ref, i.c.doc_date, i.c.due_date,
                        i.c.amount, _raw(i.c.amount - func.coalesce(settled.c.settled, 0)).label("open"))
                 .outerjoin(settled, settled.c.item_id == i.c.id)
                 .where(i.c.side == side, i.c.ref.in_(batch), i.c.amount > 0).order_by(i.c.id))
        for r in conn.execute(query):
            found[r.ref].append(OpenItem(*_scaled(r)))
    return found


def insert_settlements(conn: Connection, rows: Sequence[dict]) -> None:
    """Settlements made, and what they settle added to their items' `settled` (+ on the
    debit, − on the credit): the one way settlements are written."""
    bulk.insert_rows(conn, schema.settlements, rows)
    change: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        change[row["debit_item_id"]] += row["amount"]
        change[row["credit_item_id"]] -= row["amount"]
    i = schema.money_items
    moved = [dict(item=item, delta=delta) for item, delta in sorted(change.items()) if delta]
    if moved:
        conn.execute(update(i).where(i.c.id == bindparam("item"))
                     .values(settled=func.coalesce(i.c.settled, 0) + bindparam("delta", type_=schema.Money())), moved)


def resum_settled(conn: Connection) -> None:
    """Every item's `settled` summed again from the settlements (the migration's step)."""
    i, s = schema.money_items, schema.settlements
    debit = select(func.coalesce(func.sum(s.c.amount), 0)).where(s.c.debit_item_id == i.c.id).scalar_subquery()
    credit = select(func.coalesce(func.sum(s.c.amount), 0)).where(s.c.credit_item_id == i.c.id).scalar_subquery()
    conn.execute(update(i).values(settled=_raw(debit) - _raw(credit)))


def _settled_since(conn: Connection, day: date) -> bool:
    """Whether any settlement or item is dated after `day`: then what stood at its end must be
    summed from the settlements; else it is what the items keep."""
    i, s = schema.money_items, schema.settlements
    return bool(conn.execute(select(select(s.c.id).where(s.c.doc_date > day).exists()
                                    | select(i.c.id).where(i.c.doc_date > day).exists())).scalar())


def settle_named(conn: Connection, credit_id: int, side: str, partner: str,
                 named: Sequence[tuple[str, Decimal | None]], document_id: int, on: date) -> None:
    """Settles the debits `named` (ref, amount; None: what is open on it, as far as the credit
    goes) with the credit item `credit_id`. The check stage has made sure they are the
    partner's and open; what does not fit is left (never a settlement above what is open)."""
    if not named:
        return
    i = schema.money_items
    credit = -conn.execute(select(i.c.amount).where(i.c.id == credit_id)).scalar_one()
    found = open_by_ref(conn, side, [ref for ref, _amount in named])
    left = {item.id: item.open for items in found.values() for item in items if item.partner == partner}
    rows = []
    for ref, amount in named:
        for item in found.get(ref, []):
            if item.partner != partner or left[item.id] <= 0 or credit <= 0:
                continue
            take = min(left[item.id], credit, amount if amount is not None else credit)
            rows.append(dict(debit_item_id=item.id, credit_item_id=credit_id, amount=take,
                             doc_date=max(on, item.doc_date), document_id=document_id))
            left[item.id] -= take
            credit -= take
            break
    insert_settlements(conn, rows)


def allocate(conn: Connection, partners: Iterable[Partner], document_id: int | None = None) -> None:
    """What is unspent of each partner's credits settles their open debits, oldest due first
    (the oldest credit first): payments left unnamed, advances, returns."""
    i = schema.money_items
    rows = []
    for side, partner in sorted(set(partners)):
        items = open_items(conn, (i.c.side == side) & (i.c.partner == partner))
        debits = [[item, item.open] for item in items if item.open > 0]
        credits = [[item, -item.open] for item in sorted(items, key=lambda it: (it.doc_date, it.id)) if item.open < 0]
        for debit in debits:
            for credit in credits:
                if debit[1] <= 0:
                    break
                take = min(debit[1], credit[1])
                if take <= 0:
                    continue
                rows.append(dict(debit_item_id=debit[0].id, credit_item_id=credit[0].id, amount=take,
                                 doc_date=max(debit[0].doc_date, credit[0].doc_date),
                                 document_id=document_id or max(debit[0].document_id, credit[0].document_id)))
                debit[1] -= take
                credit[1] -= take
    insert_settlements(conn, rows)


# --- reversal ----------------------------------------------------------------------

def reverse_money(conn: Connection, original_id: int, reversal_id: int, reversal_no: str, on: date) -> set[Partner]:
    """The money side of `jxc reverse`: the original's items are taken back (what they had
    settled re-opens, then settles anew with what is unspent) and its funds entries negated."""
    i, s, f = schema.money_items, schema.settlements, schema.fund_entries
    items = conn.execute(select(i).where(i.c.document_id == original_id).order_by(i.c.id)).all()
    undo = []
    for item in items:
        pairs = conn.execute(select(s.c.debit_item_id, s.c.credit_item_id, _raw(func.sum(s.c.amount)).label("amount"),
                                    func.max(s.c.doc_date).label("settled_on"))
                             .where((s.c.debit_item_id == item.id) | (s.c.credit_item_id == item.id))
                             .group_by(s.c.debit_item_id, s.c.credit_item_id)).all()
        # never dated before the settlement it undoes: a reversal dated before a later
        # document that the original had settled would otherwise, as things stood at a date
        # in between, take back what was not yet settled
        undo += [dict(debit_item_id=p.debit_item_id, credit_item_id=p.credit_item_id,
                      amount=-_money(p.amount), doc_date=max(on, p.settled_on), document_id=reversal_id)
                 for p in pairs if p.amount]
    insert_settlements(conn, undo)
    new_ids = _insert_items(conn, [dict(document_id=reversal_id, line_no=item.line_no, side=item.side,
                                        partner=item.partner, ref=reversal_no, doc_date=on, due_date=on,
                                        amount=-item.amount) for item in items])
    insert_settlements(conn, [
        dict(debit_item_id=item.id if item.amount > 0 else new_id, credit_item_id=new_id if item.amount > 0 else item.id,
             amount=abs(item.amount), doc_date=on, document_id=reversal_id)
        for item, new_id in zip(items, new_ids) if item.amount])
    entries = conn.execute(select(f).where(f.c.document_id == original_id).order_by(f.c.id)).all()
    bulk.insert_rows(conn, f, [dict(document_id=reversal_id, line_no=e.line_no, account=e.account, doc_date=on,
                                    amount=-e.amount, partner=e.partner, category=e.category,
                                    remark=f"冲销 / reversal: {e.remark}".strip()) for e in entries])
    touched = {(item.side, item.partner) for item in items}
    allocate(conn, touched, reversal_id)
    return touched


# --- what reports and the month-end read ---------------------------------------------

@dataclass(frozen=True)
class UnappliedPayment:
    """A receipt (payment) of funds that, at the end of a day, still held money unspent
    while the same partner had documents of that day or before open."""

    side: str
    partner: str
    name: str
    doc_no: str
    doc_date: date
    unapplied: Decimal  # what it still held, > 0
    open_documents: tuple[tuple[str, date, Decimal], ...]  # (ref, date, open), oldest due first


def unapplied_payments(conn: Connection, end: date) -> list[UnappliedPayment]:
    """Receipts and payments of funds dated `end` or before that still held an unspent
    amount at the end of `end` while their partner had documents dated `end` or before
    open then. Allocation pairs them as soon as both are posted, so this only happens when
    the credit was spent on a later document before an earlier one was posted (backdating)."""
    i, d = schema.money_items, schema.documents
    funds_docs = select(d.c.id).where(d.c.kind.in_(tuple(FUNDS_KINDS)))
    credits = [it for it in open_items(conn, (i.c.amount < 0) & i.c.document_id.in_(funds_docs), on=end)
               if it.open < 0]
    if not credits:
        return []
    partners = {(it.side, it.partner) for it in credits}
    debits: dict[Partner, list[OpenItem]] = defaultdict(list)
    for side in sorted({side for side, _partner in partners}):
        codes = sorted(code for s, code in partners if s == side)
        for batch in queries.chunks(codes):
            for it in open_items(conn, (i.c.side == side) & i.c.partner.in_(batch) & (i.c.amount > 0), on=end):
                if it.open > 0:
                    debits[(it.side, it.partner)].append(it)
    names = partner_names(conn)
    return [UnappliedPayment(it.side, it.partner, names.get((it.side, it.partner), ""), it.ref, it.doc_date, -it.open,
                             tuple((o.ref, o.doc_date, o.open) for o in debits[(it.side, it.partner)]))
            for it in sorted(credits, key=lambda it: (it.side, it.partner, it.doc_date, it.id))
            if debits.get((it.side, it.partner))]


@dataclass(frozen=True)
class PartnerBalance:
    side: str
    partner: str
    name: str
    opening: Decimal
    debits: Decimal  # this period: what raised the balance
    credits: Decimal  # this period: what lowered it
    closing: Decimal


def partner_balances(conn: Connection, start: date, end: date) -> list[PartnerBalance]:
    """Each partner's balance before `start`, what the period [start, end] added and took
    away, and the balance at the end of `end`. Items dated after `end` are left out."""
    i = schema.money_items
    before = _raw(func.sum(func.coalesce(_when(i.c.doc_date < start, i.c.amount), 0)))
    inside = (i.c.doc_date >= start) & (i.c.doc_date <= end)
    debits = _raw(func.sum(func.coalesce(_when(inside & (i.c.amount > 0), i.c.amount), 0)))
    credits = _raw(func.sum(func.coalesce(_when(inside & (i.c.amount < 0), -i.c.amount), 0)))
    query = (select(i.c.side, i.c.partner, before.label("opening"), debits.label("debits"), credits.label("credits"))
             .where(i.c.doc_date <= end).group_by(i.c.side, i.c.partner).order_by(i.c.side, i.c.partner))
    names = partner_names(conn)
    found = []
    for r in conn.execute(query):
        opening, debit, credit = (_money(v) for v in (r.opening, r.debits, r.credits))
        found.append(PartnerBalance(r.side, r.partner, names.get((r.side, r.partner), ""), opening, debit, credit,
                                    opening + debit - credit))
    return found


def _when(condition, value):
    return case((condition, value))


def _raw(expression):
    """A sum or difference of stored money as the integer it is in SQL (scaled by _money)."""
    return type_coerce(expression, BigInteger)


def _money(value) -> Decimal:
    return Decimal(int(value or 0)).scaleb(-schema.MONEY_PLACES)


def partner_names(conn: Connection) -> dict[Partner, str]:
    return {(side, code): name for side in ("customer", "supplier")
            for code, name in conn.execute(select(schema.MASTER_TABLES[f"{side}s"].c.code,
                                                  schema.MASTER_TABLES[f"{side}s"].c.name))}


def balance_of(conn: Connection, side: str, partner: str) -> Decimal:
    i = schema.money_items
    return _money(conn.execute(select(_raw(func.sum(i.c.amount))).where(i.c.side == side, i.c.partner == partner)).scalar())


def fund_entries(conn: Connection, account: str | None = None) -> list:
    f, d = schema.fund_entries, schema.documents
    query = (select(f.c.account, f.c.doc_date, d.c.kind, d.c.doc_no, f.c.partner, f.c.category, f.c.remark, f.c.amount)
             .join(d, d.c.id == f.c.document_id).order_by(f.c.account, f.c.doc_date, f.c.id))
    if account is not None:
        query = query.where(f.c.account == account)
    return conn.execute(query).all()


def funds_accounts(conn: Connection) -> list:
    a = schema.funds_accounts
    return conn.execute(select(a).order_by(a.c.code)).all()




@dataclass(frozen=True)
class AgingRow:
    side: str
    partner: str
    name: str
    not_due: Decimal
    days_0_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    days_over_90: Decimal
    open_total: Decimal  # what is owed: the sum of the buckets
    advance: Decimal  # what the partner paid (we paid) ahead, unspent
    balance: Decimal  # open_total − advance


AGING_BUCKETS = ((30, "days_0_30"), (60, "days_31_60"), (90, "days_61_90"))


def aging_bucket(days_overdue: int) -> str:
    """0–30 days past the due date (due that very day counts as 0), 31–60, 61–90, over 90; before it, not due."""
    if days_overdue < 0:
        return "not_due"
    return next((key for limit, key in AGING_BUCKETS if days_overdue <= limit), "days_over_90")


def aging(conn: Connection, at: date) -> list[AgingRow]:
    """What each partner owes (is owed) at the end of `at`, by days past the due date.
    Summed in SQL, bucket by bucket (a million open items would be a million records in
    Python): each item's open amount at `at`, then per partner the sums of the positive
    ones by their due date's bucket and of the negative ones (advances)."""
    i, s = schema.money_items, schema.settlements
    if not _settled_since(conn, at):  # as things stand now: what the items keep
        items = select(i.c.side, i.c.partner, i.c.due_date,
                       (i.c.amount - func.coalesce(i.c.settled, 0)).label("open")).subquery()
    else:
        debits = (select(s.c.debit_item_id.label("item_id"), func.sum(s.c.amount).label("settled"))
                  .where(s.c.doc_date <= at).group_by(s.c.debit_item_id).subquery())
        credits = (select(s.c.credit_item_id.label("item_id"), func.sum(s.c.amount).label("settled"))
                   .where(s.c.doc_date <= at).group_by(s.c.credit_item_id).subquery())
        remaining = (i.c.amount - func.coalesce(debits.c.settled, 0) + func.coalesce(credits.c.settled, 0))
        items = (select(i.c.side, i.c.partner, i.c.due_date, remaining.label("open"))
                 .outerjoin(debits, debits.c.item_id == i.c.id).outerjoin(credits, credits.c.item_id == i.c.id)
                 .where(i.c.doc_date <= at).subquery())
    owed = items.c.open > 0
    # days past due ≤ limit ⇔ due date ≥ at − limit; due after `at`: not due
    edges = [(owed & (items.c.due_date > at), "not_due")]
    edges += [(owed & (items.c.due_date <= at) & (items.c.due_date >= at - timedelta(days=limit))
               & ((items.c.due_date < at - timedelta(days=previous)) if previous is not None else True), key)
              for previous, (limit, key) in zip((None, 30, 60), AGING_BUCKETS)]
    edges.append((owed & (items.c.due_date < at - timedelta(days=AGING_BUCKETS[-1][0])), "days_over_90"))
    columns = [_raw(func.sum(func.coalesce(_when(condition, items.c.open), 0))).label(key) for condition, key in edges]
    columns.append(_raw(func.sum(func.coalesce(_when(items.c.open < 0, -items.c.open), 0))).label("advance"))
    query = (select(items.c.side, items.c.partner, *columns).where(items.c.open != 0)
             .group_by(items.c.side, items.c.partner).order_by(items.c.side, items.c.partner))
    names = partner_names(conn)
    found = []
    for r in conn.execute(query):
        buckets = [_money(v) for v in (r.not_due, r.days_0_30, r.days_31_60, r.days_61_90, r.days_over_90)]
        advance = _money(r.advance)
        total = sum(buckets, ZERO)
        found.append(AgingRow(r.side, r.partner, names.get((r.side, r.partner), ""), *buckets, total, advance,
                              total - advance))
    return found


@dataclass(frozen=True)
class DueItem:
    side: str
    partner: str
    name: str
    doc_no: str
    doc_date: date
    due_date: date
    open: Decimal
    days_left: int


def falling_due(conn: Connection, at: date, days: int = 14) -> list[DueItem]:
    """Open documents due from `at` to `days` days later, soonest first."""
    i = schema.money_items
    names = partner_names(conn)
    items = open_items(conn, (i.c.due_date >= at) & (i.c.due_date <= at + timedelta(days=days)) & (i.c.amount > 0))
    return sorted((DueItem(it.side, it.partner, names.get((it.side, it.partner), ""), it.ref, it.doc_date, it.due_date,
                           it.open, (it.due_date - at).days) for it in items if it.open > 0),
                  key=lambda d: (d.due_date, d.side, d.partner, d.doc_no))


@dataclass(frozen=True)
class JournalRow:
    account: str
    account_name: str
    doc_date: date | None
    kind: str
    doc_no: str
    partner: str
    category: str
    remark: str
    amount_in: Decimal
    amount_out: Decimal
    balance: Decimal


def funds_journal(conn: Connection, until: date | None = None) -> list[JournalRow]:
    """日记账: each account's opening balance, then every entry in date order with the balance after it."""
    rows = []
    entries = defaultdict(list)
    for e in fund_entries(conn):
        if until is None or e.doc_date <= until:
            entries[e.account].append(e)
    for account in funds_accounts(conn):
        balance = account.opening_balance or ZERO
        rows.append(JournalRow(account.code, account.name, account.opening_date, "", "", "", "",
                               "期初余额 / opening balance", ZERO, ZERO, balance))
        for e in entries.pop(account.code, []):
            balance += e.amount
            rows.append(JournalRow(account.code, account.name, e.doc_date, e.kind, e.doc_no, e.partner, e.category,
                                   e.remark, max(e.amount, ZERO), max(-e.amount, ZERO), balance))
    return rows


def account_balances(conn: Connection) -> dict[str, Decimal]:
    """Each funds account's balance now: its opening balance and every entry."""
    f = schema.fund_entries
    moved = {account: _money(total) for account, total in
             conn.execute(select(f.c.account, _raw(func.sum(f.c.amount))).group_by(f.c.account))}
    return {a.code: (a.opening_balance or ZERO) + moved.get(a.code, ZERO) for a in funds_accounts(conn)}


@dataclass(frozen=True)
class Dispute:
    side: str
    partner: str
    name: str
    doc_no: str  # the document disputed
    statement: str  # the statement whose line was disputed
    month: str
    disputed_on: date
    reason: str


def open_disputes(conn: Connection) -> list[Dispute]:
    """Statement lines whose latest answer is 有异议, unless a later confirmation agreed to
    them or the document disputed has been reversed (the correction posted)."""
    d, ml = schema.documents, schema.money_lines
    rows = conn.execute(select(ml.c.side, ml.c.partner, ml.c.ref_doc, ml.c.confirm, ml.c.remark, d.c.id, d.c.doc_no,
                               d.c.doc_date, d.c.due_date)
                        .join(d, d.c.id == ml.c.document_id).where(d.c.kind == "statement_confirmation")
                        .order_by(d.c.id, ml.c.line_no)).all()
    latest = {}
    for r in rows:
        latest[(r.side, r.partner, r.ref_doc)] = r
    disputed = {key: r for key, r in latest.items() if r.confirm == "dispute"}
    if not disputed:
        return []
    original = d.alias("original")
    reversed_refs = set(conn.execute(select(original.c.doc_no).join(d, d.c.reverses == original.c.id)).scalars())
    names = partner_names(conn)
    return [Dispute(side, partner, names.get((side, partner), ""), ref, r.doc_no.split("#")[0],
                    r.due_date.strftime("%Y-%m") if r.due_date else "", r.doc_date, r.remark)
            for (side, partner, ref), r in sorted(disputed.items()) if ref not in reversed_refs]


@dataclass(frozen=True)
class StatementLine:
    line_no: int
    ref_date: date
    kind: str
    ref_doc: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Statement:
    side: str
    partner: str
    name: str
    month: date  # its first day
    opening: Decimal
    lines: tuple[StatementLine, ...]
    closing: Decimal


def statements(conn: Connection, month: date, end: date) -> list[Statement]:
    """对账单 of the month starting `month`, up to `end`: every partner with a balance or a
    document in it; the opening balance, each item (document, payment) in date order with
    the balance after it, the closing balance."""
    i, d = schema.money_items, schema.documents
    names = partner_names(conn)
    opening = {(r.side, r.partner): _money(r.total) for r in conn.execute(
        select(i.c.side, i.c.partner, _raw(func.sum(i.c.amount)).label("total"))
        .where(i.c.doc_date < month).group_by(i.c.side, i.c.partner))}
    items = defaultdict(list)
    for r in conn.execute(select(i.c.side, i.c.partner, i.c.doc_date, d.c.kind, i.c.ref, i.c.amount)
                          .join(d, d.c.id == i.c.document_id)
                          .where(i.c.doc_date >= month, i.c.doc_date <= end).order_by(i.c.doc_date, i.c.id)):
        items[(r.side, r.partner)].append(r)
    found = []
    for key in sorted(set(items) | {k for k, v in opening.items() if v}):
        balance, lines = opening.get(key, ZERO), []
        for n, r in enumerate(items.get(key, []), start=1):
            balance += r.amount
            lines.append(StatementLine(n, r.doc_date, r.kind, r.ref, max(r.amount, ZERO), max(-r.amount, ZERO), balance))
        found.append(Statement(*key, names.get(key, ""), month, opening.get(key, ZERO), tuple(lines), balance))
    return found


def differences(conn: Connection) -> list[str]:
    """`jxc check` of the money side: every settlement pairs a debit item (+) with a credit
    item (−) of one partner, no pair is undone below nothing, and no item is settled beyond
    its amount or below zero. Empty when sound."""
    i, s = schema.money_items, schema.settlements
    debit, credit = i.alias("debit"), i.alias("credit")
    found = [f"核销 settlement {r.id}: 借方 {r.d_ref} ({r.d_side} {r.d_partner}, {_money(r.d_amount)}) 与贷方 "
             f"{r.c_ref} ({r.c_side} {r.c_partner}, {_money(r.c_amount)}) 不能相抵 / do not pair"
             for r in conn.execute(
                 select(s.c.id, debit.c.ref.label("d_ref"), debit.c.side.label("d_side"),
                        debit.c.partner.label("d_partner"), _raw(debit.c.amount).label("d_amount"),
                        credit.c.ref.label("c_ref"), credit.c.side.label("c_side"),
                        credit.c.partner.label("c_partner"), _raw(credit.c.amount).label("c_amount"))
                 .join(debit, debit.c.id == s.c.debit_item_id).join(credit, credit.c.id == s.c.credit_item_id)
                 .where((_raw(debit.c.amount) <= 0) | (_raw(credit.c.amount) >= 0) | (debit.c.side != credit.c.side)
                        | (debit.c.partner != credit.c.partner))
                 .order_by(s.c.id))]
    pairs = (select(s.c.debit_item_id, s.c.credit_item_id, _raw(func.sum(s.c.amount)).label("total"))
             .group_by(s.c.debit_item_id, s.c.credit_item_id).having(_raw(func.sum(s.c.amount)) < 0))
    found += [f"核销 settlements of items {r.debit_item_id} / {r.credit_item_id}: 冲销多于核销 undone beyond what was "
              f"settled ({_money(r.total)})" for r in conn.execute(pairs)]
    settled = _settled_sums()
    over = (select(i.c.side, i.c.partner, i.c.ref, _raw(i.c.amount).label("amount"), _raw(settled.c.settled).label("settled"))
            .join(settled, settled.c.item_id == i.c.id)
            .where(((_raw(i.c.amount) > 0) & ((settled.c.settled < 0) | (settled.c.settled > _raw(i.c.amount))))
                   | ((_raw(i.c.amount) < 0) & ((settled.c.settled > 0) | (settled.c.settled < _raw(i.c.amount)))))
            .order_by(i.c.side, i.c.partner, i.c.ref))
    found += [f"{r.side} {r.partner} {r.ref}: 已核销 {_money(r.settled)} 超出金额 {_money(r.amount)} / settled beyond "
              f"its amount" for r in conn.execute(over)]
    kept = (select(i.c.side, i.c.partner, i.c.ref, _raw(func.coalesce(i.c.settled, 0)).label("kept"),
                   _raw(func.coalesce(settled.c.settled, 0)).label("summed"))
            .outerjoin(settled, settled.c.item_id == i.c.id)
            .where(_raw(func.coalesce(i.c.settled, 0)) != _raw(func.coalesce(settled.c.settled, 0)))
            .order_by(i.c.side, i.c.partner, i.c.ref))
    found += [f"{r.side} {r.partner} {r.ref}: 记录的已核销 {_money(r.kept)} ≠ 核销合计 {_money(r.summed)} / settled as "
              f"kept ≠ the sum of its settlements" for r in conn.execute(kept)]
    return found
