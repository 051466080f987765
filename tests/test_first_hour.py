"""Issue 15, the first hour of a new user: dropdowns that appear by themselves, answers
that say what to do first, lookups from the command line, no accidental close."""
from __future__ import annotations

import json
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


def _problems(root: Path) -> dict[str, list[dict]]:
    result = jxc("run", "--json", cwd=root)
    return {o["file"]: o["problems"] for o in map(json.loads, result.stdout.splitlines())}


def test_a_receipt_on_an_empty_ledger_says_master_data_goes_first(tmp_path):
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    make_form(root / "inbox" / "r.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1",
                                                     "supplier": "S01"}, [{"sku": "A001", "qty": 5, "unit_cost": 23}])
    found = _problems(root)["r.xlsx"]
    assert [p["code"] for p in found] == ["unknown-warehouses", "unknown-suppliers", "unknown-items"]
    assert found[0]["zh"].startswith("仓库 WH1 不存在; 仓库表里还没有任何仓库: 先放入 warehouses.xlsx")
    assert "物料表里还没有任何物料: 先放入 items.xlsx" in found[2]["zh"]
    assert "drop items.xlsx (the items form) first" in found[2]["en"]


def test_messages_say_how_to_fix_the_cell(tmp_path):
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    make_form(root / "inbox" / "r.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1",
                                                     "supplier": "S01"},
              [{"sku": "A001", "qty": "12箱", "unit_cost": 23}, {"sku": "A001", "qty": "1,5", "unit_cost": "23元"}])
    make_form(root / "inbox" / "w.xlsx", "receipt", {"doc_no": "CG-2", "doc_date": D, "warehouse": "WH9",
                                                     "supplier": "S09"}, [{"sku": "A001", "qty": 1, "unit_cost": 23}])
    answers = _problems(root)
    found = {p["where"]: p for p in answers["r.xlsx"] + answers["w.xlsx"]}
    assert {w: p["code"] for w, p in found.items()} == {
        "明细!B9": "not-a-number", "明细!B10": "not-a-number", "明细!D10": "not-a-number",
        "明细!B4": "unknown-warehouses", "明细!E4": "unknown-suppliers"}
    assert "在 数量 填 12, 在 单位 填 箱" in found["明细!B9"]["zh"]
    assert "12 in qty, 箱 in unit" in found["明细!B9"]["en"]
    assert "写成 1.5" in found["明细!B10"]["zh"] and "decimal point: 1.5" in found["明细!B10"]["en"]
    assert "请只填数字, 如 23" in found["明细!D10"]["zh"]
    assert "请先在仓库表 warehouses.xlsx 登记" in found["明细!B4"]["zh"]
    assert "请先在供应商表 suppliers.xlsx 登记" in found["明细!E4"]["zh"]


def test_no_message_for_a_clerk_names_a_jxc_command():
    from jxc_sheets.cli import EXAMPLES
    from jxc_sheets.problems import CATALOGUE, NOT_A_NUMBER_FIXES, unknown_code_fix

    texts = [t for pair in CATALOGUE.values() for t in pair] + [t for pair in NOT_A_NUMBER_FIXES.values() for t in pair]
    texts += [t for ref in ("items", "warehouses") for none in (True, False) for t in unknown_code_fix(ref, none).values()]
    assert [t for t in texts for command in EXAMPLES if f"jxc {command}" in t] == []
