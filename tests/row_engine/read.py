"""The reader's line building as it was before the columnar line tables: a RawLine per
row of the table (jxc_sheets/sheets/read.py before them). Everything up to the rows is
the product's reader."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import python_calamine

from jxc_sheets import kinds
from jxc_sheets.config import ReaderConfig
from jxc_sheets.kinds import Kind
from jxc_sheets.problems import problem
from jxc_sheets.records import Problem
from jxc_sheets.sheets import sniff
from jxc_sheets.sheets.read import (
    _ALL_FIELDS, DEFAULT_LIMITS, KIND_COLUMN, Row, _find_table, _form_sheets, _has_kind_column,
    _header_values, _kind_named, _not_a_batch_table, _short, _without_footer, cell_ref, label_index, label_key, open_book,
    text_grid,
)
from jxc_sheets.sheets.sniff import Format
from jxc_sheets.values import as_code, is_blank

from .records import RawDocument, RawLine, RowCells, TableColumns


def read_workbook(path: Path, source: str | None = None,
                  limits: ReaderConfig = DEFAULT_LIMITS) -> tuple[list[RawDocument], list[Problem]]:
    source = source or path.name
    found = sniff.sniff(path)
    refused = sniff.too_large_file(path, limits) or sniff.refusal(path, found, limits)
    if refused is not None:
        return [], [refused]
    if found in (Format.TEXT, Format.HTML):
        grid = text_grid(path, source, found, limits)
        if isinstance(grid, Problem):
            return [], [grid]
        sheet, rows, what = grid
        if not _has_kind_column(rows):
            return [], [_not_a_batch_table(what, source)]
        return _read_kind_column(rows, sheet, source)
    try:
        book = open_book(path, found)
    except python_calamine.PasswordError:
        return [], [sniff.unreadable(*sniff.PASSWORD)]
    except Exception as e:
        return [], [sniff.unreadable(_short(e), _short(e))]
    try:
        forms = _form_sheets(book, path, limits)
        if isinstance(forms, Problem):
            return [], [forms]
        kind, sheets = forms
        documents, problems = [], []
        for name, rows in sheets:
            docs, seen = _read_sheet(kind, rows, name, source) if kind else _read_kind_column(rows, name, source)
            documents += docs
            problems += seen
        return documents, problems
    except python_calamine.CalamineError as e:
        return [], [sniff.unreadable(_short(e), _short(e))]
    finally:
        book.close()


def _read_sheet(kind: Kind, rows: list[Row], sheet: str, source: str) -> tuple[list[RawDocument], list[Problem]]:
    anchor = kind.key or kind.anchor
    header_labels = label_index(kind.header)
    table_fields = kind.lines if kind.is_master else (*kind.lines, *kind.header)
    table_labels = label_index(table_fields)
    found = _find_table(rows, table_labels, anchor)
    if found is None:
        return [], [problem("file-no-table", sheet)]
    table_index, columns = found
    batch = "doc_no" in columns.values()
    if not batch and not kind.is_master:
        columns = {c: k for c, k in columns.items() if k in {f.key for f in kind.lines}}
    header = {} if batch or kind.is_master else _header_values(rows[:table_index], header_labels, sheet)
    keys = {anchor, "doc_no", *(f.key for f in table_fields if f.required)}
    body, footer = _without_footer(rows[table_index + 1:], columns, keys)
    line_rows = _below_labels(body, columns, table_labels)
    lines = tuple(_lines(line_rows, columns, sheet))
    layout = "table" if kind.is_master else ("batch" if batch else "form")
    table_at = cell_ref(sheet, rows[table_index].number, min(columns))
    return [RawDocument(kind.name, source, sheet, layout, header, lines, table_at, _hidden_lines(line_rows, lines),
                        footer)], []


def _hidden_lines(rows: Sequence[Row], lines: Sequence[RawLine]) -> tuple[int, ...]:
    hidden = {row.number for row in rows if row.hidden}
    return tuple(line.row for line in lines if line.row in hidden) if hidden else ()


def _lines(rows: Sequence[Row], columns: dict[int, str], sheet: str) -> Iterator[RawLine]:
    """Every row with a value in one of the table's columns; its empty cells still know where they are."""
    table = TableColumns({key: (col, cell_ref(sheet, "", col)) for col, key in columns.items()})
    for row in rows:
        cells = RowCells(table, row.number, row.first_col, row.values)
        if any(cells.value(key) is not None for key in table.at):
            yield RawLine(row.number, cells)


def _read_kind_column(rows: list[Row], sheet: str, source: str) -> tuple[list[RawDocument], list[Problem]]:
    """A flat export naming each row's kind (`单据类型 kind`): one batch table per kind found."""
    kind_labels = label_index((KIND_COLUMN,))
    found = _find_table(rows, kind_labels, "kind")
    if found is None:
        return [], [problem("file-no-form")]
    table_index, kind_columns = found
    kind_col = next(iter(kind_columns))
    by_kind: dict[str, list[Row]] = {}
    problems = []
    all_columns = _find_table([rows[table_index]], label_index(_ALL_FIELDS), "kind")[1]
    body, footer = _without_footer(rows[table_index + 1:], all_columns, {"kind", "sku", "doc_no", "qty"})
    for row in body:
        j = kind_col - row.first_col
        value = row.values[j] if 0 <= j < len(row.values) else None
        if is_blank(value):
            continue
        kind = _kind_named(as_code(value))
        if kind is None or kind.is_master:
            problems.append(problem("file-unknown-kind", cell_ref(sheet, row.number, kind_col), value, kind=value))
            continue
        by_kind.setdefault(kind.name, []).append(row)
    if problems:
        return [], problems
    documents = []
    label_row = rows[table_index]
    for name, kind_rows in by_kind.items():
        kind = kinds.KINDS[name]
        labels = label_index((*kind.lines, *kind.header))
        table = _find_table([label_row], labels, kind.anchor)
        if table is None:
            return [], [problem("file-no-table", sheet)]
        line_rows = _below_labels(kind_rows, table[1], labels)
        lines = tuple(_lines(line_rows, table[1], sheet))
        table_at = cell_ref(sheet, label_row.number, min(table[1]))
        documents.append(RawDocument(name, source, sheet, "batch", {}, lines, table_at, _hidden_lines(line_rows, lines),
                                     () if documents else footer))  # the footer told once, with the first
    return documents, []


def _below_labels(rows: Sequence[Row], columns: dict[int, str], labels: dict[str, str]) -> list[Row]:
    """The rows under the label row, less any that are labels too: a label merged
    down over two rows, or the label row pasted again with a second block of lines."""
    keys: dict[str, str | None] = {}  # a batch repeats its texts: each is made a label key once

    def is_label_row(row: Row) -> bool:
        for col, key in columns.items():
            j = col - row.first_col
            value = row.values[j] if 0 <= j < len(row.values) else None
            if isinstance(value, str):
                if value not in keys:
                    keys[value] = labels.get(label_key(value))
                if keys[value] == key:
                    return True
        return False
    return [row for row in rows if not is_label_row(row)]
