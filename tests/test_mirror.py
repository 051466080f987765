"""outbox/ledger/YYYY-MM.xlsx (reports/mirror.py) rewritten only when its month changed:
real forms run through the pipeline in process, the mirrors read back from the workbooks."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from conftest import drop_master, make_form, make_table, run_files
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.reports.refresh import write_reports
from jxc_sheets.reports.book import tab

MONTHS = ("2026-09", "2026-10", "2026-11")


@pytest.fixture
def workspace(tmp_path):
    """RK-1 09-10: A001 10 at 10.00 = 100.00 (WH1). CK-1 10-05: 4 A001 out at 10.00 = 40.00,
    6 left worth 60.00. CK-2 11-05: 2 out at 10.00 = 20.00, 4 left worth 40.00 (moving average)."""
    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    inbox = settings.inbox
    drop_master(inbox)
    _receipt(inbox / "r1.xlsx", "RK-1", date(2026, 9, 10), "A001", 10, 10)
    _delivery(inbox / "d1.xlsx", "CK-1", date(2026, 10, 5), 4)
    _delivery(inbox / "d2.xlsx", "CK-2", date(2026, 11, 5), 2)
    assert {o.status for o in run_files(settings, open_ledger(settings.ledger_url)).values()} == {"posted"}
    return settings


def _receipt(path, doc_no, day, sku, qty, cost):
    make_form(path, "receipt", {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "supplier": "S01"},
              [{"sku": sku, "qty": qty, "unit_cost": cost}])


def _delivery(path, doc_no, day, qty):
    make_form(path, "delivery", {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "customer": "C01"},
              [{"sku": "A001", "qty": qty, "unit_price": 30}])


def mirror(settings, month) -> dict[str, tuple]:
    """doc_no → (value, balance_qty, balance_value) of the month's mirror, and its _meta kind under "_kind"."""
    book = openpyxl.load_workbook(settings.outbox / "ledger" / f"{month}.xlsx", read_only=True)
    found = list(book[tab("ledger")].iter_rows(values_only=True))
    labels = [label.split(" ")[-1] for label in found[0]]
    rows = [dict(zip(labels, r)) for r in found[1:]]
    out = {r["doc_no"]: tuple(Decimal(str(r[k])) for k in ("value", "balance_qty", "balance_value")) for r in rows}
    out["_kind"] = dict(r[:2] for r in book["_meta"].iter_rows(max_col=2, values_only=True))["kind"]
    book.close()
    return out


def stamps(settings) -> dict[str, tuple[int, bytes]]:
    return {m: ((p := settings.outbox / "ledger" / f"{m}.xlsx").stat().st_mtime_ns, p.read_bytes()) for m in MONTHS}


def test_a_backdated_receipt_rewrites_the_months_it_revalued_and_only_those(workspace):
    """RK-2 09-20: A001 10 at 20.00 = 200.00, under CK-1 and CK-2: 20 worth 300.00, 15.00 each.
    CK-1 now takes 4 × 15.00 = 60.00 (16 left worth 240.00), CK-2 2 × 15.00 = 30.00 (14 left
    worth 210.00): all three months changed. Then RK-3 09-25, B002 alone (nothing after it):
    only 2026-09 changes, October's and November's mirrors stay as they were, byte for byte."""
    engine = open_ledger(workspace.ledger_url)
    assert mirror(workspace, "2026-10")["CK-1"] == (Decimal("-40"), Decimal("6"), Decimal("60"))
    assert mirror(workspace, "2026-11")["CK-2"] == (Decimal("-20"), Decimal("4"), Decimal("40"))

    _receipt(workspace.inbox / "r2.xlsx", "RK-2", date(2026, 9, 20), "A001", 10, 20)
    assert run_files(workspace, engine)["r2.xlsx"].status == "posted"
    assert mirror(workspace, "2026-09")["RK-2"] == (Decimal("200"), Decimal("20"), Decimal("300"))
    assert mirror(workspace, "2026-10")["CK-1"] == (Decimal("-60"), Decimal("16"), Decimal("240"))
    assert mirror(workspace, "2026-11")["CK-2"] == (Decimal("-30"), Decimal("14"), Decimal("210"))
    assert {mirror(workspace, m)["_kind"] for m in MONTHS} == {"ledger_month"}

    before = stamps(workspace)
    _receipt(workspace.inbox / "r3.xlsx", "RK-3", date(2026, 9, 25), "B002", 5, 2)
    assert run_files(workspace, engine)["r3.xlsx"].status == "posted"
    after = stamps(workspace)
    assert after["2026-09"] != before["2026-09"] and "RK-3" in mirror(workspace, "2026-09")
    assert (after["2026-10"], after["2026-11"]) == (before["2026-10"], before["2026-11"])


def test_jxc_report_skips_the_months_whose_mirror_is_up_to_date_and_rebuilds_them_all_when_asked(workspace):
    """Nothing posted since the pipeline's refresh: no mirror is written again, unless `rebuild`
    (`jxc report --all`); a mirror that was removed is written again, and every one once an item
    they show is renamed."""
    engine = open_ledger(workspace.ledger_url)
    folder = workspace.outbox / "ledger"
    assert [p for p in write_reports(engine, workspace) if p.parent == folder] == []
    (folder / "2026-10.xlsx").unlink()
    assert [p for p in write_reports(engine, workspace) if p.parent == folder] == [folder / "2026-10.xlsx"]
    assert [p.stem for p in write_reports(engine, workspace, rebuild=True) if p.parent == folder] == list(MONTHS)
    make_table(workspace.inbox / "items.xlsx", "items", [{"sku": "A001", "name": "A4 纸", "unit": "包"}])
    assert run_files(workspace, engine)["items.xlsx"].status == "posted"
    assert [p.stem for p in write_reports(engine, workspace) if p.parent == folder] == list(MONTHS)  # the name shown
