"""The row records of the engine the columnar line tables replaced (jxc_sheets/records.py before them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from jxc_sheets.records import Seen
from jxc_sheets.values import is_blank


@dataclass(frozen=True, slots=True)
class RawLine:
    row: int  # the sheet row, 1-based, as the user sees it
    cells: "RowCells"  # field key → value seen


@dataclass(frozen=True, slots=True)
class TableColumns:
    """Where a table's fields are: field key → (0-based sheet column, the `Sheet!D`
    its cells' references start with)."""

    at: Mapping[str, tuple[int, str]]


class _TableRow(Mapping):
    __slots__ = ("columns", "row")

    def __init__(self, columns: TableColumns, row: int):
        self.columns, self.row = columns, row

    def ref(self, key: str) -> str:
        return f"{self.columns.at[key][1]}{self.row}"

    def __contains__(self, key: object) -> bool:
        return key in self.columns.at

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns.at)

    def __len__(self) -> int:
        return len(self.columns.at)


class RowCells(_TableRow, Mapping[str, Seen]):
    __slots__ = ("first_col", "values")

    def __init__(self, columns: TableColumns, row: int, first_col: int, values: Sequence[object]):
        super().__init__(columns, row)
        self.first_col, self.values = first_col, values

    def value(self, key: str) -> object:
        j = self.columns.at[key][0] - self.first_col
        value = self.values[j] if 0 <= j < len(self.values) else None
        return None if is_blank(value) else value

    def __getitem__(self, key: str) -> Seen:
        return Seen(self.value(key), self.ref(key))

    def refs(self) -> "CellRefs":
        return CellRefs(self.columns, self.row)


class CellRefs(_TableRow, Mapping[str, str]):
    __slots__ = ()

    def __getitem__(self, key: str) -> str:
        return self.ref(key)


@dataclass(frozen=True)
class RawDocument:
    kind: str
    source: str
    sheet: str
    layout: str
    header: Mapping[str, Seen]
    lines: tuple[RawLine, ...]
    table_at: str = ""
    hidden_rows: tuple[int, ...] = ()
    footer_rows: tuple[int, ...] = ()


