"""After-sales and customer service (check/service.py, ledger/service.py,
reports/service.py): exchanges posting both legs or neither, return reasons,
feedback opened and resolved by a later form, and outbox/service.xlsx — real forms
in a real workspace, run through the pipeline in process."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from conftest import make_form, make_table, run_files
from jxc_sheets import clock
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports.book import tab
from test_sales import workspace_with

D1, D2, D3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)


@pytest.fixture
def ws(tmp_path):
    settings = workspace_with(tmp_path)
    engine = open_ledger(settings.ledger_url)
    run_files(settings, engine)
    make_form(settings.inbox / "d.xlsx", "delivery",
              {"doc_no": "CK-1", "doc_date": D1, "warehouse": "WH1", "customer": "C01"},
              [{"sku": "A001", "qty": 2, "unit_price": 26}])
    assert run_files(settings, engine)["d.xlsx"].status == "posted"
    return settings, engine


def exchange(settings, name, doc_no, lines, day=D2):
    make_form(settings.inbox / name, "exchange",
              {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "customer": "C01", "ref_doc": "CK-1"}, lines)


def posted(engine, doc_no) -> list[tuple]:
    d, l = schema.documents, schema.lines
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(d.c.kind, d.c.reason, l.c.sku, l.c.qty, l.c.return_reason).join(l, l.c.document_id == d.c.id)
            .where(d.c.doc_no == doc_no).order_by(d.c.kind, l.c.line_no))]


def on_hand(engine, sku) -> Decimal:
    b = schema.balances
    with engine.connect() as conn:
        return conn.execute(select(b.c.qty).where(b.c.sku == sku, b.c.warehouse == "WH1")).scalar()


def problems(outcome) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in outcome.problems]


def sheet_rows(path, sheet) -> list[dict]:
    rows = list(openpyxl.load_workbook(path, read_only=True)[tab(sheet)].iter_rows(values_only=True))
    keys = [label.split(" ")[-1] for label in rows[0]]
    return [dict(zip(keys, row)) for row in rows[1:]]


def test_an_exchange_posts_both_legs_or_neither(ws):
    """HH-1: one A001 back (质量问题), one sent instead: a sales return and a delivery,
    both HH-1; A001 on hand stays 98. HH-2 would send 500 A001 (98 on hand): refused,
    and its return leg (one B002 back) is not posted either. HH-3 has no 换出 line."""
    settings, engine = ws
    exchange(settings, "hh1.xlsx", "HH-1", [{"leg": "退回", "sku": "A001", "qty": 1, "return_reason": "质量问题"},
                                            {"leg": "换出", "sku": "A001", "qty": 1}])
    exchange(settings, "hh2.xlsx", "HH-2", [{"leg": "退回", "sku": "B002", "qty": 1},
                                            {"leg": "换出", "sku": "A001", "qty": 500}])
    exchange(settings, "hh3.xlsx", "HH-3", [{"leg": "退回", "sku": "A001", "qty": 1}])
    exchange(settings, "hh4.xlsx", "HH-4", [{"leg": "送", "sku": "A001", "qty": 1}, {"leg": "换出", "sku": "A001", "qty": 1}])
    outcomes = run_files(settings, engine)
    assert outcomes["hh1.xlsx"].status == "posted" and outcomes["hh1.xlsx"].documents == 2
    assert posted(engine, "HH-1") == [("delivery", "换货 exchange", "A001", 1, None),
                                      ("sales_return", "换货 exchange", "A001", 1, "质量问题")]
    assert on_hand(engine, "A001") == 98  # 100 - 2 (CK-1) + 1 - 1
    assert problems(outcomes["hh2.xlsx"]) == [("明细!C10", "insufficient-stock")]
    assert posted(engine, "HH-2") == [] and on_hand(engine, "B002") == 100
    assert problems(outcomes["hh3.xlsx"]) == [("明细!B3", "exchange-both-legs")]
    assert problems(outcomes["hh4.xlsx"]) == [("明细!A9", "exchange-leg")]
    # priced alike: the goods back at CK-1's 26, the goods sent instead at what came back, so
    # the customer owes nothing more: + 29.38 (26 + 13 %) for the delivery leg, − 29.38 for the return
    with engine.connect() as conn:
        d, l, mi = schema.documents, schema.lines, schema.money_items
        assert [tuple(r) for r in conn.execute(select(d.c.kind, l.c.unit_price, l.c.price_rule).join(
            d, d.c.id == l.c.document_id).where(d.c.doc_no == "HH-1").order_by(d.c.kind))] == [
            ("delivery", 26, "exchange"), ("sales_return", 26, "original")]
        owed = conn.execute(select(mi.c.amount).join(d, d.c.id == mi.c.document_id).where(d.c.doc_no == "HH-1")).scalars().all()
    assert sorted(owed) == [Decimal("-29.38"), Decimal("29.38")]
    assert any("取自原出库单价" in n for n in outcomes["hh1.xlsx"].notes)
    # dropped again: both legs are recognised, nothing posts twice
    exchange(settings, "again.xlsx", "HH-1", [{"leg": "退回", "sku": "A001", "qty": 1, "return_reason": "质量问题"},
                                              {"leg": "换出", "sku": "A001", "qty": 1}])
    assert run_files(settings, engine)["again.xlsx"].status == "skipped"


def test_a_return_reason_comes_from_the_list_config_extends(ws, tmp_path):
    settings, engine = ws
    make_form(settings.inbox / "r.xlsx", "sales_return",
              {"doc_no": "XT-1", "doc_date": D2, "warehouse": "WH1", "customer": "C01", "ref_doc": "CK-1"},
              [{"sku": "A001", "qty": 1, "unit_price": 26, "return_reason": "包装破损"}])
    assert problems(run_files(settings, engine)["r.xlsx"]) == [("明细!N9", "return-reason")]

    extended = workspace_with(tmp_path / "extended", more_return_reasons=("包装破损",))
    engine = open_ledger(extended.ledger_url)
    run_files(extended, engine)
    make_form(extended.inbox / "r.xlsx", "sales_return",
              {"doc_no": "XT-1", "doc_date": D2, "warehouse": "WH1", "customer": "C01"},
              [{"sku": "A001", "qty": 1, "unit_price": 26, "return_reason": "包装破损"}])
    assert run_files(extended, engine)["r.xlsx"].status == "posted"
    assert posted(engine, "XT-1") == [("sales_return", "", "A001", 1, "包装破损")]


def test_feedback_is_opened_then_resolved_by_a_later_form(ws):
    """FK-1 (a complaint about A001, 王五's) and FK-2 (an inquiry, 李四's) came in on
    11-02: today (11-20) they are 18 days open. A later form naming FK-1 with 已解决
    resolves it today; FK-2 stays open."""
    settings, engine = ws
    today = clock.today()
    make_table(settings.inbox / "fb.xlsx", "feedback", [
        {"doc_no": "FK-1", "doc_date": D1, "customer": "C01", "channel": "电话", "category": "投诉", "sku": "A001",
         "ref_doc": "CK-1", "text": "纸张受潮", "owner": "王五"},
        {"doc_no": "FK-2", "doc_date": D1, "customer": "C02", "channel": "微信", "category": "咨询", "owner": "李四",
         "text": "能否开专票"},
        {"doc_no": "FK-3", "customer": "C02", "category": "表扬"},  # new, without its date
        {"doc_no": "FK-4", "doc_date": D1, "customer": "C02", "category": "抱怨"},
    ])
    assert problems(run_files(settings, engine)["fb.xlsx"]) == [("明细!B4", "feedback-new"),
                                                                ("明细!E5", "feedback-category")]
    make_table(settings.inbox / "fb.xlsx", "feedback", [
        {"doc_no": "FK-1", "doc_date": D1, "customer": "C01", "channel": "电话", "category": "投诉", "sku": "A001",
         "ref_doc": "CK-1", "text": "纸张受潮", "owner": "王五"},
        {"doc_no": "FK-2", "doc_date": D1, "customer": "C02", "channel": "微信", "category": "咨询", "owner": "李四",
         "text": "能否开专票"}])
    assert run_files(settings, engine)["fb.xlsx"].status == "posted"
    service = settings.outbox / "service.xlsx"
    assert [(r["doc_no"], r["days_open"], r["category"], r["owner"]) for r in sheet_rows(service, "open")] == [
        ("FK-1", 18, "投诉", "王五"), ("FK-2", 18, "咨询", "李四")]
    assert openpyxl.load_workbook(service)["_meta"]["B1"].value == "service"

    make_table(settings.inbox / "done.xlsx", "feedback", [{"doc_no": "FK-1", "status": "已解决"}],
               columns=["doc_no", "status"])
    assert run_files(settings, engine)["done.xlsx"].status == "posted"
    with engine.connect() as conn:
        f = schema.feedback
        row = conn.execute(select(f).where(f.c.doc_no == "FK-1")).one()
    assert (row.status, row.resolved_date, row.customer, row.text, row.owner) == ("resolved", today, "C01", "纸张受潮", "王五")
    assert [r["doc_no"] for r in sheet_rows(service, "open")] == ["FK-2"]
    panel = (settings.outbox / "index.html").read_text(encoding="utf-8").split('<section class="customer-service">')[1]
    assert "<td>咨询</td><td class=\"num\">1</td><td class=\"num\">18</td>" in panel.split("</section>")[0]
    assert [(r["category"], r["owner"], r["open"], r["oldest_days"]) for r in sheet_rows(service, "open_by_owner")] == [
        ("咨询", "李四", 1, 18)]
    assert [(r["month"], r["category"], r["sku"], r["count"], r["resolved"])
            for r in sheet_rows(service, "feedback_monthly")] == [("2026-11", "咨询", None, 1, 0), ("2026-11", "投诉", "A001", 1, 1)]  # no item: an empty cell


def test_service_return_rates_by_item_and_reason(ws):
    """A001: 2 delivered (CK-1) + 1 sent by the exchange = 3; 1 back for 质量问题 (the
    exchange) and 1 for 发错货 (XT-1): 2 / 3 = 0.6667, each reason 1 / 3 = 0.3333."""
    settings, engine = ws
    exchange(settings, "hh1.xlsx", "HH-1", [{"leg": "退回", "sku": "A001", "qty": 1, "return_reason": "质量问题"},
                                            {"leg": "换出", "sku": "A001", "qty": 1}])
    make_form(settings.inbox / "r.xlsx", "sales_return",
              {"doc_no": "XT-1", "doc_date": D3, "warehouse": "WH1", "customer": "C01", "ref_doc": "CK-1"},
              [{"sku": "A001", "qty": 1, "unit_price": 26, "return_reason": "发错货"}])
    run_files(settings, engine)
    service = settings.outbox / "service.xlsx"
    assert [(r["month"], r["sku"], r["delivered_qty"], r["returned_qty"], r["return_rate"])
            for r in sheet_rows(service, "return_rate_item")] == [("2026-11", "A001", 3, 2, 0.6667)]
    assert [(r["reason"], r["returned_qty"], r["return_rate"]) for r in sheet_rows(service, "return_rate_reason")] == [
        ("发错货", 1, 0.3333), ("质量问题", 1, 0.3333)]


def repair(settings, name, lines, **header):
    make_form(settings.inbox / name, "repair",
              {"doc_no": "WX-1", "doc_date": D2, "customer": "C01", "repair_item": "打印机 HP-1020", "serial": "SN123",
               "fault": "卡纸", "promised_date": D3, "warehouse": "WH1", "technician": "赵六", **header}, lines)


def test_a_repair_issues_its_parts_at_cost_and_is_taken_back_later(ws):
    """WX-1 came in on 11-03, promised for 11-04: on 11-20 it is 17 days in hand and
    overdue. Its part, 2 B002 at the opening cost 2.00, leaves stock at 4.00 (to 销售费用
    by the reason 维修). Dropped again with 已取回, the repair is closed today, and its
    part is not issued a second time."""
    settings, engine = ws
    repair(settings, "wx.xlsx", [{"sku": "B002", "qty": 2}])
    repair(settings, "nowh.xlsx", [{"sku": "B002", "qty": 1}], doc_no="WX-2", warehouse=None)
    repair(settings, "short.xlsx", [{"sku": "B002", "qty": 500}], doc_no="WX-3")
    outcomes = run_files(settings, engine)
    assert outcomes["wx.xlsx"].status == "posted"
    assert problems(outcomes["nowh.xlsx"]) == [("明细!E6", "required")]
    assert problems(outcomes["short.xlsx"]) == [("明细!B12", "insufficient-stock")]
    m, d = schema.movements, schema.documents
    with engine.connect() as conn:
        moved = conn.execute(select(m.c.sku, m.c.qty, m.c.value, d.c.reason).join(d, d.c.id == m.c.document_id)
                             .where(d.c.doc_no == "WX-1")).all()
    assert [tuple(r) for r in moved] == [("B002", -2, Decimal("-4.00"), "维修 repair")]
    assert on_hand(engine, "B002") == 98
    service = settings.outbox / "service.xlsx"
    [row] = sheet_rows(service, "repairs")
    assert (row["doc_no"], row["days_in_hand"], row["overdue"], row["technician"]) == ("WX-1", 17, "Y", "赵六")
    dashboard = (settings.outbox / "index.html").read_text(encoding="utf-8")
    panel = dashboard.split('<section class="customer-service">')[1].split("</section>")[0]
    assert "WX-1" in panel and "逾期 overdue" in panel and "no open feedback" in panel

    repair(settings, "wx.xlsx", [{"sku": "B002", "qty": 2}], status="已取回")
    outcome = run_files(settings, engine)["wx.xlsx"]
    assert outcome.status == "posted"
    assert "WX-1: 维修状态 returned 已更新 / repair updated: returned" in outcome.notes
    with engine.connect() as conn:
        r = schema.repairs
        assert tuple(conn.execute(select(r.c.status, r.c.returned_date).where(r.c.doc_no == "WX-1")).one()) == \
            ("returned", clock.today())
    assert on_hand(engine, "B002") == 98  # the part was issued once
    assert sheet_rows(service, "repairs") == []
    repair(settings, "wx.xlsx", [{"sku": "B002", "qty": 2}], status="已取回")
    assert run_files(settings, engine)["wx.xlsx"].status == "skipped"  # nothing changed
