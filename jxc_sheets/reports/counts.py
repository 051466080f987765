"""Report stage, stock counts: the count sheets staff count on, the variance
workbooks supervisors approve on, and the cycle-count plan.

- `write_count_sheet` (jxc count-sheet): a filled `count` form for one warehouse —
  every item with stock there (or every active item), by bin then sku, with the
  book quantity shown or, for a blind count, left out.
- `write_variance_books`: outbox/variance/COUNT.xlsx for each count: every sku with
  book, counted, difference and its value; held lines ask for 批准 approve Y/N. The
  same workbook dropped back into the inbox is the approval (a `count_approval`).
  A workbook is rewritten only when its count changed since it was written, so a
  supervisor's half-filled copy in the outbox is not overwritten for nothing.
- `write_count_plan` (outbox/count_plan.xlsx): ABC classes by issue value over the
  last 365 days (A: the first `abc_a_pct` % of the value, B: up to `abc_b_pct` %,
  C: the rest and items with no issues); each sku × warehouse with stock is due
  `a_days`/`b_days`/`c_days` after its last count (never counted: due now); the
  first sheet lists what falls due within `plan_days`. Count accuracy per count and
  per month: lines within tolerance ÷ lines counted.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from sqlalchemy import Connection, func, select

from .. import clock, kinds
from ..config import CountsConfig
from ..ledger import batches as ledger_batches
from ..ledger import counts as ledger_counts
from ..ledger import schema
from ..sheets.forms import REQUIRED_FILL, FormLayout, choices_from, put_cell, write_form
from .data import STREAM
from .order_data import percent
from .book import Book, Column, tab

ZERO = Decimal(0)
CHART_BARS = 10


# --- count sheets ---------------------------------------------------------------------

def write_count_sheet(conn: Connection, folder: Path, warehouse: str, day: date, *, blind: bool = False,
                      category: str | None = None, abc: str | None = None, all_items: bool = False,
                      rules: CountsConfig = CountsConfig()) -> Path:
    i = schema.items
    book = ledger_counts.book_at(conn, warehouse, day)
    query = select(i.c.sku, i.c.unit, i.c.category, i.c.location).where(i.c.active.is_(True))
    items = [r for r in conn.execute(query) if all_items or book.get(r.sku, (ZERO, ZERO))[0] != 0]
    if category:
        items = [r for r in items if r.category == category]
    if abc:
        classes = abc_classes(conn, day, rules)
        items = [r for r in items if classes.get(r.sku, "C") == abc.upper()]
    items.sort(key=lambda r: (r.location or "\uffff", r.sku))
    partial = bool(category or abc)
    header = {"doc_no": f"PD{day:%Y%m%d}-{warehouse}"[:60], "doc_date": day, "warehouse": warehouse,
              "scope": "抽盘 partial" if partial else "全盘 full",
              "remark": ("盲盘: 账面数量不显示 / blind count: the book is not shown. " if blind else "")
              + "实盘数量必填, 没有填 0 / fill every counted_qty; none = 0"}
    by_batch = _batches_at(conn, warehouse, day, [r.sku for r in items])
    lines = [{"sku": r.sku, "location": r.location or "", "unit": r.unit, **({"batch": batch} if batch else {}),
              **({} if blind else {"book_qty": qty})}
             for r in items for batch, qty in by_batch.get(r.sku, [("", book.get(r.sku, (ZERO, ZERO))[0])])]
    name = f"盘点表-{warehouse}-{day:%Y%m%d}{'-blind' if blind else ''}.xlsx"
    return write_form(folder / name, kinds.KINDS["count"], choices_from(conn), header=header, lines=lines)


def _batches_at(conn: Connection, warehouse: str, day: date, skus: list[str]) -> dict[str, list[tuple[str, Decimal]]]:
    """A batch-tracked item's batches in `warehouse` at `day`, each a row of the count sheet."""
    i = schema.items
    tracked = set(conn.execute(select(i.c.sku).where((i.c.batch_tracked.is_(True)) | (i.c.expiry_tracked.is_(True)))).scalars())
    found: dict[str, list[tuple[str, Decimal]]] = {}
    for (sku, batch), qty in sorted(ledger_batches.batch_book_at(conn, warehouse, day, tracked & set(skus)).items()):
        found.setdefault(sku, []).append((batch, qty))
    return found


# --- variance workbooks ------------------------------------------------------------------

def write_variance_books(conn: Connection, folder: Path, rules: CountsConfig) -> list[Path]:
    d, k = schema.documents, schema.count_decisions
    changed = dict(conn.execute(
        select(d.c.id, func.max(func.coalesce(k.c.decided_at, d.c.posted_at)))
        .select_from(d.join(schema.count_lines, schema.count_lines.c.document_id == d.c.id)
                     .outerjoin(k, k.c.count_line_id == schema.count_lines.c.id))
        .where(d.c.kind == "count").group_by(d.c.id)).all())
    written = []
    for count_id, changed_at in changed.items():
        lines = ledger_counts.count_lines(conn, document_ids=[count_id])
        path = folder / f"{_safe(lines[0].doc_no)}.xlsx"
        if path.exists() and clock.at_mtime(path.stat().st_mtime) >= changed_at:
            continue
        written.append(_write_variance_book(conn, path, lines, rules))
    return written


def _write_variance_book(conn: Connection, path: Path, lines: list, rules: CountsConfig) -> Path:
    first = lines[0]
    names = dict(conn.execute(select(schema.items.c.sku, schema.items.c.name)).all())
    units = dict(conn.execute(select(schema.items.c.sku, schema.items.c.unit)).all())
    header = {"doc_no": first.doc_no, "doc_date": first.doc_date, "warehouse": first.warehouse,
              "remark": "待审批行: 在 批准 列填 Y 或 N, 保存后放入 inbox / held lines: fill approve with Y or N, "
                        "save and drop into the inbox"}
    rows = [{"line_no": l.line_no, "sku": l.sku, "name": names.get(l.sku, ""), "location": l.location,
             "unit": units.get(l.sku, ""), "book_qty": l.book_qty, "counted_qty": l.counted_qty,
             "difference": l.difference, "unit_cost": l.unit_cost, "value_difference": l.value_difference,
             "difference_pct": percent(l.difference, l.book_qty), "reason": l.reason,
             "status": ledger_counts.STATUS_LABELS[l.status],
             **({"approve": l.status == ledger_counts.APPROVED, "approve_reason": l.decision_reason}
                if l.status in (ledger_counts.APPROVED, ledger_counts.DECLINED) else {})}
            for l in lines]

    def finish(wb: Workbook, layout: FormLayout) -> None:
        _mark_held(wb, layout, lines)
        _summary_sheet(wb, lines, rules)

    return write_form(path, kinds.KINDS["count_approval"], header=header, lines=rows, finish=finish)


def _mark_held(wb: Workbook, layout: FormLayout, lines: list) -> None:
    ws = wb.worksheets[0]
    column = layout.columns["approve"]
    for offset, line in enumerate(lines, start=1):
        if line.status == ledger_counts.HELD:
            ws.cell(layout.table_row + offset, column).fill = REQUIRED_FILL


def _summary_sheet(wb: Workbook, lines: list, rules: CountsConfig) -> None:
    ws = wb.create_sheet(tab("summary"), 1)
    gains = sum((l.value_difference for l in lines if l.value_difference > 0), ZERO)
    losses = sum((l.value_difference for l in lines if l.value_difference < 0), ZERO)
    within = sum(1 for l in lines if l.within_tolerance)
    rows = [
        ("盘盈金额 gain value", gains), ("盘亏金额 loss value", losses), ("净差异 net", gains + losses),
        ("盘点行数 lines counted", len(lines)), ("容差内行数 lines within tolerance", within),
        ("盘点准确率% count accuracy", percent(Decimal(within), Decimal(len(lines)))),
        ("待审批行数 lines held", sum(1 for l in lines if l.status == ledger_counts.HELD)),
        ("容差 tolerance", f"{rules.tolerance_pct}% / {rules.tolerance_value}"),
    ]
    ws["A1"] = "盘点汇总 count summary"
    ws["A1"].font = Font(bold=True, size=13)
    for row, (label, value) in enumerate(rows, start=3):
        put_cell(ws.cell(row, 1), label)
        put_cell(ws.cell(row, 2), value)
    largest = sorted((l for l in lines if l.value_difference), key=lambda l: abs(l.value_difference), reverse=True)
    top = 13
    put_cell(ws.cell(top, 1), "差异最大的物料 largest differences by value")
    for row, line in enumerate(largest[:CHART_BARS], start=top + 1):
        put_cell(ws.cell(row, 1), line.sku)
        put_cell(ws.cell(row, 2), line.value_difference)
    if largest:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "差异金额 value difference"
        chart.legend = None
        last = top + min(len(largest), CHART_BARS)
        chart.add_data(Reference(ws, min_col=2, min_row=top + 1, max_row=last))
        chart.set_categories(Reference(ws, min_col=1, min_row=top + 1, max_row=last))
        ws.add_chart(chart, "D3")
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 16


# --- ABC and the count plan ------------------------------------------------------------------

def abc_classes(conn: Connection, today: date, rules: CountsConfig) -> dict[str, str]:
    values = _issue_values(conn, today)
    total = sum(values.values(), ZERO)
    classes, running = {}, ZERO
    for sku, value in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
        share = running * 100 / total if total else Decimal(100)
        classes[sku] = "A" if share < Decimal(str(rules.abc_a_pct)) else "B" if share < Decimal(str(rules.abc_b_pct)) else "C"
        running += value
    return classes


def _issue_values(conn: Connection, today: date) -> dict[str, Decimal]:
    """sku → the value issued (sold, or written off) over the last 365 days."""
    m = schema.movements
    query = (select(m.c.sku, func.sum(m.c.value).label("value"))
             .where(m.c.qty < 0, m.c.kind.in_(["delivery", "adjustment"]), m.c.doc_date > today - timedelta(days=365),
                    m.c.doc_date <= today).group_by(m.c.sku))
    return {r.sku: -r.value for r in conn.execute(query) if r.value < 0}


class PlanRow(NamedTuple):  # a tuple: one per sku × warehouse in stock, hundreds of thousands of them
    sku: str
    name: str
    warehouse: str
    location: str
    abc: str
    qty: Decimal
    value: Decimal
    last_counted: date | None
    due: date
    days_overdue: int


@dataclass(frozen=True)
class Accuracy:
    doc_no: str
    doc_date: date
    warehouse: str
    lines: int
    within: int
    accuracy_pct: Decimal | None
    gain_value: Decimal
    loss_value: Decimal
    held: int


PLAN_COLUMNS = (
    Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("warehouse", "仓库"),
    Column("location", "库位"), Column("abc", "ABC", width=6), Column("qty", "数量", "qty"),
    Column("value", "金额", "money"), Column("last_counted", "上次盘点", "date"), Column("due", "应盘日期", "date"),
    Column("days_overdue", "逾期天数", "int"),
)
ACCURACY_COLUMNS = (
    Column("doc_no", "盘点单号", width=18), Column("doc_date", "盘点日期", "date"), Column("warehouse", "仓库"),
    Column("lines", "行数", "int"), Column("within", "容差内", "int"), Column("accuracy_pct", "准确率%", "qty"),
    Column("gain_value", "盘盈金额", "money"), Column("loss_value", "盘亏金额", "money"), Column("held", "待审批", "int"),
)


def plan_rows(conn: Connection, today: date, rules: CountsConfig) -> list[PlanRow]:
    classes = abc_classes(conn, today, rules)
    counted = ledger_counts.last_counted(conn)
    interval = {"A": rules.a_days, "B": rules.b_days, "C": rules.c_days}
    b, i = schema.balances, schema.items
    query = (select(b.c.sku, b.c.warehouse, b.c.qty, b.c.value, i.c.name, i.c.location)
             .join(i, i.c.sku == b.c.sku).where(b.c.qty != 0, i.c.active.is_(True)))
    rows = []
    for sku, warehouse, qty, value, name, location in conn.execute(query, execution_options=STREAM):
        abc = classes.get(sku, "C")
        last = counted.get((sku, warehouse))
        due = last + timedelta(days=interval[abc]) if last else today
        rows.append(PlanRow(sku, name, warehouse, location or "", abc, qty, value, last, due,
                            (today - due).days if due < today else 0))
    return sorted(rows, key=lambda r: (r.due, r.abc, r.warehouse, r.location, r.sku))


def accuracy_rows(conn: Connection) -> list[Accuracy]:
    by_count: dict[int, list] = defaultdict(list)
    for line in ledger_counts.count_lines(conn):
        by_count[line.document_id].append(line)
    rows = []
    for lines in by_count.values():
        within = sum(1 for l in lines if l.within_tolerance)
        rows.append(Accuracy(lines[0].doc_no, lines[0].doc_date, lines[0].warehouse, len(lines), within,
                             percent(Decimal(within), Decimal(len(lines))),
                             sum((l.value_difference for l in lines if l.value_difference > 0), ZERO),
                             sum((l.value_difference for l in lines if l.value_difference < 0), ZERO),
                             sum(1 for l in lines if l.status == ledger_counts.HELD)))
    return sorted(rows, key=lambda a: (a.doc_date, a.doc_no))


def write_count_plan(conn: Connection, path: Path, today: date, rules: CountsConfig) -> None:
    rows = plan_rows(conn, today, rules)
    horizon = today + timedelta(days=rules.plan_days)
    due = bisect_right(rows, horizon, key=lambda r: r.due)  # rows are by due date: this week's come first
    with Book(path, kind="count_plan") as book:
        book.add_table("all", PLAN_COLUMNS, rows, head=("this_week", due))
        book.add_table("accuracy", ACCURACY_COLUMNS, accuracy_rows(conn))


def _safe(name: str) -> str:
    return "".join("_" if c in '\\/:*?"<>|' or c.isspace() else c for c in name) or "count"

