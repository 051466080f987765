"""Stage read: CSV and HTML tables — what web systems export, often named `.xls` —
as rows of text, for the reader to take as a batch table with a kind column.

HTML is read with the standard library's tolerant parser: it never fetches
anything and knows no entities beyond HTML's own character references, so a
page cannot expand or pull in anything. A cell spanning rows or columns
repeats its text over the span, as a merged range reads in a workbook.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Iterator

from .sniff import BOMS

DELIMITERS = ("\t", ",", ";", "|")
# Chinese Excel saves CSV in the ANSI code page, GBK; gb18030 is its superset.
ENCODINGS = ("utf-8", "gb18030")


def decode(data: bytes) -> str | None:
    """The file as text, or None when no encoding a spreadsheet export uses reads it."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError:
                return None
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


# --- CSV ---------------------------------------------------------------------------

def delimiter_of(text: str) -> str | None:
    """The delimiter used most in the first line (tab, comma, semicolon or bar), or None for one column."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def csv_rows(text: str) -> Iterator[list[str]]:
    """Records as Excel shows them: a quoted line break stays inside its cell. Raises csv.Error."""
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text) or ",")


# --- HTML ----------------------------------------------------------------------------

MAX_SPAN = 1000  # the HTML standard clamps colspan to 1000 (rowspan to the table's rows, below)


@dataclass
class _Cell:
    text: str
    rowspan: int
    colspan: int


@dataclass
class _Table:
    rows: list[list[_Cell]] = field(default_factory=list)
    cell: list[str] | None = None  # the text parts of the cell being read
    spans: tuple[int, int] = (1, 1)


class _Tables(HTMLParser):
    """Every <table> of a page, in the order they open; a table inside a cell is a table of its own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[_Table] = []
        self._open: list[_Table] = []
        self._skipping = 0  # inside <script> or <style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag == "table":
            self._open.append(_Table())
            self.tables.append(self._open[-1])
        elif not self._open:
            return
        elif tag == "tr":
            self._end_cell()
            self._open[-1].rows.append([])
        elif tag in ("td", "th"):
            self._end_cell()
            table = self._open[-1]
            if not table.rows:
                table.rows.append([])
            values = dict(attrs)
            table.cell, table.spans = [], (_span(values.get("rowspan")), _span(values.get("colspan")))
        elif tag == "br" and self._open[-1].cell is not None:
            self._open[-1].cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif not self._open:
            return
        elif tag in ("td", "th", "tr"):
            self._end_cell()
        elif tag == "table":
            self._end_cell()
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1].cell is not None and not self._skipping:
            self._open[-1].cell.append(data)

    def _end_cell(self) -> None:
        table = self._open[-1]
        if table.cell is not None:
            rowspan, colspan = table.spans
            table.rows[-1].append(_Cell(" ".join("".join(table.cell).split()), rowspan, colspan))
            table.cell = None


def _span(value: str | None) -> int:
    try:
        return min(max(int((value or "1").strip()), 1), MAX_SPAN)
    except ValueError:
        return 1


def html_tables(text: str) -> list[list[list[_Cell]]]:
    parser = _Tables()
    parser.feed(text)
    parser.close()
    return [table.rows for table in parser.tables]


def html_rows(rows: list[list[_Cell]], max_width: int) -> Iterator[list[str]]:
    """A table's rows as a grid: a spanning cell's text over every position it covers.
    Spans are unrolled row by row, so a cell claiming a thousand rows costs nothing
    until those rows come (and they end with the table); a row is cut one cell past
    `max_width`, for the reader to refuse rather than build."""
    pending: dict[int, tuple[str, int]] = {}  # column → (text, rows it still covers)
    for cells in rows:
        out: list[str] = []
        queue = iter(cells)
        while len(out) <= max_width:
            column = len(out)
            if column in pending:
                text, left = pending.pop(column)
                if left > 1:
                    pending[column] = (text, left - 1)
                out.append(text)
                continue
            cell = next(queue, None)
            if cell is None:
                if any(c > column for c in pending):
                    out.append("")
                    continue
                break
            for _ in range(min(cell.colspan, max_width + 1 - len(out))):
                if cell.rowspan > 1:
                    pending[len(out)] = (cell.text, cell.rowspan - 1)
                out.append(cell.text)
        yield out
