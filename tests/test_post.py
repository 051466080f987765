"""Stage post: checked documents → documents, lines, movements and balances, on a
real SQLite file and on the PostgreSQL server of this machine.

The ledger fixture and the record builders here are shared by the other ledger
tests (test_costing, test_check, test_reverse, test_integrity)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import Engine, func, select

from conftest import make_form, make_table, pg_schema, pg_url
from jxc_sheets import kinds
from jxc_sheets.check import Checked, check
from jxc_sheets.ledger import money, schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.post import FileRecord, post_documents, record_file, set_moved_to, upsert_master
from jxc_sheets.records import Document, Line, MasterRow
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.validate import validate

D1, D2, D3, D4, D5 = (date(2026, 11, d) for d in (1, 2, 3, 4, 5))


# --- the ledger, on both databases ---------------------------------------------

@pytest.fixture(scope="session")
def postgres_ledger() -> Engine:
    """A schema of its own on the PostgreSQL server, created by open_ledger, dropped at
    the end of the session; one per test module that imports it and per xdist worker.
    Each test empties it first: a fresh schema per test costs a third of a second."""
    with pg_schema() as name:
        engine = open_ledger(pg_url(name))
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request) -> Engine:
    """A ledger holding only the master data of `seed`: a new SQLite file in tmp_path,
    or the session's PostgreSQL schema emptied."""
    if request.param == "sqlite":
        engine = request.getfixturevalue("engine")
    else:
        engine = request.getfixturevalue("postgres_ledger")
        empty(engine)
    seed(engine)
    yield engine
    if request.param == "sqlite":
        engine.dispose()


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            if table is not schema.meta:
                conn.execute(table.delete())


def master_row(kind: str, key: str, **values: Any) -> MasterRow:
    k = kinds.KINDS[kind]
    return MasterRow(kind, key, {f.key: None for f in k.lines} | {k.key: key} | values, 2, {})


MASTER = (
    master_row("warehouses", "WH1", name="上海总仓"),
    master_row("warehouses", "WH2", name="苏州仓"),
    master_row("suppliers", "S01", name="华东纸业"),
    master_row("customers", "C01", name="宏达商贸"),
    master_row("items", "A001", name="A4 复印纸", unit="个", alt_units=(("箱", Decimal(24)),)),
    master_row("items", "B002", name="签字笔", unit="个", std_cost=Decimal("5.00")),
    master_row("items", "00123", name="订书钉", unit="盒"),
    master_row("items", "OLD1", name="旧款文件夹", unit="个", active=False),
)


def seed(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_master(conn, MASTER)


# --- documents as the validator hands them over --------------------------------

HEADER_DEFAULTS = {"warehouse": "WH1", "supplier": "S01", "customer": "C01", "from_warehouse": "WH1",
                   "to_warehouse": "WH2", "reason": "盘点"}


def ln(sku: str, qty: str | int, unit_cost: str | None = None, unit: str = "", warehouse: str | None = None) -> Line:
    """One line as entered (qty in the unit entered); `doc` numbers it and gives it its cells."""
    return Line(0, sku, Decimal(qty), unit, Decimal(qty), Decimal(1),
                None if unit_cost is None else Decimal(unit_cost), None, "", "", warehouse, {})


def doc(kind: str, doc_no: str, day: date, *lines: Line, **header: Any) -> Document:
    """A document laid out as conftest.make_form lays out the form: header values in
    columns B/E from row 3, line labels two rows below, lines under them."""
    k = kinds.KINDS[kind]
    values = {f.key: None for f in k.header} | {f: v for f, v in HEADER_DEFAULTS.items() if f in {h.key for h in k.header}}
    values |= {"doc_no": doc_no, "doc_date": day} | header
    where = {f.key: f"明细!{'B' if i % 2 == 0 else 'E'}{3 + i // 2}" for i, f in enumerate(k.header)}
    table = 3 + (len(k.header) + 1) // 2 + 1  # as sheets/forms.form_layout
    columns = {f.key: get_column_letter(j) for j, f in enumerate(k.lines, start=1)}
    numbered = tuple(
        Line(n, l.sku, l.qty, l.unit, l.qty_entered, l.factor, l.unit_cost, l.unit_price, l.batch, l.remark,
             l.warehouse, {key: f"明细!{col}{table + n}" for key, col in columns.items()})
        for n, l in enumerate(lines, start=1)
    )
    return Document(kind, doc_no, day, values, numbered, "test.xlsx", "", where)


def receipt(doc_no: str, day: date, *lines: Line, **header: Any) -> Document:
    return doc("receipt", doc_no, day, *lines, **header)


def delivery(doc_no: str, day: date, *lines: Line, **header: Any) -> Document:
    return doc("delivery", doc_no, day, *lines, **header)


# --- posting as the pipeline does: check, then post, one transaction per file ----

def submit(engine: Engine, *docs: Document, allow_negative_stock: bool = False,
           master: Sequence[MasterRow] = (), name: str = "test.xlsx") -> Checked:
    """Checks and, when nothing is wrong, posts `docs` as one file; returns the check."""
    with engine.begin() as conn:
        checked = check(conn, docs, master, allow_negative_stock)
        if checked.problems:
            conn.rollback()
            return checked
        file_id = record_file(conn, FileRecord(name, "0" * 64, ",".join(sorted({d.kind for d in docs})), "posted"))
        upsert_master(conn, checked.master)
        ids = post_documents(conn, checked.to_post, file_id)
        money.allocate(conn, money.record_documents(conn, ids))  # what each is owed, as pipeline._post records it
    return checked


def posted(engine: Engine, *docs: Document, allow_negative_stock: bool = False) -> Checked:
    checked = submit(engine, *docs, allow_negative_stock=allow_negative_stock)
    assert [(p.where, p.code) for p in checked.problems] == []
    return checked


def moves(engine: Engine, doc_no: str | None = None) -> list[tuple]:
    """(sku, warehouse, qty, value, balance_qty, balance_value) of each movement, in posting order."""
    m, d = schema.movements, schema.documents
    query = select(m.c.sku, m.c.warehouse, m.c.qty, m.c.value, m.c.balance_qty, m.c.balance_value) \
        .join(d, d.c.id == m.c.document_id).order_by(m.c.id)
    if doc_no is not None:
        query = query.where(d.c.doc_no == doc_no)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def balance(engine: Engine, sku: str, warehouse: str = "WH1") -> tuple[Decimal, Decimal, Decimal] | None:
    """(qty, value, unit_cost) of a pair, or None when it never moved."""
    b = schema.balances
    with engine.connect() as conn:
        row = conn.execute(select(b.c.qty, b.c.value, b.c.unit_cost)
                           .where(b.c.sku == sku, b.c.warehouse == warehouse)).first()
    return None if row is None else tuple(row)


def all_balances(engine: Engine) -> dict[tuple[str, str], tuple]:
    b = schema.balances
    with engine.connect() as conn:
        return {(r.sku, r.warehouse): (r.qty, r.value, r.unit_cost, r.movements) for r in conn.execute(select(b))}


def count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def Q(text: str) -> Decimal:
    return Decimal(text)


# --- tests -----------------------------------------------------------------------

def test_a_receipt_posts_its_document_lines_movement_and_balance(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.50"), ln("B002", 4, "5.125")))

    with ledger.connect() as conn:
        document = conn.execute(select(schema.documents)).one()
        lines = conn.execute(select(schema.lines.c.line_no, schema.lines.c.sku, schema.lines.c.qty,
                                    schema.lines.c.unit_cost).order_by(schema.lines.c.line_no)).all()
        file = conn.execute(select(schema.files)).one()
    assert (document.kind, document.doc_no, document.doc_date, document.warehouse, document.partner,
            document.source_file, document.file_id, document.reverses) == \
        ("receipt", "R1", D1, "WH1", "S01", "test.xlsx", file.id, None)
    assert len(document.content_hash) == 64
    assert [tuple(l) for l in lines] == [(1, "A001", Q("10"), Q("2.50")), (2, "B002", Q("4"), Q("5.125"))]
    # 4 × 5.125 = 20.50 exactly; 10 × 2.50 = 25.00
    assert moves(ledger) == [("A001", "WH1", Q("10"), Q("25.00"), Q("10"), Q("25.00")),
                             ("B002", "WH1", Q("4"), Q("20.50"), Q("4"), Q("20.50"))]
    assert balance(ledger, "A001") == (Q("10"), Q("25.00"), Q("2.5"))
    assert balance(ledger, "B002") == (Q("4"), Q("20.50"), Q("5.125"))


def test_money_is_rounded_half_up_to_the_cent_on_each_receipt_line(ledger):
    # 3 × 0.335 = 1.005 → 1.01 (half up, not banker's 1.00); 7 × 1.234567 = 8.641969 → 8.64
    posted(ledger, receipt("R1", D1, ln("A001", 3, "0.335"), ln("B002", 7, "1.234567")))
    assert [m[3] for m in moves(ledger)] == [Q("1.01"), Q("8.64")]


def test_opening_stock_posts_per_line_warehouse(ledger):
    posted(ledger, doc("opening", "OP1", D1, ln("A001", 10, "20.00", warehouse="WH1"),
                       ln("A001", 4, "21.00", warehouse="WH2")))
    assert balance(ledger, "A001", "WH1") == (Q("10"), Q("200.00"), Q("20"))
    assert balance(ledger, "A001", "WH2") == (Q("4"), Q("84.00"), Q("21"))
    with ledger.connect() as conn:
        assert conn.execute(select(schema.lines.c.warehouse).order_by(schema.lines.c.line_no)).scalars().all() == ["WH1", "WH2"]


def test_documents_of_one_file_post_in_date_order_and_balances_keep_the_latest_date(ledger):
    posted(ledger, delivery("S1", D3, ln("A001", 4)), receipt("R1", D1, ln("A001", 10, "3.00")))
    assert moves(ledger) == [("A001", "WH1", Q("10"), Q("30.00"), Q("10"), Q("30.00")),
                             ("A001", "WH1", Q("-4"), Q("-12.00"), Q("6"), Q("18.00"))]
    with ledger.connect() as conn:
        row = conn.execute(select(schema.balances)).one()
    assert (row.last_date, row.movements) == (D3, 2)
    # a backdated document does not move last_date back
    posted(ledger, delivery("S2", D2, ln("A001", 1)))
    with ledger.connect() as conn:
        row = conn.execute(select(schema.balances)).one()
    assert (row.qty, row.last_date, row.movements) == (Q("5"), D3, 3)


def test_posting_twice_is_posting_once(ledger):
    first = receipt("R1", D1, ln("A001", 10, "2.00"))
    posted(ledger, first)
    before = (moves(ledger), all_balances(ledger), count(ledger, schema.documents))

    again = submit(ledger, first)

    assert [d.doc_no for d in again.to_post] == []
    assert [d.doc_no for d in again.already_posted] == ["R1"]
    assert (moves(ledger), all_balances(ledger), count(ledger, schema.documents)) == before


def test_a_file_with_a_posted_and_a_new_document_posts_only_the_new_one(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    checked = posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")), receipt("R2", D2, ln("A001", 1, "2.00")))
    assert ([d.doc_no for d in checked.to_post], [d.doc_no for d in checked.already_posted]) == (["R2"], ["R1"])
    assert balance(ledger, "A001")[:2] == (Q("11"), Q("22.00"))


def test_a_posted_number_with_other_content_is_a_conflict_at_the_doc_no_cell(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    checked = submit(ledger, receipt("R1", D1, ln("A001", 11, "2.00")))
    assert [(p.where, p.code, p.value) for p in checked.problems] == [("明细!B3", "doc-no-conflict", "R1")]
    assert count(ledger, schema.documents) == 1


def test_the_same_number_twice_in_one_file_with_other_content_is_refused(ledger):
    checked = submit(ledger, receipt("R1", D1, ln("A001", 10, "2.00")), receipt("R1", D1, ln("A001", 9, "2.00")))
    assert [(p.where, p.code) for p in checked.problems] == [("明细!B3", "doc-no-repeated")]


def test_the_same_number_in_two_kinds_is_two_documents(ledger):
    posted(ledger, receipt("X1", D1, ln("A001", 10, "2.00")), delivery("X1", D2, ln("A001", 3)))
    assert balance(ledger, "A001")[:2] == (Q("7"), Q("14.00"))


def test_all_documents_of_a_file_post_or_none(ledger):
    checked = submit(ledger, receipt("R1", D1, ln("A001", 10, "2.00")), delivery("S1", D2, ln("A001", 11)))
    assert [p.code for p in checked.problems] == ["insufficient-stock"]
    assert (count(ledger, schema.documents), count(ledger, schema.movements), count(ledger, schema.files)) == (0, 0, 0)


def test_a_failure_inside_the_transaction_leaves_nothing_behind(ledger):
    good = receipt("R1", D1, ln("A001", 10, "2.00"))
    with pytest.raises(ValueError):
        with ledger.begin() as conn:
            checked = check(conn, [good], [], False)
            post_documents(conn, checked.to_post, None)
            raise ValueError("the disk is full")  # anything after the insert
    assert (count(ledger, schema.documents), count(ledger, schema.movements), count(ledger, schema.balances)) == (0, 0, 0)


def test_record_file_and_set_moved_to(ledger):
    with ledger.begin() as conn:
        file_id = record_file(conn, FileRecord("r.xlsx", "f" * 64, "receipt", "rejected", problems=2,
                                               first_problems="明细!B9: …"), at=datetime(2026, 11, 3, 9, 30))
        set_moved_to(conn, file_id, "rejected/r.xlsx")
    with ledger.connect() as conn:
        row = conn.execute(select(schema.files)).one()
    assert (row.name, row.status, row.problems, row.moved_to, row.processed_at) == \
        ("r.xlsx", "rejected", 2, "rejected/r.xlsx", datetime(2026, 11, 3, 9, 30))


def test_master_data_is_upserted_and_units_replaced(ledger):
    with ledger.begin() as conn:
        upsert_master(conn, [
            master_row("items", "A001", name="A4 纸(新)", unit="个", alt_units=(("包", Decimal(6)),), std_cost=Decimal("2.1")),
            master_row("items", "C003", name="回形针", unit="盒", active=True),
            master_row("suppliers", "S02", name="新供应商"),
        ])
    i, u = schema.items, schema.item_units
    with ledger.connect() as conn:
        a001 = conn.execute(select(i).where(i.c.sku == "A001")).one()
        units = conn.execute(select(u.c.sku, u.c.unit, u.c.factor).order_by(u.c.sku, u.c.unit)).all()
        skus = conn.execute(select(i.c.sku).order_by(i.c.sku)).scalars().all()
        suppliers = conn.execute(select(schema.suppliers.c.code).order_by(schema.suppliers.c.code)).scalars().all()
    assert (a001.name, a001.std_cost, a001.active, a001.safety_stock) == ("A4 纸(新)", Q("2.1"), True, Q("0"))
    assert [tuple(r) for r in units] == [("A001", "包", Q("6"))]  # 箱=24 is gone
    assert skus == ["00123", "A001", "B002", "C003", "OLD1"]
    assert suppliers == ["S01", "S02"]


def test_master_data_and_a_receipt_from_real_workbooks(ledger, tmp_path: Path):
    """The whole way from cells: items form → ledger, then a receipt in 箱 → base units."""
    items = make_table(tmp_path / "items.xlsx", "items", [
        {"sku": "P100", "name": "打印纸", "unit": "包", "alt_units": "箱=5; 托=200", "std_cost": 18.5},
        {"sku": "123", "name": "订书机", "unit": "个"},  # Excel keeps it as the number 123
    ])
    form = make_form(tmp_path / "receipt.xlsx", "receipt",
                     {"doc_no": "RK-0001", "doc_date": D1, "warehouse": "WH1", "supplier": "S01"},
                     [{"sku": "P100", "qty": 2, "unit": "箱", "unit_cost": 100},
                      {"sku": "P100", "qty": 3, "unit_cost": "19.99"}])
    for path in (items, form):
        raws, problems = read_workbook(path)
        assert problems == []
        validated = validate(raws)
        assert validated.problems == ()
        checked = submit(ledger, *validated.documents, master=validated.master)
        assert [(p.where, p.code) for p in checked.problems] == []

    with ledger.connect() as conn:
        units = conn.execute(select(schema.item_units.c.unit, schema.item_units.c.factor)
                             .where(schema.item_units.c.sku == "P100").order_by(schema.item_units.c.unit)).all()
        lines = conn.execute(select(schema.lines.c.unit, schema.lines.c.qty_entered, schema.lines.c.factor,
                                    schema.lines.c.qty, schema.lines.c.unit_cost).order_by(schema.lines.c.line_no)).all()
    assert [tuple(u) for u in units] == [("托", Q("200")), ("箱", Q("5"))]
    # 2 箱 × 5 = 10 包; the line keeps its cost per 箱 as entered, worth 2 × 100 = 200.00
    assert [tuple(l) for l in lines] == [("箱", Q("2"), Q("5"), Q("10"), Q("100")), ("包", Q("3"), Q("1"), Q("3"), Q("19.99"))]
    # 200.00 + 59.97 = 259.97 for 13 包
    assert balance(ledger, "P100") == (Q("13"), Q("259.97"), Q("19.997692"))
    assert balance(ledger, "123") is None and check_ledger_clean(ledger)


def check_ledger_clean(engine: Engine) -> bool:
    with engine.connect() as conn:
        return check_ledger(conn) == []


def test_many_lines_post_in_one_go(ledger):
    """More pairs than one IN list holds (queries.CHUNK = 500)."""
    with ledger.begin() as conn:
        upsert_master(conn, [master_row("items", f"K{i:04d}", name="x", unit="个") for i in range(600)])
    lines = [ln(f"K{i:04d}", i + 1, "1.10") for i in range(600)]
    posted(ledger, receipt("R1", D1, *lines))
    posted(ledger, delivery("S1", D2, *(ln(f"K{i:04d}", 1) for i in range(600))))
    assert balance(ledger, "K0599") == (Q("599"), Q("658.90"), Q("1.1"))
    assert count(ledger, schema.movements) == 1200
    assert check_ledger_clean(ledger)
