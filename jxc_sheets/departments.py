"""Department folders (部门文件夹): which sub-folder of the inbox may post which kinds.

The check between read and validate: a file of a kind its folder may not post
is answered at the cell that names its kind, before anything else is looked at,
and nothing of it posts. Who may write into which folder is the share's own
permissions; this check makes the folder decide what a file in it may be.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import python_calamine

from . import kinds
from .config import DepartmentsConfig, Settings
from .problems import problem
from .records import Problem, RawDocument
from .sheets.read import KIND_COLUMN, META_SHEET, cell_ref, label_index, label_key

log = logging.getLogger("jxc")
META_KIND_CELL = f"{META_SHEET}!B1"  # where templates/ and the reader put a form's kind


def misplaced(raws: Sequence[RawDocument], department: str, settings: Settings, workbook: Path) -> list[Problem]:
    """One problem per kind in the file that its folder ("" for the inbox itself) may not post."""
    policy = settings.config.departments
    if not policy.enabled:
        return []
    allowed = may_post(policy, department)
    if allowed is None:
        return []
    problems, seen = [], set()
    for raw in raws:
        if raw.kind in allowed or raw.kind in seen:
            continue
        seen.add(raw.kind)
        problems.append(problem("department-kind", kind_cell(raw, workbook), raw.kind,
                                **_wording(policy, settings.inbox.name, department, raw.kind, allowed)))
    return problems


def may_post(policy: DepartmentsConfig, department: str) -> tuple[str, ...] | None:
    """The kinds a folder may post; None for every kind."""
    if not department:
        return None if policy.root_may_post == "all" else policy.root_may_post
    return policy.folders.get(department, ())


def _wording(policy: DepartmentsConfig, inbox_name: str, department: str, kind: str,
             allowed: tuple[str, ...]) -> dict[str, str]:
    instead = [f"{inbox_name}/{name}" for name, kinds_named in policy.folders.items() if kind in kinds_named]
    if not instead and (policy.root_may_post == "all" or kind in policy.root_may_post):
        instead = [inbox_name]
    return {
        "folder": f"{inbox_name}/{department}" if department else inbox_name,
        "kind": kind, "kind_zh": _zh(kind),
        "allowed": ", ".join(allowed) or "nothing",
        "allowed_zh": "、".join(_zh_and_key(k) for k in allowed) or "无",
        "fix": f"put it into {' or '.join(instead)}" if instead else "no folder may post it: ask IT",
        "fix_zh": f"请放进 {' 或 '.join(instead)}" if instead else "没有哪个文件夹可以提交这类单据, 请联系 IT",
    }


def _zh(kind: str) -> str:
    known = kinds.kind_of(kind)
    return known.zh if known else kind


def _zh_and_key(kind: str) -> str:
    """`销售退货 sales_return`; only the key for a kind whose form is still to come."""
    zh = _zh(kind)
    return f"{zh} {kind}" if zh != kind else kind


def kind_cell(raw: RawDocument, workbook: Path) -> str:
    """Where the file names its kind: the `_meta` sheet's kind cell, or — for an export
    naming each row's kind — the kind column in the first row of this kind."""
    if raw.layout != "batch" or not raw.lines:
        return META_KIND_CELL
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(workbook))
    except Exception:  # not a workbook calamine reads (a CSV export): the problem is the file's
        return ""
    try:
        if META_SHEET in book.sheet_names:
            return META_KIND_CELL
        return _kind_column_cell(book, raw)
    except Exception:  # only a location is at stake: never fail the answer over it
        log.warning("kind cell of %s not found", raw.source, exc_info=True)
        return ""
    finally:
        book.close()


def _kind_column_cell(book, raw: RawDocument) -> str:
    first_row = raw.lines.rows[0]
    labels = label_index((KIND_COLUMN,))
    # absolute positions from A1, and no further than the first row of this kind
    rows = book.get_sheet_by_name(raw.sheet).to_python(skip_empty_area=False, nrows=first_row)
    for values in rows[:-1]:
        for col, value in enumerate(values):
            if isinstance(value, str) and labels.get(label_key(value)) == "kind":
                return cell_ref(raw.sheet, first_row, col)
    return ""
