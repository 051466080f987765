"""Report stage: outbox/analysis.xlsx — the pivots finance and management build by
hand, each with a native Excel chart, from one grouped query (a month at a time) over
the sales movements of the last twelve months and this one.

- `sales`: month × item × customer × salesperson × warehouse: qty, revenue (金额,
  before tax), cost of goods sold, gross margin — the table the others are sums of;
- `by_item`, `by_category`, `by_customer`, `by_salesperson`, `by_warehouse`: month ×
  that dimension;
- `by_month`: the months, with a chart of revenue and gross margin;
- `top_items`, `bottom_items`, `top_customers`, `bottom_customers`: the 20 largest and
  smallest by revenue over the whole span;
- `salesperson_plan`: each salesperson's sales plan (the plan lines of their customers,
  by the customer's 业务员) against what they sold, in qty, by month;
- `customer_trend`: each customer's revenue per month, and the last three months
  against the three before (`trend_pct`).

Revenue is the lines' 金额 (before tax): returns and reversals subtract; cost is what
the movements took out of stock. Sums are exact: scaled integers summed in SQL.

It is rewritten when the sales movements of its span changed (a batch that posted sales,
a reversal, a revaluation of their cost) or on a new day, not after every batch: its
`_meta` sheet keeps what it was written from (`source`). Each month's rows and sums are
kept in outbox/.cache/ (analysis_months), so that only the months whose sales changed are
read from the ledger and encoded again; the pivots are sums of the months' sums.
"""
from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable

from sqlalchemy import Connection, and_, case, func, select

from ..ledger import schema
from ..ledger.periods import stored
from . import analysis_months
from .book import ROW_MARK, Book, Column, written_from
from .order_data import percent
from .service import months_back

ZERO = Decimal(0)
TOP = 20
SALES_KINDS = ("delivery", "sales_return")

AMOUNTS = (
    Column("qty", "数量", "qty"), Column("revenue", "销售额(不含税)", "money", width=14),
    Column("cogs", "销售成本", "money", width=14), Column("gross_margin", "毛利", "money", width=14),
    Column("margin_pct", "毛利率%", "qty"),
)
SALES_COLUMNS = (
    Column("month", "月份", width=9), Column("sku", "物料编码", width=14), Column("name", "名称", width=20),
    Column("category", "类别", width=10), Column("customer", "客户", width=12), Column("customer_name", "客户名称", width=20),
    Column("salesperson", "业务员", width=10), Column("warehouse", "仓库", width=10), *AMOUNTS,
)
DIMENSIONS = {  # sheet → (key column, its label, name column or None)
    "by_item": ("sku", "物料编码", "name"),
    "by_category": ("category", "类别", None),
    "by_customer": ("customer", "客户", "customer_name"),
    "by_salesperson": ("salesperson", "业务员", None),
    "by_warehouse": ("warehouse", "仓库", None),
}
PLAN_COLUMNS = (
    Column("month", "月份", width=9), Column("salesperson", "业务员", width=12), Column("planned", "计划数量", "qty"),
    Column("actual", "实际数量", "qty"), Column("achieved_pct", "完成率%", "qty"), Column("revenue", "销售额(不含税)", "money", width=14),
)


def fingerprint(conn: Connection, today: date) -> str:
    """What the workbook would be written from: the day, and the count, cost and last id
    of the sales movements in its span (one range query on the date index)."""
    m = schema.movements
    found = conn.execute(select(func.count(), stored(func.sum(m.c.value)), func.max(m.c.id))
                         .where(m.c.doc_date >= months_back(today), m.c.kind.in_(SALES_KINDS))).one()
    return f"{today.isoformat()}|{found[0]}|{found[1]}|{found[2]}"


def due(conn: Connection, path: Path, today: date) -> bool:
    """Whether the workbook at `path` is missing, or was written from other sales or on another day."""
    return written_from(path) != fingerprint(conn, today)


@dataclass(frozen=True)
class Cell:
    """One group of the grouped query."""

    month: str
    sku: str
    customer: str
    salesperson: str
    warehouse: str
    qty: Decimal
    revenue: Decimal
    cogs: Decimal


def sales_cells(conn: Connection, since: date, until: date | None = None) -> list[Cell]:
    """The one grouped query: month × sku × customer × salesperson × warehouse (from `since`,
    before `until`)."""
    m, d, l = schema.movements, schema.documents, schema.lines
    month = func.to_char(m.c.doc_date, "YYYY-MM") if conn.dialect.name == "postgresql" else func.substr(m.c.doc_date, 1, 7)
    signed_amount = case((l.c.qty < 0, -l.c.amount), else_=l.c.amount)  # a reversal's line is negative, its 金额 not
    returned = case((m.c.kind == "sales_return", -signed_amount), else_=signed_amount)
    keys = (month.label("month"), m.c.sku, d.c.partner, func.coalesce(d.c.salesperson, "").label("salesperson"),
            m.c.warehouse)
    query = (select(*keys, stored(func.sum(m.c.qty)).label("qty"), stored(func.sum(m.c.value)).label("value"),
                    stored(func.sum(func.coalesce(returned, 0))).label("revenue"))
             .join(d, d.c.id == m.c.document_id)
             .join(l, and_(l.c.document_id == m.c.document_id, l.c.line_no == m.c.line_no))
             .where(m.c.kind.in_(SALES_KINDS), m.c.doc_date >= since, *((m.c.doc_date < until,) if until else ()))
             .group_by(*keys))
    qty_scale, money_scale = schema.QTY_PLACES, schema.MONEY_PLACES
    return [Cell(r.month, r.sku, r.partner, r.salesperson, r.warehouse, -Decimal(r.qty or 0).scaleb(-qty_scale),
                 Decimal(r.revenue or 0).scaleb(-money_scale), -Decimal(r.value or 0).scaleb(-money_scale))
            for r in conn.execute(query)]


def _amounts(qty: Decimal, revenue: Decimal, cogs: Decimal) -> dict:
    return {"qty": qty, "revenue": revenue, "cogs": cogs, "gross_margin": revenue - cogs,
            "margin_pct": percent(revenue - cogs, revenue)}


def _sum(cells: Iterable[Cell], key) -> dict:
    totals: dict = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for c in cells:
        t = totals[key(c)]
        t[0] += c.qty
        t[1] += c.revenue
        t[2] += c.cogs
    return totals


def _add(into: dict, sums: dict, key=lambda k: k) -> dict:
    for k, (qty, revenue, cogs) in sums.items():
        t = into[key(k)]
        t[0] += qty
        t[1] += revenue
        t[2] += cogs
    return into


def _totals() -> defaultdict:
    return defaultdict(lambda: [ZERO, ZERO, ZERO])


def write_analysis(conn: Connection, path: Path, today: date, cache: Path | None = None) -> None:
    """`cache`: the folder where each month's sales rows and sums are kept (analysis_months),
    so that only the months whose sales changed are read and encoded again."""
    since = months_back(today)
    i, c = schema.items, schema.customers
    items = {r.sku: (r.name, r.category or "") for r in conn.execute(select(i.c.sku, i.c.name, i.c.category))}
    customers = {r.code: (r.name, r.salesperson or "") for r in conn.execute(select(c.c.code, c.c.name, c.c.salesperson))}
    names = {"name": lambda k: items.get(k, ("", ""))[0], "customer_name": lambda k: customers.get(k, ("", ""))[0]}
    with Book(path) as book:
        months = analysis_months.months(conn, since, today, cache, book.encoder(SALES_COLUMNS),
                                        partial(month_of_sales, items=items, customers=customers))
        book.add_table("sales", SALES_COLUMNS, (row for m in months for row in m.rows))
        month_rows = [SimpleNamespace(month=m.month, **_amounts(*m.sums["total"][""])) for m in months if m.rows]
        sheet = book.add_table("by_month", (Column("month", "月份", width=9), *AMOUNTS), month_rows)[0]
        _chart(book, sheet, len(month_rows), [("revenue", 2), ("gross_margin", 4)], "column",
               "每月销售额与毛利 Revenue and gross margin by month")
        for sheet_name, (key, zh, name_key) in DIMENSIONS.items():
            columns = (Column("month", "月份", width=9), Column(key, zh, width=14),
                       *((Column(name_key, "名称", width=20),) if name_key else ()), *AMOUNTS)
            book.add_table(sheet_name, columns, [
                SimpleNamespace(month=m.month, **{key: k}, **({name_key: names[name_key](k)} if name_key else {}),
                                **_amounts(*m.sums[key][k]))
                for m in months for k in sorted(m.sums[key])])
        for what, key, name_key in (("items", "sku", "name"), ("customers", "customer", "customer_name")):
            totals = _totals()
            for m in months:
                _add(totals, m.sums[key])
            ranked = sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0]))
            columns = (Column("rank", "名次", "int", width=6), Column(key, "编码", width=14), Column(name_key, "名称", width=20),
                       *AMOUNTS)
            top = [SimpleNamespace(rank=n, **{key: k, name_key: names[name_key](k)}, **_amounts(*t))
                   for n, (k, t) in enumerate(ranked[:TOP], start=1)]
            bottom = [SimpleNamespace(rank=n, **{key: k, name_key: names[name_key](k)}, **_amounts(*t))
                      for n, (k, t) in enumerate(reversed(ranked[-TOP:]), start=1)]
            sheet = book.add_table(f"top_{what}", columns, top)[0]
            _chart(book, sheet, len(top), [("revenue", 4)], "bar",
                   f"销售额前 {TOP} Top {TOP} {what} by revenue", categories=2)
            book.add_table(f"bottom_{what}", columns, bottom)
        sold = _totals()
        for m in months:
            _add(sold, m.sums["salesperson"], lambda k, month=m.month: (month, k))
        plan = salesperson_plan(conn, sold, {code: sp for code, (_n, sp) in customers.items()}, since)
        sheet = book.add_table("salesperson_plan", PLAN_COLUMNS, plan)[0]
        _chart(book, sheet, len(plan), [("planned", 2), ("actual", 3)], "column",
               "业务员计划与实际 Salespeople: plan and actual", categories=1)
        by_customer = _totals()
        for m in months:
            _add(by_customer, m.sums["customer"], lambda k, month=m.month: (k, month))
        trend_columns, trend = customer_trend(by_customer, customers, today)
        sheet = book.add_table("customer_trend", trend_columns, trend)[0]
        shown = min(len(trend), 5)
        if shown:
            chart = book.workbook.add_chart({"type": "line"})
            for n in range(1, shown + 1):
                chart.add_series({"name": [sheet.name, n, 1], "categories": [sheet.name, 0, 2, 0, 13],
                                  "values": [sheet.name, n, 2, n, 13]})
            chart.set_title({"name": "主要客户每月销售额 Revenue of the largest customers by month"})
            sheet.insert_chart(len(trend) + 3, 1, chart)
        book.add_meta("analysis", source=fingerprint(conn, today))


def month_of_sales(conn: Connection, month: str, first: date, after: date, encoder, items: dict,
                   customers: dict) -> analysis_months.Month:
    """One month of the sales sheet read from the ledger: its rows encoded, and its sums by each dimension."""
    cells = sales_cells(conn, first, after)
    rows = [SimpleNamespace(month=x.month, sku=x.sku, name=items.get(x.sku, ("", ""))[0],
                            category=items.get(x.sku, ("", ""))[1], customer=x.customer,
                            customer_name=customers.get(x.customer, ("", ""))[0], salesperson=x.salesperson,
                            warehouse=x.warehouse, **_amounts(x.qty, x.revenue, x.cogs))
            for x in sorted(cells, key=lambda x: (x.sku, x.customer, x.salesperson, x.warehouse))]
    sums = {"total": _sum(rows, lambda r: "")} | {key: _sum(rows, operator.attrgetter(key))
                                                  for key, _zh, _name in DIMENSIONS.values()}
    return analysis_months.Month(month, [encoder.encode(ROW_MARK, row) for row in rows], sums)


def _chart(book: Book, sheet, rows: int, series: list[tuple[str, int]], kind: str, title: str,
           categories: int = 0) -> None:
    if not rows:
        return
    chart = book.workbook.add_chart({"type": kind})
    for key, col in series:
        chart.add_series({"name": key, "categories": [sheet.name, 1, categories, rows, categories],
                          "values": [sheet.name, 1, col, rows, col]})
    chart.set_title({"name": title})
    sheet.insert_chart(1, 11, chart)


def salesperson_plan(conn: Connection, sold: dict, salesperson_of: dict[str, str], since: date) -> list:
    """Planned qty (plan lines naming a customer, by that customer's salesperson) against sold qty
    (`sold`: (month, salesperson) → qty, revenue, cost)."""
    d, l = schema.documents, schema.lines
    reversed_ids = select(d.c.reverses).where(d.c.reverses.is_not(None))
    query = (select(d.c.due_date, l.c.partner, l.c.qty).join(l, l.c.document_id == d.c.id)
             .where(d.c.kind == "sales_plan", d.c.reverses.is_(None), d.c.id.not_in(reversed_ids), d.c.due_date >= since))
    planned: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for r in conn.execute(query):
        planned[(r.due_date.strftime("%Y-%m"), salesperson_of.get(r.partner or "", ""))] += r.qty
    out = []
    for key in sorted(set(planned) | set(sold)):
        month, person = key
        plan, (qty, revenue, _cogs) = planned.get(key, ZERO), sold.get(key, (ZERO, ZERO, ZERO))
        out.append(SimpleNamespace(month=month, salesperson=person, planned=plan, actual=qty,
                                   achieved_pct=percent(qty, plan), revenue=revenue))
    return out


def customer_trend(totals: dict, customers: dict, today: date) -> tuple[tuple[Column, ...], list]:
    """A row per customer: revenue in each of the last twelve months, largest customers first
    (`totals`: (customer, month) → qty, revenue, cost)."""
    months = [months_back(today, n).strftime("%Y-%m") for n in range(11, -1, -1)]
    by_customer: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for (customer, month), t in totals.items():
        by_customer[customer][month] = t[1]
    columns = (Column("customer", "客户", width=12), Column("customer_name", "客户名称", width=20),
               *(Column(f"m{n:02d}", m, "money") for n, m in enumerate(months, start=1)),
               Column("trend_pct", "近三月环比%", "qty", width=12))
    out = []
    for customer, by_month in sorted(by_customer.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        values = [by_month.get(m, ZERO) for m in months]
        recent, before = sum(values[-3:], ZERO), sum(values[-6:-3], ZERO)
        out.append(SimpleNamespace(customer=customer, customer_name=customers.get(customer, ("", ""))[0],
                                   **{f"m{n:02d}": v for n, v in enumerate(values, start=1)},
                                   trend_pct=percent(recent - before, before)))
    return columns, out
