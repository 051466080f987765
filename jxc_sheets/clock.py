"""Today, as jxc sees it: the one clock behind every business date and timestamp
(the archive's month, the reports' "today", a reversal's default date, when a file
was processed or a month closed).

It is the system clock unless `JXC_NOW` is set (an ISO date or date-time, local
time): then the clock starts at that moment and runs on from there. `JXC_NOW_SET_AT`
(seconds since the epoch, as `time.time()` gives them) says when that moment was, so
several processes started at different times share one clock; without it, each
process starts its clock when it first asks. The tests set both; so can anyone
reproducing what happened on a given day.

Durations (stability of a file, leases, retries, how long a watcher has been
silent) are not dates: they keep the system's `time.time()` and `time.monotonic()`.
"""
from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta

ENV_NOW, ENV_SET_AT = "JXC_NOW", "JXC_NOW_SET_AT"
_started: dict[str, float] = {}


def now() -> datetime:
    """The current local date-time, to the microsecond."""
    fixed = os.environ.get(ENV_NOW)
    if not fixed:
        return datetime.now()
    start = _parse(fixed)
    set_at = os.environ.get(ENV_SET_AT)
    anchor = float(set_at) if set_at else _started.setdefault(fixed, time.time())
    return start + timedelta(seconds=max(0.0, time.time() - anchor))


def today() -> date:
    return now().date()


def month() -> str:
    """This month as YYYY-MM."""
    return f"{today():%Y-%m}"


def at_mtime(mtime: float) -> datetime:
    """When a file was last written (its `st_mtime`), on this clock."""
    return now() - timedelta(seconds=time.time() - mtime)


def _parse(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"{ENV_NOW}={text!r}: 不是日期时间 / not an ISO date or date-time (e.g. 2026-12-31T09:00)")


def pinned(at: datetime) -> dict[str, str]:
    """The environment that sets the clock to `at` from now on, for this process and its children."""
    return {ENV_NOW: at.isoformat(), ENV_SET_AT: repr(time.time())}
