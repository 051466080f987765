"""Opening the ledger: the engine, SQLite's settings, the schema."""
from __future__ import annotations

from pathlib import Path

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event

from ..filesystems import filesystem_type, is_network
from . import migrate


class LedgerLocationError(Exception):
    """The ledger may not live where the config puts it; the message says why."""


def refuse_network_filesystem(path: Path, mounts: Path = Path("/proc/mounts")) -> None:
    fs = filesystem_type(path, mounts)
    if is_network(fs):
        raise LedgerLocationError(
            f"SQLite 账本不能放在网络文件系统({fs})上: 那里的文件锁不可靠, 会损坏账本。请放在本机磁盘, 或改用 PostgreSQL"
            f" / the SQLite ledger must not live on a network filesystem ({fs}): its locking is unreliable there;"
            f" keep it on local disk or use PostgreSQL: {path}")


def open_ledger(url: str, create: bool = True) -> Engine:
    """An engine on the ledger at `url`, its schema created when `create`."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url[len("sqlite:///"):])
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        refuse_network_filesystem(path.parent)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_settings)
        # pysqlite's own transaction handling defers BEGIN; take it over so that
        # a posting transaction holds the write lock from its first statement,
        # while a report (marked jxc_read_only) reads without blocking postings.
        event.listen(engine, "begin", _begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "begin", _begin_postgresql)
    if create:
        migrate.prepare(engine)
    return engine


READ_ONLY = {"jxc_read_only": True}
"""Execution options of a connection that only reads: plain BEGIN on SQLite, no posting lock on PostgreSQL."""


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection that only reads one snapshot and never waits for a posting."""
    with engine.connect() as conn:
        conn.execution_options(**READ_ONLY)
        yield conn


def _begin(conn) -> None:
    read_only = conn.get_execution_options().get("jxc_read_only")
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# Posting reads balances, open orders and the chain's tail, then writes after them: two
# postings interleaved would lose an update (both read the same balance) or fork the
# chain (both link to the same last document). On SQLite BEGIN IMMEDIATE lets one writer
# in at a time. On PostgreSQL every transaction that may write (files, `jxc reverse`,
# `jxc close-order`, master data, close, schema upgrades) takes the same advisory lock
# first, held until its commit or rollback (or its lost connection): check, post and
# seal are one critical section for every watcher on every machine. One lock rather than
# row locks, because every posting shares the chain's tail anyway, and the check stage's
# reads (stock, open orders, document numbers) must hold until the commit.
# The lock is per schema, so ledgers sharing a database (a test run's schemas) do not
# wait on each other. It relies on READ COMMITTED, PostgreSQL's default: each statement
# after the wait sees what the previous holder committed (under REPEATABLE READ the
# snapshot would be taken before the wait). Reports (jxc_read_only) take no lock and
# read one snapshot, as on SQLite.
POSTING_LOCK = 0x6A7863  # "jxc": the advisory lock's namespace, beside the schema's hash


def _begin_postgresql(conn) -> None:
    if conn.get_execution_options().get("jxc_read_only"):
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({POSTING_LOCK}, hashtext(coalesce(current_schema(), '')))")


def _sqlite_settings(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # BEGIN is issued by the "begin" listener
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
