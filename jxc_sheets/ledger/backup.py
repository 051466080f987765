"""`jxc backup` and `jxc restore`: consistent copies of the SQLite ledger while it is
in use (SQLite's online backup API), dated and rotated, and a restore that first
proves the copy sound with the same integrity check as `jxc check`."""
from __future__ import annotations

import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path

from .. import clock
from . import schema
from .db import open_ledger
from .integrity import check_ledger

PREFIX = "ledger-"
SUFFIX = ".sqlite3"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is for IT, in both languages."""


def copy_sqlite(source: Path, dest: Path) -> Path:
    """Copies a live SQLite database page by page into `dest` (written under a temp name)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    _sqlite_backup(source, tmp)
    tmp.replace(dest)
    return dest


def _sqlite_backup(source: Path, target: Path) -> None:
    """SQLite's online backup of `source` into the database file `target`, page by page."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def dated_name(now: datetime | None = None) -> str:
    """ledger-20261125-020000-123.sqlite3: sorts by time, and two in one second differ."""
    return f"{PREFIX}{(now or clock.now()):%Y%m%d-%H%M%S-%f}"[:-3] + SUFFIX


def rotate(folder: Path, keep: int) -> list[Path]:
    """Removes all but the newest `keep` dated backups; returns what it removed."""
    dated = sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))
    removed = dated[:-keep] if len(dated) > keep else []
    for path in removed:
        path.unlink()
    return removed


def verify(path: Path) -> list[str]:
    """What is wrong with the ledger file at `path` (empty when it is sound)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
            version = int(conn.execute("select value from meta where key = 'schema_version'").fetchone()[0])
    except (sqlite3.DatabaseError, TypeError, ValueError) as e:
        return [f"不是 SQLite 账本 / not a SQLite ledger: {e}"]
    if result != "ok":
        return [f"SQLite integrity_check: {result}"]
    if not {"documents", "movements", "balances"} <= tables:
        return ["不是 jxc 账本 / not a jxc ledger (its tables are missing)"]
    if version == schema.SCHEMA_VERSION:
        return _check(path, create=False)
    with tempfile.TemporaryDirectory(prefix="jxc-verify-") as folder:  # an older ledger: check it upgraded
        upgraded = copy_sqlite(path, Path(folder) / path.name)
        return _check(upgraded, create=True)


def _check(path: Path, create: bool) -> list[str]:
    engine = open_ledger(f"sqlite:///{path}", create=create)
    try:
        with engine.connect() as conn:
            return check_ledger(conn)
    finally:
        engine.dispose()


def restore(source: Path, ledger: Path, backups: Path) -> Path:
    """Brings `source` back as the ledger once it passes the check; the ledger it
    replaces is kept in `backups` first. Returns where the replaced one went."""
    if not source.is_file():
        raise BackupError(f"备份文件不存在 / no such backup: {source}")
    problems = verify(source)
    if problems:
        raise BackupError(f"备份未通过检查, 未恢复 / the backup fails the check, nothing restored: {problems[0]}"
                          + (f" (+{len(problems) - 1})" if len(problems) > 1 else ""))
    kept = backups / f"before-restore-{clock.now():%Y%m%d-%H%M%S}{SUFFIX}"
    if ledger.exists():
        copy_sqlite(ledger, kept)
    # Into the ledger itself, through SQLite: replacing the file would leave its
    # -wal beside a database it does not belong to.
    _sqlite_backup(source, ledger)
    return kept
