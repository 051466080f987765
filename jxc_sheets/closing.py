"""The month-end close (`jxc close YYYY-MM`, `jxc reopen YYYY-MM`).

A month may be closed when it is over, every earlier month with movements is
closed, no count line dated in it (or before) awaits approval, and no file sits in
rejected/ unresolved from it (a rejected file is resolved once a file of the same
name has posted since, or it is no longer in rejected/: a posting of one of its
document numbers, or of its red-marked copy, moves it into rejected/resolved/), and no
receipt or payment of funds dated in it (or before) still holds money unapplied at its
end while the same partner has documents of the month (or of a closed month) open then —
the payment settles them first. `--force` closes anyway; the audit trail says so. Closing writes the month-end pack and locks the month:
the check stage then refuses documents dated in it. Under 企业会计准则, stock worth more
than its net realisable value at the month end stops the close until finance answers
the write-down proposal (outbox/monthend/YYYY-MM-跌价准备.xlsx, written when it stops).

Closing values the month's monthly-average items at the month's rate (their
issues carried a provisional rate until then); moving average and fifo need no
month-end step. Reopening puts the provisional rate back.
"""
from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from . import clock
from .config import Settings
from .inbox import is_resolved
from .pipeline import sync_costing
from .ledger import counts as ledger_counts
from .ledger import money, periods, repost, schema
from .ledger.db import reading
from .ledger.errors import LedgerError
from .reports import write_down
from .reports.monthend import Check, month_bounds, summary, write_pack

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Closed:
    month: str
    forced: bool
    blockers: tuple[str, ...]
    pack: Path
    vouchers: Path  # the CSV
    voucher_book: Path  # the workbook a GL imports
    checks: tuple[Check, ...]


def parse_month(text: str) -> str:
    if not MONTH.match(text):
        raise LedgerError(f"月份应写成 2026-10 / a month reads like 2026-10: {text}")
    return text


def blockers(conn: Connection, settings: Settings, month: str, today: date) -> list[str]:
    start, end = month_bounds(month)
    found = []
    if end >= today:
        found.append(f"{month} 还没有结束 / {month} is not over yet")
    closed = periods.closed_months(conn)
    open_before = [m for m in periods.months_with_movements(conn) if m < month and m not in closed]
    if open_before:
        found.append(f"更早的月份未结账 / earlier months are open: {', '.join(open_before)}")
    held = [l for l in ledger_counts.count_lines(conn, only_held=True) if l.doc_date <= end]
    if held:
        counts = sorted({l.doc_no for l in held})
        found.append(f"{len(held)} 行盘点差异待审批 / count lines await approval: {', '.join(counts)}")
    unapplied = money.unapplied_payments(conn, end)
    found += [unapplied_blocker(u, month) for u in unapplied[:10]]
    if len(unapplied) > 10:
        found.append(f"另有 {len(unapplied) - 10} 张收付款单同样未核销 / {len(unapplied) - 10} more receipts or payments "
                     f"hold money unapplied the same way")
    waiting = propose_write_down(conn, settings, month) if not found else []
    if waiting:
        found.append(f"{len(waiting)} 行存货跌价准备待确认: 核对 outbox/monthend/{month}-跌价准备.xlsx 后放入 inbox/"
                     f" / a write-down awaits confirmation: check outbox/monthend/{month}-跌价准备.xlsx and drop it"
                     f" into inbox/")
    rejected = unresolved_rejections(conn, settings, end)
    if rejected:
        found.append(f"rejected/ 中有未处理的退回文件 / rejected files not resolved: {', '.join(rejected[:10])}"
                     + (f" (+{len(rejected) - 10})" if len(rejected) > 10 else ""))
    return found


FUNDS_WORDS = {"customer": ("收款单", "客户", "预收", "receipt", "customer"),
               "supplier": ("付款单", "供应商", "预付", "payment", "supplier")}


def unapplied_blocker(u: money.UnappliedPayment, month: str) -> str:
    """A receipt (payment) still holding money while the partner's documents up to the month
    are open: closing now would lock an advance and an open receivable (payable) of the same
    partner side by side in the month."""
    doc_zh, partner_zh, advance_zh, doc_en, partner_en = FUNDS_WORDS[u.side]
    shown = u.open_documents[:5]
    docs = ", ".join(f"{ref} {on.isoformat()} {amount:,.2f}" for ref, on, amount in shown)
    if len(u.open_documents) > len(shown):
        docs += f" (+{len(u.open_documents) - len(shown)})"
    who = f"{u.partner} {u.name}".strip()
    return (f"{doc_zh} {u.doc_no} ({u.doc_date.isoformat()}, {partner_zh} {who}) 尚有 {u.unapplied:,.2f} 未核销({advance_zh}), "
            f"而该{partner_zh}{month}及以前的单据未结清: {docs}; 请冲销 {u.doc_no}(jxc reverse {u.doc_no} --date 本月日期)"
            f"后重新录入{doc_zh}并在核销单号中写明这些单据, 或确认保留{advance_zh}后用 --force 结账"
            f" / {doc_en} {u.doc_no} ({u.doc_date.isoformat()}, {partner_en} {who}) holds {u.unapplied:,.2f} unapplied "
            f"(an advance) while the {partner_en}'s documents up to {month} are open: {docs}; reverse {u.doc_no} "
            f"(jxc reverse {u.doc_no} --date a day of the month) and post it again naming them (核销单号 settle_doc), "
            f"or keep the advance and close with --force")
def propose_write_down(conn: Connection, settings: Settings, month: str) -> list:
    """The month end's write-down rows still to book (企业会计准则, none answered for the
    month yet), written as the proposal for finance to confirm."""
    if settings.config.finance.chart != "enterprise":
        return []
    waiting = write_down.pending(conn, month)
    if waiting:
        write_down.write_proposal(conn, settings.outbox / "monthend", month, waiting)
    return waiting


def unresolved_rejections(conn: Connection, settings: Settings, end: date) -> list[str]:
    """Rejected files of the month or before (by the earliest date they hold; by when they
    were processed when none could be read) that are still in rejected/ and have not
    posted since under the same name."""
    f = schema.files
    rows = conn.execute(select(f.c.id, f.c.name, f.c.status, f.c.moved_to, f.c.processed_at, f.c.first_date)
                        .order_by(f.c.id)).all()
    posted_after: dict[str, int] = {}
    for r in rows:
        if r.status in ("posted", "skipped"):
            posted_after[r.name] = r.id
    unresolved = []
    for r in rows:
        if r.status not in ("rejected", "failed") or (r.first_date or r.processed_at.date()) > end:
            continue
        if posted_after.get(r.name, 0) > r.id:
            continue
        if r.moved_to and not is_resolved(r.moved_to) and (settings.root / r.moved_to).exists():
            unresolved.append(r.name)
    return sorted(set(unresolved))


@dataclass(frozen=True)
class ClosePlan:
    """What `jxc close MONTH` would do: the month it locks, the documents dated in it by
    kind, what stops it, and where the pack goes."""

    month: str
    already_closed: bool
    blockers: tuple[str, ...]
    documents: tuple[tuple[str, int], ...]  # (kind, how many)
    pack_folder: Path


def plan_close(engine: Engine, settings: Settings, month: str, today: date | None = None) -> ClosePlan:
    month = parse_month(month)
    start, end = month_bounds(month)
    d = schema.documents
    with reading(engine) as conn:
        found = blockers(conn, settings, month, today or clock.today())
        counted = conn.execute(select(d.c.kind, func.count()).where(d.c.doc_date.between(start, end))
                               .group_by(d.c.kind).order_by(d.c.kind)).all()
        closed = month in periods.closed_months(conn)
    return ClosePlan(month, closed, tuple(found), tuple((k, n) for k, n in counted), settings.outbox / "monthend")


def close_month(engine: Engine, settings: Settings, month: str, by: str, force: bool = False,
                reason: str = "", today: date | None = None) -> Closed:
    month = parse_month(month)
    with engine.begin() as conn, collector_paused(), roomy_page_cache(conn):
        found = blockers(conn, settings, month, today or clock.today())
        if found and not force:
            raise Blocked(month, tuple(found))
        sync_costing(conn, settings)
        repost.revalue_month(conn, month, final=True)
        summarised = summary(conn, month)
        periods.close(conn, month, by, forced=bool(found), reason=reason or "; ".join(found))
        periods.save_closing(conn, month, *month_bounds(month))
        pack, vouchers, voucher_book, checks = write_pack(conn, settings.outbox / "monthend", month, settings.config.finance,
                                                          summarised, settings.config.tax)
    return Closed(month, bool(found), tuple(found), pack, vouchers, voucher_book, tuple(checks))


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector off for a while: the close makes millions of small
    records (a big ledger's pack) that hold no reference cycles, and the collector would walk
    them again and again, seconds in all."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def roomy_page_cache(conn: Connection, kib: int = 65_536):
    """On SQLite, a page cache of `kib` for a while instead of the default 2 MB: the close
    writes the month's closing balances and then reads the whole ledger in the same
    transaction, and with the written pages spilling out of a small cache every read
    after them is slower."""
    if conn.dialect.name != "sqlite":
        yield
        return
    sqlite = conn.connection.driver_connection  # a setting of the connection, not of the transaction
    before = sqlite.execute("PRAGMA cache_size").fetchone()[0]
    sqlite.execute(f"PRAGMA cache_size=-{kib}")
    try:
        yield
    finally:
        sqlite.execute(f"PRAGMA cache_size={int(before)}")


def reopen_month(engine: Engine, settings: Settings, month: str, by: str, reason: str) -> None:
    month = parse_month(month)
    if not reason.strip():
        raise LedgerError("请写明反结账原因 (--reason) / say why (--reason)")
    with engine.begin() as conn:
        periods.reopen(conn, month, by, reason)
        repost.revalue_month(conn, month, final=False)


class Blocked(LedgerError):
    """The month cannot be closed yet; the message lists why."""

    def __init__(self, month: str, found: tuple[str, ...]):
        self.month, self.found = month, found
        lines = "\n".join(f"  - {b}" for b in found)
        super().__init__(f"{month} 不能结账 / {month} cannot be closed:\n{lines}\n"
                         f"处理后重试, 或用 --force 强制结账(会记录) / resolve them, or --force (it is recorded)")

