"""Issue 15, the first hour of a new user: dropdowns that appear by themselves, answers
that say what to do first, lookups from the command line, no accidental close."""
from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import openpyxl

from conftest import D, drop_master, jxc, make_form, make_table

REPO = Path(__file__).parents[1]


def _listed(template: Path, column: int) -> list[str]:
    wb = openpyxl.load_workbook(template, read_only=True)
    values = [row[0] for row in wb["_lists"].iter_rows(min_row=2, min_col=column, max_col=column, values_only=True)]
    return [v for v in values if v]


def test_templates_list_master_data_after_the_batch_that_posted_it(tmp_path):
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    receipt = root / "templates" / "receipt.xlsx"
    assert _listed(receipt, 2) == []  # no warehouses yet
    drop_master(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    assert _listed(receipt, 2) == ["WH1", "WH2"]
    assert _listed(root / "templates" / "batch" / "receipt.xlsx", 1) == ["00123", "A001", "B002"]  # OLD1 is inactive

    before = receipt.stat().st_mtime_ns
    make_form(root / "inbox" / "r.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1",
                                                     "supplier": "S01"}, [{"sku": "A001", "qty": 5, "unit_cost": 23}])
    jxc("run", "--quiet", cwd=root)
    assert receipt.stat().st_mtime_ns == before  # no master data posted: the forms stay as they are

    make_table(root / "inbox" / "w.xlsx", "warehouses", [{"code": "WH3", "name": "杭州仓"}])
    jxc("run", "--quiet", cwd=root)
    assert _listed(receipt, 2) == ["WH1", "WH2", "WH3"]


def test_jxc_in_the_repository_folder_leaves_the_checkout_clean():
    """The committed blank forms live in forms/; templates/ and backups/ of a workspace in
    the repository folder are ignored."""
    ignored = subprocess.run(["git", "check-ignore", "templates/receipt.xlsx", "backups/ledger-1.sqlite3"],
                             cwd=REPO, capture_output=True, text=True)
    assert ignored.stdout.split() == ["templates/receipt.xlsx", "backups/ledger-1.sqlite3"]
    assert (REPO / "forms" / "receipt.xlsx").exists()
    assert not subprocess.run(["git", "check-ignore", "forms/receipt.xlsx"], cwd=REPO).returncode == 0
