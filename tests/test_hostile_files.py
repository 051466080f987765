"""Files from a hostile shared folder (issue 14, §2 and the form sheet of §3), each
made for real and dropped through `run_inbox` or the `jxc` command: the answer at
its cell, Chinese first, and nothing posted — or the file read correctly."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from conftest import D, make_form, make_table
from jxc_sheets.records import Outcome
from test_bad_files import (  # noqa: F401 (ready is a fixture)
    RECEIPT, assert_bilingual, drop, errors_copy, marked, posted_documents, ready, write_xls_form,
)


def codes(outcome: Outcome) -> list[tuple[str, str]]:
    return [(p.where, p.code) for p in outcome.problems]


def rejected_with(outcome: Outcome, *expected: tuple[str, str]) -> None:
    """Rejected with exactly these problems, each told in both languages; none without a cell."""
    assert outcome.status == "rejected", outcome
    assert codes(outcome) == list(expected)
    for p in outcome.problems:
        assert_bilingual(p)


def edited(path: Path, change) -> Path:
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)
    return path


# --- an .xls saved under .xlsx ---------------------------------------------------------------

def test_an_xls_named_xlsx_is_read_by_its_content_and_posts(ready):
    settings, engine = ready
    header = {**RECEIPT, "doc_no": "XLS-X", "doc_date": "2026-11-03"}
    outcome = drop(settings, engine, "入库单.xlsx", write_xls_form(header, [{"sku": "A001", "qty": 4, "unit_cost": 2.5}]))
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 1)
    assert posted_documents(engine)["XLS-X"] == 1


def test_an_xls_named_xlsx_with_a_bad_cell_is_answered_at_it_and_nothing_posts(ready):
    settings, engine = ready
    header = {**RECEIPT, "doc_no": "XLS-Y", "doc_date": "2026-11-03"}
    outcome = drop(settings, engine, "入库单.xlsx", write_xls_form(header, [{"sku": "A001", "qty": "12箱", "unit_cost": 2.5}]))
    rejected_with(outcome, ("明细!B9", "not-a-number"))
    assert "XLS-Y" not in posted_documents(engine)
    copy = errors_copy(settings, outcome)
    assert marked(copy["明细"], "B9", "not-a-number")


# --- error cells, and every problem of the file in one answer ----------------------------------

def put_error(ws, coordinate: str, error: str, formula: str) -> None:
    """A formula cell whose saved result is an error, as Excel saves it (t="e")."""
    ws[coordinate] = f"={formula}"
    ws.formula_attributes = getattr(ws, "formula_attributes", {})
    ws[coordinate].data_type = "e"
    ws[coordinate].value = error


@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!"])
def test_an_error_cell_says_which_error_it_shows_not_empty(ready, error):
    settings, engine = ready

    def write(path: Path) -> None:
        make_form(path, "receipt", {**RECEIPT, "doc_no": "ERR-1"},
                  [{"sku": "A001", "qty": 2, "unit_cost": 3}, {"sku": "B002", "qty": 5, "unit_cost": 1}])
        edited(path, lambda wb: put_error(wb["明细"], "B10", error, "C10/0"))

    outcome = drop(settings, engine, "err.xlsx", write)
    rejected_with(outcome, ("明细!B10", "cell-error"))
    [p] = outcome.problems
    assert p.value == error and error in p.zh and error in p.en
    assert p.zh.index(error) < len(p.zh) and "公式" in p.zh and "fix the formula" in p.en
    assert "ERR-1" not in posted_documents(engine)
    assert marked(errors_copy(settings, outcome)["明细"], "B10", "cell-error")


def test_a_missing_unit_cost_is_answered_with_the_files_other_problems(ready):
    """A bad date stops the document in validation: its missing unit cost, which only
    the orders check used to see, must still be in the same answer."""
    settings, engine = ready
    write = lambda path: make_form(path, "receipt", {**RECEIPT, "doc_no": "UC-1", "doc_date": "2026-13-40"},
                                   [{"sku": "A001", "qty": 2, "unit_cost": 3}, {"sku": "B002", "qty": 5}])
    outcome = drop(settings, engine, "uc.xlsx", write)
    rejected_with(outcome, ("明细!E3", "not-a-date"), ("明细!D10", "required"))
    assert "UC-1" not in posted_documents(engine)


def test_a_receipt_against_an_order_may_leave_its_unit_cost_empty(ready):
    settings, engine = ready
    make_form(settings.inbox / "po.xlsx", "purchase_order", {"doc_no": "PO-9", "doc_date": D, "supplier": "S01",
                                                            "warehouse": "WH1"}, [{"sku": "A001", "qty": 10, "unit_price": 4}])
    make_form(settings.inbox / "r.xlsx", "receipt", {**RECEIPT, "doc_no": "R-PO9", "ref_doc": "PO-9"},
              [{"sku": "A001", "qty": 4}])
    from jxc_sheets.pipeline import run_inbox
    assert {o.file: o.status for o in run_inbox(settings, engine=engine)} == {"po.xlsx": "posted", "r.xlsx": "posted"}


# --- huge numbers ------------------------------------------------------------------------------

QTY_MAX, COST_MAX = "922,337,203,685,477.5807", "9,223,372,036,854.775807"  # 2**63 - 1 over 10**4, 10**6


@pytest.mark.parametrize("line, where, code, limit", [
    ({"sku": "A001", "qty": 1e308, "unit_cost": 1}, "明细!B9", "number-too-large", QTY_MAX),
    ({"sku": "A001", "qty": 1, "unit_cost": 1e308}, "明细!D9", "number-too-large", COST_MAX),
    ({"sku": "A001", "qty": 1, "unit_cost": "12345678901234567890"}, "明细!D9", "number-too-large", COST_MAX),
    # each fits its column, their product does not fit the amount's (92,233,720,368,547,758.07)
    ({"sku": "A001", "qty": 900_000_000_000_000, "unit_cost": 1_000_000}, "明细!D9", "amount-too-large",
     "92,233,720,368,547,758.07"),
])
def test_a_huge_number_is_flagged_at_its_cell_with_the_largest_the_ledger_holds(ready, line, where, code, limit):
    settings, engine = ready
    outcome = drop(settings, engine, "huge.xlsx",
                   lambda path: make_form(path, "receipt", {**RECEIPT, "doc_no": "BIG-1"}, [line]))
    rejected_with(outcome, (where, code))
    assert limit in outcome.problems[0].zh and limit in outcome.problems[0].en
    assert "BIG-1" not in posted_documents(engine)


def test_a_bug_met_on_a_file_is_answered_once_as_failed_not_retried(ready):
    """Two lines that each fit, whose stock together does not fit the balance's column:
    posting fails with OverflowError on every try. The watcher's retry book is not asked:
    the file is answered at once as failed (internal-error), and nothing is posted."""
    from jxc_sheets import inbox
    from jxc_sheets.pipeline import process_batch
    from jxc_sheets.watch import RetryBook

    settings, engine = ready
    line = {"sku": "A001", "qty": 900_000_000_000_000, "unit_cost": "0.01"}
    make_form(settings.inbox / "sum.xlsx", "receipt", {**RECEIPT, "doc_no": "SUM-1"}, [line, line])
    retries = RetryBook(max_attempts=5, first_delay=60)
    [outcome] = process_batch(inbox.candidates(settings.inbox, settings.departments), settings, engine, retries=retries)
    assert (outcome.status, codes(outcome)) == ("failed", [("", "internal-error")])
    assert "OverflowError" in outcome.problems[0].en
    assert not retries.waiting("sum.xlsx")
    assert (settings.rejected / "sum.xlsx").exists() and not (settings.inbox / "sum.xlsx").exists()
    assert "SUM-1" not in posted_documents(engine)


# --- which sheets are the form -----------------------------------------------------------------

def test_a_renamed_form_sheet_behind_the_instructions_is_found_by_its_labels(ready):
    """The form sheet renamed 11月入库, the 填写说明 sheet (which lists every label, one a
    row) dragged in front of it: the form is read, not the instructions."""
    settings, engine = ready
    from jxc_sheets.sheets.forms import write_form
    from jxc_sheets import kinds

    def write(path: Path) -> None:
        template = write_form(path.with_suffix(".tpl.xlsx"), kinds.KINDS["receipt"])
        filled = make_form(path, "receipt", {**RECEIPT, "doc_no": "REN-1"}, [{"sku": "A001", "qty": 3, "unit_cost": 2}])
        help_rows = list(openpyxl.load_workbook(template)["填写说明"].iter_rows(values_only=True))

        def change(wb) -> None:
            wb["明细"].title = "11月入库"
            help_sheet = wb.create_sheet("填写说明", 0)
            for row in help_rows:
                help_sheet.append(row)
            wb.active = 0
        edited(filled, change)
        path.with_suffix(".tpl.xlsx").unlink()

    outcome = drop(settings, engine, "入库.xlsx", write)
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 1)
    assert posted_documents(engine)["REN-1"] == 1


def test_a_renamed_form_sheet_with_a_bad_cell_is_answered_on_that_sheet(ready):
    settings, engine = ready

    def write(path: Path) -> None:
        make_form(path, "receipt", {**RECEIPT, "doc_no": "REN-2"}, [{"sku": "A001", "qty": "x", "unit_cost": 2}])
        edited(path, lambda wb: setattr(wb["明细"], "title", "11月入库"))

    outcome = drop(settings, engine, "入库.xlsx", write)
    rejected_with(outcome, ("11月入库!B9", "not-a-number"))
    assert marked(errors_copy(settings, outcome)["11月入库"], "B9", "not-a-number")


def duplicated_sheet(second: dict, lines: list[dict]):
    """明细 holding DUP-1, and a copy of it, 明细 (2), holding another document."""
    def write(path: Path) -> None:
        make_form(path, "receipt", {**RECEIPT, "doc_no": "DUP-1"}, [{"sku": "A001", "qty": 1, "unit_cost": 2}])
        other = make_form(path.with_name("other.xlsx"), "receipt", second, lines)
        source = openpyxl.load_workbook(other)["明细"]

        def change(wb) -> None:
            copy = wb.create_sheet("明细 (2)", 1)
            for row in source.iter_rows():
                for cell in row:
                    copy[cell.coordinate] = cell.value
        edited(path, change)
        other.unlink()
    return write


def test_a_duplicated_form_sheet_posts_its_document_with_the_first(ready):
    settings, engine = ready
    outcome = drop(settings, engine, "两张.xlsx", duplicated_sheet({**RECEIPT, "doc_no": "DUP-2"},
                                                                 [{"sku": "B002", "qty": 7, "unit_cost": 1}]))
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 2, 2)
    assert {k: v for k, v in posted_documents(engine).items() if k.startswith("DUP")} == {"DUP-1": 1, "DUP-2": 1}


def test_a_bad_cell_on_the_duplicated_sheet_rejects_the_file_at_that_sheet(ready):
    settings, engine = ready
    outcome = drop(settings, engine, "两张.xlsx", duplicated_sheet({**RECEIPT, "doc_no": "DUP-3"},
                                                                 [{"sku": "B002", "qty": -7, "unit_cost": 1}]))
    rejected_with(outcome, ("明细 (2)!B9", "qty-positive"))
    assert not {"DUP-1", "DUP-3"} & posted_documents(engine).keys()


# --- hidden rows post, and the answer says so --------------------------------------------------

@pytest.mark.slow
def test_hidden_rows_post_and_the_answer_log_and_dashboard_say_so(tmp_path):
    """The lines in rows 10–11 and 14 hidden (and the blank row 13 between): all five lines
    post, and `jxc run`, log.xlsx and the dashboard say which rows were hidden."""
    from conftest import drop_master, jxc
    from jxc_sheets.config import load_settings
    from jxc_sheets.ledger.db import open_ledger

    jxc("init", "ws", cwd=tmp_path)
    root = tmp_path / "ws"
    drop_master(root / "inbox")
    jxc("run", cwd=root)
    lines = [{"sku": "A001", "qty": q, "unit_cost": 2} for q in (3, 4, 5, 6)] + [{}, {"sku": "A001", "qty": 7, "unit_cost": 2}]
    path = make_form(root / "inbox" / "hidden.xlsx", "receipt", {**RECEIPT, "doc_no": "HID-1"}, lines)

    def hide(wb) -> None:
        for row in (10, 11, 13, 14):
            wb["明细"].row_dimensions[row].hidden = True
    edited(path, hide)
    out = jxc("run", cwd=root).stdout
    assert "rows 10–11, 14 were hidden and were posted" in out and "第 10–11, 14 行是隐藏的" in out
    assert posted_documents(open_ledger(load_settings(root / "config.yaml").ledger_url))["HID-1"] == 5
    log = openpyxl.load_workbook(root / "outbox" / "log.xlsx").worksheets[0]
    header = [c.value for c in log[1]]
    column = next(i for i, h in enumerate(header) if h and h.endswith("warnings"))
    warned = [row[column] for row in log.iter_rows(min_row=2, values_only=True) if row[column]]
    assert len(warned) == 1 and "rows 10–11, 14 were hidden and were posted" in warned[0]
    assert "rows 10–11, 14 were hidden and were posted" in (root / "outbox" / "index.html").read_text(encoding="utf-8")


# --- a batch's header cells on every row --------------------------------------------------------

def test_a_bad_date_on_a_later_batch_row_is_not_a_date_there(ready):
    settings, engine = ready
    columns = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost"]
    rows = [{**RECEIPT, "doc_no": "BT-1", "sku": "A001", "qty": 1, "unit_cost": 1},
            {**RECEIPT, "doc_no": "BT-1", "doc_date": "2026-13-45", "sku": "B002", "qty": 1, "unit_cost": 1},
            {**RECEIPT, "doc_no": "BT-1", "doc_date": "2026/11/3", "sku": "B002", "qty": 2, "unit_cost": 1},
            {**RECEIPT, "doc_no": "BT-1", "doc_date": "2026-11-04", "sku": "B002", "qty": 3, "unit_cost": 1}]
    outcome = drop(settings, engine, "batch.xlsx",
                   lambda path: make_table(path, "receipt", rows, columns=columns, layout="batch"))
    # row 4's 2026/11/3 is the first row's date written another way; row 5's is another date
    rejected_with(outcome, ("明细!B3", "not-a-date"), ("明细!B5", "conflicting-header"))
    assert "BT-1" not in posted_documents(engine)


# --- a table head of two rows, and no problem without its place -------------------------------

def two_row_head(path: Path, columns: list[str]) -> Path:
    """A web export: a title row merged across, then a head of two rows, 数量 qty merged
    down over both, a unit note under another column in the second."""
    rows = [{**RECEIPT, "doc_no": "TH-1", "sku": "A001", "qty": 2, "unit_cost": 1},
            {**RECEIPT, "doc_no": "TH-1", "sku": "B002", "qty": 3, "unit_cost": 1}]
    make_table(path, "receipt", rows, columns=columns, layout="batch")

    def change(wb) -> None:
        ws = wb["明细"]
        ws.insert_rows(1)
        ws["A1"] = "采购入库导出"
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
        ws.insert_rows(3)
        qty = columns.index("qty") + 1
        ws.merge_cells(start_row=2, start_column=qty, end_row=3, end_column=qty)
        ws.cell(3, columns.index("sku") + 1, "(编码)")
    return edited(path, change)


def test_a_head_of_two_rows_posts_its_lines_only(ready):
    settings, engine = ready
    columns = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost"]
    outcome = drop(settings, engine, "export.xlsx", lambda path: two_row_head(path, columns))
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 2)


def test_a_head_of_two_rows_missing_a_column_says_so_at_the_head_row(ready):
    settings, engine = ready
    columns = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty"]  # no unit cost, and no order named
    outcome = drop(settings, engine, "export.xlsx", lambda path: two_row_head(path, columns))
    rejected_with(outcome, ("明细!A2", "missing-column"))
    assert "单价成本 unit_cost" in outcome.problems[0].zh


WHOLE_FILE = {"file-unreadable", "file-too-large", "file-zip-bomb", "file-unsafe-xml", "file-no-form", "internal-error"}


@pytest.mark.parametrize("name, write", [
    ("two-row-head.xlsx", lambda p: two_row_head(p, ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty"])),
    ("no-lines.xlsx", lambda p: make_form(p, "receipt", {**RECEIPT, "doc_no": "NL-1"}, [])),
    ("no-header.xlsx", lambda p: make_form(p, "receipt", {}, [{"sku": "A001", "qty": 1, "unit_cost": 1}])),
    ("empty-line-cells.xlsx", lambda p: make_form(p, "receipt", {**RECEIPT, "doc_no": "EL-1"}, [{"remark": "x"}])),
    ("batch-blank.xlsx", lambda p: make_table(p, "receipt", [{"sku": "A001"}], layout="batch",
                                              columns=["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty"])),
    ("items.xlsx", lambda p: make_table(p, "items", [{"sku": "Z1"}], columns=["sku", "name"])),
])
def test_no_problem_of_a_workbook_comes_out_without_its_place(ready, name, write):
    """Every problem of a file that has sheets names its place — a cell, a row, or at
    least the sheet — except those about the whole file."""
    settings, engine = ready
    outcome = drop(settings, engine, name, write)
    assert outcome.status == "rejected" and outcome.problems
    assert [(p.where, p.code) for p in outcome.problems if not p.where and p.code not in WHOLE_FILE] == []


# --- a web export's footer ----------------------------------------------------------------------

EXPORT_LABELS = ["单据类型 kind", "单号 doc_no", "日期 doc_date", "仓库 warehouse", "供应商 supplier", "物料编码 sku",
                 "数量 qty", "单价成本 unit_cost"]


def web_export(footer: list[tuple[str, object]], merged: bool = False):
    """A kind-column export (no _meta) of one receipt, with footer rows under it."""
    def write(path: Path) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "导出"
        ws.append(EXPORT_LABELS)
        ws.append(["receipt", "WEB-1", "2026-11-03", "WH1", "S01", "A001", 2, 5])
        ws.append(["receipt", "WEB-1", "2026-11-03", "WH1", "S01", "B002", 3, 1])
        for coordinate, value in footer:
            ws[coordinate] = value
        if merged:
            ws.merge_cells(f"A{ws.max_row}:H{ws.max_row}")
        wb.save(path)
    return write


@pytest.mark.parametrize("footer, merged, rows", [
    ([("A5", "导出时间: 2026-11-20 10:00 · 共 2 条")], True, "5"),  # spanning the table
    ([("D5", "制表人"), ("E5", "张三")], False, "5"),  # no data in the key columns
])
def test_a_web_export_footer_is_skipped_and_said_so(ready, footer, merged, rows):
    settings, engine = ready
    outcome = drop(settings, engine, "export.xlsx", web_export(footer, merged))
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 2), outcome
    assert posted_documents(engine)["WEB-1"] == 2
    assert any(f"rows {rows} below the table" in note and "skipped" in note for note in outcome.notes), outcome.notes


def test_a_line_under_a_footer_like_row_is_still_read(ready):
    """Only the last rows can be a footer: a note row between lines is no footer, and a
    line whose sku is missing is still told at its cell."""
    settings, engine = ready
    outcome = drop(settings, engine, "export.xlsx", web_export([("A5", "receipt"), ("B5", "WEB-1"), ("G5", 4)]))
    rejected_with(outcome, ("导出!F5", "required"), ("导出!H5", "required"))
    assert "WEB-1" not in posted_documents(engine)
