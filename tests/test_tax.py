"""增值税 on priced lines, through real forms and the real pipeline: what each line
gives (含税单价, 单价, 金额, 价税合计, 税额) worked out to 金额 + 税额 = 价税合计 per line,
to the cent, and what the goods are worth in stock. Every figure is worked out by hand
in the docstrings."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from conftest import drop_master, make_form, make_table, run_files
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import schema

D = date(2026, 11, 3)
RECEIPT = {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1", "supplier": "S01"}
DELIVERY = {"doc_no": "XS-1", "doc_date": D, "warehouse": "WH1", "customer": "C01"}


def lines_of(engine, doc_no: str) -> list[tuple]:
    """(税率, 金额, 税额, 价税合计, unit price before tax) of each line of `doc_no`."""
    l, d = schema.lines, schema.documents
    with engine.connect() as conn:
        return [(r.tax_rate, r.amount, r.tax, r.gross, r.unit_cost if r.unit_cost is not None else r.unit_price)
                for r in conn.execute(select(l).join(d, d.c.id == l.c.document_id)
                                      .where(d.c.doc_no == doc_no).order_by(l.c.line_no))]


def stock_value(engine, sku: str = "A001") -> Decimal:
    b = schema.balances
    with engine.connect() as conn:
        return conn.execute(select(b.c.value).where(b.c.sku == sku, b.c.warehouse == "WH1")).scalar_one()


def ready(workspace, engine, **config) -> Settings:
    settings = Settings(Config.model_validate(config), workspace.root) if config else workspace
    drop_master(settings.inbox)
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}
    return settings


def drop(settings, engine, kind: str, header: dict, lines: list[dict], name: str = "doc.xlsx"):
    make_form(settings.inbox / name, kind, header, lines)
    return run_files(settings, engine)[name]


def test_a_price_with_tax_at_each_rate_splits_into_amount_and_tax(workspace, engine):
    """One unit each, 含税单价 typed, 税率 on the line:
        113 @ 13% → 金额 113 ÷ 1.13 = 100.00, 税额 13.00
        109 @ 9%  → 100.00 + 9.00;   106 @ 6% → 100.00 + 6.00
        103 @ 3%  → 100.00 + 3.00;   101 @ 1% → 100.00 + 1.00;   100 @ 0 → 100.00 + 0.00
    and 10 @ 9.99 with tax at 13%: 价税合计 99.90, 金额 99.90 ÷ 1.13 = 88.4071 → 88.41,
    税额 99.90 − 88.41 = 11.49, 单价 88.41 ÷ 10 = 8.841."""
    ready(workspace, engine)
    drop(workspace, engine, "opening", {"doc_no": "QC-1", "doc_date": date(2026, 11, 1)},
         [{"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 50}])
    rates = ["13%", "9%", 6, "3%", 0.01, 0]
    outcome = drop(workspace, engine, "delivery", DELIVERY,
                   [{"sku": "A001", "qty": 1, "price_incl": 100 + n, "tax_rate": r} for n, r in zip((13, 9, 6, 3, 1, 0), rates)]
                   + [{"sku": "A001", "qty": 10, "price_incl": "9.99"}])
    assert outcome.status == "posted", outcome.problems
    cent = Decimal("0.01")
    assert lines_of(engine, "XS-1") == [
        (Decimal(r) * cent, Decimal("100.00"), Decimal(r), Decimal(100 + r), Decimal("100"))
        for r in (13, 9, 6, 3, 1, 0)
    ] + [(Decimal("0.13"), Decimal("88.41"), Decimal("11.49"), Decimal("99.90"), Decimal("8.841"))]


def test_tax_is_rounded_per_line_as_the_invoice_prints_it(workspace, engine):
    """Three lines of 金额 0.10 at 13%: each 税额 0.013 → 0.01, the document's 税额
    0.03 — what the VAT invoice prints as 合计税额. Rounded once on the whole (0.30 ×
    13% = 0.039 → 0.04) it would be a cent more; jxc rounds per line."""
    ready(workspace, engine)
    drop(workspace, engine, "receipt", RECEIPT, [{"sku": "A001", "qty": 1, "amount": "0.10"}] * 3)
    taxes = [tax for _r, _a, tax, _g, _p in lines_of(engine, "CG-1")]
    assert taxes == [Decimal("0.01")] * 3 and sum(taxes) == Decimal("0.03")


def test_a_general_taxpayer_keeps_deductible_input_vat_out_of_the_cost(workspace, engine):
    """专票 (the default): 10 @ 含税 113.00 at 13% → 价税合计 1130.00, 金额 1000.00, 税额
    130.00; the goods are worth 1000.00, the 130.00 is input VAT to deduct."""
    ready(workspace, engine)
    assert drop(workspace, engine, "receipt", RECEIPT, [{"sku": "A001", "qty": 10, "price_incl": 113}]).status == "posted"
    assert lines_of(engine, "CG-1") == [(Decimal("0.13"), Decimal("1000.00"), Decimal("130.00"), Decimal("1130.00"), Decimal("100"))]
    assert stock_value(engine) == Decimal("1000.00")


def test_a_purchase_on_an_ordinary_invoice_carries_its_tax_into_the_cost(workspace, engine):
    """普票 from a small supplier at 3%: 10 @ 100.00 before tax → 金额 1000.00, 税额 30.00,
    价税合计 1030.00. Not deductible: the goods are worth 1030.00."""
    ready(workspace, engine)
    outcome = drop(workspace, engine, "receipt", RECEIPT | {"invoice_type": "普票"},
                   [{"sku": "A001", "qty": 10, "unit_cost": 100, "tax_rate": "3%"}])
    assert outcome.status == "posted", outcome.problems
    assert lines_of(engine, "CG-1") == [(Decimal("0.03"), Decimal("1000.00"), Decimal("30.00"), Decimal("1030.00"), Decimal("100"))]
    assert stock_value(engine) == Decimal("1030.00")


def test_a_small_scale_taxpayer_carries_all_input_vat_into_the_cost(workspace, engine):
    """tax.taxpayer: small. Even on a 专票, 10 @ 含税 113.00 at 13% is worth its 价税合计
    1130.00 in stock; its own sales are at the 征收率 3%: 1 @ 103 含税 → 100.00 + 3.00."""
    settings = ready(workspace, engine, tax={"taxpayer": "small"})
    drop(settings, engine, "receipt", RECEIPT, [{"sku": "A001", "qty": 10, "price_incl": 113}])
    assert stock_value(engine) == Decimal("1130.00")
    drop(settings, engine, "delivery", DELIVERY, [{"sku": "A001", "qty": 1, "price_incl": 103}], name="d.xlsx")
    assert lines_of(engine, "XS-1") == [(Decimal("0.03"), Decimal("100.00"), Decimal("3.00"), Decimal("103.00"), Decimal("100"))]


def test_a_typed_amount_is_the_value_to_the_cent(workspace, engine):
    """12,345 units on a 100,000.00 invoice (before tax): the receipt posts exactly
    100,000.00, and the unit cost shown is 100,000 ÷ 12,345 = 8.100445 (rounded); qty ×
    that rounded cost would be 99,999.99."""
    ready(workspace, engine)
    drop(workspace, engine, "receipt", RECEIPT, [{"sku": "A001", "qty": 12345, "amount": 100000}])
    [(_rate, amount, tax, gross, unit)] = lines_of(engine, "CG-1")
    assert (amount, tax, gross, unit) == (Decimal("100000.00"), Decimal("13000.00"), Decimal("113000.00"), Decimal("8.100446"))
    assert stock_value(engine) == Decimal("100000.00")


def test_a_typed_total_wins_and_a_typed_tax_is_kept_within_six_fen(workspace, engine):
    """价税合计 1,000.00 at 13%: 金额 1000 ÷ 1.13 = 884.955… → 884.96, 税额 115.04.
    A second line types 金额 884.96 and the invoice's 税额 115.05: within 0.06 of
    884.96 × 13% = 115.0448 → 115.04, so it is kept, and 价税合计 is 1,000.01. A third
    types 税额 120.00: 4.96 off, refused at its cell; nothing posts."""
    ready(workspace, engine)
    outcome = drop(workspace, engine, "receipt", RECEIPT, [
        {"sku": "A001", "qty": 1, "gross": 1000},
        {"sku": "A001", "qty": 1, "amount": "884.96", "tax": "115.05"},
        {"sku": "A001", "qty": 1, "amount": "884.96", "tax": 120}])
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!H11", "tax-mismatch")]  # 税额 is column H
    make_form(workspace.inbox / "fixed.xlsx", "receipt", RECEIPT, [
        {"sku": "A001", "qty": 1, "gross": 1000}, {"sku": "A001", "qty": 1, "amount": "884.96", "tax": "115.05"}])
    assert run_files(workspace, engine)["fixed.xlsx"].status == "posted"
    assert [(a, t, g) for _r, a, t, g, _p in lines_of(engine, "CG-1")] == [
        (Decimal("884.96"), Decimal("115.04"), Decimal("1000.00")),
        (Decimal("884.96"), Decimal("115.05"), Decimal("1000.01"))]


def test_the_partner_rate_overrides_the_item_rate_and_a_bad_rate_is_refused(workspace, engine):
    """S02 (an agricultural supplier) is set to 9%: 1 @ 含税 109.00 from it is 100.00 +
    9.00, though A001 says 13%. A line typing 税率 12% is refused at the 税率 cell."""
    ready(workspace, engine)
    make_table(workspace.inbox / "s.xlsx", "suppliers", [{"code": "S02", "name": "农产品合作社", "tax_rate": "9%"}])
    make_table(workspace.inbox / "i.xlsx", "items", [{"sku": "A001", "name": "A4 复印纸", "unit": "包", "tax_rate": 0.13}])
    assert {o.status for o in run_files(workspace, engine).values()} == {"posted"}
    outcome = drop(workspace, engine, "receipt", RECEIPT | {"supplier": "S02"},
                   [{"sku": "A001", "qty": 1, "price_incl": 109}, {"sku": "A001", "qty": 1, "price_incl": 109, "tax_rate": "12%"}])
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!F10", "not-a-tax-rate")]  # 税率 is column F
    assert drop(workspace, engine, "receipt", RECEIPT | {"supplier": "S02"},
                [{"sku": "A001", "qty": 1, "price_incl": 109}], name="ok.xlsx").status == "posted"
    assert lines_of(engine, "CG-1") == [(Decimal("0.09"), Decimal("100.00"), Decimal("9.00"), Decimal("109.00"), Decimal("100"))]


def test_an_order_line_needs_a_price_in_one_of_its_forms(workspace, engine):
    """A purchase order line with neither price, 金额 nor 价税合计 is refused at its 单价 cell."""
    ready(workspace, engine)
    outcome = drop(workspace, engine, "purchase_order", {"doc_no": "PO-1", "doc_date": D, "supplier": "S01"},
                   [{"sku": "A001", "qty": 5}])
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!D10", "price-required")]  # 10 header fields
