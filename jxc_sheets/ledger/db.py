"""Opening the ledger: the engine, SQLite's settings, the schema."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, select

from ..filesystems import filesystem_type, is_network
from . import schema


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
    if create:
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            if conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first() is None:
                conn.execute(schema.meta.insert().values(key="schema_version", value=str(schema.SCHEMA_VERSION)))
    return engine


def _begin(conn) -> None:
    read_only = conn.get_execution_options().get("jxc_read_only")
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sqlite_settings(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # BEGIN is issued by the "begin" listener
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
