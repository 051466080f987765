"""Stock counts through the real pipeline: count sheets from `jxc count-sheet`, counts
against the book at their date, variances within tolerance posted at once, the
others approved (or not) on the variance workbook dropped back, and the cycle-count
plan — real workbooks, a real SQLite ledger."""
from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from conftest import drop_master, jxc, make_form, run_files
from jxc_sheets import clock
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import counts as ledger_counts
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.sheets.read import read_workbook
from jxc_sheets.reports.book import tab

D1, D5, D10, D12 = date(2026, 11, 1), date(2026, 11, 5), date(2026, 11, 10), date(2026, 11, 12)


def stocked(settings, engine) -> None:
    drop_master(settings.inbox)
    make_form(settings.inbox / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": D1}, [
        {"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 20},
        {"warehouse": "WH1", "sku": "B002", "qty": 1000, "unit_cost": 2},
        {"warehouse": "WH1", "sku": "00123", "qty": 10, "unit_cost": 4},
        {"warehouse": "WH2", "sku": "A001", "qty": 5, "unit_cost": 20},
    ])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}


def count(settings, name="count.xlsx", doc_no="PD-1", day=D10, scope="partial", lines=None):
    lines = lines if lines is not None else [{"sku": "A001", "counted_qty": 99, "remark": "破损一包"},
                                             {"sku": "B002", "counted_qty": 900}]
    return make_form(settings.inbox / name, "count",
                     {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "scope": scope, "counted_by": "王芳"}, lines)


def balance(engine, sku, warehouse="WH1") -> tuple[Decimal, Decimal]:
    b = schema.balances
    with engine.connect() as conn:
        return tuple(conn.execute(select(b.c.qty, b.c.value).where(b.c.sku == sku, b.c.warehouse == warehouse)).one())


def statuses(engine, doc_no="PD-1") -> dict[str, str]:
    with engine.connect() as conn:
        return {l.sku: l.status for l in ledger_counts.count_lines(conn, doc_no)}


def variance_rows(path) -> list[dict]:
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    labels = next(i for i, r in enumerate(rows) if r and r[0] == "行号 line_no")
    keys = [str(label).split(" ")[-1] for label in rows[labels] if label]
    return [dict(zip(keys, r)) for r in rows[labels + 1:] if r[0] is not None]


# --- count sheets -----------------------------------------------------------------

@pytest.mark.slow
def test_count_sheets_list_the_stock_by_bin_with_or_without_the_book(tmp_path):
    jxc("init", "ws", cwd=tmp_path)
    ws = tmp_path / "ws"
    settings = Settings(Config(), ws)
    engine = open_ledger(settings.ledger_url)
    stocked(settings, engine)
    engine.dispose()
    jxc("count-sheet", "WH1", "--date", "2026-11-10", cwd=ws)
    jxc("count-sheet", "WH1", "--date", "2026-11-10", "--blind", cwd=ws)
    [raw], problems = read_workbook(ws / "outbox" / "count" / "盘点表-WH1-20261110.xlsx")
    assert problems == [] and raw.kind == "count"
    assert raw.header["scope"].value == "全盘 full" and raw.header["doc_no"].value == "PD20261110-WH1"
    assert list(zip(raw.lines.columns["sku"], raw.lines.columns["book_qty"])) == [
        ("00123", 10), ("A001", 100), ("B002", 1000)]
    [blind], _ = read_workbook(ws / "outbox" / "count" / "盘点表-WH1-20261110-blind.xlsx")
    assert blind.lines.columns["book_qty"] == [None, None, None]
    unknown = jxc("count-sheet", "WH9", cwd=ws, check=False)
    assert unknown.returncode == 2 and "WH9" in unknown.stderr


# --- posting a count ----------------------------------------------------------------

def test_within_tolerance_posts_at_once_and_beyond_it_is_held(workspace, engine):
    stocked(workspace, engine)
    count(workspace)
    outcome = run_files(workspace, engine)["count.xlsx"]
    assert outcome.status == "posted" and any("待审批" in n for n in outcome.notes)
    assert statuses(engine) == {"A001": "posted", "B002": "held"}
    assert balance(engine, "A001") == (99, Decimal("1980.00"))  # −1 包 at 20.00
    assert balance(engine, "B002") == (1000, Decimal("2000.00"))  # held: untouched until approved
    rows = {r["sku"]: r for r in variance_rows(workspace.outbox / "variance" / "PD-1.xlsx")}
    assert (rows["B002"]["book_qty"], rows["B002"]["counted_qty"], rows["B002"]["difference"]) == (1000, 900, -100)
    assert (rows["B002"]["value_difference"], rows["B002"]["difference_pct"]) == (-200, -10)
    summary = openpyxl.load_workbook(workspace.outbox / "variance" / "PD-1.xlsx")[tab("summary")]
    assert summary["B4"].value == -220 and summary["B8"].value == 50  # loss value; accuracy 1 of 2 lines

    count(workspace, name="again.xlsx")
    assert run_files(workspace, engine)["again.xlsx"].status == "skipped"  # the same count, dropped twice


def test_the_book_is_taken_at_the_end_of_the_count_date(workspace, engine):
    stocked(workspace, engine)
    make_form(workspace.inbox / "d.xlsx", "delivery",
              {"doc_no": "CK-1", "doc_date": D12, "warehouse": "WH1", "customer": "C01"}, [{"sku": "A001", "qty": 30}])
    run_files(workspace, engine)
    count(workspace, day=D10, lines=[{"sku": "A001", "counted_qty": 98}])  # counted before the delivery
    assert run_files(workspace, engine)["count.xlsx"].status == "posted"
    with engine.connect() as conn:
        [line] = ledger_counts.count_lines(conn, "PD-1")
        moved = conn.execute(select(schema.movements.c.doc_date, schema.movements.c.qty)
                             .where(schema.movements.c.kind == "count")).all()
    assert (line.book_qty, line.difference) == (100, -2)  # the delivery dated later does not disturb it
    assert moved == [(D10, -2)]
    assert balance(engine, "A001") == (68, Decimal("1360.00"))


def test_a_full_count_counts_what_it_does_not_list_as_zero(workspace, engine):
    stocked(workspace, engine)
    count(workspace, scope="全盘", lines=[{"sku": "A001", "counted_qty": 100, "location": "A-01"},
                                         {"sku": "B002", "counted_qty": 600, "location": "B-01"},
                                         {"sku": "B002", "counted_qty": 400, "location": "B-02"}])
    assert run_files(workspace, engine)["count.xlsx"].status == "posted"
    with engine.connect() as conn:
        lines = {l.sku: l for l in ledger_counts.count_lines(conn, "PD-1")}
    assert (lines["B002"].counted_qty, lines["B002"].location, lines["B002"].status) == (1000, "B-01; B-02", "exact")
    assert (lines["00123"].counted_qty, lines["00123"].difference, lines["00123"].status) == (0, -10, "held")
    assert balance(engine, "00123") == (10, Decimal("40.00"))
    assert balance(engine, "A001", "WH2") == (5, Decimal("100.00"))  # another warehouse: not in this count


def test_a_document_dated_on_or_before_a_posted_count_is_refused_at_its_date(workspace, engine):
    """PD-1 counted A001 and B002 in WH1 on 11-10 (book 100, counted 99). A receipt of
    A001 into WH1 dated 11-05, dropped after it, would change the book at the count
    date: refused at its date cell, naming the count. One into WH2, or dated after the
    count, posts. With counts.backdating: warn it posts with the warning instead."""
    stocked(workspace, engine)
    count(workspace, lines=[{"sku": "A001", "counted_qty": 99}, {"sku": "B002", "counted_qty": 1000}])
    assert run_files(workspace, engine)["count.xlsx"].status == "posted"
    receipt = {"doc_no": "CG-5", "doc_date": D5, "warehouse": "WH1", "supplier": "S01"}
    make_form(workspace.inbox / "late.xlsx", "receipt", receipt, [{"sku": "A001", "qty": 10, "unit_cost": 20}])
    make_form(workspace.inbox / "wh2.xlsx", "receipt", receipt | {"doc_no": "CG-6", "warehouse": "WH2"},
              [{"sku": "A001", "qty": 10, "unit_cost": 20}])
    make_form(workspace.inbox / "after.xlsx", "receipt", receipt | {"doc_no": "CG-7", "doc_date": D12},
              [{"sku": "A001", "qty": 10, "unit_cost": 20}])
    outcomes = run_files(workspace, engine)
    [refused] = outcomes["late.xlsx"].problems
    assert (refused.where, refused.code) == ("明细!E3", "counted-after")
    assert "PD-1" in refused.message and "2026-11-10" in refused.message
    assert (outcomes["wh2.xlsx"].status, outcomes["after.xlsx"].status) == ("posted", "posted")
    assert balance(engine, "A001") == (109, Decimal("2180.00"))

    warned = Settings(Config.model_validate({"counts": {"backdating": "warn"}}), workspace.root)
    make_form(workspace.inbox / "late.xlsx", "receipt", receipt, [{"sku": "A001", "qty": 10, "unit_cost": 20}])
    outcome = run_files(warned, engine)["late.xlsx"]
    assert outcome.status == "posted" and any("明细!E3" in note and "PD-1" in note for note in outcome.notes)


def test_bad_counts_are_answered_at_their_cells(workspace, engine):
    stocked(workspace, engine)
    count(workspace, name="scope.xlsx", doc_no="PD-2", scope="大概")
    count(workspace, name="negative.xlsx", doc_no="PD-3", lines=[{"sku": "A001", "counted_qty": -1},
                                                                 {"sku": "B002"}])
    outcomes = run_files(workspace, engine)
    assert [(p.where, p.code) for p in outcomes["scope.xlsx"].problems] == [("明细!E4", "count-scope")]
    assert [(p.where, p.code) for p in outcomes["negative.xlsx"].problems] == [
        ("明细!D9", "negative"), ("明细!D10", "required")]


# --- approval ------------------------------------------------------------------------

@pytest.mark.clock
def test_the_approval_round_trip_posts_approved_lines_once(workspace, engine):
    stocked(workspace, engine)
    count(workspace, lines=[{"sku": "B002", "counted_qty": 900, "remark": "被盗"},
                            {"sku": "00123", "counted_qty": 30, "remark": "找到一箱"}])
    run_files(workspace, engine)
    assert statuses(engine) == {"B002": "held", "00123": "held"}
    book = workspace.outbox / "variance" / "PD-1.xlsx"

    # the supervisor approves the loss, declines the gain, and drops the workbook back
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    approve_col = next(c.column for c in ws[7] if c.value == "批准 approve")  # the label row; lines below it
    ws.cell(8, approve_col, "Y")
    ws.cell(8, approve_col + 1, "已报警, 同意核销")
    ws.cell(9, approve_col, "N")
    wb.save(workspace.inbox / "PD-1 审批.xlsx")
    outcome = run_files(workspace, engine)["PD-1 审批.xlsx"]
    assert outcome.status == "posted" and outcome.kind == "count_approval"
    assert statuses(engine) == {"B002": "approved", "00123": "declined"}
    assert balance(engine, "B002") == (900, Decimal("1800.00"))
    assert balance(engine, "00123") == (10, Decimal("40.00"))
    with engine.connect() as conn:
        d = schema.documents
        assert conn.execute(select(d.c.doc_no, d.c.doc_date).where(d.c.kind == "count_approval")).all() == [
            ("PD-1-SP1", D10)]
        assert check_ledger(conn) == []
    rows = {r["sku"]: r for r in variance_rows(book)}  # rewritten with the decisions
    assert (rows["B002"]["status"], rows["B002"]["approve"]) == ("已批准 approved", "Y")
    assert rows["00123"]["status"] == "不过账 declined"

    shutil.copy(workspace.archive / clock.month() / "PD-1 审批.xlsx", workspace.inbox / "again.xlsx")
    again = run_files(workspace, engine)["again.xlsx"]
    assert again.status == "skipped" and any("decided before" in n for n in again.notes)
    assert balance(engine, "B002") == (900, Decimal("1800.00"))


def test_an_approval_must_name_a_posted_count_and_its_lines(workspace, engine):
    stocked(workspace, engine)
    count(workspace, lines=[{"sku": "B002", "counted_qty": 900}])
    run_files(workspace, engine)
    wb = openpyxl.load_workbook(workspace.outbox / "variance" / "PD-1.xlsx")
    ws = wb.worksheets[0]
    ws["B3"] = "PD-404"
    wb.save(workspace.inbox / "unknown.xlsx")
    ws["B3"] = "PD-1"
    ws["B8"] = "A001"  # line 1 is B002's
    wb.save(workspace.inbox / "mismatch.xlsx")
    outcomes = run_files(workspace, engine)
    assert [(p.where, p.code) for p in outcomes["unknown.xlsx"].problems] == [("明细!B3", "count-unknown")]
    assert [(p.where, p.code) for p in outcomes["mismatch.xlsx"].problems] == [("明细!A8", "count-line-unknown")]


# --- the cycle-count plan ----------------------------------------------------------------

@pytest.mark.clock
def test_the_count_plan_classes_items_and_proposes_what_is_due(workspace, engine):
    stocked(workspace, engine)
    make_form(workspace.inbox / "d.xlsx", "delivery",
              {"doc_no": "CK-1", "doc_date": clock.today(), "warehouse": "WH1", "customer": "C01"},
              [{"sku": "A001", "qty": 50}, {"sku": "B002", "qty": 100}, {"sku": "00123", "qty": 1}])
    count(workspace, day=clock.today(), lines=[{"sku": "A001", "counted_qty": 50}])
    assert {o.status for o in run_files(workspace, engine).values()} == {"posted"}
    wb = openpyxl.load_workbook(workspace.outbox / "count_plan.xlsx", read_only=True)
    rows = list(wb[tab("all")].iter_rows(values_only=True))
    plan = {(r[0], r[2]): r for r in rows[1:]}
    # issue value: A001 1,000.00 (83 %), B002 200.00, 00123 4.00 → A, B, C
    assert [plan[("A001", "WH1")][4], plan[("B002", "WH1")][4], plan[("00123", "WH1")][4]] == ["A", "B", "C"]
    assert plan[("A001", "WH1")][7] is not None  # counted today: due in 30 days
    due_now = {(r[0], r[2]) for r in list(wb[tab("this_week")].iter_rows(values_only=True))[1:]}
    assert ("B002", "WH1") in due_now and ("A001", "WH1") not in due_now
    accuracy = list(wb[tab("accuracy")].iter_rows(values_only=True))[1:]
    assert [(r[0], r[3], r[4], r[5]) for r in accuracy] == [("PD-1", 1, 1, 100)]
