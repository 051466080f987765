"""Report stage: the month-end pack, outbox/monthend/YYYY-MM.xlsx, and its voucher
export, YYYY-MM-vouchers.csv — what finance consolidates from.

Sheets:
- `summary` 进销存汇总表, per sku × warehouse: opening, in by type (purchase,
  sales return, transfer, count gain, other), out by type (sales, purchase
  return, transfer, count loss, other), closing — quantity and value, under keys
  such as `opening_qty`, `in_purchase_value`, `closing_value`;
- `by_category`, `by_warehouse`, `by_site`, `group`: the same summed. Transfers
  inside a site are eliminated from its site row, and every transfer from the group
  total (they move stock within the company; out and in carry the same value);
  `by_site` and `group` add the goods in transit at the opening and the closing, so
  that the group's opening + transit + in − out = closing + transit;
- `in_transit`: transfers shipped by the month end that arrive after it (到货日期),
  in neither warehouse's closing stock; each site's transit is the goods on their way
  to it. A transfer inside a site that crosses the month end is not eliminated from
  its site row (its legs fall in two months), only from the group's;
- `cogs`: cost of goods sold and gross margin by item, by customer and by site;
- `aging`: stock at month end by age since its last receipt, and slow / dead stock
  (no issue for `finance.slow_days` / `dead_days`);
- `aging_by_layer`: the same stock split into the receipts it is left from (first in,
  first out), each with its age: at its receipt cost under fifo, at the closing
  average otherwise;
- `batches`: each batch of a batch-tracked item in stock at the month end, valued at its item ×
  warehouse closing average;
- `count_variance`: the month's count lines;
- `write_down` (企业会计准则 only): stock worth more than its net realisable value at the
  month end, the provision it needs and what is booked (reports/write_down.py);
- `vouchers`: the month's accounting entries (also the CSV), per site; transfers
  that cross a month end go through the goods-in-transit account (在途物资) of the
  receiving site: in at the month end, out when they arrive;
- `checks`: opening + in − out = closing on every row, the closing equal to the
  ledger's movements, the vouchers equal to the pack — each with its difference;
- `audit`: every close and reopen.
Every sum is exact (the ledger's scaled integers added up, each made a Decimal once);
movements are classified by their kind and sign, so a reversal nets against what it
reverses.
"""
from __future__ import annotations

import functools
from collections import defaultdict, namedtuple
from dataclasses import dataclass, fields, make_dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Iterator, Mapping, NamedTuple

from sqlalchemy import Connection, and_, case, func, or_, select

from ..config import FinanceConfig, TaxConfig
from ..ledger import counts as ledger_counts
from ..ledger import money as ledger_money
from ..ledger import methods, periods, schema
from ..ledger.costing import FIFO, money
from .data import Transit, in_transit
from .order_data import Margin, add_sale, margin_rows, sales_lines
from .stock import TRANSIT_COLUMNS
from .book import Book, Column, atomic_path
from .month import OPENING, month_bounds, movement_type
from .stock_summary import BY_WAREHOUSE_SHEET as STOCK_BY_WAREHOUSE_SHEET
from .stock_summary import COLUMNS as STOCK_COLUMNS
from .stock_summary import ITEM_COLUMNS as STOCK_ITEM_COLUMNS
from .stock_summary import SUMMARY_SHEET as STOCK_SUMMARY_SHEET
from .stock_summary import stock_rows
from .cost_detail import (CORRECTION_COLUMNS, LAYER_LEFT_COLUMNS, RATE_COLUMNS, cost_corrections, fifo_layers,
                          monthly_rates)
from .money import BALANCE_COLUMNS, JOURNAL_COLUMNS
from .money_vouchers import money_checks, money_entries
from .vat import vat_entries
from .write_down import PROVISION_COLUMNS, provision_rows
from .vouchers import (OPENING_COLUMNS, VOUCHER_COLUMNS, Chart, VoucherLine, chart_of, number, opening_balances,
                       stock_entries, unbalanced, write_voucher_book, write_vouchers_csv)

ZERO = Decimal(0)
IN_TYPES = ("purchase", "sales_return", "transfer", "count_gain", "other")
OUT_TYPES = ("sales", "purchase_return", "transfer", "count_loss", "other")
TYPE_ZH = {"purchase": "采购", "sales_return": "销售退回", "transfer": "调拨", "count_gain": "盘盈", "other": "其他",
           "sales": "销售", "purchase_return": "采购退货", "count_loss": "盘亏"}
AMOUNTS = ("opening", *(f"in_{t}" for t in IN_TYPES), *(f"out_{t}" for t in OUT_TYPES), "closing")
NUMBERS = tuple(f"{a}_{m}" for a in AMOUNTS for m in ("qty", "value"))
RECEIVING = ("receipt", "opening", "transfer", "sales_return")  # what the aging counts as a receipt
AGE_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"), (None, ">180"))

TRANSIT_NUMBERS = ("opening_transit_qty", "opening_transit_value", "closing_transit_qty", "closing_transit_value")

Totals = make_dataclass("Totals", [("key", str), ("name", str), *((n, Decimal) for n in NUMBERS)], frozen=True)
SiteTotals = make_dataclass("SiteTotals", [("key", str), ("name", str),
                                           *((n, Decimal) for n in (*NUMBERS, *TRANSIT_NUMBERS))], frozen=True)


# --- the summary ------------------------------------------------------------------------

SummaryRow = namedtuple("SummaryRow", ("sku", "name", "category", "warehouse", "site", *NUMBERS))
Cell = namedtuple("Cell", ("warehouse", "category", "site"))
"""The finest grouping the pack adds up to: by_warehouse, by_site, by_category and the group are sums of cells."""

FLOWS = NUMBERS[2:-2]  # in_purchase_qty … out_other_value
_PLACES = tuple(-schema.QTY_PLACES if n.endswith("_qty") else -schema.MONEY_PLACES for n in NUMBERS)
_ZERO_FLOWS = (ZERO,) * len(FLOWS)
_IN_COLUMNS = 2 * len(IN_TYPES)  # FLOWS: each in_ type's qty and value, then each out_ type's


@dataclass(frozen=True)
class Summary:
    """The month per sku × warehouse with an opening balance or a movement in it (`rows`, by
    sku then warehouse), the same added up per warehouse × category (`cells`), how many
    rows break opening + in − out = closing (`broken`), each pair's last receipt and
    last issue by the month end (`last_moved`, for the aging), and each row's opening,
    in, out and closing (qty, value) in scaled integers (`scaled`, for stock_summary)."""

    rows: list[SummaryRow]
    cells: dict[Cell, dict[str, Decimal]]
    broken: int
    last_moved: dict[tuple[str, str], tuple[date | None, date | None]]
    scaled: list[tuple[int, ...]]  # each row's (qty, value) opening, in, out, closing: the 收发存 sheets'


def summary(conn: Connection, month: str) -> Summary:
    """The month's amounts, added up in scaled integers (as the ledger stores them), so every
    sum is exact; Decimals are made once per amount, at the end."""
    start, end = month_bounds(month)
    opening, last_moved = _history(conn, month, start, end)
    flows = _flows(conn, start, end)
    items = {r.sku: (r.name, r.category) for r in conn.execute(select(schema.items.c.sku, schema.items.c.name,
                                                                        schema.items.c.category))}
    sites = _sites(conn)
    held = [pair for pair, amount in opening.items() if amount != (0, 0)]  # by sku, warehouse already: a quick sort
    pairs = sorted(held + [pair for pair in flows if opening.get(pair, (0, 0)) == (0, 0)])
    rows, scaled, broken = [], [], 0
    moved_by_cell: dict[tuple, list[tuple]] = defaultdict(list)
    unmoved_by_cell: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # (qty, value): their opening = closing
    for pair in pairs:
        sku, warehouse = pair
        name, category = items.get(sku, ("", ""))
        site = sites.get(warehouse, "")
        open_qty, open_value = opening.get(pair, (0, 0))
        moved = flows.get(pair)
        if moved is None:
            unmoved = unmoved_by_cell[(warehouse, category, site)]
            unmoved[0] += open_qty
            unmoved[1] += open_value
            qty, value = _decimal(open_qty, _PLACES[0]), _decimal(open_value, _PLACES[1])
            rows.append(SummaryRow._make((sku, name, category, warehouse, site, qty, value, *_ZERO_FLOWS, qty, value)))
            scaled.append((open_qty, open_value, 0, 0, 0, 0, open_qty, open_value))
        else:
            columns, (moved_qty, moved_value), (opened_qty, opened_value) = moved
            amounts = (open_qty + opened_qty, open_value + opened_value, *columns,
                       open_qty + moved_qty, open_value + moved_value)
            broken += _broken(amounts, 0) + _broken(amounts, 1)
            moved_by_cell[(warehouse, category, site)].append(amounts)
            numbers = tuple([Decimal(a).scaleb(places) if a else ZERO for a, places in zip(amounts, _PLACES)])
            rows.append(SummaryRow._make((sku, name, category, warehouse, site) + numbers))
            ins, outs = columns[:_IN_COLUMNS], columns[_IN_COLUMNS:]
            scaled.append((amounts[0], amounts[1], sum(ins[::2]), sum(ins[1::2]), sum(outs[::2]), sum(outs[1::2]),
                           amounts[-2], amounts[-1]))
    cells = {Cell(*cell): _cell_totals(moved_by_cell.get(cell, []), unmoved_by_cell.get(cell, (0, 0)))
             for cell in sorted(set(moved_by_cell) | set(unmoved_by_cell))}
    return Summary(rows, cells, broken, last_moved, scaled)


def _cell_totals(moved: list[tuple], unmoved: tuple[int, int]) -> dict[str, Decimal]:
    """The NUMBERS of a cell: its rows that moved in the month added up, and the (qty,
    value) of those that did not in its opening and its closing."""
    totals = [sum(column) for column in zip(*moved)] or [0] * len(NUMBERS)
    qty, value = unmoved
    for at, amount in ((0, qty), (1, value), (-2, qty), (-1, value)):
        totals[at] += amount
    return {n: _decimal(total, places) for n, total, places in zip(NUMBERS, totals, _PLACES)}


def _decimal(scaled: int, places: int) -> Decimal:
    return Decimal(scaled).scaleb(places) if scaled else ZERO


def _broken(amounts: tuple, measure: int) -> bool:
    """opening + in − out ≠ closing, for the qty (0) or the value (1) of a row of scaled integers."""
    flows = amounts[2 + measure:-2:2]  # the in_ columns, then the out_ ones
    ins, outs = sum(flows[:len(IN_TYPES)]), sum(flows[len(IN_TYPES):])
    return amounts[measure] + ins - outs != amounts[-2 + measure]


def _history(conn: Connection, month: str, start: date, end: date) -> tuple[dict, dict]:
    """Per sku × warehouse: (qty, value) at the month's opening in scaled integers, and
    (last receipt, last issue) by its end. When the month opens from the movements before
    it, not from the previous month's kept closing, one pass over the ledger finds both."""
    m = schema.movements
    pair = (m.c.sku, m.c.warehouse)
    received = func.max(case((and_(m.c.kind.in_(RECEIVING), m.c.qty > 0), m.c.doc_date)))
    issued = func.max(case((and_(m.c.kind == "delivery", m.c.qty < 0), m.c.doc_date)))
    if periods.opens_from_closing(conn, month):
        kept = periods.kept_closing(periods.previous_month(month)).subquery()
        opening = {(sku, wh): (qty, value) for sku, wh, qty, value in
                   conn.execute(select(kept).order_by(kept.c.sku, kept.c.warehouse))}
        query = select(*pair, received, issued).where(m.c.doc_date <= end).group_by(*pair)
        return opening, {(sku, wh): (r, i) for sku, wh, r, i in conn.execute(query)}
    before = m.c.doc_date < start
    query = (select(*pair, periods.stored(func.sum(case((before, m.c.qty), else_=0))),
                    periods.stored(func.sum(case((before, m.c.value), else_=0))), received, issued)
             .where(m.c.doc_date <= end).group_by(*pair).order_by(*pair))
    opening, last_moved = {}, {}
    for sku, wh, qty, value, last_receipt, last_issue in conn.execute(query):
        opening[(sku, wh)] = (qty, value)
        last_moved[(sku, wh)] = (last_receipt, last_issue)
    return opening, last_moved


def _flows(conn: Connection, start: date, end: date) -> dict[tuple[str, str], tuple[list[int], tuple, tuple]]:
    """Per sku × warehouse moved in the month: its FLOWS, its net (qty, value) and the (qty,
    value) of its opening stock dated in the month (期初, not a flow), in scaled integers."""
    m = schema.movements
    positive = case((m.c.qty > 0, 1), else_=0).label("positive")
    moved = (select(m.c.sku, m.c.warehouse, m.c.kind, positive, periods.stored(func.sum(m.c.qty)),
                    periods.stored(func.sum(m.c.value)))
             .where(m.c.doc_date >= start, m.c.doc_date <= end).group_by(m.c.sku, m.c.warehouse, m.c.kind, positive))
    found: dict[tuple[str, str], tuple[list[int], list[int], list[int]]] = {}
    placed: dict[tuple[str, int], tuple[int, int]] = {}  # (kind, positive) → where in FLOWS, sign
    for sku, warehouse, kind, is_positive, qty, value in conn.execute(moved):
        columns, net, opened = found.setdefault((sku, warehouse), ([0] * len(FLOWS), [0, 0], [0, 0]))
        net[0] += qty
        net[1] += value
        if kind == OPENING:
            opened[0] += qty
            opened[1] += value
            continue
        if (kind, is_positive) not in placed:
            column = movement_type(kind, bool(is_positive))
            placed[(kind, is_positive)] = FLOWS.index(f"{column}_qty"), 1 if column.startswith("in_") else -1
        at, sign = placed[(kind, is_positive)]
        columns[at] += sign * qty
        columns[at + 1] += sign * value
    return {pair: (columns, tuple(net), tuple(opened)) for pair, (columns, net, opened) in found.items()}


def _sites(conn: Connection) -> dict[str, str]:
    return {r.code: r.site or r.code for r in conn.execute(select(schema.warehouses.c.code, schema.warehouses.c.site))}


def _sum(rows: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    total = dict.fromkeys(NUMBERS, ZERO)
    for row in rows:
        for n in NUMBERS:
            total[n] += row[n]
    return total


def grouped(summarised: Summary, key, name=lambda cell: "") -> list:
    """The summary added up by `key` of each Cell (warehouse, category, site)."""
    groups: dict[str, list] = defaultdict(list)
    names: dict[str, str] = {}
    for cell, amounts in summarised.cells.items():
        groups[key(cell)].append(amounts)
        names[key(cell)] = name(cell)
    return [Totals(k, names[k], **_sum(rows)) for k, rows in sorted(groups.items())]


def transfers_within(conn: Connection, month: str, same_site_only: bool,
                     crossing: frozenset[str] = frozenset()) -> dict[str, dict[str, Decimal]]:
    """Per site: the transfer qty and value to eliminate — all of them, or those inside the
    site that do not cross a month end (`crossing`: the transfers in transit at the end)."""
    start, end = month_bounds(month)
    m, d = schema.movements, schema.documents
    sites = _sites(conn)
    query = (select(m.c.warehouse, m.c.qty, m.c.value, d.c.warehouse.label("source"), d.c.to_warehouse,
                    d.c.doc_no, d.c.doc_date.label("shipped"))
             .join(d, d.c.id == m.c.document_id)
             .where(m.c.kind == "transfer", m.c.doc_date >= start, m.c.doc_date <= end))
    eliminated: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(NUMBERS, ZERO))
    for r in conn.execute(query):
        if same_site_only and (sites.get(r.source, r.source) != sites.get(r.to_warehouse, r.to_warehouse)
                               or r.shipped < start or r.doc_no in crossing):
            continue
        column = "in_transfer" if r.qty > 0 else "out_transfer"
        sign = 1 if r.qty > 0 else -1
        row = eliminated[sites.get(r.warehouse, r.warehouse)]
        row[f"{column}_qty"] += sign * r.qty
        row[f"{column}_value"] += sign * r.value
    return eliminated


def _eliminate(row, eliminated: Mapping[str, Decimal] | None):
    if not eliminated:
        return row
    values = {f.name: getattr(row, f.name) for f in fields(row)}
    for n in ("in_transfer_qty", "in_transfer_value", "out_transfer_qty", "out_transfer_value"):
        values[n] -= eliminated[n]
    return Totals(**values)


# --- goods in transit ----------------------------------------------------------------------

@dataclass(frozen=True)
class InTransit:
    """The goods in transit at the month's opening and closing, each line's sites as the
    pack names them (a warehouse without a site is a site of its own)."""

    opening: tuple[Transit, ...]
    closing: tuple[Transit, ...]

    def by_site(self) -> dict[str, dict[str, Decimal]]:
        """Per receiving site: opening_transit_qty/value and closing_transit_qty/value."""
        found: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(TRANSIT_NUMBERS, ZERO))
        for at in ("opening", "closing"):
            for t in getattr(self, at):
                found[t.to_site][f"{at}_transit_qty"] += t.qty
                found[t.to_site][f"{at}_transit_value"] += t.value
        return dict(found)

    def total(self) -> dict[str, Decimal]:
        per_site = self.by_site().values()
        return {n: sum((row[n] for row in per_site), ZERO) for n in TRANSIT_NUMBERS}


def goods_in_transit(conn: Connection, month: str) -> InTransit:
    start, end = month_bounds(month)
    sites = _sites(conn)

    def named(rows: list[Transit]) -> tuple[Transit, ...]:
        return tuple(replace(t, from_site=sites.get(t.from_warehouse, t.from_warehouse),
                             to_site=sites.get(t.to_warehouse, t.to_warehouse)) for t in rows)

    return InTransit(named(in_transit(conn, start - timedelta(days=1))), named(in_transit(conn, end)))


def _with_transit(row, transit: Mapping[str, Decimal]):
    return SiteTotals(**{f.name: getattr(row, f.name) for f in fields(row)},
                      **{n: transit.get(n, ZERO) for n in TRANSIT_NUMBERS})


def site_rows(site_totals: list, transit: InTransit) -> list:
    """The by_site rows with the goods in transit to each site; a site that only has goods
    on their way to it gets a row of its own."""
    per_site = transit.by_site()
    rows = {r.key: r for r in site_totals}
    for site in per_site:
        rows.setdefault(site, Totals(site, "", **dict.fromkeys(NUMBERS, ZERO)))
    return [_with_transit(rows[k], per_site.get(k, {})) for k in sorted(rows)]


# --- cost of sales, aging, counts ------------------------------------------------------------

def margins(conn: Connection, month: str) -> dict[str, list[Margin]]:
    start, end = month_bounds(month)
    sites = _sites(conn)
    totals = {by: defaultdict(lambda: [ZERO, ZERO, ZERO]) for by in ("item", "customer", "site")}
    for r in sales_lines(conn, start, end):
        for by, key in (("item", r.sku), ("customer", r.partner), ("site", sites.get(r.warehouse, r.warehouse))):
            add_sale(totals[by], key, r)
    names = {"item": dict(conn.execute(select(schema.items.c.sku, schema.items.c.name)).all()),
             "customer": dict(conn.execute(select(schema.customers.c.code, schema.customers.c.name)).all()),
             "site": {}}
    return {by: margin_rows(rows, names[by]) for by, rows in totals.items()}


class Aging(NamedTuple):
    sku: str
    name: str
    warehouse: str
    qty: Decimal
    value: Decimal
    last_receipt: date | None
    age_days: int | None
    age_bucket: str
    last_issue: date | None
    slow: str
    dead: str


def aging(month: str, summarised: Summary, rules: FinanceConfig) -> Iterator[Aging]:
    """The month-end stock by age since its last receipt; slow and dead by the days since its
    last issue. Made as the sheet is written, not held."""
    _start, end = month_bounds(month)
    last = summarised.last_moved
    for r in summarised.rows:
        if r.closing_qty <= 0:
            continue
        received, issued = last.get((r.sku, r.warehouse), (None, None))
        age = (end - received).days if received else None
        idle = (end - (issued or received)).days if issued or received else None  # never issued: idle since received
        yield Aging(r.sku, r.name, r.warehouse, r.closing_qty, r.closing_value, received, age, _bucket(age),
                    issued, "Y" if idle is None or idle > rules.slow_days else "",
                    "Y" if idle is None or idle > rules.dead_days else "")


class AgedLayer(NamedTuple):
    sku: str
    warehouse: str
    received: date | None  # None: older than the last bucket's limit
    age_days: int | None
    age_bucket: str
    qty: Decimal
    value: Decimal


def aging_by_layer(conn: Connection, month: str, summarised: Summary) -> Iterator[AgedLayer]:
    """The month-end stock of each pair split into the receipts it is left from, first in
    first out: the newest receipts hold what is left. Under fifo a layer is valued at its
    receipt's cost (the layers costing keeps); under an average at the closing average.
    Receipts older than the last age bucket's limit are one layer, without a date, which
    takes the rest of the value — so a pair's layers add up to its closing value, and
    only the last half year of receipts is read."""
    _start, end = month_bounds(month)
    horizon = end - timedelta(days=AGE_BUCKETS[-2][0])
    method = methods.load(conn)
    fifo: dict[str, bool] = {}  # sku → valued by fifo in the month
    m = schema.movements
    closing = {(r.sku, r.warehouse): (r.closing_qty, r.closing_value) for r in summarised.rows if r.closing_qty > 0}
    left = {pair: qty for pair, (qty, _value) in closing.items()}
    query = (select(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.qty, m.c.value)
             .where(m.c.qty > 0, m.c.doc_date <= end, m.c.doc_date >= horizon)
             .order_by(m.c.sku, m.c.warehouse, m.c.doc_date.desc(), m.c.id.desc()))
    pieces: dict[tuple[str, str], list[tuple]] = defaultdict(list)  # (received, age, bucket, qty, value), newest first
    for sku, warehouse, received, qty, value in conn.execute(query, execution_options={"stream_results": True,
                                                                                       "yield_per": 10_000}):
        pair = (sku, warehouse)
        remaining = left.get(pair, 0)
        if remaining <= 0:
            continue
        piece = min(remaining, qty)
        left[pair] = remaining - piece
        if sku not in fifo:
            fifo[sku] = method.method_of(sku)(month) == FIFO
        unit = value / qty if fifo[sku] else closing[pair][1] / closing[pair][0]
        age = (end - received).days
        pieces[pair].append((received, age, _bucket(age), piece, money(piece * unit)))
    return _aged_layers(closing, pieces, left)


def _aged_layers(closing: dict, pieces: dict, left: dict) -> Iterator[AgedLayer]:
    """The rows of aging_by_layer, made as the sheet is written."""
    for pair, (_qty, value) in closing.items():  # by sku, warehouse, as the summary
        found = pieces.pop(pair, None)
        if found is None:  # nothing received in the last half year: all of it is one layer
            yield AgedLayer(*pair, None, None, AGE_BUCKETS[-1][1], left[pair], value)
            continue
        if left[pair] > 0:
            found.append((None, None, AGE_BUCKETS[-1][1], left[pair], ZERO))
        *before, (received, age, bucket, piece, piece_value) = found
        residue = value - sum(layer[-1] for layer in found)  # the last layer makes the pair's layers its closing value
        yield from (AgedLayer(*pair, *layer) for layer in before)
        yield AgedLayer(*pair, received, age, bucket, piece, piece_value + residue)


@functools.cache
def _bucket(age: int | None) -> str:
    if age is None:
        return ""
    return next(label for limit, label in AGE_BUCKETS if limit is None or age <= limit)


# --- checks ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    check: str
    expected: Decimal
    actual: Decimal
    difference: Decimal
    ok: str


def checks(conn: Connection, month: str, broken: int, group, lines: list[VoucherLine], chart: Chart,
           transit: InTransit, more: list[tuple] = ()) -> list[Check]:
    start, end = month_bounds(month)
    m = schema.movements
    transfers = func.coalesce(func.sum(case((m.c.kind == "transfer", m.c.value), else_=0)), 0)
    before = func.coalesce(func.sum(case((or_(m.c.doc_date < start, m.c.kind == OPENING), m.c.value), else_=0)), 0)
    ledger_qty, ledger_value, ledger_transfers, opening_value = conn.execute(
        select(func.coalesce(func.sum(m.c.qty), 0), func.coalesce(func.sum(m.c.value), 0), transfers, before)
        .where(m.c.doc_date <= end)).one()
    stock_accounts = chart.stock_accounts()
    stock_net = sum((e.debit - e.credit for e in lines if e.account_code in stock_accounts), ZERO)
    debits, credits = sum((e.debit for e in lines), ZERO), sum((e.credit for e in lines), ZERO)
    found = [
        ("每行 期初+入-出=期末 / rows where opening + in - out != closing", ZERO, Decimal(broken)),
        ("期初金额 = 账本流水 / opening value = the ledger's movements before the month",
         Decimal(opening_value), group.opening_value),
        ("期末数量 = 账本流水 / closing qty = the ledger's movements", Decimal(ledger_qty), group.closing_qty),
        ("期末金额 = 账本流水 / closing value = the ledger's movements", Decimal(ledger_value), group.closing_value),
        ("存货科目净额 = 期末 - 期初 (含在途) / inventory accounts net = closing - opening, goods in transit included",
         group.closing_value + group.closing_transit_value - group.opening_value - group.opening_transit_value
         - _transit_between_sites(transit, chart), stock_net),
        ("借方合计 = 贷方合计 / debits = credits", debits, credits),
        ("借贷不平的凭证 / vouchers whose debits != credits", ZERO, Decimal(unbalanced(lines))),
        *(_group_reconciles(group, measure) for measure in ("qty", "value")),
        # every transfer's out and in carry the same value: what has left and not arrived is in transit
        ("期末在途金额 = 账本调拨流水 / closing transit value = the ledger's transfers not yet arrived",
         -Decimal(ledger_transfers), group.closing_transit_value),
        *more,
    ]
    if periods.months_with_movements(conn)[-1:] == [month]:
        b = schema.balances
        value = conn.execute(select(func.coalesce(func.sum(b.c.value), 0))).scalar()
        found.append(("期末金额 = 余额表 / closing value = the balances table", Decimal(value), group.closing_value))
    return [Check(name, expected, actual, actual - expected, "Y" if actual == expected else "N")
            for name, expected, actual in found]


def _transit_between_sites(transit: InTransit, chart: Chart) -> Decimal:
    """The change of the goods in transit between sites that a named `inter_site` holds,
    not the inventory accounts."""
    if not chart.codes.get("inter_site"):
        return ZERO
    return sum((t.value for t in transit.closing if t.from_site != t.to_site), ZERO) - sum(
        (t.value for t in transit.opening if t.from_site != t.to_site), ZERO)


def _group_reconciles(group, measure: str) -> tuple[str, Decimal, Decimal]:
    """Transfers are eliminated from the group: what left a warehouse and has not
    arrived is still the group's, in transit."""
    flows = (sum((getattr(group, f"in_{t}_{measure}") for t in IN_TYPES), ZERO)
             - sum((getattr(group, f"out_{t}_{measure}") for t in OUT_TYPES), ZERO))
    word = {"qty": ("数量", "qty"), "value": ("金额", "value")}[measure]
    return (f"集团 期初+期初在途+入-出 = 期末+期末在途 ({word[0]}) / group: opening + transit + in - out"
            f" = closing + transit ({word[1]})",
            getattr(group, f"closing_{measure}") + getattr(group, f"closing_transit_{measure}"),
            getattr(group, f"opening_{measure}") + getattr(group, f"opening_transit_{measure}") + flows)


# --- the workbook -------------------------------------------------------------------------------

def _columns(first: tuple[Column, ...]) -> tuple[Column, ...]:
    labels = {"opening": "期初", "closing": "期末", **{f"in_{t}": f"{TYPE_ZH[t]}入" for t in IN_TYPES},
              **{f"out_{t}": f"{TYPE_ZH[t]}出" for t in OUT_TYPES}}
    return first + tuple(Column(f"{a}_{m}", f"{labels[a]}{'数量' if m == 'qty' else '金额'}", "qty" if m == "qty" else "money")
                         for a in AMOUNTS for m in ("qty", "value"))


SUMMARY_COLUMNS = _columns((Column("sku", "物料编码", width=14), Column("name", "名称", width=20),
                            Column("category", "类别"), Column("warehouse", "仓库"), Column("site", "地点")))
TOTAL_COLUMNS = _columns((Column("key", "汇总项", width=14), Column("name", "名称", width=20)))
SITE_COLUMNS = TOTAL_COLUMNS + tuple(
    Column(n, f"{'期初' if n.startswith('opening') else '期末'}在途{'数量' if n.endswith('qty') else '金额'}",
           "qty" if n.endswith("qty") else "money") for n in TRANSIT_NUMBERS)
MARGIN_COLUMNS = (Column("key", "汇总项", width=14), Column("name", "名称", width=20), Column("qty", "数量", "qty"),
                  Column("revenue", "销售额", "money", width=14), Column("cogs", "销售成本", "money", width=14),
                  Column("gross_margin", "毛利", "money", width=14), Column("margin_pct", "毛利率%", "qty"))
AGING_COLUMNS = (Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("warehouse", "仓库"),
                 Column("qty", "数量", "qty"), Column("value", "金额", "money"), Column("last_receipt", "最近入库", "date"),
                 Column("age_days", "库龄天数", "int"), Column("age_bucket", "库龄段"), Column("last_issue", "最近出库", "date"),
                 Column("slow", "呆滞"), Column("dead", "死库存"))
LAYER_COLUMNS = (Column("sku", "物料编码", width=14), Column("warehouse", "仓库"), Column("received", "入库日期", "date"),
                 Column("age_days", "库龄天数", "int"), Column("age_bucket", "库龄段"), Column("qty", "数量", "qty"),
                 Column("value", "金额", "money"))
COUNT_COLUMNS = (Column("doc_no", "盘点单号", width=18), Column("doc_date", "盘点日期", "date"), Column("warehouse", "仓库"),
                 Column("sku", "物料编码", width=14), Column("book_qty", "账面数量", "qty"), Column("counted_qty", "实盘数量", "qty"),
                 Column("difference", "差异数量", "qty"), Column("value_difference", "差异金额", "money"),
                 Column("status", "状态", width=14))
CHECK_COLUMNS = (Column("check", "检查项", width=60), Column("expected", "应为", "money", width=18),
                 Column("actual", "实际", "money", width=18), Column("difference", "差额", "money", width=16),
                 Column("ok", "通过", width=8))
AUDIT_COLUMNS = (Column("month", "月份"), Column("action", "操作", width=14), Column("at", "时间", "datetime", width=20),
                 Column("by", "操作人", width=24), Column("reason", "原因", width=40))


@dataclass(frozen=True)
class _CountRow:
    doc_no: str
    doc_date: date
    warehouse: str
    sku: str
    book_qty: Decimal
    counted_qty: Decimal
    difference: Decimal
    value_difference: Decimal
    status: str


MONTH_BATCH_COLUMNS = (
    Column("sku", "物料编码", width=16), Column("warehouse", "仓库", width=10), Column("batch", "批号", width=16),
    Column("expiry_date", "有效期至", "date"), Column("closing_qty", "期末数量", "qty", 14),
    Column("closing_value", "期末金额", "money", 14),
)


def month_end_batches(conn: Connection, end: date, rows) -> list[SimpleNamespace]:
    """Each batch in stock at the month end, valued at its item × warehouse closing average
    (batches are not a costing layer); empty when no item is batch-tracked."""
    bm, t = schema.batch_movements, schema.batches
    rates = {(r.sku, r.warehouse): (r.closing_value / r.closing_qty if r.closing_qty else Decimal(0)) for r in rows}
    query = (select(bm.c.sku, bm.c.warehouse, bm.c.batch, func.sum(bm.c.qty).label("qty"), func.max(t.c.expiry_date).label("expiry"))
             .outerjoin(t, (t.c.sku == bm.c.sku) & (t.c.batch == bm.c.batch)).where(bm.c.doc_date <= end)
             .group_by(bm.c.sku, bm.c.warehouse, bm.c.batch).order_by(bm.c.sku, bm.c.warehouse, bm.c.batch))
    return [SimpleNamespace(sku=r.sku, warehouse=r.warehouse, batch=r.batch, expiry_date=r.expiry, closing_qty=r.qty,
                            closing_value=money(r.qty * rates.get((r.sku, r.warehouse), Decimal(0))))
            for r in conn.execute(query) if r.qty]


def write_pack(conn: Connection, folder: Path, month: str, rules: FinanceConfig,
               summarised: Summary | None = None, tax: TaxConfig = TaxConfig()) -> tuple[Path, Path, Path, list[Check]]:
    """Writes outbox/monthend/MONTH.xlsx, MONTH-vouchers.csv and MONTH-凭证.xlsx; returns them and the checks."""
    summarised = summarised or summary(conn, month)
    transit = goods_in_transit(conn, month)
    crossing = frozenset(t.doc_no for t in transit.closing)
    within_sites = transfers_within(conn, month, same_site_only=True, crossing=crossing)
    by_site = site_rows([_eliminate(r, e) for r, e in _with(grouped(summarised, lambda c: c.site), within_sites)],
                        transit)
    group = _with_transit(_eliminate(Totals("合计 group", "", **_sum(summarised.cells.values())),
                                     _sum(transfers_within(conn, month, same_site_only=False).values())), transit.total())
    warehouses = conn.execute(select(schema.warehouses.c.code, schema.warehouses.c.name)).all()
    chart = chart_of(rules, dict(warehouses), _sites(conn))
    entries = stock_entries(conn, month, chart) + vat_entries(conn, month, chart, tax) + money_entries(conn, month, chart, rules)
    lines = number(entries, chart, rules)
    found = checks(conn, month, summarised.broken, group, lines, chart, transit, money_checks(conn, month, lines, chart, rules))
    start, end = month_bounds(month)
    by_item, by_warehouse = stock_rows(conn, summarised.rows, summarised.scaled)
    pack, csv_path = folder / f"{month}.xlsx", folder / f"{month}-vouchers.csv"
    voucher_book = folder / f"{month}-凭证.xlsx"
    with atomic_path(pack) as temp, Book(temp, kind="monthend") as book:
        book.add_table("summary", SUMMARY_COLUMNS, summarised.rows)
        book.add_table(STOCK_SUMMARY_SHEET, STOCK_ITEM_COLUMNS, by_item)
        book.add_table(STOCK_BY_WAREHOUSE_SHEET, STOCK_COLUMNS, by_warehouse)
        book.add_table("by_category", TOTAL_COLUMNS, grouped(summarised, lambda c: c.category or "(未分类 none)"))
        book.add_table("by_warehouse", TOTAL_COLUMNS, grouped(summarised, lambda c: c.warehouse, lambda c: c.site))
        book.add_table("by_site", SITE_COLUMNS, by_site)
        book.add_table("group", SITE_COLUMNS, [group])
        book.add_table("in_transit", TRANSIT_COLUMNS, transit.closing)
        for by, rows_by in margins(conn, month).items():
            book.add_table(f"cogs_by_{by}", MARGIN_COLUMNS, rows_by)
        book.add_table("aging", AGING_COLUMNS, aging(month, summarised, rules))
        book.add_table("aging_by_layer", LAYER_COLUMNS, aging_by_layer(conn, month, summarised))
        book.add_table("fifo_layers", LAYER_LEFT_COLUMNS, fifo_layers(conn, month))
        book.add_table("monthly_rates", RATE_COLUMNS, monthly_rates(conn, month))
        book.add_table("cost_corrections", CORRECTION_COLUMNS, cost_corrections(conn, month))
        book.add_table("ar_ap", BALANCE_COLUMNS, ledger_money.partner_balances(conn, start, end))
        book.add_table("funds", JOURNAL_COLUMNS, [r for r in ledger_money.funds_journal(conn, end) if r.doc_date and r.doc_date >= start])
        book.add_table("batches", MONTH_BATCH_COLUMNS, month_end_batches(conn, end, summarised.rows))
        book.add_table("count_variance", COUNT_COLUMNS, [
            _CountRow(l.doc_no, l.doc_date, l.warehouse, l.sku, l.book_qty, l.counted_qty, l.difference,
                      l.value_difference, ledger_counts.STATUS_LABELS[l.status])
            for l in ledger_counts.count_lines(conn) if start <= l.doc_date <= end])
        if rules.chart == "enterprise":
            book.add_table("write_down", PROVISION_COLUMNS, provision_rows(conn, month))
        book.add_table("vouchers", VOUCHER_COLUMNS, lines)
        book.add_table("opening_balances", OPENING_COLUMNS, opening_balances(conn, month, chart))
        book.add_table("checks", CHECK_COLUMNS, found)
        book.add_table("audit", AUDIT_COLUMNS, periods.audit_rows(conn))
    write_vouchers_csv(csv_path, lines)
    write_voucher_book(voucher_book, lines)
    return pack, csv_path, voucher_book, found


def _with(rows: list, eliminated: Mapping[str, Mapping[str, Decimal]]):
    return [(row, eliminated.get(row.key)) for row in rows]

