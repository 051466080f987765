"""Report stage: the month's vouchers (记账凭证) — outbox/monthend/YYYY-MM-凭证.xlsx, the
file a Chinese general ledger (金蝶, 用友) imports, its twin YYYY-MM-vouchers.csv and the
pack's `vouchers` sheet.

The builder is a list of plain `Entry` lines, one voucher per business type; each
domain appends its own (stock here; money later) and `number` gives the vouchers
their numbers 1, 2, … within the month, in date order, when all are in. A line is
split by the 辅助核算 its account carries (`finance.auxiliaries`). Accounts come
from the chart (`finance.chart`: 企业会计准则 or 小企业会计准则) unless
`finance.accounts` names one.

What books what (amounts may be negative, 红字, where reversals outweigh):
- opening stock: nothing (the GL takes it as 期初余额, the pack's opening_balances);
- RULES: purchases, supplier returns, cost of sales, customer returns, other stock
  in and out (the account by the adjustment's reason, `finance.reasons`);
- counts: the gain or loss into 待处理财产损溢, and then, approved (within tolerance,
  or by the supervisor's Y), out of it: losses by the reason to 管理费用 / 营业外支出 /
  其他应收款 (`count_loss` when no reason names one), gains to `count_gain`;
- transfers: nothing within one set of books, unless the inventory is split by
  warehouse (sub-accounts or the 仓库 辅助核算): then each warehouse's leg, with what
  is still on its way in `stock_in_transit`; between sites against `inter_site` when
  a config names it.
- cost corrections (成本调整, costing.py): to 主营业务成本 against the account the
  document's other side went to (应付账款 for purchases and supplier returns, the
  reason's for adjustments, 待处理财产损溢 for counts, goods in transit for transfers).
- write-downs (存货跌价准备, 企业会计准则): a provision Dr 资产减值损失 6701 / Cr 存货跌价准备
  1471, a reversal the other way round, per sku × warehouse netted within the month.
VAT (sales, input VAT, 进项税额转出, 视同销售) is reports/vat.py's.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Mapping

from sqlalchemy import Connection, case, func, select

from ..config import CHARTS, ROLE_NAMES, FinanceConfig
from ..kinds import KINDS
from ..ledger import periods, schema, write_down
from .book import Book, Column, atomic_path
from .month import OPENING, month_bounds, movement_type

ZERO = Decimal(0)
STOCK = "stock"  # the role of a warehouse's inventory account in RULES
AUXILIARIES = ("supplier", "customer", "warehouse", "sku")


# --- the chart ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chart:
    """Account codes by role, their names, and the 辅助核算 each carries."""

    codes: Mapping[str, str]
    names: Mapping[str, str]
    carries: Mapping[str, tuple[str, ...]]
    by_warehouse: Mapping[str, str]
    reasons: Mapping[str, str]
    sites: Mapping[str, str] = field(default_factory=dict)  # warehouse → site

    def code(self, role: str) -> str:
        return self.codes[role]

    def stock(self, warehouse: str) -> str:
        return self.by_warehouse.get(warehouse, self.codes["inventory"])

    def stock_accounts(self) -> set[str]:
        return {self.codes["inventory"], self.codes["stock_in_transit"], *self.by_warehouse.values()}

    def for_reason(self, reason: str, default: str, refused: tuple[str, ...] = ()) -> str:
        """The account of the first word of `finance.reasons` found in `reason` (a role
        or a code), else `default`'s; a role in `refused` does not count."""
        for word, target in self.reasons.items():
            if word and word in reason and target not in refused:
                return self.codes.get(target, target)
        return self.codes[default]

    def split_by_warehouse(self) -> bool:
        return bool(self.by_warehouse) or "warehouse" in self.carries.get(self.codes["inventory"], ())


def chart_of(finance: FinanceConfig, warehouse_names: Mapping[str, str] | None = None,
             sites: Mapping[str, str] | None = None) -> Chart:
    named = {role: code for role, code in finance.accounts.model_dump().items() if code}
    codes = {**CHARTS[finance.chart], **named}
    codes.setdefault("stock_in_transit", codes["inventory"])
    names: dict[str, str] = {}
    for role in (*ROLE_NAMES, *codes):  # the standard roles first: count_loss is named by the role it equals
        if role in codes and role in ROLE_NAMES:
            names.setdefault(codes[role], ROLE_NAMES[role])
    inventory_name = names.get(codes["inventory"], "库存商品")
    for warehouse, code in finance.inventory_by_warehouse.items():
        names.setdefault(code, f"{inventory_name}-{(warehouse_names or {}).get(warehouse) or warehouse}")
    names.update(finance.account_names)
    carries = {codes.get(key, key): tuple(dims) for key, dims in finance.auxiliaries.items()}
    for code in finance.inventory_by_warehouse.values():
        carries.setdefault(code, carries.get(codes["inventory"], ()))
    return Chart(codes, names, carries, dict(finance.inventory_by_warehouse), dict(finance.reasons),
                 dict(sites or {}))


# --- the entries ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One line of a voucher. Lines with the same `voucher` and `day` are one voucher."""

    voucher: str
    day: date
    summary: str
    account: str
    debit: Decimal
    credit: Decimal
    supplier: str = ""
    customer: str = ""
    warehouse: str = ""
    sku: str = ""


RULES = {  # pack column → summary, debit role, credit role (STOCK: the warehouse's inventory account)
    "in_purchase": ("采购入库", STOCK, "goods_received"),
    "out_purchase_return": ("采购退货", "goods_received", STOCK),
    "out_sales": ("结转销售成本", "cost_of_sales", STOCK),
    "in_sales_return": ("销售退回冲减成本", STOCK, "cost_of_sales"),
    "in_other": ("其他入库", STOCK, "other"),
    "out_other": ("其他出库", "other", STOCK),
    "in_count_gain": ("盘盈", STOCK, "count_variance"),
    "out_count_loss": ("盘亏", "count_variance", STOCK),
    "approved_gain": ("盘盈批准转销", "count_variance", "count_gain"),
    "approved_loss": ("盘亏批准转销", "count_loss", "count_variance"),
    # cost corrections (costing.py): a movement's amount less its stock value, to cost of sales,
    # against what the document's counterpart was booked to
    "correction_purchase": ("成本调整-采购", "cost_of_sales", "goods_received"),
    "correction_other": ("成本调整-其他出入库", "cost_of_sales", "other"),
    "correction_count": ("成本调整-盘点", "cost_of_sales", "count_variance"),
    "correction_transfer": ("成本调整-调拨", "cost_of_sales", "stock_in_transit"),
    "write_down": ("计提存货跌价准备", "impairment_loss", "inventory_provision"),
    "write_down_reversal": ("存货跌价准备转回", "inventory_provision", "impairment_loss"),
}
CORRECTED = {"in_purchase": "correction_purchase", "out_purchase_return": "correction_purchase",
             "in_other": "correction_other", "out_other": "correction_other", "in_count_gain": "correction_count",
             "out_count_loss": "correction_count", "in_transfer": "correction_transfer",
             "out_transfer": "correction_transfer"}  # a sales return's correction is cost of sales against itself


@dataclass(frozen=True)
class Amount:
    """What one rule books for one combination of 辅助核算: a Decimal, signed as booked."""

    rule: str
    warehouse: str
    supplier: str
    customer: str
    sku: str
    reason: str
    amount: Decimal


def stock_entries(conn: Connection, month: str, chart: Chart) -> list[Entry]:
    """The stock side's vouchers of the month, by RULES, then transfers."""
    _start, end = month_bounds(month)
    by_rule: dict[str, list[Amount]] = defaultdict(list)
    for amount in (*_stock_amounts(conn, month, chart), *_count_amounts(conn, month), *_corrections(conn, month, chart),
                   *_write_downs(conn, month, chart)):
        by_rule[amount.rule].append(amount)
    entries = []
    for rule, (text, debit, credit) in RULES.items():
        entries += _voucher(rule, end, text, by_rule.get(rule, []), debit, credit, chart)
    return entries + transfer_entries(conn, month, chart)


def _voucher(rule: str, day: date, text: str, amounts: list[Amount], debit: str, credit: str,
             chart: Chart) -> list[Entry]:
    """One voucher: each side's lines added up by account and the 辅助核算 it carries."""
    sides: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for a in amounts:
        for side, role in (("debit", debit), ("credit", credit)):
            account = _account(role, a, chart)
            dims = chart.carries.get(account, ())
            key = (side, account, *(getattr(a, d) if d in dims else "" for d in AUXILIARIES))
            sides[key] += a.amount
    return [Entry(rule, day, text, account, amount if side == "debit" else ZERO, amount if side == "credit" else ZERO,
                  *aux)
            for (side, account, *aux), amount in sorted(sides.items(), key=lambda kv: kv[0][0] != "debit")
            if amount]


def _account(role: str, a: Amount, chart: Chart) -> str:
    if role == STOCK:
        return chart.stock(a.warehouse)
    if role == "other":  # an adjustment: by its reason
        return chart.for_reason(a.reason, "other")
    if role == "count_loss":  # an approved count loss: by the reason, never back into 1901
        return chart.for_reason(a.reason, "count_loss", refused=("count_variance", "other"))
    return chart.code(role)


def _stock_amounts(conn: Connection, month: str, chart: Chart) -> Iterable[Amount]:
    """The month's movements by pack column and the 辅助核算 any account carries; counts,
    transfers and opening stock are booked elsewhere (or not at all)."""
    m = schema.movements
    for kind, rule, warehouse, partner, reason, sku, value in _grouped(
            conn, month, chart, m.c.value, m.c.kind.notin_((OPENING, "transfer", "count", "count_approval"))):
        yield _amount(rule, kind, warehouse, partner, reason, sku, _money(value) * (1 if rule.startswith("in_") else -1))


def _corrections(conn: Connection, month: str, chart: Chart) -> Iterable[Amount]:
    """The month's cost corrections (movements.correction) by the rule of their movement."""
    m = schema.movements
    for kind, rule, warehouse, partner, reason, sku, correction in _grouped(conn, month, chart, m.c.correction,
                                                                            m.c.correction != 0):
        if CORRECTED.get(rule) and correction:
            yield _amount(CORRECTED[rule], kind, warehouse, partner, reason, sku, _money(correction))


def _grouped(conn: Connection, month: str, chart: Chart, summed, where) -> Iterable[tuple]:
    """(kind, pack column, warehouse, partner, reason, sku, Σ summed as stored) of the
    month's movements matching `where`; sku only when an account carries it."""
    start, end = month_bounds(month)
    m, d = schema.movements, schema.documents
    positive = case((m.c.qty > 0, 1), else_=0)
    by_sku = any("sku" in dims for dims in chart.carries.values())
    keys = [m.c.kind, positive, m.c.warehouse, d.c.partner, d.c.reason, *([m.c.sku] if by_sku else [])]
    query = (select(*keys, periods.stored(func.sum(summed))).join(d, d.c.id == m.c.document_id)
             .where(m.c.doc_date >= start, m.c.doc_date <= end, where).group_by(*keys))
    for kind, is_positive, warehouse, partner, reason, *rest in conn.execute(query):
        *sku, total = rest
        yield kind, movement_type(kind, bool(is_positive)), warehouse, partner, reason, sku[0] if sku else "", total


def _amount(rule: str, kind: str, warehouse: str, partner: str, reason: str | None, sku: str, amount: Decimal) -> Amount:
    partner_is = KINDS[kind].partner_field if kind in KINDS else None
    return Amount(rule, warehouse, partner if partner_is == "supplier" else "", partner if partner_is == "customer" else "",
                  sku, reason or "", amount)


def _count_amounts(conn: Connection, month: str) -> Iterable[Amount]:
    """Count gains and losses (into 待处理财产损溢), and each again as approved (out of it),
    with the reason of the supervisor's decision, else of the count line."""
    start, end = month_bounds(month)
    m, c, k = schema.movements, schema.count_lines, schema.count_decisions
    counted = c.alias("counted")
    decided = (select(k.c.document_id, c.c.sku, k.c.reason.label("decision"), c.c.reason.label("line"))
               .join(c, c.c.id == k.c.count_line_id).subquery())
    query = (select(m.c.kind, m.c.warehouse, m.c.sku, m.c.qty, periods.stored(m.c.value),
                    func.coalesce(decided.c.decision, ""), func.coalesce(decided.c.line, counted.c.reason, ""))
             .outerjoin(counted, (counted.c.document_id == m.c.document_id) & (counted.c.sku == m.c.sku))
             .outerjoin(decided, (decided.c.document_id == m.c.document_id) & (decided.c.sku == m.c.sku))
             .where(m.c.doc_date >= start, m.c.doc_date <= end, m.c.kind.in_(("count", "count_approval"))))
    for kind, warehouse, sku, qty, value, decision, line_reason in conn.execute(query):
        gain = qty > 0
        amount = _money(value) * (1 if gain else -1)
        reason = " ".join(r for r in (decision, line_reason) if r)
        for rule in (("in_count_gain", "approved_gain") if gain else ("out_count_loss", "approved_loss")):
            yield Amount(rule, warehouse, "", "", sku, reason, amount)


def _write_downs(conn: Connection, month: str, chart: Chart) -> Iterable[Amount]:
    """The month's write-downs per sku × warehouse, netted: provided, or reversed (as a positive
    amount of the reversal rule). A chart without the provision's accounts books none."""
    if not {"impairment_loss", "inventory_provision"} <= set(chart.codes):
        return
    start, end = month_bounds(month)
    for (sku, warehouse), amount in sorted(write_down.booked_by_month(conn, start, end).items()):
        if amount:
            yield Amount("write_down" if amount > 0 else "write_down_reversal", warehouse, "", "", sku, "", abs(amount))


def transfer_entries(conn: Connection, month: str, chart: Chart) -> list[Entry]:
    """Transfers, where the books see them: each leg on its warehouse's inventory account
    against the goods on their way (`stock_in_transit`), or against `inter_site` between
    sites when a config names it. Net per account and 辅助核算, so within one unsplit
    inventory account they book nothing."""
    start, end = month_bounds(month)
    if not chart.split_by_warehouse() and not chart.codes.get("inter_site"):
        return []
    m, d = schema.movements, schema.documents
    by_sku = any("sku" in dims for dims in chart.carries.values())
    keys = [m.c.warehouse, d.c.warehouse.label("source"), d.c.to_warehouse, *([m.c.sku] if by_sku else [])]
    query = (select(*keys, periods.stored(func.sum(m.c.value))).join(d, d.c.id == m.c.document_id)
             .where(m.c.doc_date >= start, m.c.doc_date <= end, m.c.kind == "transfer").group_by(*keys))
    net: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for warehouse, source, target, *rest in conn.execute(query):
        *sku, value = rest
        amount = _money(value)
        sku_key = sku[0] if sku else ""
        stock = chart.stock(warehouse)
        net[_line_key(chart, stock, warehouse, sku_key)] += amount
        crosses = chart.sites.get(source, source) != chart.sites.get(target, target)
        offset = chart.codes["inter_site"] if chart.codes.get("inter_site") and crosses \
            else chart.code("stock_in_transit")
        net[_line_key(chart, offset, warehouse, sku_key)] -= amount
    return [Entry("transfer", end, "库存调拨", account, amount if amount > 0 else ZERO,
                  -amount if amount < 0 else ZERO, *aux)
            for (account, *aux), amount in sorted(net.items(), key=lambda kv: kv[1] < 0) if amount]


def _line_key(chart: Chart, account: str, warehouse: str, sku: str) -> tuple:
    dims = chart.carries.get(account, ())
    return (account, "", "", warehouse if "warehouse" in dims else "", sku if "sku" in dims else "")


def _money(scaled: int) -> Decimal:
    return Decimal(scaled).scaleb(-schema.MONEY_PLACES) if scaled else ZERO


# --- numbered: the lines a GL imports --------------------------------------------------------

@dataclass(frozen=True)
class VoucherLine:
    date: date
    period: int
    word: str
    voucher_no: str
    summary: str
    account_code: str
    account_name: str
    debit: Decimal
    credit: Decimal
    supplier: str
    customer: str
    warehouse: str
    sku: str
    prepared_by: str


def number(entries: list[Entry], chart: Chart, finance: FinanceConfig) -> list[VoucherLine]:
    """The vouchers numbered 1, 2, … in the order of their date and then of their first
    line; each voucher's lines together, debits first."""
    vouchers: dict[tuple[date, str], list[Entry]] = {}
    for e in entries:
        vouchers.setdefault((e.day, e.voucher), []).append(e)
    ordered = sorted(vouchers.items(), key=lambda kv: kv[0][0])  # stable: first appearance within a day
    return [VoucherLine(day, day.month, finance.voucher_word, str(n), e.summary, e.account,
                        chart.names.get(e.account, ""), e.debit, e.credit, e.supplier, e.customer, e.warehouse,
                        e.sku, finance.prepared_by)
            for n, ((day, _key), lines) in enumerate(ordered, start=1) for e in lines]


def unbalanced(lines: list[VoucherLine]) -> int:
    """How many vouchers' debits differ from their credits."""
    difference: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        difference[line.voucher_no] += line.debit - line.credit
    return sum(1 for d in difference.values() if d)


VOUCHER_COLUMNS = (
    Column("date", "日期", "date"), Column("period", "会计期间", "int", width=9), Column("word", "凭证字", width=7),
    Column("voucher_no", "凭证号", width=8), Column("summary", "摘要", width=24),
    Column("account_code", "科目代码", width=11), Column("account_name", "科目名称", width=16),
    Column("debit", "借方金额", "money", width=15), Column("credit", "贷方金额", "money", width=15),
    Column("supplier", "供应商"), Column("customer", "客户"), Column("warehouse", "仓库"), Column("sku", "存货", width=14),
    Column("prepared_by", "制单人", width=9))
"""Text columns are written as text cells: 凭证号 and 科目代码 never turn into numbers or dates."""


def write_voucher_book(path: Path, lines: list[VoucherLine]) -> None:
    """The import workbook: one sheet 凭证, its header the Chinese names the import
    templates match (日期 … 制单人), a line per row."""
    with atomic_path(path) as temp, Book(temp, kind="vouchers") as book:
        sheet = book.workbook.add_worksheet("凭证")
        for col, column in enumerate(VOUCHER_COLUMNS):
            sheet.set_column(col, col, column.width, book.formats[column.type])
            sheet.write_string(0, col, column.zh, book.header_format)
        sheet.freeze_panes(1, 0)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)  # printed: all columns on one page's width
        for row_no, line in enumerate(lines, start=1):
            book.write_row(sheet, row_no, 0, VOUCHER_COLUMNS, line)


def write_vouchers_csv(path: Path, lines: list[VoucherLine]) -> None:
    """The same columns as the workbook, under their English keys, UTF-8 with a BOM (Excel opens it as UTF-8)."""
    with atomic_path(path) as temp:
        with temp.open("w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out)
            writer.writerow([c.key for c in VOUCHER_COLUMNS])
            for line in lines:
                writer.writerow([_csv_cell(getattr(line, c.key), c) for c in VOUCHER_COLUMNS])


def _csv_cell(value, column: Column) -> str:
    if column.type == "money":
        return f"{value:.2f}"
    if column.type == "date":
        return value.isoformat()
    return csv_text(str(value))


def csv_text(text: str) -> str:
    """User text for a CSV cell that a spreadsheet must never run as a formula (OWASP)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- the GL's opening balances ------------------------------------------------------------------

@dataclass(frozen=True)
class OpeningBalance:
    account_code: str
    account_name: str
    warehouse: str
    sku: str
    name: str
    qty: Decimal
    amount: Decimal


OPENING_COLUMNS = (Column("account_code", "科目代码", width=11), Column("account_name", "科目名称", width=16),
                   Column("warehouse", "仓库"), Column("sku", "存货", width=14), Column("name", "名称", width=20),
                   Column("qty", "数量", "qty"), Column("amount", "期初余额(借方)", "money", width=16))


def opening_balances(conn: Connection, month: str, chart: Chart) -> list[OpeningBalance]:
    """The opening stock (期初库存) dated in the month, for the GL's 期初余额: a debit balance
    per inventory account, warehouse and item, and a 合计 row per account."""
    start, end = month_bounds(month)
    m, i = schema.movements, schema.items
    query = (select(m.c.warehouse, m.c.sku, func.coalesce(i.c.name, ""), func.sum(m.c.qty), func.sum(m.c.value))
             .outerjoin(i, i.c.sku == m.c.sku)
             .where(m.c.kind == OPENING, m.c.doc_date >= start, m.c.doc_date <= end)
             .group_by(m.c.warehouse, m.c.sku, i.c.name).order_by(m.c.warehouse, m.c.sku))
    by_account: dict[str, list[OpeningBalance]] = defaultdict(list)
    for warehouse, sku, name, qty, value in conn.execute(query):
        account = chart.stock(warehouse)
        by_account[account].append(OpeningBalance(account, chart.names.get(account, ""), warehouse, sku, name,
                                                  Decimal(qty), Decimal(value)))
    rows = []
    for account, balances in sorted(by_account.items()):
        rows += balances
        rows.append(OpeningBalance(account, chart.names.get(account, ""), "", "合计 total", "",
                                   sum((b.qty for b in balances), ZERO), sum((b.amount for b in balances), ZERO)))
    return rows
