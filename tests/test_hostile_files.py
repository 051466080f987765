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
