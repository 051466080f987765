"""Report stage: outbox/money.xlsx — receivables, payables and funds (往来与资金).

Sheets: `balances` (each partner's balance at the start of this month, what the month
added and took away, the balance today), `aging` (what is open today by days past its
due date: not due, 0–30, 31–60, 61–90, over 90, and advances unspent), `journal` (日记账:
each funds account from its opening balance, every entry with the balance after it),
`due_soon` (open documents due in the next 14 days). Amounts are as the documents carry
them (ledger/money.py: document_amounts). The rules are in ledger/money.py.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection

from .. import kinds
from ..ledger import money
from ..sheets.forms import atomic_file, write_filled_form
from .book import Book, Column

KIND = "money"
DUE_SOON_DAYS = 14
SIDE = Column("side", "往来类型", width=10)  # customer (应收) | supplier (应付)
PARTNER = (SIDE, Column("partner", "往来单位", width=15), Column("name", "名称", width=30))

BALANCE_COLUMNS = (
    *PARTNER, Column("opening", "期初余额", "money", 14), Column("debits", "本期增加", "money", 14),
    Column("credits", "本期减少", "money", 14), Column("closing", "期末余额", "money", 14),
)
AGING_COLUMNS = (
    *PARTNER, Column("not_due", "未到期", "money", 14), Column("days_0_30", "逾期0-30天", "money", 14),
    Column("days_31_60", "逾期31-60天", "money", 14), Column("days_61_90", "逾期61-90天", "money", 14),
    Column("days_over_90", "逾期90天以上", "money", 14), Column("open_total", "未结合计", "money", 14),
    Column("advance", "预收预付", "money", 14), Column("balance", "余额", "money", 14),
)
JOURNAL_COLUMNS = (
    Column("account", "资金账户", width=12), Column("account_name", "账户名称", width=18), Column("doc_date", "日期", "date"),
    Column("kind", "单据类型", width=12), Column("doc_no", "单号", width=16), Column("partner", "往来单位", width=12),
    Column("category", "收支类别", width=12), Column("remark", "摘要", width=24),
    Column("amount_in", "收入", "money", 14), Column("amount_out", "支出", "money", 14),
    Column("balance", "余额", "money", 14),
)
DISPUTE_COLUMNS = (
    *PARTNER, Column("doc_no", "单号", width=16), Column("statement", "对账单号", width=28),
    Column("month", "对账月份", width=10), Column("disputed_on", "提出日期", "date"), Column("reason", "异议原因", width=40),
)
DUE_COLUMNS = (
    *PARTNER, Column("doc_no", "单号", width=16), Column("doc_date", "单据日期", "date"),
    Column("due_date", "到期日", "date"), Column("open", "未结金额", "money", 14), Column("days_left", "剩余天数", "int"),
)


def write_money(conn: Connection, path: Path, today: date) -> None:
    with Book(path) as book:
        book.add_table("balances", BALANCE_COLUMNS, money.partner_balances(conn, today.replace(day=1), today))
        book.add_table("aging", AGING_COLUMNS, money.aging(conn, today))
        book.add_table("journal", JOURNAL_COLUMNS, money.funds_journal(conn, today))
        book.add_table("due_soon", DUE_COLUMNS, money.falling_due(conn, today, DUE_SOON_DAYS))
        book.add_table("disputes", DISPUTE_COLUMNS, money.open_disputes(conn))
        book.add_meta(KIND)


# --- the dashboard's money panel -------------------------------------------------------

@dataclass(frozen=True)
class Overdue:
    partner: str
    name: str
    overdue: Decimal  # open past its due date


@dataclass(frozen=True)
class MoneyPanel:
    accounts: list[tuple[str, str, Decimal]]  # code, name, balance
    overdue: list[Overdue]  # customers with receivables past due, most first
    payables_due: list[money.DueItem]  # to suppliers within the week
    disputes: int


def money_panel(conn: Connection, today: date) -> MoneyPanel:
    """Cash by account, receivables overdue, payables due this week (today and the next 6 days)."""
    balances = money.account_balances(conn)
    accounts = [(a.code, a.name, balances[a.code]) for a in money.funds_accounts(conn)]
    overdue = [Overdue(r.partner, r.name, r.open_total - r.not_due) for r in money.aging(conn, today)
               if r.side == "customer" and r.open_total > r.not_due]
    due = [d for d in money.falling_due(conn, today, 6) if d.side == "supplier"]
    return MoneyPanel(accounts, sorted(overdue, key=lambda o: o.overdue, reverse=True), due,
                      len(money.open_disputes(conn)))


# --- 对账单: statements a partner confirms ------------------------------------------

STATEMENTS = "statements"


def statement_months(today: date) -> list[date]:
    """Last month's statements (the ones sent out) and this month's so far."""
    this = today.replace(day=1)
    return [(this - timedelta(days=1)).replace(day=1), this]


def write_statements(conn: Connection, folder: Path, today: date) -> list[Path]:
    """outbox/statements/YYYY-MM/对账单-SIDE-PARTNER.xlsx for every partner with a balance or a
    document in the month: a statement_confirmation form, filled, its 确认 column yellow.
    A statement whose content is what it was when last written is not written again (each
    month's folder keeps what it wrote in a hidden `.written.json`): a refresh rewrites only
    the partners whose month changed."""
    written = []
    for month in statement_months(today):
        next_month = (month + timedelta(days=32)).replace(day=1)
        written += write_month_statements(conn, folder, month, min(today, next_month - timedelta(days=1)))
    return written


PARALLEL_FROM = 500  # statements: below it, starting the processes costs more than it saves


def write_month_statements(conn: Connection, folder: Path, month: date, end: date,
                           in_parallel_from: int = PARALLEL_FROM) -> list[Path]:
    """The statements of the month starting `month`, as they stand at the end of `end`;
    `in_parallel_from` statements to write or more are written by a process per core."""
    month_folder = folder / f"{month:%Y-%m}"
    index_path = month_folder / WRITTEN_INDEX
    before = _read_index(index_path)
    after, written, todo = {}, [], []
    for statement in money.statements(conn, month, end):
        name = f"对账单-{statement.side}-{statement.partner}.xlsx"
        path = month_folder / name
        digest = _statement_digest(statement, end)
        after[name] = digest
        if before.get(name) != digest or not path.exists():
            todo.append((path, statement, end))
        written.append(path)
    _write_all(todo, in_parallel_from)
    if after != before:
        _write_index(index_path, after)
    return written


def _write_all(todo: list[tuple[Path, money.Statement, date]], in_parallel_from: int) -> None:
    """Each workbook is a few milliseconds of xlsxwriter's packaging: a month end of 20,000
    partners is spread over the cores. Spawned, not forked: a watcher has threads."""
    workers = min(os.cpu_count() or 1, 8)
    if len(todo) < in_parallel_from or workers < 2:
        for job in todo:
            write_statement(*job)
        return
    chunks = [todo[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_write_chunk, chunks))  # list(): a worker's exception is raised here


def _write_chunk(jobs: list[tuple[Path, money.Statement, date]]) -> None:
    for job in jobs:
        write_statement(*job)


WRITTEN_INDEX = ".written.json"


def _statement_digest(statement: money.Statement, on: date) -> str:
    text = repr((STATEMENT_LAYOUT, statement, on))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_index(path: Path) -> dict[str, str]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_index(path: Path, index: dict[str, str]) -> None:
    with atomic_file(path) as temporary:
        temporary.write_text(json.dumps(index, ensure_ascii=False, sort_keys=True), encoding="utf-8")


STATEMENT_LAYOUT = 2  # raise when the statement workbook's layout changes: every statement is written again


def write_statement(path: Path, statement: money.Statement, on: date) -> Path:
    kind = kinds.KINDS["statement_confirmation"]
    header = {"doc_no": f"DZ-{statement.month:%Y-%m}-{statement.side}-{statement.partner}", "doc_date": on,
              "side": statement.side, "partner": statement.partner, "month": f"{statement.month:%Y-%m}",
              "opening": statement.opening, "closing": statement.closing}
    lines = [{"line_no": l.line_no, "ref_date": l.ref_date, "kind": _kind_label(l.kind), "ref_doc": l.ref_doc,
              "debit": l.debit, "credit": l.credit, "balance": l.balance} for l in statement.lines]
    return write_filled_form(path, kind, header, lines,
                             title=f"对账单 statement · {statement.name or statement.partner} · {statement.month:%Y-%m}",
                             highlight=("confirm", "reason"))


def _kind_label(kind: str) -> str:
    return f"{kinds.KINDS[kind].zh} {kind}" if kind in kinds.KINDS else kind
