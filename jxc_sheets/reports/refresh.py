"""Report stage, the orchestrator: rewrites the outbox after a batch, one report
at a time, each through book.atomic_path, so nobody ever opens half a report."""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

import sqlalchemy

from .. import clock, config
from ..ledger import schema
from ..ledger.db import open_ledger, reading
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
    mirrors = [(outbox / "ledger" / f"{month}.xlsx", partial(mirror.write_month, month=month)) for month in months]
    done = _write_all(engine, settings.config.reports, jobs + mirrors)
    written = [dest for dest, _ in jobs if dest in done]
    written += _write_log_and_dashboard(engine, settings)
    written += [dest for dest, _ in mirrors if dest in done]
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


# --- several reports at once -----------------------------------------------------------------

def _write_all(engine: sqlalchemy.Engine, rules: config.ReportsConfig,
               jobs: Sequence[tuple[Path, Callable[[sqlalchemy.Connection, Path], None]]]) -> set[Path]:
    """Each (dest, write) job written, as `_write_one` writes it; on a big ledger, by several
    processes at once (each report reads its own snapshot, as it does one after another),
    the costliest first. Returns the paths written."""
    processes = _processes(engine, rules, len(jobs))
    if processes > 1:
        url = engine.url.render_as_string(hide_password=False)
        now = {name: os.environ.get(name) for name in (clock.ENV_NOW, clock.ENV_SET_AT)}  # the clock the workers keep
        pool = _pool(processes)
        try:
            started = {dest: pool.submit(_write_in_worker, url, now, dest, write) for dest, write in _costliest_first(jobs)}
            return {dest for dest, job in started.items() if job.result()}
        except BrokenProcessPool:  # a worker died (killed, out of memory): this process writes them itself
            log.warning("报表子进程异常退出, 改为逐个生成 / a report process died: writing the reports one by one",
                        exc_info=True)
            _close_pool()
    return {dest for dest, write in jobs if _write_one(engine, dest, write)}


COSTLIEST = ("analysis.xlsx", "stock.xlsx", "count_plan.xlsx", "orders.xlsx", "service.xlsx")  # on a big ledger


def _costliest_first(jobs: Sequence[tuple[Path, Callable]]) -> list[tuple[Path, Callable]]:
    """The long ones start first, and the short ones fill in beside them."""
    rank = {name: i for i, name in enumerate(COSTLIEST)}
    return sorted(jobs, key=lambda job: rank.get(job[0].name, len(rank)))


def _processes(engine: sqlalchemy.Engine, rules: config.ReportsConfig, jobs: int) -> int:
    """How many processes write the reports: one below `parallel_from` movements, where
    starting processes would cost more than it saves."""
    wanted = rules.processes or min(os.cpu_count() or 1, 4)
    if wanted < 2 or jobs < 2:
        return 1
    with reading(engine) as conn:
        movements = conn.execute(sqlalchemy.select(sqlalchemy.func.max(schema.movements.c.id))).scalar() or 0
    return min(wanted, jobs) if movements >= rules.parallel_from else 1


_POOL: dict[int, ProcessPoolExecutor] = {}  # by size: kept for the next refresh, so a watcher starts its workers once


def _pool(processes: int) -> ProcessPoolExecutor:
    if processes not in _POOL:
        _close_pool()
        # spawned, not forked: the watcher has threads, and a forked child would inherit their locks
        _POOL[processes] = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    return _POOL[processes]


@atexit.register
def _close_pool() -> None:
    for pool in _POOL.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _POOL.clear()


_ENGINES: dict[str, sqlalchemy.Engine] = {}  # a worker's, by ledger url


def _write_in_worker(url: str, now: dict[str, str | None], dest: Path,
                     write: Callable[[sqlalchemy.Connection, Path], None]) -> bool:
    for name, value in now.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if url not in _ENGINES:
        _ENGINES[url] = open_ledger(url, create=False)
    return _write_one(_ENGINES[url], dest, write)
