"""The money side (往来与资金), through real forms dropped into the inbox: receipts and
payments of funds settle deliveries and receipts oldest first or as named, advances wait
for later documents, opening balances, bad input at its cell, and reversals."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as Q
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import ITEMS, SUPPLIERS, WAREHOUSES, jxc, make_form, make_table, run_files
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import money, schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.reports.book import tab

CUSTOMERS = [{"code": "C01", "name": "宏达商贸", "payment_days": 30, "credit_limit": 5000},
             {"code": "C02", "name": "永兴百货"}]
ACCOUNTS = [{"code": "BANK1", "name": "工行基本户", "type": "银行", "opening_balance": "10000.00", "opening_date": date(2026, 10, 1)},
            {"code": "CASH", "name": "现金", "type": "现金", "opening_balance": 500}]


def setup_ledger(settings: Settings, engine) -> None:
    inbox = settings.inbox
    make_table(inbox / "warehouses.xlsx", "warehouses", WAREHOUSES)
    make_table(inbox / "suppliers.xlsx", "suppliers", [{**SUPPLIERS[0], "payment_days": 60}])
    make_table(inbox / "customers.xlsx", "customers", CUSTOMERS)
    # 免税 (0%) goods, so that each worked amount below is its price; test_tax.py and the last
    # test here cover a receivable at its 价税合计
    make_table(inbox / "items.xlsx", "items", [{**item, "tax_rate": 0} for item in ITEMS])
    make_table(inbox / "accounts.xlsx", "funds_accounts", ACCOUNTS)
    make_form(inbox / "opening.xlsx", "opening", {"doc_no": "QC1", "doc_date": date(2026, 6, 1)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 1000, "unit_cost": 10},
               {"warehouse": "WH1", "sku": "B002", "qty": 1000, "unit_cost": 1}])
    outcomes = run_files(settings, engine)
    assert {o.status for o in outcomes.values()} == {"posted"}, outcomes


def drop(settings: Settings, engine, name: str, kind: str, header: dict, lines=()) -> object:
    make_form(settings.inbox / name, kind, header, list(lines))
    return run_files(settings, engine)[name]


def deliver(settings, engine, doc_no: str, day: date, *lines, customer="C01"):
    outcome = drop(settings, engine, f"{doc_no}.xlsx", "delivery",
                   {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "customer": customer},
                   [{"sku": sku, "qty": qty, "unit_price": price, **({"unit": unit} if unit else {})}
                    for sku, qty, price, unit in lines])
    assert outcome.status == "posted", outcome.problems


def collect(settings, engine, doc_no: str, day: date, amount, *settles, customer="C01", account="BANK1"):
    return drop(settings, engine, f"{doc_no}.xlsx", "collection",
                {"doc_no": doc_no, "doc_date": day, "customer": customer, "account": account, "amount": amount},
                [dict(zip(("settle_doc", "settle_amount"), s)) for s in settles])


def open_by_doc(engine, side="customer") -> dict[str, Q]:
    i = schema.money_items
    with engine.connect() as conn:
        return {item.ref: item.open for item in money.open_items(conn, i.c.side == side)}


def balance(engine, partner="C01", side="customer") -> Q:
    with engine.connect() as conn:
        return money.balance_of(conn, side, partner)


@pytest.fixture
def ws(workspace, engine):
    setup_ledger(workspace, engine)
    return workspace


def test_partial_payments_settle_the_oldest_first_then_an_advance_settles_a_later_delivery(ws, engine):
    """XS1 (10-01): 10 × 12.345 = 123.45; XS2 (10-15): 3 盒 × 33.333 = 99.999 → 100.00.
    SK1 150.00 unnamed: XS1 123.45 in full, XS2 26.55 → XS2 open 73.45; balance 223.45 − 150 = 73.45.
    SK2 ￥1,000.00元 naming XS2: 73.45 of it settles XS2, 926.55 is an advance (预收): balance −926.55.
    XS3 (11-10): 5 × 20 = 100.00, settled at once by the advance: balance −826.55, nothing open on it;
    826.55 of the advance still waits."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "12.345", None))
    deliver(ws, engine, "XS2", date(2026, 10, 15), ("B002", 3, "33.333", "盒"))
    assert open_by_doc(engine) == {"XS1": Q("123.45"), "XS2": Q("100.00")}

    assert collect(ws, engine, "SK1", date(2026, 11, 1), 150).status == "posted"
    assert open_by_doc(engine) == {"XS2": Q("73.45")}
    assert balance(engine) == Q("73.45")

    assert collect(ws, engine, "SK2", date(2026, 11, 5), "￥1,000.00元", ("XS2",)).status == "posted"
    assert open_by_doc(engine) == {"SK2": Q("-926.55")}
    deliver(ws, engine, "XS3", date(2026, 11, 10), ("A001", 5, "20", None))
    assert open_by_doc(engine) == {"SK2": Q("-826.55")}
    assert balance(engine) == Q("-826.55")
    with engine.connect() as conn:
        assert check_ledger(conn) == []


def test_the_due_date_is_the_document_date_plus_the_partners_payment_days(ws, engine):
    """C01 pays in 30 days: XS1 of 2026-10-01 falls due 2026-10-31."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 1, "5", None))
    i = schema.money_items
    with engine.connect() as conn:
        assert conn.execute(select(i.c.due_date).where(i.c.ref == "XS1")).scalar() == date(2026, 10, 31)


def test_reversing_a_payment_reopens_what_it_settled_and_takes_it_out_of_the_account(ws, engine):
    """XS1 100.00, XS2 50.00; SK1 120.00 settles XS1 in full and 20.00 of XS2 (open 30.00).
    `jxc reverse SK1` re-opens both: XS1 100.00, XS2 50.00; BANK1 gets −120.00 back."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    deliver(ws, engine, "XS2", date(2026, 10, 2), ("A001", 5, "10", None))
    collect(ws, engine, "SK1", date(2026, 11, 1), "120.00")
    assert open_by_doc(engine) == {"XS2": Q("30.00")}

    jxc("reverse", "SK1", "--date", "2026-11-15", cwd=ws.root)

    assert open_by_doc(engine) == {"XS1": Q("100.00"), "XS2": Q("50.00")}
    assert balance(engine) == Q("150.00")
    with engine.connect() as conn:
        assert [(e.doc_no, e.amount) for e in money.fund_entries(conn, "BANK1")] == [("SK1", Q("120.00")), ("SK1-R", Q("-120.00"))]
        assert check_ledger(conn) == []


def test_reversing_a_delivery_paid_by_an_advance_gives_the_advance_back(ws, engine):
    """SK1 300.00 before any delivery: an advance. XS1 200.00 takes 200.00 of it (left 100.00).
    XS1 reversed: the advance is 300.00 again, nothing is open, the balance −300.00."""
    collect(ws, engine, "SK1", date(2026, 10, 1), 300)
    deliver(ws, engine, "XS1", date(2026, 10, 5), ("A001", 10, "20", None))
    assert open_by_doc(engine) == {"SK1": Q("-100.00")}
    jxc("reverse", "XS1", "--date", "2026-10-20", cwd=ws.root)
    assert open_by_doc(engine) == {"SK1": Q("-300.00")}
    assert balance(engine) == Q("-300.00")


def test_an_overpayment_stays_as_an_advance(ws, engine):
    """XS1 80.00; SK1 100.00 naming XS1: XS1 settled, 20.00 advance; balance −20.00."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 8, "10", None))
    collect(ws, engine, "SK1", date(2026, 10, 20), 100, ("XS1",))
    assert open_by_doc(engine) == {"SK1": Q("-20.00")}
    assert balance(engine) == Q("-20.00")


def test_opening_receivables_and_payables_are_items_a_payment_settles_by_their_number(ws, engine):
    """期初: C01 owes OLD-1 500.00 (due 2026-09-15) and paid an advance OLD-2 of 80.00; we owe S01 OLD-9
    1,200.00. The advance settles OLD-1 at once: open 420.00. FK1 pays S01 1,000.00 naming OLD-9: open 200.00."""
    outcome = drop(ws, engine, "qc.xlsx", "opening_ar_ap", {"doc_no": "QCWL", "doc_date": date(2026, 9, 30)}, [
        {"customer": "C01", "ref_doc": "OLD-1", "ref_date": date(2026, 8, 16), "due_date": date(2026, 9, 15), "amount": 500},
        {"customer": "C01", "ref_doc": "OLD-2", "amount": 80, "advance": "Y"},
        {"supplier": "S01", "ref_doc": "OLD-9", "amount": "1,200.00"}])
    assert outcome.status == "posted", outcome.problems
    assert open_by_doc(engine) == {"OLD-1": Q("420.00")}
    outcome = drop(ws, engine, "fk.xlsx", "payment", {"doc_no": "FK1", "doc_date": date(2026, 10, 8), "supplier": "S01",
                                                      "account": "BANK1", "amount": 1000}, [{"settle_doc": "OLD-9"}])
    assert outcome.status == "posted", outcome.problems
    assert open_by_doc(engine, "supplier") == {"OLD-9": Q("200.00")}
    with engine.connect() as conn:
        assert [(e.doc_no, e.amount) for e in money.fund_entries(conn, "BANK1")] == [("FK1", Q("-1000.00"))]


def test_bad_payments_are_answered_at_their_cells_and_nothing_posts(ws, engine):
    """XS1 (C01) 100.00 paid in full by SK1; XS9 is C02's. SK2 names an unknown document, C02's,
    the settled XS1, and carries a negative amount line; SK3's amount reads 12万."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    deliver(ws, engine, "XS9", date(2026, 10, 1), ("A001", 1, "10", None), customer="C02")
    collect(ws, engine, "SK1", date(2026, 10, 2), 100, ("XS1",))
    before = balance(engine)

    bad = collect(ws, engine, "SK2", date(2026, 10, 3), 50, ("NOPE",), ("XS9",), ("XS1",), ("XS1", -5))
    assert bad.status == "rejected"
    assert [(p.where, p.code) for p in bad.problems] == [
        ("明细!B12", "negative"), ("明细!A9", "settle-unknown"), ("明细!A10", "settle-other-partner"),
        ("明细!A11", "settle-done")]
    unclear = collect(ws, engine, "SK3", date(2026, 10, 3), "12万")
    assert [(p.where, p.code) for p in unclear.problems] == [("明细!B5", "not-an-amount")]
    assert balance(engine) == before
    with engine.connect() as conn:
        assert [d for d in conn.execute(select(schema.documents.c.doc_no)).scalars() if d.startswith("SK")] == ["SK1"]


def test_settling_more_than_is_open_or_than_the_payment_is_refused(ws, engine):
    """XS1 100.00: SK1 of 50.00 naming XS1 for 120.00 is over what is open; SK2 of 50.00 naming
    XS1 for 80.00 settles more than its own amount."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    over = collect(ws, engine, "SK1", date(2026, 10, 3), 50, ("XS1", 120))
    assert [(p.where, p.code) for p in over.problems] == [("明细!B9", "settle-over")]
    over_amount = collect(ws, engine, "SK2", date(2026, 10, 3), 50, ("XS1", 80))
    assert [(p.where, p.code) for p in over_amount.problems] == [("明细!B5", "settle-over-amount")]


def test_the_same_payment_dropped_twice_posts_once(ws, engine):
    """SK1 40.00 against XS1 100.00, dropped twice: skipped the second time, XS1 open 60.00."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    assert collect(ws, engine, "SK1", date(2026, 10, 3), 40).status == "posted"
    assert collect(ws, engine, "SK1", date(2026, 10, 3), 40).status == "skipped"
    assert open_by_doc(engine) == {"XS1": Q("60.00")}


def test_payments_post_the_same_on_postgresql(postgres_url, tmp_path: Path):
    """On PostgreSQL: XS1 123.45 and SK1 100.00 unnamed: XS1 open 23.45; reversed, open 123.45."""
    settings = Settings(Config.model_validate({"ledger": {"url": postgres_url}}), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    setup_ledger(settings, engine)
    deliver(settings, engine, "XS1", date(2026, 10, 1), ("A001", 10, "12.345", None))
    assert collect(settings, engine, "SK1", date(2026, 11, 1), 100).status == "posted"
    assert open_by_doc(engine) == {"XS1": Q("23.45")}
    from jxc_sheets.ledger.reverse import reverse_document
    with engine.begin() as conn:
        reverse_document(conn, "SK1", on=date(2026, 11, 2))
    assert open_by_doc(engine) == {"XS1": Q("123.45")}
    with engine.connect() as conn:
        assert check_ledger(conn) == []
    engine.dispose()


def test_an_older_ledger_upgrades_with_its_deliveries_and_receipts_as_receivables_and_payables(tmp_path):
    """The v1 demo ledger: after the v7 step every delivery, receipt and return is one item,
    worth Σ round(qty entered × price, 0.01) with the sign of its side; nothing settles them."""
    from test_migrate import v1_ledger

    engine = open_ledger(f"sqlite:///{v1_ledger(tmp_path / 'ledger.sqlite3')}")
    d, l, i = schema.documents, schema.lines, schema.money_items
    with engine.connect() as conn:
        docs = conn.execute(select(d.c.id, d.c.kind).where(d.c.kind.in_(money.STOCK_ITEMS))).all()
        want = {doc.id: Q(0) for doc in docs}
        for line in conn.execute(select(l.c.document_id, l.c.qty_entered, l.c.unit_price, l.c.unit_cost)
                                 .where(l.c.document_id.in_(want))):
            kind = next(doc.kind for doc in docs if doc.id == line.document_id)
            side, sign, field = money.STOCK_ITEMS[kind]
            price = getattr(line, field) or Q(0)
            want[line.document_id] += sign * (line.qty_entered * price).quantize(Q("0.01"), rounding="ROUND_HALF_UP")
        items = {r.document_id: r.amount for r in conn.execute(select(i.c.document_id, i.c.amount))}
        assert len(docs) > 10 and items == want
        assert check_ledger(conn) == []
    engine.dispose()


def sheet_rows(path: Path, sheet: str) -> list[dict]:
    """A report sheet's rows by the English key of each header cell."""
    import openpyxl

    ws = openpyxl.load_workbook(path, read_only=True)[tab(sheet)]
    rows = list(ws.iter_rows(values_only=True))
    keys = [str(label).split()[-1] for label in rows[0]]
    return [dict(zip(keys, row)) for row in rows[1:]]


def test_money_xlsx_balances_aging_journal_and_what_falls_due(ws, engine):
    """Today 2026-11-20; C01 pays in 30 days.
    XS1 07-01 100.00 due 07-31: 112 days late → over 90;  XS2 09-15 200.00 due 10-15: 36 days → 31–60,
    SK1 11-05 150.00 names XS2 → 50.00 open;  XS3 10-20 300.00 due 11-19: 1 day → 0–30;
    XS4 11-10 50.00 due 12-10 → not due;  opening OLD-1 80.00 due 11-25 → not due, and due in 5 days.
    Aging C01: not due 130.00, 0–30 300.00, 31–60 50.00, 61–90 0, over 90 100.00, open 580.00.
    November: opening 100 + 200 + 300 + 80 = 680.00, + XS4 50.00, − SK1 150.00 = 580.00.
    BANK1: 10,000.00 opening, + 150.00 = 10,150.00."""
    drop(ws, engine, "qc.xlsx", "opening_ar_ap", {"doc_no": "QCWL", "doc_date": date(2026, 6, 30)},
         [{"customer": "C01", "ref_doc": "OLD-1", "due_date": date(2026, 11, 25), "amount": 80}])
    for doc_no, day, qty in (("XS1", date(2026, 7, 1), 10), ("XS2", date(2026, 9, 15), 20),
                             ("XS3", date(2026, 10, 20), 30), ("XS4", date(2026, 11, 10), 5)):
        deliver(ws, engine, doc_no, day, ("A001", qty, "10", None))
    collect(ws, engine, "SK1", date(2026, 11, 5), 150, ("XS2",))
    book = ws.outbox / "money.xlsx"

    [aging] = sheet_rows(book, "aging")
    assert (aging["partner"], aging["not_due"], aging["days_0_30"], aging["days_31_60"], aging["days_61_90"],
            aging["days_over_90"], aging["open_total"], aging["advance"]) == ("C01", 130, 300, 50, 0, 100, 580, 0)
    [balance_row] = sheet_rows(book, "balances")
    assert (balance_row["opening"], balance_row["debits"], balance_row["credits"], balance_row["closing"]) == (680, 50, 150, 580)
    journal = [(r["account"], r["doc_no"], r["amount_in"], r["balance"]) for r in sheet_rows(book, "journal")]
    assert journal == [("BANK1", None, 0, 10000), ("BANK1", "SK1", 150, 10150), ("CASH", None, 0, 500)]
    assert [(r["partner"], r["doc_no"], r["due_date"].date(), r["open"], r["days_left"]) for r in sheet_rows(book, "due_soon")] == \
        [("C01", "OLD-1", date(2026, 11, 25), 80, 5)]
    import openpyxl
    meta = openpyxl.load_workbook(book)["_meta"]
    assert (meta["A1"].value, meta["B1"].value, meta.sheet_state) == ("kind", "money", "hidden")


def test_aging_buckets_at_their_edges():
    """Due today → 0–30; 30 days late → 0–30; 31 → 31–60; 90 → 61–90; 91 → over 90; due tomorrow → not due."""
    assert [money.aging_bucket(days) for days in (-1, 0, 30, 31, 60, 61, 90, 91)] == [
        "not_due", "days_0_30", "days_0_30", "days_31_60", "days_31_60", "days_61_90", "days_61_90", "days_over_90"]


def answer(statement: Path, dest: Path, answers: dict[int, tuple[str, str]]) -> Path:
    """The statement as the customer sends it back: 确认 and 异议原因 filled on the lines given."""
    import openpyxl
    from jxc_sheets import kinds
    from jxc_sheets.sheets.forms import form_layout

    layout = form_layout(kinds.KINDS["statement_confirmation"])
    wb = openpyxl.load_workbook(statement)
    ws = wb["明细"]
    for line_no, (confirm, reason) in answers.items():
        ws.cell(layout.table_row + line_no, layout.columns["confirm"], confirm)
        ws.cell(layout.table_row + line_no, layout.columns["reason"], reason)
    wb.save(dest)
    return dest


def test_a_statement_confirmed_by_workbook_with_a_dispute_then_withdrawn(ws, engine):
    """October's statement of C01 (today 2026-11-20): opening 100.00 (XS1 of 09-20);
    line 1 XS2 10-05 +250.00 → 350.00; line 2 SK1 10-25 −300.00 → 50.00; closing 50.00.
    The customer disputes line 1 ("单价应为 9.50") and agrees to line 2: the 争议 sheet lists XS2.
    The same answers dropped again are skipped; a later statement answering Y on line 1 withdraws it."""
    import openpyxl
    from jxc_sheets import kinds
    from jxc_sheets.sheets.forms import form_layout

    deliver(ws, engine, "XS1", date(2026, 9, 20), ("A001", 10, "10", None))
    deliver(ws, engine, "XS2", date(2026, 10, 5), ("A001", 25, "10", None))
    collect(ws, engine, "SK1", date(2026, 10, 25), 300)
    statement = ws.outbox / "statements" / "2026-10" / "对账单-customer-C01.xlsx"
    layout = form_layout(kinds.KINDS["statement_confirmation"])
    sheet = openpyxl.load_workbook(statement)["明细"]
    assert (sheet[layout.header_cells["opening"]].value, sheet[layout.header_cells["closing"]].value) == (100, 50)
    lines = [[sheet.cell(layout.table_row + n, layout.columns[key]).value
              for key in ("line_no", "ref_doc", "debit", "credit", "balance")] for n in (1, 2)]
    assert lines == [[1, "XS2", 250, 0, 350], [2, "SK1", 0, 300, 50]]
    assert sheet.cell(layout.table_row + 1, layout.columns["confirm"]).fill.fgColor.rgb.endswith("FFFF00")
    # one page wide: fit to page on, fitToWidth 1 (written, or left out: 1 is OOXML's default), height free
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth in (1, None)
    assert sheet.page_setup.fitToHeight == 0 and sheet.page_setup.orientation == "landscape"

    no_reason = run_after_drop(ws, engine, answer(statement, ws.inbox / "no-reason.xlsx", {1: ("有异议", None)}))
    assert [(p.where, p.code) for p in no_reason.problems] == [(f"明细!I{layout.table_row + 1}", "dispute-reason")]

    disputed = answer(statement, ws.inbox / "dz.xlsx", {1: ("有异议", "单价应为 9.50"), 2: ("Y", None)})
    assert run_after_drop(ws, engine, disputed).status == "posted"
    rows = sheet_rows(ws.outbox / "money.xlsx", "disputes")
    assert [(r["partner"], r["doc_no"], r["month"], r["reason"]) for r in rows] == [("C01", "XS2", "2026-10", "单价应为 9.50")]

    again = answer(statement, ws.inbox / "dz-again.xlsx", {1: ("有异议", "单价应为 9.50"), 2: ("Y", None)})
    assert run_after_drop(ws, engine, again).status == "skipped"
    with engine.connect() as conn:
        d = schema.documents
        assert conn.execute(select(d.c.id).where(d.c.kind == "statement_confirmation")).all().__len__() == 1

    agreed = answer(statement, ws.inbox / "dz-ok.xlsx", {1: ("Y", None)})
    assert run_after_drop(ws, engine, agreed).status == "posted"
    assert sheet_rows(ws.outbox / "money.xlsx", "disputes") == []


def run_after_drop(settings, engine, path: Path):
    return run_files(settings, engine)[path.name]


def test_transfers_and_other_income_and_expense_move_the_funds_journal(ws, engine):
    """CASH 500.00 opening; BANK1 10,000.00. ZZ1 (11-02): CASH → BANK1 400.00.
    QT1 (11-03) on BANK1: 利息 income 12.34, 手续费 expense 5.00.
    CASH: 500.00 − 400.00 = 100.00; BANK1: 10,000.00 + 400.00 + 12.34 − 5.00 = 10,407.34.
    A transfer to the same account and a line with both income and expense are refused at their cells."""
    moved = drop(ws, engine, "zz.xlsx", "funds_transfer", {"doc_no": "ZZ1", "doc_date": date(2026, 11, 2)},
                 [{"from_account": "CASH", "to_account": "BANK1", "amount": "400.00"}])
    assert moved.status == "posted", moved.problems
    other = drop(ws, engine, "qt.xlsx", "income_expense", {"doc_no": "QT1", "doc_date": date(2026, 11, 3), "account": "BANK1"},
                 [{"category": "利息", "income": "12.34"}, {"category": "手续费", "expense": 5}])
    assert other.status == "posted", other.problems
    with engine.connect() as conn:
        assert money.account_balances(conn) == {"BANK1": Q("10407.34"), "CASH": Q("100.00")}
    journal = [(r["account"], r["doc_no"], r["category"], r["amount_in"], r["amount_out"], r["balance"])
               for r in sheet_rows(ws.outbox / "money.xlsx", "journal")]
    assert journal == [("BANK1", None, None, 0, 0, 10000), ("BANK1", "ZZ1", None, 400, 0, 10400),
                       ("BANK1", "QT1", "利息", 12.34, 0, 10412.34), ("BANK1", "QT1", "手续费", 0, 5, 10407.34),
                       ("CASH", None, None, 0, 0, 500), ("CASH", "ZZ1", None, 0, 400, 100)]

    bad = drop(ws, engine, "bad.xlsx", "funds_transfer", {"doc_no": "ZZ2", "doc_date": date(2026, 11, 4)},
               [{"from_account": "CASH", "to_account": "CASH", "amount": 1}])
    assert [(p.where, p.code) for p in bad.problems] == [("明细!B7", "same-account")]  # as the template lays it out
    both = drop(ws, engine, "both.xlsx", "income_expense", {"doc_no": "QT2", "doc_date": date(2026, 11, 4), "account": "CASH"},
                [{"category": "杂项", "income": 1, "expense": 1}])
    assert [(p.where, p.code) for p in both.problems] == [("明细!B8", "income-or-expense")]


def test_a_delivery_past_the_credit_limit_is_refused_or_by_config_warned(ws, engine):
    """C01's 信用额度 is 5,000.00. XS1 400 × 10.00 = 4,000.00 posts. XS2 120 × 10.00 = 1,200.00 would make
    5,200.00: refused at the customer cell, 200.00 over. SO1 100 × 10.00 = 1,000.00 makes exactly 5,000.00:
    not past it, posts. With money.credit_limit: warn, XS2 posts and the log carries the warning."""
    deliver(ws, engine, "XS1", date(2026, 11, 2), ("A001", 400, "10", None))
    refused = drop(ws, engine, "XS2.xlsx", "delivery", {"doc_no": "XS2", "doc_date": date(2026, 11, 3), "warehouse": "WH1",
                                                        "customer": "C01"}, [{"sku": "A001", "qty": 120, "unit_price": 10}])
    assert [(p.where, p.code) for p in refused.problems] == [("明细!E4", "credit-limit")]
    assert "200.00" in refused.problems[0].en
    order = drop(ws, engine, "SO1.xlsx", "sales_order", {"doc_no": "SO1", "doc_date": date(2026, 11, 3), "customer": "C01"},
                 [{"sku": "A001", "qty": 100, "unit_price": 10}])
    assert order.status == "posted", order.problems

    warn = Settings(Config.model_validate({"money": {"credit_limit": "warn"}}), ws.root)
    again = drop(warn, engine, "XS2b.xlsx", "delivery", {"doc_no": "XS2", "doc_date": date(2026, 11, 3), "warehouse": "WH1",
                                                         "customer": "C01"}, [{"sku": "A001", "qty": 120, "unit_price": 10}])
    assert again.status == "posted" and any("credit-limit" in note for note in again.notes)
    assert balance(engine) == Q("5200.00")


def test_the_dashboard_shows_cash_by_account_receivables_overdue_and_payables_due_this_week(ws, engine):
    """Today 2026-11-20. XS1 10-01 + 30 days = due 10-31: 100.00 overdue for C01. CG1, a receipt from S01
    (60 days) of 09-22: 20 × 5.00 = 100.00 due 11-21, tomorrow: due this week. BANK1 10,000.00, CASH 500.00."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    received = drop(ws, engine, "CG1.xlsx", "receipt", {"doc_no": "CG1", "doc_date": date(2026, 9, 22), "warehouse": "WH1",
                                                        "supplier": "S01"}, [{"sku": "A001", "qty": 20, "unit_cost": 5}])
    assert received.status == "posted", received.problems
    page = (ws.outbox / "index.html").read_text(encoding="utf-8")
    panel = page.split("资金与往来")[1].split("</section>")[0]
    assert "BANK1 工行基本户</td><td class=\"num\">10,000.00" in panel and "CASH 现金</td><td class=\"num\">500.00" in panel
    assert "C01 宏达商贸</td><td class=\"num short-qty\">100.00" in panel
    assert "CG1" in panel and "2026-11-21" in panel


def test_a_receivable_is_the_invoices_total_with_tax(ws, engine):
    """A001 taxed at 13% again (its master dropped anew): XS-T 10 @ 50.00 before tax is
    金额 500.00 + 税额 65.00 = 价税合计 565.00, and C02 owes 565.00; a collection of 565.00
    settles it to 0."""
    make_table(ws.inbox / "items.xlsx", "items", [{**ITEMS[0], "tax_rate": "13%"}])
    assert run_files(ws, engine)["items.xlsx"].status == "posted"
    deliver(ws, engine, "XS-T", date(2026, 11, 2), ("A001", 10, "50.00", ""), customer="C02")
    assert balance(engine, "C02") == Q("565.00")
    assert collect(ws, engine, "SK-T", date(2026, 11, 3), "565.00", customer="C02").status == "posted"
    assert balance(engine, "C02") == Q("0")


def test_receipts_and_payments_are_vouchers_with_their_advances(ws, engine):
    """Goods at 0% here (see setup_ledger), so each delivery's 价税合计 is its price.
    October: XS-1 10-05 C01 10 @ 100.00 = 1,000.00; SK-1 10-10 C01 pays 1,500.00 into BANK1
    naming nothing: it settles XS-1 (1,000.00) and 500.00 is an advance; FK-1 10-20 pays
    S01 200.00 from CASH while nothing is owed to S01: all of it an advance.
    November: XS-2 11-03 C01 3 @ 100.00 = 300.00, settled by the advance.
    October's money vouchers:  收款 Dr 1002 1,500.00 / Cr 1122 1,000.00, 2203 500.00 (C01)
                               付款 Dr 1123 200.00 (S01) / Cr 1001 200.00
    November's:                预收冲应收 Dr 2203 300.00 / Cr 1122 300.00 (C01)"""
    from jxc_sheets.closing import close_month
    from test_vouchers import booked, voucher_rows

    deliver(ws, engine, "XS-1", date(2026, 10, 5), ("A001", 10, "100.00", ""))
    assert collect(ws, engine, "SK-1", date(2026, 10, 10), "1500.00").status == "posted"
    assert drop(ws, engine, "FK-1.xlsx", "payment", {"doc_no": "FK-1", "doc_date": date(2026, 10, 20),
                                                     "supplier": "S01", "account": "CASH", "amount": 200}).status == "posted"
    deliver(ws, engine, "XS-2", date(2026, 11, 3), ("A001", 3, "100.00", ""))
    for month in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"):
        close_month(engine, ws, month, "test", force=True, reason="test", today=date(2026, 12, 1))

    def money_lines(month: str) -> dict[tuple[str, str, str], Q]:
        rows = voucher_rows(ws.outbox / "monthend" / f"{month}-凭证.xlsx")
        kept = {r["凭证号"] for r in rows if r["摘要"] in ("收款", "付款", "预收冲应收")}
        found = booked([r for r in rows if r["凭证号"] in kept])
        parties = {(r["凭证号"], r["科目代码"]): r["客户"] or r["供应商"] or "" for r in rows if r["凭证号"] in kept}
        return {(parties[key], key[1], next(r["摘要"] for r in rows if r["凭证号"] == key[0])): amount
                for key, amount in found.items()}

    assert money_lines("2026-10") == {
        ("", "1002", "收款"): Q("1500.00"), ("C01", "1122", "收款"): Q("-1000.00"), ("C01", "2203", "收款"): Q("-500.00"),
        ("S01", "1123", "付款"): Q("200.00"), ("", "1001", "付款"): Q("-200.00")}
    assert money_lines("2026-11") == {("C01", "2203", "预收冲应收"): Q("300.00"), ("C01", "1122", "预收冲应收"): Q("-300.00")}


def test_a_month_with_a_receipt_unapplied_against_its_open_documents_does_not_close(ws, engine):
    """Goods at 0%, C01. SK1 10-03 receives 1,000.00 while nothing is open: an advance.
    XS2 11-02 10 × 100.00 = 1,000.00: the advance settles it, the settlement dated 11-02.
    XS1 10-10 4 × 100.00 = 400.00 is posted after it, backdated into open October: nothing is left to settle it.
    At the end of 10-31 SK1 still holds 1,000.00 (its settlement of XS2 is November's) and XS1 is open
    400.00: October is refused, naming C01, SK1, 1,000.00 and XS1 2026-10-10 400.00.
    The fix: SK1 reversed on 10-31 (XS2 re-opens, 1,000.00) and posted again as SK1A 10-03 naming XS1:
    XS1 settled 400.00 on 10-10, 600.00 settles XS2 on 11-02 (XS2 open 400.00). At 10-31 SK1A still
    holds 600.00, but nothing of C01 dated up to 10-31 is open: October closes.
    C01's balance: 400.00 + 1,000.00 − 1,000.00 (SK1A; SK1 and its reversal cancel) = 400.00."""
    from jxc_sheets.closing import Blocked, close_month, plan_close
    from jxc_sheets.ledger.reverse import reverse_document

    assert collect(ws, engine, "SK1", date(2026, 10, 3), "1000.00").status == "posted"
    deliver(ws, engine, "XS2", date(2026, 11, 2), ("A001", 10, "100.00", None))
    deliver(ws, engine, "XS1", date(2026, 10, 10), ("A001", 4, "100.00", None))
    assert open_by_doc(engine) == {"XS1": Q("400.00")}
    for month in ("2026-06", "2026-07", "2026-08", "2026-09"):
        close_month(engine, ws, month, "test")

    [blocker] = plan_close(engine, ws, "2026-10").blockers
    assert blocker.startswith("收款单 SK1 (2026-10-03, 客户 C01 宏达商贸) 尚有 1,000.00 未核销(预收)")
    assert "XS1 2026-10-10 400.00" in blocker and "jxc reverse SK1" in blocker and "--force" in blocker
    assert "receipt SK1 (2026-10-03, customer C01 宏达商贸) holds 1,000.00 unapplied" in blocker
    with pytest.raises(Blocked):
        close_month(engine, ws, "2026-10", "test")

    with engine.begin() as conn:
        reverse_document(conn, "SK1", on=date(2026, 10, 31))
    assert open_by_doc(engine) == {"XS1": Q("400.00"), "XS2": Q("1000.00")}
    assert collect(ws, engine, "SK1A", date(2026, 10, 3), "1000.00", ("XS1",)).status == "posted"
    assert open_by_doc(engine) == {"XS2": Q("400.00")}
    with engine.connect() as conn:
        assert money.unapplied_payments(conn, date(2026, 10, 31)) == []
        as_of = {item.ref: item.open for item in money.open_items(conn, on=date(2026, 10, 31))}
        assert check_ledger(conn) == []
    assert as_of == {"SK1A": Q("-600.00")}  # SK1 and SK1-R settle each other on 10-31
    assert plan_close(engine, ws, "2026-10").blockers == ()
    assert not close_month(engine, ws, "2026-10", "test").forced
    assert balance(engine) == Q("400.00")


def test_a_refresh_rewrites_only_the_statements_whose_month_changed(ws, engine):
    """C01 and C02 each have a November delivery; a refresh with nothing new rewrites neither
    statement; a receipt of C01 rewrites C01's November statement only (its lines and closing
    changed: 100.00 − 40.00 = 60.00)."""
    import openpyxl
    from jxc_sheets import kinds
    from jxc_sheets.reports.money import write_statements
    from jxc_sheets.sheets.forms import form_layout

    deliver(ws, engine, "XS1", date(2026, 11, 2), ("A001", 10, "10", None))
    deliver(ws, engine, "XS2", date(2026, 11, 3), ("A001", 2, "10", None), customer="C02")
    folder = ws.outbox / "statements"
    c01, c02 = (folder / "2026-11" / f"对账单-customer-{c}.xlsx" for c in ("C01", "C02"))
    stamps = {p: p.stat().st_mtime_ns for p in (c01, c02)}
    with engine.connect() as conn:
        assert set(write_statements(conn, folder, date(2026, 11, 20))) >= {c01, c02}
    assert {p: p.stat().st_mtime_ns for p in (c01, c02)} == stamps
    collect(ws, engine, "SK1", date(2026, 11, 10), 40)
    assert c01.stat().st_mtime_ns != stamps[c01] and c02.stat().st_mtime_ns == stamps[c02]
    layout = form_layout(kinds.KINDS["statement_confirmation"])
    assert openpyxl.load_workbook(c01)["明细"][layout.header_cells["closing"]].value == 60


def test_jxc_check_finds_a_settlement_beyond_its_document_and_one_across_partners(ws, engine):
    """XS1 100.00 and SK1 100.00 settle each other exactly: sound. Raised to 130.00, the
    settlement exceeds both items (settled 130.00 of 100.00, and −130.00 of −100.00); moved to
    another customer's item, it pairs two partners."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    collect(ws, engine, "SK1", date(2026, 11, 1), "100.00")
    s, i = schema.settlements, schema.money_items
    with engine.connect() as conn:
        assert check_ledger(conn) == []
    with engine.begin() as conn:
        conn.execute(s.update().values(amount=Q("130.00")))
    with engine.connect() as conn:
        found = check_ledger(conn)
    beyond = [line.split(":")[0] for line in found if "超出金额" in line]
    assert beyond == ["customer C01 SK1", "customer C01 XS1"]
    # and the items still keep 100.00 settled, not the 130.00 their settlements now add up to
    assert [line.split(":")[0] for line in found if "kept ≠ the sum" in line] == beyond
    with engine.begin() as conn:
        conn.execute(s.update().values(amount=Q("100.00")))
        conn.execute(i.update().where(i.c.ref == "XS1").values(partner="C02"))
    with engine.connect() as conn:
        [found] = check_ledger(conn)
    assert found.startswith("核销 settlement") and "C02" in found and "do not pair" in found


def test_what_is_open_now_is_kept_on_each_item_and_a_date_before_a_settlement_still_sums_them(ws, engine):
    """XS1 100.00 (10-01), SK1 60.00 (11-01) settles 60.00 of it: XS1 keeps settled 60.00 and
    is open 40.00 now. Aging at 10-31, before SK1, sums the settlements up to that day:
    XS1 open 100.00 (due 10-31 on 30 days: days 0–30) and no advance; at 11-20, 40.00."""
    deliver(ws, engine, "XS1", date(2026, 10, 1), ("A001", 10, "10", None))
    collect(ws, engine, "SK1", date(2026, 11, 1), "60.00")
    i = schema.money_items
    with engine.connect() as conn:
        kept = dict(conn.execute(select(i.c.ref, i.c.settled)).all())
        assert kept == {"XS1": Q("60.00"), "SK1": Q("-60.00")}
        [before] = money.aging(conn, date(2026, 10, 31))
        [now] = money.aging(conn, date(2026, 11, 20))
    assert (before.days_0_30, before.advance, before.balance) == (Q("100.00"), 0, Q("100.00"))
    assert (now.days_0_30, now.balance) == (Q("40.00"), Q("40.00"))


def test_statements_written_by_a_process_per_core_are_the_ones_written_in_one(ws, engine, tmp_path):
    """Many statements are spread over worker processes; with the threshold at 1, C01's and
    C02's November statements come out of the workers with the same cells as written here."""
    import openpyxl
    from jxc_sheets.reports.money import write_month_statements

    deliver(ws, engine, "XS1", date(2026, 11, 2), ("A001", 10, "10", None))
    deliver(ws, engine, "XS2", date(2026, 11, 3), ("A001", 2, "10", None), customer="C02")
    collect(ws, engine, "SK1", date(2026, 11, 10), 40)

    def cells(path):
        return [[c for c in row] for row in openpyxl.load_workbook(path)["明细"].iter_rows(values_only=True)]

    month, end = date(2026, 11, 1), date(2026, 11, 20)
    with engine.connect() as conn:
        serial = write_month_statements(conn, tmp_path / "one", month, end, in_parallel_from=10_000)
        spread = write_month_statements(conn, tmp_path / "many", month, end, in_parallel_from=1)
    assert [p.name for p in spread] == [p.name for p in serial] == ["对账单-customer-C01.xlsx", "对账单-customer-C02.xlsx"]
    assert all(cells(a) == cells(b) for a, b in zip(serial, spread))
