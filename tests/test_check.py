"""Stage check: typed documents against the ledger — master data, units, document
numbers and stock — each problem at its cell."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from sqlalchemy import select

from conftest import make_form, make_table
from jxc_sheets.check import Checked, check, resolve_code
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.post import upsert_master
from jxc_sheets.problems import problem
from jxc_sheets.records import MasterRow
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.validate import validate
from test_post import D1, D2, D3, D4, Q, balance, delivery, doc, ln, master_row, posted, receipt, submit
from test_post import ledger, postgres_ledger  # noqa: F401  (fixtures)


def checked_form(ledger, tmp_path: Path, kind: str, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
                 allow_negative_stock: bool = False) -> Checked:
    """A filled form written, read back and validated, then checked (and nothing posted)."""
    raws, problems = read_workbook(make_form(tmp_path / f"{kind}.xlsx", kind, header, lines))
    assert problems == []
    validated = validate(raws)
    assert validated.problems == ()
    with ledger.connect() as conn:
        return check(conn, validated.documents, validated.master, allow_negative_stock)


def cells(checked: Checked) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in checked.problems]


RECEIPT = {"doc_no": "RK-0001", "doc_date": D1, "warehouse": "WH1", "supplier": "S01"}
DELIVERY = {"doc_no": "CK-0001", "doc_date": D2, "warehouse": "WH1", "customer": "C01"}


# --- master data and units -----------------------------------------------------------

def test_unknown_codes_are_reported_at_their_cells(ledger, tmp_path):
    # make_form: warehouse at B4, supplier at E4; lines from row 9, sku in A, unit in C
    checked = checked_form(ledger, tmp_path, "receipt", RECEIPT | {"warehouse": "WH9", "supplier": "S99"}, [
        {"sku": "ZZZ", "qty": 1, "unit_cost": 1},
        {"sku": "OLD1", "qty": 1, "unit_cost": 1},
        {"sku": "A001", "qty": 1, "unit": "托", "unit_cost": 1},
        {"sku": "A001", "qty": 1, "unit_cost": 1},
    ])
    assert cells(checked) == [
        ("明细!B4", "unknown-warehouses"),
        ("明细!E4", "unknown-suppliers"),
        ("明细!A9", "unknown-items"),
        ("明细!A10", "inactive-item"),
        ("明细!C11", "unknown-unit"),
    ]
    assert [p.value for p in checked.problems] == ["WH9", "S99", "ZZZ", "OLD1", "托"]


def test_an_unknown_unit_lists_the_units_the_item_has(ledger, tmp_path):
    checked = checked_form(ledger, tmp_path, "receipt", RECEIPT, [{"sku": "A001", "qty": 1, "unit": "托", "unit_cost": 1}])
    assert checked.problems == (problem("unknown-unit", "明细!C9", "托", sku="A001", unit="托", units="个、箱"),)


def test_an_unknown_customer_and_partner_codes_of_other_kinds(ledger, tmp_path):
    checked = checked_form(ledger, tmp_path, "delivery", DELIVERY | {"customer": "C99"}, [{"sku": "A001", "qty": 1}],
                           allow_negative_stock=True)
    assert cells(checked) == [("明细!E4", "unknown-customers")]
    # a transfer's two warehouses: from at B4, to at E4
    checked = checked_form(ledger, tmp_path, "transfer",
                           {"doc_no": "DB-1", "doc_date": D1, "from_warehouse": "WH8", "to_warehouse": "WH9"},
                           [{"sku": "A001", "qty": 1}], allow_negative_stock=True)
    assert cells(checked) == [("明细!B4", "unknown-warehouses"), ("明细!E4", "unknown-warehouses")]


def test_an_opening_line_names_its_own_warehouse(ledger, tmp_path):
    # opening lines: warehouse A, sku B, qty C, unit D, unit_cost E
    checked = checked_form(ledger, tmp_path, "opening", {"doc_no": "QC-1", "doc_date": D1}, [
        {"warehouse": "WH1", "sku": "A001", "qty": 1, "unit_cost": 1},
        {"warehouse": "WH7", "sku": "A001", "qty": 1, "unit_cost": 1},
    ])
    # 5 header fields on rows 3-5 (转批次管理 the fifth), labels on row 7, lines from row 8
    assert cells(checked) == [("明细!A9", "unknown-warehouses")]


def test_a_sku_typed_as_a_number_finds_its_item_with_leading_zeros(ledger, tmp_path):
    checked = checked_form(ledger, tmp_path, "receipt", RECEIPT, [{"sku": 123, "qty": 2, "unit_cost": "1.50"}])
    assert cells(checked) == []
    assert [l.sku for d in checked.to_post for l in d.lines] == ["00123"]
    posted(ledger, *checked.to_post)
    assert balance(ledger, "00123") == (Q("2"), Q("3.00"), Q("1.5"))


def test_a_number_that_fits_two_codes_is_unknown(ledger):
    with ledger.begin() as conn:
        upsert_master(conn, [master_row("items", "0123", name="另一个", unit="个")])
    checked = submit(ledger, receipt("R1", D1, ln("123", 1, "1.00")))
    assert cells(checked) == [("明细!A9", "unknown-items")]
    assert resolve_code("0123", {"0123": 1, "00123": 2}) == "0123"  # typed exactly: no guessing


def test_an_alternate_unit_converts_qty_to_the_base_unit_and_keeps_the_cost_as_entered(ledger, tmp_path):
    checked = checked_form(ledger, tmp_path, "receipt", RECEIPT, [{"sku": "A001", "qty": 2, "unit": "箱", "unit_cost": 48}])
    [line] = checked.to_post[0].lines
    assert (line.unit, line.qty_entered, line.factor, line.qty, line.unit_cost) == ("箱", Q("2"), Q("24"), Q("48"), Q("48"))


def test_a_large_receipt_in_an_alternate_unit_is_worth_exactly_qty_times_cost(ledger):
    # 50.00 / 24 per 个 has no exact decimal: the value must come from the entered unit, 1000 × 50.00
    posted(ledger, receipt("R1", D1, ln("A001", 1000, "50.00", unit="箱")))
    assert balance(ledger, "A001")[:2] == (Q("24000"), Q("50000.00"))


def test_the_base_unit_typed_out_is_the_base_unit(ledger):
    checked = submit(ledger, receipt("R1", D1, ln("A001", 2, "1.00", unit="个")))
    assert cells(checked) == []
    assert [(l.unit, l.factor) for l in checked.to_post[0].lines] == [("个", Q("1"))]


def test_master_rows_name_known_suppliers_and_keep_units_of_moved_items(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 1, "1.00")))
    rows = [
        master_row("items", "A001", name="A4 复印纸", unit="箱"),  # A001 has moved: its unit is fixed
        master_row("items", "C003", name="回形针", unit="盒", default_supplier="S99"),
        master_row("items", "B002", name="签字笔", unit="支"),  # never moved: may change
    ]
    rows = [MasterRow(r.kind, r.key, r.values, r.row, {"unit": f"明细!D{n}", "default_supplier": f"明细!J{n}"})
            for n, r in enumerate(rows, start=2)]
    with ledger.connect() as conn:
        checked = check(conn, [], rows, False)
    assert cells(checked) == [("明细!D2", "unit-change"), ("明细!J3", "unknown-suppliers")]


# --- stock -----------------------------------------------------------------------------

def test_a_delivery_above_stock_shows_what_is_available(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    checked = submit(ledger, delivery("S1", D2, ln("B002", 1), ln("A001", 12)))
    # lines from row 9: the B002 line (none in stock) at B9, the A001 line at B10
    assert checked.problems == (
        problem("insufficient-stock", "明细!B9", "1", sku="B002", warehouse="WH1", date="2026-11-02",
                available="0", needed="1"),
        problem("insufficient-stock", "明细!B10", "12", sku="A001", warehouse="WH1", date="2026-11-02",
                available="10", needed="12"),
    )
    assert balance(ledger, "A001")[0] == Q("10")


def test_stock_needed_is_counted_in_base_units_and_shown_as_typed(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 30, "2.00")))
    checked = submit(ledger, delivery("S1", D2, ln("A001", 2, unit="箱")))  # 48 of 30
    assert checked.problems == (problem("insufficient-stock", "明细!B9", "2", sku="A001", warehouse="WH1",
                                        date="2026-11-02", available="30", needed="48"),)


def test_a_backdated_delivery_may_not_take_stock_a_later_delivery_used(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    posted(ledger, delivery("S1", D3, ln("A001", 8)))  # from D3 on, 2 are left
    posted(ledger, receipt("R2", D4, ln("A001", 5, "2.00")))  # 7 from D4 on
    # on D2 the shelf holds 10, but 8 of them leave on D3: only 2 may go on D2
    checked = submit(ledger, delivery("S2", D2, ln("A001", 3)))
    assert checked.problems == (problem("insufficient-stock", "明细!B9", "3", sku="A001", warehouse="WH1",
                                        date="2026-11-02", available="2", needed="3"),)
    posted(ledger, delivery("S3", D2, ln("A001", 2)))
    assert balance(ledger, "A001")[0] == Q("5")


def test_a_delivery_after_the_last_movement_sees_the_current_balance(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")), delivery("S1", D2, ln("A001", 4)))
    checked = submit(ledger, delivery("S2", D4, ln("A001", 7)))
    assert [(p.code, p.where) for p in checked.problems] == [("insufficient-stock", "明细!B9")]
    assert "6" in checked.problems[0].en
    posted(ledger, delivery("S3", D4, ln("A001", 6)))


def test_within_one_file_an_earlier_receipt_covers_a_later_delivery(ledger):
    # listed delivery first: documents post in date order
    checked = posted(ledger, delivery("S1", D2, ln("A001", 6)), receipt("R1", D1, ln("A001", 10, "2.00")))
    assert [d.doc_no for d in checked.to_post] == ["R1", "S1"]
    assert balance(ledger, "A001") == (Q("4"), Q("8.00"), Q("2"))


def test_within_one_file_a_later_receipt_does_not_cover_an_earlier_delivery(ledger):
    checked = submit(ledger, delivery("S1", D1, ln("A001", 6)), receipt("R1", D2, ln("A001", 10, "2.00")))
    assert [(p.code, p.where) for p in checked.problems] == [("insufficient-stock", "明细!B9")]


def test_within_one_file_deliveries_share_the_stock(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    checked = submit(ledger, delivery("S1", D2, ln("A001", 6), ln("A001", 5)))
    assert checked.problems == (problem("insufficient-stock", "明细!B10", "5", sku="A001", warehouse="WH1",
                                        date="2026-11-02", available="4", needed="5"),)


def test_transfers_and_losses_need_stock_where_they_take_it(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 3, "2.00"), warehouse="WH2"))
    # the transfer from WH1 (which holds none) is refused, so its 2 never reach WH2,
    # and the loss of 4 in WH2 (which holds 3) is refused too
    checked = submit(ledger, doc("transfer", "T1", D2, ln("A001", 2)),
                     doc("adjustment", "ADJ1", D2, ln("A001", -4), warehouse="WH2"))
    assert [(p.code, p.where, p.value) for p in checked.problems] == [
        ("insufficient-stock", "明细!B9", "2"), ("insufficient-stock", "明细!B8", "-4")]  # 7 header fields, then 6
    posted(ledger, doc("transfer", "T2", D2, ln("A001", 2), from_warehouse="WH2", to_warehouse="WH1"))
    assert (balance(ledger, "A001", "WH1")[0], balance(ledger, "A001", "WH2")[0]) == (Q("2"), Q("1"))


def test_allow_negative_stock_lets_it_post(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    checked = submit(ledger, delivery("S1", D2, ln("A001", 12)), allow_negative_stock=True)
    assert cells(checked) == [] and [d.doc_no for d in checked.to_post] == ["S1"]
    assert balance(ledger, "A001") == (Q("-2"), Q("-4.00"), Q("2"))


def test_a_receipt_never_needs_stock(ledger):
    checked = submit(ledger, receipt("R1", D1, ln("A001", 1, "2.00")), doc("sales_return", "SR1", D1, ln("B002", 1)))
    assert cells(checked) == []


def test_problems_of_unresolved_lines_do_not_hide_the_stock_check_of_the_others(ledger):
    checked = submit(ledger, delivery("S1", D2, ln("ZZZ", 1), ln("A001", 1)))
    assert cells(checked) == [("明细!A9", "unknown-items"), ("明细!B10", "insufficient-stock")]


def test_the_content_hash_sees_resolved_codes_and_units(ledger):
    """123 and 00123, an empty unit and the base unit typed out are the same document
    once resolved, so a re-drop written either way is already posted."""
    posted(ledger, receipt("R1", D1, ln("00123", 2, "1.50"), ln("A001", 48, "2.00")))
    with ledger.connect() as conn:
        again = check(conn, [receipt("R1", D1, ln("123", 2, "1.50"), ln("A001", 48, "2.00", unit="个"))], [], False)
    assert cells(again) == [] and [d.doc_no for d in again.already_posted] == ["R1"]
    with ledger.connect() as conn:
        stored = conn.execute(select(schema.documents.c.content_hash)).scalar_one()
    assert again.already_posted[0].content_hash == stored


def test_master_data_from_a_workbook_is_checked_before_it_posts(ledger, tmp_path):
    path = make_table(tmp_path / "items.xlsx", "items", [
        {"sku": "N1", "name": "新品", "unit": "个", "default_supplier": "S99"},
    ])
    raws, _ = read_workbook(path)
    validated = validate(raws)
    with ledger.connect() as conn:
        checked = check(conn, validated.documents, validated.master, False)
    # items table: default_supplier is the 13th column (M), row 2
    assert cells(checked) == [("明细!M2", "unknown-suppliers")]


def test_an_unknown_warehouse_is_not_also_reported_as_empty_on_every_line(ledger):
    posted(ledger, receipt("R1", D1, ln("A001", 10, "2.00")))
    checked = submit(ledger, delivery("S1", D2, ln("A001", 1), ln("A001", 2), warehouse="WH9"),
                     doc("transfer", "T1", D2, ln("A001", 20), from_warehouse="WH1", to_warehouse="WH9"))
    # the transfer's out leg from the known WH1 is still checked
    assert cells(checked) == [("明细!B4", "unknown-warehouses"), ("明细!E4", "unknown-warehouses"),
                              ("明细!B9", "insufficient-stock")]
