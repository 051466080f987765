"""The whole flow on real folders and a real SQLite ledger: drop → run → archive or
rejected → reports."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
from sqlalchemy import func, select

from conftest import D, drop_master, jxc, make_form, make_table
from jxc_sheets import inbox
from jxc_sheets.ledger import schema
from jxc_sheets.pipeline import run_inbox


def _opening(path: Path) -> Path:
    return make_form(path, "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 31)}, [
        {"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20},
        {"warehouse": "WH1", "sku": "B002", "qty": 100, "unit_cost": "1.50"},
    ])


def _balances(engine) -> dict:
    with engine.connect() as conn:
        return {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(select(schema.balances))}


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_drop_of_a_whole_folder_posts_in_a_sensible_order(workspace, engine):
    # names sort the wrong way round on purpose: the delivery first, master data last
    make_form(workspace.inbox / "a-delivery.xlsx", "delivery",
              {"doc_no": "XS-1", "doc_date": D, "warehouse": "WH1", "customer": "C01"}, [{"sku": "A001", "qty": 15}])
    make_form(workspace.inbox / "b-receipt.xlsx", "receipt",
              {"doc_no": "CG-1", "doc_date": date(2026, 11, 2), "warehouse": "WH1", "supplier": "S01"},
              [{"sku": "A001", "qty": 2, "unit": "箱", "unit_cost": 115}])
    _opening(workspace.inbox / "c-opening.xlsx")
    drop_master(workspace.inbox)

    outcomes = run_inbox(workspace, engine=engine)

    assert [(o.file, o.status) for o in outcomes] == [
        ("warehouses.xlsx", "posted"), ("suppliers.xlsx", "posted"), ("customers.xlsx", "posted"),
        ("items.xlsx", "posted"), ("c-opening.xlsx", "posted"), ("b-receipt.xlsx", "posted"),
        ("a-delivery.xlsx", "posted"),
    ]
    # A001: 10 @ 20.00 = 200.00, + 2 箱 × 5 = 10 @ 23.00 = 230.00 → 20 @ 21.50; − 15 → 5, 107.50
    assert _balances(engine)[("A001", "WH1")] == (Decimal(5), Decimal("107.50"))
    assert inbox.candidates(workspace.inbox) == []
    month = next((workspace.archive).iterdir())
    assert sorted(p.name for p in month.iterdir()) == sorted(o.file for o in outcomes)


def test_a_wrong_file_comes_back_with_its_cells_marked_and_nothing_posted(workspace, engine):
    drop_master(workspace.inbox)
    _opening(workspace.inbox / "opening.xlsx")
    run_inbox(workspace, engine=engine)
    before = _balances(engine), _count(engine, schema.movements)
    bad = make_form(workspace.inbox / "delivery.xlsx", "delivery",
                    {"doc_no": "XS-9", "doc_date": D, "warehouse": "WH1", "customer": "C01"},
                    [{"sku": "A001", "qty": "12箱"}, {"sku": "X-404", "qty": 1}, {"sku": "B002", "qty": 500}])
    digest = _sha(bad)

    [outcome] = run_inbox(workspace, engine=engine)

    assert outcome.status == "rejected"
    assert [(p.where, p.code) for p in outcome.problems] == [
        ("明细!B9", "not-a-number"), ("明细!A10", "unknown-items"), ("明细!B11", "insufficient-stock"),
    ]
    assert "可用 100" in outcome.problems[2].zh
    assert (_balances(engine), _count(engine, schema.movements)) == before
    original = workspace.rejected / "delivery.xlsx"
    assert _sha(original) == digest
    copy = openpyxl.load_workbook(workspace.rejected / "delivery.errors.xlsx")
    assert copy.sheetnames[0] == "问题 problems"
    sheet = copy["明细"]
    red = {c.coordinate for row in sheet.iter_rows() for c in row if c.fill.fgColor.rgb in ("FFFFC7CE", "00FFC7CE")}
    assert red == {"B9", "A10", "B11"}
    assert "not-a-number" in sheet["B9"].comment.text
    with engine.connect() as conn:
        row = conn.execute(select(schema.files).where(schema.files.c.name == "delivery.xlsx")).one()
    assert (row.status, row.problems) == ("rejected", 3)


def test_dropping_the_same_file_twice_is_harmless(workspace, engine):
    drop_master(workspace.inbox)
    opening = _opening(workspace.inbox / "opening.xlsx")
    copy = opening.read_bytes()
    run_inbox(workspace, engine=engine)
    movements = _count(engine, schema.movements)

    (workspace.inbox / "opening.xlsx").write_bytes(copy)
    [again] = run_inbox(workspace, engine=engine)

    assert again.status == "skipped"
    assert _count(engine, schema.movements) == movements
    archived = sorted(p.name for p in next(workspace.archive.iterdir()).iterdir())
    assert "opening.xlsx" in archived and "opening (2).xlsx" in archived


def test_a_posted_number_with_other_content_is_refused_with_the_way_to_correct_it(workspace, engine):
    drop_master(workspace.inbox)
    _opening(workspace.inbox / "opening.xlsx")
    run_inbox(workspace, engine=engine)
    make_form(workspace.inbox / "opening-fixed.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 31)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 11, "unit_cost": 20}])

    [outcome] = run_inbox(workspace, engine=engine)

    assert [(p.where, p.code) for p in outcome.problems] == [("明细!B3", "doc-no-conflict")]
    assert "请 IT 先红字冲销 QC-1, 再用新单号提交" in outcome.problems[0].zh  # what to ask IT for, no command


def test_all_documents_of_a_file_post_or_none(workspace, engine):
    drop_master(workspace.inbox)
    _opening(workspace.inbox / "opening.xlsx")
    run_inbox(workspace, engine=engine)
    columns = ["doc_no", "doc_date", "warehouse", "customer", "sku", "qty"]
    make_table(workspace.inbox / "shop-export.xlsx", "delivery", [
        {"doc_no": "XS-A", "doc_date": D, "warehouse": "WH1", "customer": "C01", "sku": "A001", "qty": 2},
        {"doc_no": "XS-B", "doc_date": D, "warehouse": "WH1", "customer": "C01", "sku": "A001", "qty": 3},
        {"doc_no": "XS-B", "doc_date": D, "warehouse": "WH1", "customer": "C01", "sku": "B002", "qty": 101},
    ], columns=columns, layout="batch")
    before = _count(engine, schema.documents)

    [outcome] = run_inbox(workspace, engine=engine)

    assert [(p.where, p.code) for p in outcome.problems] == [("明细!F4", "insufficient-stock")]
    assert _count(engine, schema.documents) == before


def test_dry_run_changes_nothing(workspace, engine):
    drop_master(workspace.inbox)
    names = sorted(p.name for p in workspace.inbox.iterdir())

    outcomes = run_inbox(workspace, engine=engine, dry_run=True)

    assert {o.status for o in outcomes} == {"dry-run"}
    assert sorted(p.name for p in workspace.inbox.iterdir()) == names
    assert _count(engine, schema.items) == 0 and _count(engine, schema.files) == 0


def test_lock_and_temp_files_are_never_touched(workspace, engine):
    names = ["~$items.xlsx", ".~lock.items.xlsx#", "items.xlsx.tmp", "copy.part", ".hidden.xlsx"]
    for name in names:
        (workspace.inbox / name).write_bytes(b"in use")

    assert run_inbox(workspace, engine=engine) == []
    assert sorted(p.name for p in workspace.inbox.iterdir()) == sorted(names)


def test_a_file_left_claimed_by_a_dead_run_is_processed_again(workspace, engine):
    drop_master(workspace.inbox)
    run_inbox(workspace, engine=engine)
    work = workspace.inbox / inbox.WORK
    dead_pid = 2 ** 22 + 12345  # above Linux's pid_max default: no such process
    _opening(work / f"{socket.gethostname()}~{dead_pid}~opening.xlsx")

    [outcome] = run_inbox(workspace, engine=engine)

    assert (outcome.file, outcome.status) == ("opening.xlsx", "posted")
    assert list(work.iterdir()) == []


def test_not_a_workbook_is_rejected_with_a_reason(workspace, engine):
    (workspace.inbox / "notes.xlsx").write_text("this is not a workbook", encoding="utf-8")
    (workspace.inbox / "empty.xlsx").write_bytes(b"")

    outcomes = run_inbox(workspace, engine=engine)

    assert {(o.file, o.status) for o in outcomes} == {("notes.xlsx", "rejected"), ("empty.xlsx", "rejected")}
    assert all(o.problems[0].code == "file-unreadable" for o in outcomes)
    assert (workspace.rejected / "notes.errors.xlsx").exists()


def test_reports_reflect_the_batch(workspace, engine):
    drop_master(workspace.inbox)
    _opening(workspace.inbox / "opening.xlsx")
    make_form(workspace.inbox / "delivery.xlsx", "delivery",
              {"doc_no": "XS-1", "doc_date": D, "warehouse": "WH1", "customer": "C01"}, [{"sku": "B002", "qty": 40}])

    run_inbox(workspace, engine=engine)

    stock = openpyxl.load_workbook(workspace.outbox / "stock.xlsx")
    sheet = stock.worksheets[0]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    by_sku = {r[next(h for h in header if h.endswith(" sku"))]: r for r in rows}
    qty = next(h for h in header if h.endswith(" qty"))
    value = next(h for h in header if h.endswith(" value"))
    assert Decimal(str(by_sku["B002"][qty])) == 60
    assert Decimal(str(by_sku["B002"][value])).quantize(Decimal("0.01")) == Decimal("90.00")
    assert (workspace.outbox / "ledger" / "2026-10.xlsx").exists()
    assert (workspace.outbox / "ledger" / "2026-11.xlsx").exists()
    assert "B002" in (workspace.outbox / "index.html").read_text(encoding="utf-8")
    log = openpyxl.load_workbook(workspace.outbox / "log.xlsx").worksheets[0]
    assert log.max_row == 1 + 6  # header + 4 master files + opening + delivery


def test_a_run_clears_what_a_killed_run_left_behind(tmp_path):
    jxc("init", "ws", cwd=tmp_path)
    ws, temp = tmp_path / "ws", tmp_path / "tmp"
    temp.mkdir()
    old, recent = time.time() - 3 * 24 * 3600, time.time()
    leftovers = {ws / "rejected" / ".r.errors.xlsx.123.abc.tmp": old, ws / "rejected" / ".s.errors.xlsx.9.def.tmp": recent,
                 temp / "jxc-killed": old, temp / "jxc-running": recent}
    for path, when in leftovers.items():
        path.mkdir() if path.parent == temp else path.write_bytes(b"half")
        os.utime(path, (when, when))
    subprocess.run([sys.executable, "-m", "jxc_sheets", "run"], cwd=ws, check=True, capture_output=True,
                   env={**os.environ, "TMPDIR": str(temp)})
    assert {p.name for p in leftovers if p.exists()} == {".s.errors.xlsx.9.def.tmp", "jxc-running"}
