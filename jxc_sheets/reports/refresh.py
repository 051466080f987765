"""Report stage, the orchestrator: rewrites the outbox after a batch, one report
at a time, each through book.atomic_path, so nobody ever opens half a report."""
from __future__ import annotations

import logging
from datetime import date
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

import sqlalchemy

from .. import clock, config
from ..ledger.db import reading
from . import analysis, batches, closed_sales, counts, html, kits, mirror, money, orders, reorder, service, stock
from . import log as log_report
from ..sheets.forms import choices_from, refresh_templates
from .book import ReportLocked, atomic_path, remove_stale_temps

log = logging.getLogger(__name__)

def write_reports(engine: sqlalchemy.Engine, settings: config.Settings,
                  months: Iterable[str] | None = None, posted: bool = True, rebuild: bool = False) -> list[Path]:
    """Rewrites outbox/stock.xlsx, orders.xlsx, count_plan.xlsx, money.xlsx, kits.xlsx, batches.xlsx, service.xlsx,
    analysis.xlsx, index.html (when
    enabled), log.xlsx, the reorder forms, the variance workbooks and
    outbox/ledger/YYYY-MM.xlsx for each of `months` (None: every month with
    movements) and each later month already mirrored, when its movements changed
    since its mirror was written (mirror.months_due; `rebuild`: all of them). A report
    whose inputs did not change is left as it was (the analysis, the mirrors, the reorder
    forms); the months' sales are kept in outbox/.cache/. Returns the paths written; a
    report that is locked open (Excel on Windows) is left as it was and logged, the
    others are still written.
    Without `posted` (the files since the last refresh were rejected, failed or
    skipped: the ledger is as it was) only log.xlsx and index.html are rewritten,
    unless the others are from an earlier day (they count days late and due)."""
    outbox = settings.outbox
    today = clock.today()
    remove_stale_temps(outbox)
    if not posted and not _older_than(outbox / "stock.xlsx", today):
        return _write_log_and_dashboard(engine, settings)
    kept = outbox / closed_sales.FOLDER
    with reading(engine) as conn:
        months = mirror.months_due(conn, outbox / "ledger", months, rebuild)
        quarantine = settings.config.quality.quarantine_warehouse
        found = reorder.suggestions(conn, today, settings.config.orders,  # for orders.xlsx and the forms
                                    (quarantine,) if quarantine else ())
        analysis_due = analysis.due(conn, outbox / "analysis.xlsx", today)  # when the sales changed, or on a new day
    jobs = [(outbox / "stock.xlsx", partial(stock.write_stock, today=today)),
            (outbox / "orders.xlsx", partial(orders.write_orders, today=today, rules=settings.config.orders,
                                              cache=kept, suggestions=found)),
            (outbox / "count_plan.xlsx", partial(counts.write_count_plan, today=today, rules=settings.config.counts)),
            (outbox / "money.xlsx", partial(money.write_money, today=today)),
            (outbox / "kits.xlsx", partial(kits.write_kits, today=today)),
            (outbox / "batches.xlsx", partial(batches.write_batches, today=today, rules=settings.config.batches)),
            (outbox / "service.xlsx", partial(service.write_service, today=today))]
    jobs += [(outbox / "analysis.xlsx", partial(analysis.write_analysis, today=today, cache=kept))] if analysis_due else []
    written = [dest for dest, write in jobs if _write_one(engine, dest, write)]
    written += _write_log_and_dashboard(engine, settings)
    jobs = [(outbox / "ledger" / f"{month}.xlsx", partial(mirror.write_month, month=month)) for month in months]
    written += [dest for dest, write in jobs if _write_one(engine, dest, write)]
    with reading(engine) as conn:
        if settings.config.orders.reorder_forms:
            written += reorder.write_reorder_forms(conn, outbox / "reorder", today, found, kept / "reorder.json")
        written += counts.write_variance_books(conn, outbox / "variance", settings.config.counts)
        written += money.write_statements(conn, outbox / money.STATEMENTS, today)
        refresh_templates(settings.templates, choices_from(conn))  # not a report: not among those returned
    return written


def _older_than(path: Path, day: date) -> bool:
    try:
        return clock.at_mtime(path.stat().st_mtime).date() < day
    except OSError:
        return True  # never written


def _write_log_and_dashboard(engine: sqlalchemy.Engine, settings: config.Settings) -> list[Path]:
    written = write_dashboard(engine, settings)
    dest = settings.outbox / "log.xlsx"
    return written + ([dest] if _write_one(engine, dest, partial(log_report.write_log,
                                                                 limit=settings.config.reports.log_rows)) else [])


def write_dashboard(engine: sqlalchemy.Engine, settings: config.Settings) -> list[Path]:
    """Only outbox/index.html: the watcher's state changed, the ledger did not."""
    if not settings.config.reports.html:
        return []
    dest = settings.outbox / "index.html"
    write = partial(html.write_dashboard, settings=settings, now=clock.now())
    return [dest] if _write_one(engine, dest, write) else []


def _write_one(engine: sqlalchemy.Engine, dest: Path, write: Callable[[sqlalchemy.Connection, Path], None]) -> bool:
    try:
        with atomic_path(dest) as temp:
            # One short read per report, done before the rename, so a posting
            # in another process waits as little as possible.
            with reading(engine) as conn:
                write(conn, temp)
    except ReportLocked as e:
        log.warning("报表被占用, 本次未更新 / report is open elsewhere, left as it was: %s", e)
        return False
    return True
