"""Sales (check/sales.py, ledger/sales.py): price lists, the price an empty line takes,
the salesperson default, and sales below their minimum price or below cost — real
forms dropped into a real workspace and run through the pipeline in process."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from conftest import WAREHOUSES, make_form, make_table, run_files
from jxc_sheets.config import Config, SalesConfig, Settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports.book import tab

D1, D2, D3, D4 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 5)

CUSTOMERS = [
    {"code": "C01", "name": "宏达商贸", "grade": "A", "salesperson": "张三"},
    {"code": "C02", "name": "远东百货", "grade": "A"},
    {"code": "C03", "name": "小王文具店", "grade": "B", "tax_no": "91310000MA1FL0000X"},
]
ITEMS = [
    {"sku": "A001", "name": "A4 复印纸", "unit": "包", "alt_units": "箱=5", "sale_price": 30, "min_price": 22, "std_cost": 20},
    {"sku": "B002", "name": "签字笔", "unit": "支", "sale_price": 5},
]
PRICE_LIST = [
    {"customer": "C01", "sku": "A001", "price": 26, "min_price": 24},
    {"grade": "A", "sku": "A001", "price": 28},
    {"grade": "A", "sku": "A001", "price": 27, "valid_from": date(2026, 12, 1)},  # not yet in force
    {"grade": "A", "sku": "B002", "price": "4.5", "valid_to": date(2026, 10, 31)},  # expired
]


def workspace_with(tmp_path, **sales) -> Settings:
    settings = Settings(Config(sales=SalesConfig(**sales)), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir(parents=True)
    inbox = settings.inbox
    make_table(inbox / "warehouses.xlsx", "warehouses", WAREHOUSES)
    make_table(inbox / "customers.xlsx", "customers", CUSTOMERS)
    make_table(inbox / "items.xlsx", "items", ITEMS)
    make_table(inbox / "prices.xlsx", "price_list", PRICE_LIST)
    make_form(inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 11, 1)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 20},
               {"warehouse": "WH1", "sku": "B002", "qty": 100, "unit_cost": 2}])
    return settings


@pytest.fixture
def ws(tmp_path) -> Settings:
    return workspace_with(tmp_path)


def delivery(settings, name, doc_no, customer, lines, day=D2, **header):
    make_form(settings.inbox / name, "delivery",
              {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "customer": customer, **header}, lines)


def posted_lines(engine, doc_no) -> list[tuple]:
    d, l = schema.documents, schema.lines
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(l.c.sku, l.c.unit_price, l.c.price_rule, l.c.gross).join(d, d.c.id == l.c.document_id)
            .where(d.c.doc_no == doc_no).order_by(l.c.line_no))]


def salesperson(engine, doc_no) -> str | None:
    d = schema.documents
    with engine.connect() as conn:
        return conn.execute(select(d.c.salesperson).where(d.c.doc_no == doc_no)).scalar()


def problems(outcome) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in outcome.problems]


def test_each_price_rule_and_the_salesperson_default(ws):
    """C01 has its own price for A001 (26), grade A prices it 28 (27 only from December,
    a later date than these documents), B002's grade price expired on 10-31, so it takes
    the item's 5; C03 (grade B, no list) first buys at a typed 29, and then takes 29 as
    its last price. A line in 箱 (5 包) takes 26 × 5 = 130. Taxed at 13 %: 10 × 26 = 260.00
    + 33.80 = 293.80."""
    engine = open_ledger(ws.ledger_url)
    outcomes = run_files(ws, engine)
    assert {o.status for o in outcomes.values()} == {"posted"}
    make_form(ws.inbox / "so.xlsx", "sales_order", {"doc_no": "XS-1", "doc_date": D1, "customer": "C01"},
              [{"sku": "A001", "qty": 10}, {"sku": "A001", "qty": 1, "unit": "箱"}])
    delivery(ws, "d1.xlsx", "CK-1", "C02", [{"sku": "A001", "qty": 2}, {"sku": "B002", "qty": 3}])
    delivery(ws, "d2.xlsx", "CK-2", "C03", [{"sku": "A001", "qty": 1, "unit_price": 29}], salesperson="李四")
    delivery(ws, "d3.xlsx", "CK-3", "C03", [{"sku": "A001", "qty": 1}], day=D3)
    outcomes = run_files(ws, engine)
    assert {n: o.status for n, o in outcomes.items()} == dict.fromkeys(("so.xlsx", "d1.xlsx", "d2.xlsx", "d3.xlsx"), "posted")

    assert posted_lines(engine, "XS-1") == [("A001", 26, "customer", Decimal("293.80")),
                                            ("A001", 130, "customer", Decimal("146.90"))]
    assert posted_lines(engine, "CK-1") == [("A001", 28, "grade", Decimal("63.28")),
                                            ("B002", 5, "item", Decimal("16.95"))]
    assert posted_lines(engine, "CK-2") == [("A001", 29, None, Decimal("32.77"))]  # typed: no rule
    assert posted_lines(engine, "CK-3") == [("A001", 29, "last", Decimal("32.77"))]

    # the answer says which rule gave each price, and so does the processing log
    notes = outcomes["so.xlsx"].notes
    assert "XS-1 第 1 行 A001: 单价 26 取自客户价格表 / line 1 A001: unit price 26 from the customer's price list" in notes
    assert any("单价 130 取自客户价格表" in n for n in notes)
    assert any("单价 5 取自物料销售单价" in n for n in outcomes["d1.xlsx"].notes)
    assert any("from the customer grade's price list" in n for n in outcomes["d1.xlsx"].notes)
    assert any("取自上次售价" in n for n in outcomes["d3.xlsx"].notes)
    log = openpyxl.load_workbook(ws.outbox / "log.xlsx", read_only=True)[tab("log")]
    rows = list(log.iter_rows(values_only=True))
    keys = [label.split(" ")[-1] for label in rows[0]]
    by_file = {r[keys.index("file")]: r[keys.index("notes")] for r in rows[1:]}
    assert "取自上次售价" in by_file["d3.xlsx"] and by_file["d2.xlsx"] is None

    # the salesperson: the customer's when left empty, as typed otherwise, none when the customer has none
    assert (salesperson(engine, "XS-1"), salesperson(engine, "CK-2"), salesperson(engine, "CK-3")) == ("张三", "李四", None)


def test_a_salesperson_on_a_return_defaults_from_the_customer(ws):
    engine = open_ledger(ws.ledger_url)
    run_files(ws, engine)
    delivery(ws, "d.xlsx", "CK-1", "C01", [{"sku": "B002", "qty": 2, "unit_price": 5}])
    make_form(ws.inbox / "back.xlsx", "sales_return",
              {"doc_no": "XT-1", "doc_date": D3, "warehouse": "WH1", "customer": "C01", "ref_doc": "CK-1"},
              [{"sku": "B002", "qty": 1, "unit_price": 5}])
    outcomes = run_files(ws, engine)
    assert outcomes["back.xlsx"].status == "posted"
    assert salesperson(engine, "XT-1") == "张三"


def test_below_the_minimum_price_is_refused_at_the_cell_by_default(ws):
    """C01's own list row allows 24 at the least; 23 is below it, 25 is not. B002 has no
    minimum anywhere. The refused file posts nothing."""
    engine = open_ledger(ws.ledger_url)
    run_files(ws, engine)
    delivery(ws, "low.xlsx", "CK-1", "C01", [{"sku": "B002", "qty": 1, "unit_price": 3},
                                             {"sku": "A001", "qty": 1, "unit_price": 23}])
    delivery(ws, "ok.xlsx", "CK-2", "C01", [{"sku": "A001", "qty": 1, "unit_price": 25}])
    # C02 has no row of its own: the item's 最低售价 22 applies; 21 per 包 = 105 per 箱
    delivery(ws, "box.xlsx", "CK-3", "C02", [{"sku": "A001", "qty": 1, "unit": "箱", "unit_price": 105}])
    outcomes = run_files(ws, engine)
    assert problems(outcomes["low.xlsx"]) == [("明细!D10", "price-below-minimum")]
    assert "最低价 24 (客户价格表)" in outcomes["low.xlsx"].problems[0].zh
    assert outcomes["ok.xlsx"].status == "posted"
    assert problems(outcomes["box.xlsx"]) == [("明细!D9", "price-below-minimum")]
    assert "21" in outcomes["box.xlsx"].problems[0].en and "the item's min_price" in outcomes["box.xlsx"].problems[0].en
    assert posted_lines(engine, "CK-1") == []


def test_below_the_minimum_price_posts_with_a_warning_when_configured(tmp_path):
    settings = workspace_with(tmp_path, below_minimum="warn")
    engine = open_ledger(settings.ledger_url)
    run_files(settings, engine)
    delivery(settings, "low.xlsx", "CK-1", "C01", [{"sku": "A001", "qty": 1, "unit_price": 23}])
    outcome = run_files(settings, engine)["low.xlsx"]
    assert outcome.status == "posted"
    assert any("[price-below-minimum]" in n for n in outcome.notes)
    assert posted_lines(engine, "CK-1") == [("A001", 23, None, Decimal("25.99"))]


def test_below_cost_warns_by_default_and_is_refused_when_configured(ws, tmp_path):
    """B002 cost 2.00 a 支 (the opening stock); sold at 1.50 it is below cost. A sales
    order naming no warehouse compares with the average over the warehouses: also 2."""
    engine = open_ledger(ws.ledger_url)
    run_files(ws, engine)
    delivery(ws, "cheap.xlsx", "CK-1", "C03", [{"sku": "B002", "qty": 1, "unit_price": "1.5"}])
    make_form(ws.inbox / "so.xlsx", "sales_order", {"doc_no": "XS-1", "doc_date": D1, "customer": "C03"},
              [{"sku": "B002", "qty": 1, "unit_price": "1.9"}])
    outcomes = run_files(ws, engine)
    assert outcomes["cheap.xlsx"].status == "posted" and outcomes["so.xlsx"].status == "posted"
    [warning] = [n for n in outcomes["cheap.xlsx"].notes if "[price-below-cost]" in n]
    assert "明细!D9" in warning and "当前成本 2" in warning
    assert any("[price-below-cost]" in n for n in outcomes["so.xlsx"].notes)

    strict = workspace_with(tmp_path / "strict", below_cost="refuse")
    engine = open_ledger(strict.ledger_url)
    run_files(strict, engine)
    delivery(strict, "cheap.xlsx", "CK-1", "C03", [{"sku": "B002", "qty": 1, "unit_price": "1.5"},
                                                   {"sku": "B002", "qty": 1, "unit_price": "2"}])
    outcome = run_files(strict, engine)["cheap.xlsx"]
    assert problems(outcome) == [("明细!D9", "price-below-cost")]


def test_a_price_list_row_names_a_customer_or_a_grade(ws):
    engine = open_ledger(ws.ledger_url)
    run_files(ws, engine)
    make_table(ws.inbox / "bad.xlsx", "price_list", [
        {"customer": "C01", "grade": "A", "sku": "B002", "price": 4},
        {"sku": "B002", "price": 4},
        {"grade": "B", "sku": "B002", "price": 4, "valid_from": D3, "valid_to": D1},
    ])
    outcome = run_files(ws, engine)["bad.xlsx"]
    assert problems(outcome) == [("明细!A2", "price-list-scope"), ("明细!A3", "price-list-scope"),
                                 ("明细!G4", "price-list-dates")]


def test_a_price_list_row_dropped_again_replaces_its_price(ws):
    engine = open_ledger(ws.ledger_url)
    run_files(ws, engine)
    make_table(ws.inbox / "new.xlsx", "price_list", [{"customer": "C01", "sku": "A001", "price": 25, "min_price": 24}])
    delivery(ws, "d.xlsx", "CK-1", "C01", [{"sku": "A001", "qty": 1}])
    run_files(ws, engine)
    assert posted_lines(engine, "CK-1") == [("A001", 25, "customer", Decimal("28.25"))]
    with engine.connect() as conn:
        assert conn.execute(select(schema.price_lists.c.price).where(schema.price_lists.c.code == "C01")).scalars().all() == [25]


def test_a_sales_document_without_a_salesperson_hashes_as_before_the_field_existed():
    """Documents posted before 业务员 existed had no such header key: dropped again, they
    must still be recognised as already posted, not refused as a reused number."""
    from jxc_sheets.check.numbers import with_hash
    from jxc_sheets.records import Document, Line

    line = Line(1, "A001", Decimal(1), "包", Decimal(1), Decimal(1), None, Decimal(26), "", "", None, {})
    header = {"doc_no": "CK-1", "doc_date": D1, "warehouse": "WH1", "customer": "C01", "ref_doc": None}
    before = with_hash(Document("delivery", "CK-1", D1, header, (line,), "d.xlsx", "", {}))
    now = with_hash(Document("delivery", "CK-1", D1, {**header, "salesperson": None}, (line,), "d.xlsx", "", {}))
    assert now.content_hash == before.content_hash
