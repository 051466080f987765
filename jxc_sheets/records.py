"""The plain immutable records that flow between the stages.

read → RawDocument (its header cells as seen, its lines as a LineTable of columns)
validate → Document / MasterRow (typed), or Problems
post → rows in the ledger
pipeline → Outcome (one per file)
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar


@dataclass(frozen=True, slots=True)
class Seen:
    """A raw cell value and where it was seen (`明细!D7`)."""

    value: Any
    where: str


class LineTable:
    """A line table as the reader found it, a column per field: what every form, batch
    and master table is validated from. Each column holds its cells' values down the
    lines (None for an empty cell); a cell's reference (`明细!D7`) is made only when a
    problem or a posted line asks for it. A 100,000-line batch is ten lists, not a
    million cells."""

    __slots__ = ("rows", "columns", "at")

    def __init__(self, rows: Sequence[int], columns: Mapping[str, Sequence[object]], at: Mapping[str, str]):
        self.rows = rows  # each line's sheet row, 1-based, as the user sees it
        self.columns = columns  # field key → the line's values, in the order of `rows`
        self.at = at  # field key → what its cells' references begin with: `明细!D`

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: object) -> bool:
        """The table has a column for `key` (its cells may all be empty)."""
        return key in self.columns

    def value(self, key: str, i: int) -> object:
        """Line `i`'s value of `key`, None when empty (KeyError when the table lacks the column)."""
        return self.columns[key][i]

    def ref(self, key: str, i: int) -> str:
        return f"{self.at[key]}{self.rows[i]}"

    def seen(self, key: str, i: int) -> Seen | None:
        """Line `i`'s cell of `key` as seen, None when the table lacks the column."""
        return Seen(self.columns[key][i], self.ref(key, i)) if key in self.columns else None

    def refs(self, i: int) -> "CellRefs":
        return CellRefs(self.at, self.rows[i])

    def take(self, lines: Sequence[int]) -> "LineTable":
        """The table of the given lines only (a batch's document), in their order."""
        return LineTable([self.rows[i] for i in lines], {k: [c[i] for i in lines] for k, c in self.columns.items()},
                         self.at)


class CellRefs(Mapping[str, str]):
    """Field key → the cell a line's value was read from (`明细!D7`), worked out when asked for."""

    __slots__ = ("at", "row")

    def __init__(self, at: Mapping[str, str], row: int):
        self.at, self.row = at, row

    def __getitem__(self, key: str) -> str:
        return f"{self.at[key]}{self.row}"

    def __contains__(self, key: object) -> bool:
        return key in self.at

    def __iter__(self) -> Iterator[str]:
        return iter(self.at)

    def __len__(self) -> int:
        return len(self.at)


@dataclass(frozen=True)
class RawDocument:
    kind: str
    source: str  # the file name the user dropped
    sheet: str
    layout: str  # "form" | "batch" | "table"
    header: Mapping[str, Seen]
    lines: LineTable
    table_at: str = ""  # the line table's first label cell (`明细!A8`): where a missing column is told
    hidden_rows: tuple[int, ...] = ()  # the rows of lines the sheet hides: they post, and the answer says so
    footer_rows: tuple[int, ...] = ()  # the rows of a footer under the table (导出时间…), skipped


@dataclass(frozen=True, slots=True)
class Problem:
    where: str  # "明细!D7", or "" when the problem is the whole file
    code: str  # stable, listed in problems.CATALOGUE
    zh: str
    en: str
    value: str = ""

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"

    def render(self, source: str = "") -> str:
        at = "!".join(p for p in (source, self.where) if p)
        seen = f' (got "{self.value}")' if self.value != "" else ""
        return f"{at}: {self.message}{seen} [{self.code}]" if at else f"{self.message}{seen} [{self.code}]"


@dataclass(frozen=True, slots=True)
class Line:
    line_no: int
    sku: str
    qty: Decimal  # in the item's base unit; signed only for adjustments
    unit: str  # the unit as entered (the base unit when left empty)
    qty_entered: Decimal
    factor: Decimal
    unit_cost: Decimal | None
    unit_price: Decimal | None
    batch: str
    remark: str
    warehouse: str | None  # only kinds whose warehouse is per line (opening)
    where: Mapping[str, str]  # field key → cell, for problems found later
    expected_date: date | None = None  # a purchase order line's own due date
    partner: str = ""  # a sales plan line's customer
    location: str = ""  # a count line's bin
    approve: bool | None = None  # a count approval line's decision (None: not decided yet)
    # priced lines (check/tax.py): as typed, then all worked out; unit_cost/unit_price stay before tax
    price_incl: Decimal | None = None  # 含税单价, per entered unit
    tax_rate: Decimal | None = None  # 税率 as a fraction: 0.13
    amount: Decimal | None = None  # 金额, before tax
    tax: Decimal | None = None  # 税额
    gross: Decimal | None = None  # 价税合计
    stock_amount: Decimal | None = None  # what the goods are worth in stock: 金额, plus any tax that is not deductible
    follows: int | None = None  # a landed cost's: the receipt movement it adds to
    receipt_no: str = ""  # a landed cost line's receipt, as typed
    production_date: date | None = None  # an incoming batch's 生产日期
    expiry_date: date | None = None  # an incoming batch's 有效期至 (check/batches.py derives it from the shelf life)
    serials: tuple[str, ...] = ()  # a serial-tracked item's 序列号, one per unit
    assigns_batches: bool = False  # an opening line that puts stock already held into batches: it moves no stock
    batch_split: tuple[tuple[str, Decimal], ...] = ()  # a count variance of a batch-tracked item: (batch, signed qty)
    price_rule: str = ""  # a sale line whose price was left empty: where jxc took it from (check/sales.py)
    return_reason: str = ""  # a return line's 退货原因
    leg: str = ""  # an exchange line's 类型 as typed: 退回 (back in) or 换出 (sent instead)
    rejected_qty: Decimal | None = None  # a receipt line's 不合格数量, as entered (part of qty_entered)
    reject_reason: str = ""


@dataclass(frozen=True, slots=True)
class MoneyLine:
    """A line of a money document: a document a receipt or payment settles (核销), or an
    opening receivable/payable (期初应收应付)."""

    line_no: int
    ref_doc: str  # the document settled, or the opening item's original number
    amount: Decimal | None  # None: what is open on `ref_doc`
    remark: str
    where: Mapping[str, str]  # field key → cell
    side: str = ""  # an opening line's: "customer" (receivable) or "supplier" (payable)
    partner: str = ""  # an opening line's customer or supplier
    ref_date: date | None = None
    due_date: date | None = None
    advance: bool = False  # an opening advance (预收 / 预付): owed the other way
    confirm: str = ""  # a statement line's: "Y" agreed, "dispute" (有异议, the reason in remark)
    account: str = ""  # a transfer's from account
    to_account: str = ""  # a transfer's to account
    category: str = ""  # other income (amount +) or expense (amount -)


@dataclass(frozen=True)
class Document:
    kind: str
    doc_no: str
    doc_date: date
    header: Mapping[str, Any]  # every header field of the kind, typed
    lines: tuple[Line, ...]  # a money document's are MoneyLines
    source: str
    content_hash: str  # of kind, header and lines: the same document dropped twice hashes the same
    where: Mapping[str, str]  # header field key → cell


@dataclass(frozen=True)
class MasterRow:
    kind: str
    key: str
    values: Mapping[str, Any]
    row: int
    where: Mapping[str, str]


@dataclass(frozen=True)
class Outcome:
    """What became of one dropped file."""

    file: str
    status: str  # "posted" | "skipped" | "rejected" | "failed" | "dry-run"
    kind: str = ""
    documents: int = 0
    lines: int = 0
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    moved_to: str = ""
    file_hash: str = ""
    doc_dates: tuple[date, ...] = field(default=())


@dataclass(frozen=True)
class Item:
    sku: str
    unit: str
    active: bool
    units: Mapping[str, Decimal]  # alternate unit → base units in one
    std_cost: Decimal | None = None
    tax_rate: Decimal | None = None
    batch_tracked: bool = False  # 批次管理
    expiry_tracked: bool = False  # 保质期管理
    shelf_life_days: int | None = None  # 保质期(天)
    expiry_warning_days: int | None = None  # 近效期预警(天)
    serial_tracked: bool = False  # 序列号管理

    @property
    def tracked(self) -> bool:
        """Its stock is kept per batch: batch tracked, or expiry tracked (an expiry belongs to a batch)."""
        return self.batch_tracked or self.expiry_tracked


@dataclass(frozen=True)
class MasterData:
    items: Mapping[str, Item]
    warehouses: frozenset[str]
    suppliers: frozenset[str]
    customers: frozenset[str]
    moved_skus: frozenset[str] = frozenset()  # items with movements: their base unit is fixed
    funds_accounts: frozenset[str] = frozenset()

    def codes(self, ref: str) -> Mapping[str, object] | frozenset[str]:
        return self.items if ref == "items" else getattr(self, ref)


_R = TypeVar("_R")
_EVOLVERS: dict[type, tuple] = {}


def evolve(record: _R, **changes: Any) -> _R:
    """`dataclasses.replace` for a frozen record with slots and no __post_init__ (a Line):
    the same new record, made three times faster, as a batch file of 100,000 lines has its
    lines resolved and priced one by one. A name that is no field raises KeyError."""
    cls = type(record)
    found = _EVOLVERS.get(cls)
    if found is None:
        names = [f.name for f in fields(cls)]
        if len(names) < 2 or hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
            return replace(record, **changes)
        found = _EVOLVERS[cls] = (attrgetter(*names), {n: i for i, n in enumerate(names)},
                                  [cls.__dict__[n].__set__ for n in names])
    get, index, setters = found
    values = list(get(record))
    for name, value in changes.items():
        values[index[name]] = value
    new = object.__new__(cls)
    for put, value in zip(setters, values):
        put(new, value)
    return new


_MADE: dict[tuple, Any] = {}


def evolver(cls: type[_R], *names: str) -> Callable[..., _R]:
    """`evolve` for one set of changes made to each of many records, as fast as Python
    makes a record: `evolver(Line, "sku", "qty")(line, sku, qty)` is `evolve(line, sku=sku,
    qty=qty)`, its copy generated once, a slot set per field without a loop. A frozen
    record with slots and no __post_init__ (a Line) only."""
    key = (cls, names)
    if key not in _MADE:
        every = [f.name for f in fields(cls)]
        if hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__ or set(names) - set(every):
            raise TypeError(f"{cls.__name__} has no fields {names} to set this way")
        scope = {"new": object.__new__, "cls": cls, **{f"set_{n}": cls.__dict__[n].__set__ for n in every}}
        body = "".join(f"    set_{n}(made, {f'v_{n}' if n in names else f'record.{n}'})\n" for n in every)
        exec(f"def made_from(record, {', '.join(f'v_{n}' for n in names)}):\n    made = new(cls)\n{body}    return made\n",
             scope)
        _MADE[key] = scope["made_from"]
    return _MADE[key]
