"""Issue 15, the first hour of a new user: dropdowns that appear by themselves, answers
that say what to do first, lookups from the command line, no accidental close."""
from __future__ import annotations

import json
import re
import subprocess
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from conftest import D, drop_master, jxc, make_form, make_table
from jxc_sheets.reports.book import tab

REPO = Path(__file__).parents[1]


def _listed(template: Path, column: int) -> list[str]:
    wb = openpyxl.load_workbook(template, read_only=True)
    values = [row[0] for row in wb["_lists"].iter_rows(min_row=2, min_col=column, max_col=column, values_only=True)]
    return [v for v in values if v]


@pytest.mark.slow
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


def _stocked(tmp_path) -> Path:
    """Master data, an opening of A001 in WH1 (10 包 @ 20) and WH2 (3 包 @ 21) and of
    B002 in WH1 (24 支 @ 1.5); dated in October."""
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    make_form(root / "inbox" / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 31)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20},
               {"warehouse": "WH2", "sku": "A001", "qty": 3, "unit_cost": 21},
               {"warehouse": "WH1", "sku": "B002", "qty": 24, "unit_cost": "1.5"}])
    jxc("run", "--quiet", cwd=root)
    return root


@pytest.mark.slow
def test_jxc_stock_looks_up_an_item_or_a_warehouse(tmp_path):
    """A001: 10 包 in WH1 worth 200.00 and 3 包 in WH2 worth 63.00, together 13 包 and 263.00.
    WH1: A001 200.00 + B002 24 × 1.5 = 36.00, together 236.00; 包 and 支 are not added up."""
    root = _stocked(tmp_path)
    item = jxc("stock", "A001", cwd=root).stdout.splitlines()
    assert [line.split()[:4] for line in item[1:3]] == [["WH1", "A001", "A4", "复印纸"], ["WH2", "A001", "A4", "复印纸"]]
    assert item[-1] == "合计 total: 2 行 rows · 13 包 · 金额 value 263.00"
    warehouse = jxc("stock", "WH1", cwd=root).stdout.splitlines()
    assert warehouse[-1] == "合计 total: 2 行 rows · 金额 value 236.00"
    rows = json.loads(jxc("stock", "WH1", "--json", cwd=root).stdout)
    assert [(r["sku"], r["qty"], r["unit"], r["value"]) for r in rows] == [("A001", "10.0000", "包", "200.00"),
                                                                          ("B002", "24.0000", "支", "36.00")]
    unknown = jxc("stock", "NOPE", cwd=root, check=False)
    assert unknown.returncode == 2 and unknown.stderr.startswith("jxc: NOPE 既不是仓库编码也不是物料编码 / ")


def test_jxc_status_reads_as_sentences_with_local_times(tmp_path):
    root = _stocked(tmp_path)
    outbox = root / "outbox" / ".status"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "otherhost~7.json").write_text(json.dumps({
        "host": "otherhost", "pid": 7, "running_since": "2026-11-19T08:00:00", "stopped_at": "2026-11-19T18:30:05",
        "last_scan": "2026-11-19T18:30:00", "observer": "polling", "inbox_available": True}), encoding="utf-8")
    (outbox / "thishost~8.json").write_text(json.dumps({
        "host": "remote", "pid": 8, "running_since": "2026-11-20T08:00:00", "stopped_at": "",
        "last_scan": datetime.now().isoformat(timespec="microseconds"), "observer": "polling",
        "inbox_available": True}), encoding="utf-8")
    out = jxc("status", cwd=root).stdout
    lines = out.splitlines()
    assert lines[0].startswith("● 运行中 running   remote~8  since 2026-11-20 08:00:00")
    assert lines[1].startswith("○ 未运行 stopped   otherhost~7  stopped 2026-11-19 18:30:05")
    assert "{" not in out and "'" not in out  # no JSON, no Python reprs
    assert re.search(r"^  2026-\d\d-\d\d \d\d:\d\d:\d\d  已过账 posted\s+opening.xlsx$", out, re.M)
    info = json.loads(jxc("status", "--json", cwd=root).stdout)
    assert sorted(w["running"] for w in info["watchers"]) == [False, True]


@pytest.mark.slow
def test_jxc_close_shows_what_it_locks_and_asks(tmp_path):
    root = _stocked(tmp_path)
    dry = jxc("close", "2026-10", "--dry-run", cwd=root)
    assert "将结账并锁定 2026-10" in dry.stdout and "期初库存 opening 1" in dry.stdout
    assert "dry run: nothing was closed" in dry.stdout
    unanswered = jxc("close", "2026-10", cwd=root, check=False)  # stdin closed: no answer is no
    assert unanswered.returncode == 2 and "--yes" in unanswered.stderr
    declined = jxc("close", "2026-10", cwd=root, check=False, answer="n\n")
    assert declined.returncode == 2 and not (root / "outbox" / "monthend" / "2026-10.xlsx").exists()
    closed = jxc("close", "2026-10", cwd=root, answer="y\n")
    assert "已结账 closed: 2026-10" in closed.stdout
    again = jxc("close", "2026-10", "--dry-run", cwd=root, check=False)
    assert again.returncode == 2 and "already closed" in again.stderr
    assert "已结账 closed: 2026-10" not in jxc("close", "2026-11", "--dry-run", cwd=root, check=False).stdout


@pytest.mark.slow
def test_help_explains_every_argument_and_errors_name_no_exception_class(tmp_path):
    import argparse

    from jxc_sheets.cli import _parser

    parser = _parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    silent = [f"{name} {action.dest}" for name, sub in commands.choices.items() for action in sub._actions
              if not action.help]
    assert silent == []
    top = jxc("--help", cwd=tmp_path).stdout
    assert "jxc init" in top and "jxc watch" in top and "jxc demo" in top
    bad_date = jxc("reverse", "CG-1", "--date", "2026-13-01", cwd=tmp_path, check=False)
    assert bad_date.returncode == 2 and "日期应写成 2026-11-03" in bad_date.stderr
    assert bad_date.stderr.index("日期") < bad_date.stderr.index("a date reads")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    not_empty = jxc("demo", "full", cwd=tmp_path, check=False)
    assert not_empty.returncode == 2 and not_empty.stderr.startswith("jxc: full 不是空文件夹")
    assert "Error" not in not_empty.stderr


def _big_receipt(root: Path, lines: int) -> None:
    make_form(root / "inbox" / "big.xlsx", "receipt", {"doc_no": "CG-BIG", "doc_date": D, "warehouse": "WH1",
                                                       "supplier": "S01"},
              [{"sku": "A001", "qty": 1, "unit_cost": 20}] * lines)


@pytest.mark.slow
def test_a_big_file_shows_its_stages_in_a_terminal_only(tmp_path):
    import os
    import pty
    import sys

    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    _big_receipt(root, 5001)
    main, child = pty.openpty()
    run = subprocess.Popen([sys.executable, "-m", "jxc_sheets", "run"], cwd=root, stdout=child, stderr=child,
                           stdin=subprocess.DEVNULL)
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        shown += chunk
    assert run.wait(timeout=300) == 0
    text = shown.decode("utf-8", "replace")
    for words in ("校验 validating  big.xlsx", "核对账本 checking  big.xlsx", "过账 posting  big.xlsx",
                  "更新报表 writing reports"):
        assert f"✔ {words}" in text, words
    assert "✔ 已过账 posted  big.xlsx" in text

    _big_receipt(root, 5001)  # the same file again: skipped, and no terminal: no stages
    piped = jxc("run", cwd=root).stdout
    assert "validating" not in piped and "big.xlsx" in piped


def test_reports_and_forms_print_one_page_wide_with_their_labels_on_every_page(tmp_path):
    """stock.xlsx: A4, fit to one page wide, landscape (its 11 columns are wider than a
    portrait page), the label row repeated; the summary's print area reaches round its chart;
    quantity columns carry a number format; the forms and the errors copy print the same way."""
    root = _stocked(tmp_path)
    make_form(root / "inbox" / "bad.xlsx", "receipt", {"doc_no": "CG-9", "doc_date": D, "warehouse": "WH1",
                                                       "supplier": "S01"}, [{"sku": "A001", "qty": "12箱"}])
    jxc("run", "--quiet", cwd=root)
    book = openpyxl.load_workbook(root / "outbox" / "stock.xlsx")
    stock = book[tab("stock")]
    assert (stock.page_setup.paperSize, stock.page_setup.orientation) == (9, "landscape")
    assert stock.sheet_properties.pageSetUpPr.fitToPage and stock.page_setup.fitToHeight == 0
    assert stock.page_setup.fitToWidth in (None, 1)  # 1 is the default, which xlsxwriter leaves out
    assert stock.print_title_rows == "$1:$1"
    assert stock["G2"].number_format == "#,##0.00##"  # qty
    summary = book[tab("summary")]
    assert summary.print_area == "'汇总 summary'!$A$1:$P$18"  # round the chart, right of the tables and below them
    for path in (root / "templates" / "receipt.xlsx", root / "rejected" / "bad.errors.xlsx"):
        sheet = openpyxl.load_workbook(path).worksheets[0]
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.paperSize) == (1, 9), path.name
        assert sheet.print_title_rows, path.name


def test_a_first_run_on_a_fresh_checkout_puts_the_blank_forms_in_templates(tmp_path):
    """A clone has the shipped forms in forms/ and no templates/: the first `jxc run` (or
    `jxc watch`) writes them, and the README's first screen can say "from templates/"."""
    jxc("run", "--quiet", cwd=tmp_path)
    assert (tmp_path / "templates" / "receipt.xlsx").exists() and (tmp_path / "templates" / "items.xlsx").exists()
