"""Property test (hypothesis) of the money side: random sequences of deliveries, receipts,
returns, receipts and payments of funds (unnamed or naming a document), reversals and
backdated documents, each checked and posted as the pipeline does. After each sequence:
every partner's balance is the sum of their documents (at their 价税合计: amount =
round(qty × price, 0.01), plus round(amount × 13%, 0.01), the default rate)
minus their receipts and payments, reversals taking back what they reversed; the open
items add up to that balance; no item is settled beyond its amount or below zero; and no
partner has an open document while an advance of theirs waits unspent."""
from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from jxc_sheets.check import check
from jxc_sheets.ledger import money, schema
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.post import FileRecord, post_documents, record_file, upsert_master
from jxc_sheets.ledger.reverse import LedgerError, reverse_document
from jxc_sheets.records import Document, MoneyLine
from test_integrity import fresh_ledger, seeded_file  # noqa: F401  (fixture)
from test_post import doc, ln, master_row

DAYS = tuple(date(2026, 10, d) for d in range(1, 6))
REVERSE_ON = date(2026, 10, 6)
STOCK = {"delivery": ("customer", +1), "sales_return": ("customer", -1),
         "receipt": ("supplier", +1), "purchase_return": ("supplier", -1)}
CUSTOMERS = ("C01", "C02")

prices = st.sampled_from([Decimal(p) for p in ("0.335", "3.333", "10", "9999.99")]) | \
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50"), places=3)
amounts = st.sampled_from([Decimal(a) for a in ("0.01", "1.00", "33.35", "100")]) | \
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2)
days = st.sampled_from(DAYS)

step = st.one_of(
    st.tuples(st.sampled_from(sorted(STOCK)), days, st.integers(1, 5), prices, st.sampled_from(CUSTOMERS)),
    st.tuples(st.just("collection"), days, amounts, st.none() | st.integers(0, 20), st.sampled_from(CUSTOMERS)),
    st.tuples(st.just("payment"), days, amounts, st.none() | st.integers(0, 20), st.just("S01")),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
)


def funds_doc(kind: str, doc_no: str, day: date, partner: str, amount: Decimal, named: str | None) -> Document:
    side = "customer" if kind == "collection" else "supplier"
    lines = (MoneyLine(1, named, None, "", {}),) if named else ()
    header = {"doc_no": doc_no, "doc_date": day, side: partner, "account": "BANK", "amount": amount,
              "prepared_by": None, "remark": None}
    return Document(kind, doc_no, day, header, lines, "test.xlsx", "", {})


def stock_doc(kind: str, doc_no: str, day: date, qty: int, price: Decimal, customer: str) -> Document:
    line = ln("A001", qty, str(price) if kind in ("receipt", "purchase_return") else None)
    if kind in ("delivery", "sales_return"):
        line = replace(line, unit_price=price)
    return doc(kind, doc_no, day, line, customer=customer)


def submit(engine, document: Document) -> bool:
    """Checks and posts one document as pipeline._post does; False when it is refused."""
    with engine.begin() as conn:
        checked = check(conn, [document], (), allow_negative_stock=True)
        if checked.problems:
            conn.rollback()
            return False
        file_id = record_file(conn, FileRecord("test.xlsx", "0" * 64, document.kind, "posted"))
        ids = post_documents(conn, checked.to_post, file_id)
        partners = money.record_documents(conn, ids) | money.post_money(conn, checked.money, file_id)
        money.allocate(conn, partners)
    return True


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=12))
def test_balances_are_documents_less_settlements_whatever_the_order(seeded_file, steps):  # noqa: F811
    with tempfile.TemporaryDirectory() as folder:
        engine = fresh_ledger(seeded_file, folder, "money.sqlite3")
        with engine.begin() as conn:
            upsert_master(conn, [master_row("customers", "C02", name="永兴百货"),
                                 master_row("funds_accounts", "BANK", name="银行", opening_balance=Decimal(0))])
        expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        posted: list[tuple[str, str, tuple[str, str], Decimal]] = []  # doc_no, kind, partner, effect
        for n, (kind, *args) in enumerate(steps):
            doc_no = f"D{n}"
            if kind in STOCK:
                day, qty, price, customer = args
                side, sign = STOCK[kind]
                partner = (side, customer if side == "customer" else "S01")
                amount = (qty * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                effect = sign * (amount + (amount * Decimal("0.13")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
                document = stock_doc(kind, doc_no, day, qty, price, customer)
            elif kind in ("collection", "payment"):
                day, amount, pick, partner_code = args
                debits = [p for p in posted if p[1] in ("delivery", "receipt")]
                named = debits[pick % len(debits)][0] if pick is not None and debits else None
                partner = ("customer" if kind == "collection" else "supplier", partner_code)
                effect = -amount
                document = funds_doc(kind, doc_no, day, partner_code, amount, named)
            else:
                if not posted:
                    continue
                original, original_kind, partner, effect = posted[args[0] % len(posted)]
                try:
                    with engine.begin() as conn:
                        reverse_document(conn, original, original_kind, on=REVERSE_ON, allow_negative_stock=True)
                except LedgerError:
                    continue  # reversed already
                expected[partner] -= effect
                continue
            if submit(engine, document):
                expected[partner] += effect
                posted.append((doc_no, kind, partner, effect))

        i = schema.money_items
        with engine.connect() as conn:
            for (side, code), want in expected.items():
                assert money.balance_of(conn, side, code) == want, (side, code)
                items = money.open_items(conn, (i.c.side == side) & (i.c.partner == code))
                assert sum((item.open for item in items), Decimal(0)) == want
                assert all(0 < item.open <= item.amount if item.amount > 0 else item.amount <= item.open < 0
                           for item in items)
                assert not (any(item.open > 0 for item in items) and any(item.open < 0 for item in items)), items
            assert check_ledger(conn) == []
        engine.dispose()
