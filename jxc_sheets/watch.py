"""`jxc watch`: the long-running glue around `pipeline.process_batch`.

Events are only hints. The truth is a listing of the inbox, taken at start,
on every hint and at least every `rescan_seconds`; a file is taken once it has
finished arriving (inbox.Settling). A share that goes away is reported as
unavailable — never as "all files deleted" — and the observer is restarted
when it is back. SIGTERM or Ctrl-C finish the file in hand, then exit.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import Engine, func, select
from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEventHandler)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from . import clock, inbox
from .answers import describe
from .config import Settings
from .health import Health, _now, write_status
from .ledger import schema
from .ledger.db import open_ledger, reading
from .pipeline import clear_leftovers, months_touched, posted_any, process_batch
from .reports.refresh import write_dashboard, write_reports
from .records import Outcome

log = logging.getLogger("jxc")
TICK = 0.5  # seconds between looks while files are still arriving


class RetryBook:
    """Attempts of files that failed for a system reason, with a doubling back-off."""

    def __init__(self, max_attempts: int, first_delay: float):
        self.max_attempts = max_attempts
        self.first_delay = first_delay
        self._attempts: dict[tuple[str, str], int] = {}
        self._not_before: dict[str, float] = {}

    def again(self, name: str, file_hash: str) -> bool:
        """Records a failure; True while the file has attempts left."""
        n = self._attempts[(name, file_hash)] = self._attempts.get((name, file_hash), 0) + 1
        if n >= self.max_attempts:
            return False
        self._not_before[name] = time.monotonic() + self.first_delay * 2 ** (n - 1)
        return True

    def waiting(self, name: str) -> bool:
        return time.monotonic() < self._not_before.get(name, 0.0)


CHANGES = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
           DirCreatedEvent, DirMovedEvent, DirDeletedEvent]
"""The events that say something in a drop folder changed. Not opened / closed-unwritten:
the stability checks open the files they look at, and an observer woken by them made
the watcher look again at once, and again (half a core, for as long as a file waited)."""


class _Hint(FileSystemEventHandler):
    def __init__(self, wake: threading.Event):
        self.wake = wake

    def on_any_event(self, event) -> None:
        if self.wakes(event):
            self.wake.set()

    @staticmethod
    def wakes(event) -> bool:
        return type(event) in CHANGES


def watch_folder(observer, folder: Path, wake: threading.Event):
    """`wake` is set when something in `folder` changes; the kernel is not even asked
    to report opens and reads (inotify's mask follows the filter)."""
    return observer.schedule(_Hint(wake), str(folder), recursive=False, event_filter=CHANGES)


class ReportRefresher:
    """Rewrites the outbox on a thread of its own, so the answer to the next file never
    waits for the reports of the last batch. Requests that arrive while a refresh runs
    are merged into one more refresh, their months together (and whether any of them
    posted); reports read one snapshot and take no lock, so postings go on meanwhile."""

    def __init__(self, engine: Engine, settings: Settings, on_error: Callable[[str], None]):
        self.engine, self.settings, self.on_error = engine, settings, on_error
        self._lock = threading.Lock()
        self._months: set[str] | None = None  # None: nothing asked
        self._posted = False
        self._wake = threading.Event()
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="jxc-reports", daemon=True)
        self._thread.start()

    def request(self, outcomes: Sequence[Outcome]) -> None:
        with self._lock:
            self._months = (self._months or set()) | months_touched(outcomes)
            self._posted = self._posted or posted_any(outcomes)
            self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)

    def close(self, timeout: float = 300) -> None:
        """Finishes what was asked, then stops."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                months, self._months = self._months, None
                posted, self._posted = self._posted, False
            if months is not None:
                self._write(months, posted)
            with self._lock:
                if self._months is None:
                    self._idle.set()
            if self._closing and self._months is None:
                return

    def _write(self, months: set[str], posted: bool) -> None:
        try:
            write_reports(self.engine, self.settings, sorted(months), posted)
        except Exception as e:  # a report that fails never stops the answers to files
            log.exception("reports failed")
            self.on_error(f"reports: {type(e).__name__}: {e}")


class Watcher:
    def __init__(self, settings: Settings, engine: Engine | None = None, out: Callable[[str], None] = print):
        self.settings = settings
        self.engine = engine or open_ledger(settings.ledger_url)
        self.out = out
        cfg = settings.config.inbox
        self.cfg = cfg
        self.stop_requested = threading.Event()
        self.wake = threading.Event()
        self.settling = inbox.Settling(cfg.stable_seconds, cfg.incomplete_grace_seconds)
        self.retries = RetryBook(cfg.max_attempts, cfg.retry_seconds)
        self.kind, reason = inbox.choose_observer(cfg.observer, settings.inbox)
        self.health = Health(observer=self.kind, observer_reason=reason, inbox=str(settings.inbox))
        self.observer = None
        self._watched: list[Path] = []
        self._status_written = 0.0
        self.reports: ReportRefresher | None = None

    # --- lifecycle -------------------------------------------------------------

    def run(self) -> int:
        _check_same_filesystem(self.settings)
        clear_leftovers(self.settings)
        self._install_signals()
        self.out(f"jxc watch: {self.settings.inbox} · 观察方式 observer: {self.kind} ({self.health.observer_reason})"
                 f" · Ctrl-C 停止 to stop")
        heartbeat = threading.Thread(target=self._heartbeat, name="jxc-heartbeat", daemon=True)
        heartbeat.start()
        self.reports = ReportRefresher(self.engine, self.settings, self._error)
        self._start_observer()
        try:
            while not self.stop_requested.is_set():
                looked = time.monotonic()
                self.scan()
                pending = self.health.settling or self.health.waiting
                self.wake.wait(TICK if pending else self.cfg.rescan_seconds)
                self.wake.clear()
                # a file being copied fires an event per piece written: look at most every TICK
                self.stop_requested.wait(max(0.0, looked + TICK - time.monotonic()))
        finally:
            self._stop_observer()
            self.reports.close()
            self.health.stopped_at = _now()
            self._write_status(force=True, dashboard=True)
            self.out("jxc watch: 已停止 / stopped")
        return 0

    def stop(self) -> None:
        self.stop_requested.set()
        self.wake.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _start_observer(self) -> None:
        """Each drop folder is watched on its own, not the inbox recursively: a polling
        observer would otherwise walk .work/ and any folder tree someone parks in the inbox."""
        self._stop_observer()
        observer = PollingObserver(timeout=self.cfg.poll_interval) if self.kind == "polling" else Observer()
        self._watched = self._drop_folders()
        root, *departments = self._watched
        try:
            watch_folder(observer, root, self.wake)
            observer.start()
        except OSError as e:  # the inbox is not there (yet): listing will say so and retry
            log.warning("observer not started: %s", e)
            return
        for folder in departments:  # one folder that cannot be watched is still listed on every rescan
            try:
                watch_folder(observer, folder, self.wake)
            except OSError as e:
                log.warning("not watching %s, only rescanning it: %s", folder, e)
        self.observer = observer

    def _drop_folders(self) -> list[Path]:
        """The inbox and those of its department folders that exist now."""
        root, *departments = inbox.drop_folders(self.settings.inbox, self.settings.departments)
        return [root, *(d for d in departments if d.is_dir())]

    def _stop_observer(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.observer = None

    def _heartbeat(self) -> None:
        """Keeps this watcher's claims fresh, so watchers on other machines do not
        take them back while they are being worked on."""
        while not self.stop_requested.wait(self.cfg.lease_seconds / 3):
            try:
                for path in inbox.own_claims(self.settings.inbox):
                    os.utime(path)
            except OSError:
                pass

    # --- one look at the inbox -----------------------------------------------

    def scan(self) -> list[Outcome]:
        try:
            entries = inbox.listing(self.settings.inbox, self.settings.departments)
        except OSError as e:
            self._unavailable(e)
            return []
        if not self.health.inbox_available or self.observer is None or not self.observer.is_alive() \
                or self._watched != self._drop_folders():  # a department folder came or went
            self._back()
        inbox.recover_abandoned(self.settings.inbox, include_own=True, lease_seconds=self.cfg.lease_seconds,
                                filed_in=(self.settings.archive, self.settings.rejected))
        ready, self.health.settling = self.settling.ready(entries)
        ready = [p for p in ready if not self.retries.waiting(self._label(p))]
        self.health.waiting = len(ready)
        self.health.last_scan = _now()
        self._write_status(force=bool(ready))  # before the batch, so its dashboard shows this scan
        outcomes = []
        for start in range(0, len(ready), self.cfg.batch_size):
            if self.stop_requested.is_set():
                break
            batch = ready[start:start + self.cfg.batch_size]
            self.health.waiting = max(0, len(ready) - start - len(batch))
            outcomes += self._process(batch)
        self._write_status()
        return outcomes

    def _label(self, path: Path) -> str:
        return inbox.label(inbox.department_of(path, self.settings.inbox), path.name)

    def _process(self, batch: list[Path]) -> list[Outcome]:
        try:
            return process_batch(batch, self.settings, self.engine, retries=self.retries,
                                 should_stop=self.stop_requested.is_set, on_outcome=self._report,
                                 refresh=self.reports.request if self.reports else None)
        except Exception as e:  # a batch-level failure (reports, the share) never kills the watcher
            log.exception("batch failed")
            self._error(f"{type(e).__name__}: {e}")
            return []

    def _report(self, outcome: Outcome) -> None:
        """Each file's answer as soon as it is known: on the console and in the log."""
        self.out(describe(outcome))
        log.info("%s %s %s", outcome.status, outcome.file, outcome.moved_to)
        if outcome.status in ("failed", "retry"):
            self._error(f"{outcome.file}: {outcome.problems[0].en if outcome.problems else outcome.status}")

    def _unavailable(self, error: OSError) -> None:
        changed = self.health.inbox_available
        if changed:
            self.out(f"收件箱不可用, 等待恢复 / inbox unavailable, waiting for it: {error}")
            log.warning("inbox unavailable: %s", error)
            self._error(f"inbox unavailable: {error}")
        self.health.inbox_available = False
        self.health.last_scan = _now()
        self._write_status(force=changed, dashboard=changed)

    def _back(self) -> None:
        was_away = not self.health.inbox_available
        if was_away:
            self.out("收件箱已恢复 / inbox available again")
            log.warning("inbox available again")
        self.health.inbox_available = True
        self._start_observer()
        if was_away:
            self._write_status(force=True, dashboard=True)

    def _error(self, text: str) -> None:
        self.health.last_error, self.health.last_error_at = text, _now()

    # --- health ------------------------------------------------------------------

    def _write_status(self, force: bool = False, dashboard: bool = False) -> None:
        if not force and time.monotonic() - self._status_written < 10:
            return
        self._status_written = time.monotonic()
        try:
            self.health.processed_today = processed_today(self.engine)
        except Exception as e:  # the ledger may be what is down; status still tells the rest
            log.warning("status: %s", e)
        try:
            write_status(self.settings.outbox, self.health)
            if dashboard:
                write_dashboard(self.engine, self.settings)
        except Exception as e:  # health reporting never stops the watcher
            log.warning("status not written: %s", e)


def processed_today(engine: Engine) -> dict[str, int]:
    f = schema.files
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    with reading(engine) as conn:
        rows = conn.execute(select(f.c.status, func.count()).where(f.c.processed_at >= today).group_by(f.c.status))
        return {status: n for status, n in rows}


def _check_same_filesystem(settings: Settings) -> None:
    """Files move from the inbox by rename only: archive/ and rejected/ must be on the
    inbox's filesystem, or a move would be a copy and a delete."""
    try:
        inbox_device = settings.inbox.stat().st_dev
    except OSError:  # the share is not there yet: the watcher waits for it, and checks nothing
        return
    for folder in (settings.archive, settings.rejected):
        folder.mkdir(parents=True, exist_ok=True)
        if folder.stat().st_dev != inbox_device:
            raise SameFilesystemError(
                f"{folder} 与收件箱不在同一文件系统, 请把它放在同一共享上 / must be on the same filesystem (share) as {settings.inbox}")


class SameFilesystemError(Exception):
    pass


def setup_logging(settings: Settings) -> None:
    """A rotating log file in the workspace: staff never see it, IT does."""
    settings.logs.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(settings.logs / "jxc.log", maxBytes=2_000_000, backupCount=5,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    logger = logging.getLogger("jxc")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


class LiveConsole:
    """The console view in a terminal (rich): each file's answer scrolls by, and a
    status line below it says what the watcher is doing."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console()
        self.watcher: Watcher | None = None
        self._live = None

    def __call__(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def status_line(self):
        from rich.text import Text

        h = self.watcher.health if self.watcher else None
        if h is None:
            return Text("")
        state = "收件箱不可用 INBOX UNAVAILABLE" if not h.inbox_available else "监视中 watching"
        today = " ".join(f"{k} {v}" for k, v in sorted(h.processed_today.items())) or "—"
        return Text(f"{state} · {h.observer} · 等待 waiting {h.waiting} · 到达中 arriving {h.settling}"
                    f" · 今日 today {today} · 最近扫描 last scan {h.last_scan[11:]}", style="bold cyan")

    def run(self, watcher: Watcher) -> int:
        from rich.live import Live

        self.watcher = watcher

        class _Status:
            def __rich__(inner):
                return self.status_line()

        with Live(_Status(), console=self.console, refresh_per_second=2, transient=True):
            return watcher.run()
