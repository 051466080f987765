"""Schema versions: a new ledger is created at the current version; an older one
is upgraded in place, step by step, the first time this release opens it.

The version lives in the `meta` table. Each step is a function of the
connection, run in the same transaction as the version bump, so a ledger is
never half-upgraded. Tables a step introduces are created by `create_all`
beforehand; steps only change tables that already existed.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, Engine, Table, inspect, select, update

from . import schema


class SchemaTooNew(Exception):
    """The ledger was written by a newer release of jxc."""


def _add_columns(conn: Connection, table: Table, *names: str) -> None:
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column_type = table.c[name].type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{name}" {column_type}')


def _v2_orders(conn: Connection) -> None:
    _add_columns(conn, schema.documents, "due_date")
    _add_columns(conn, schema.lines, "expected_date", "partner")
    _add_columns(conn, schema.files, "warnings")
    _add_columns(conn, schema.items, "min_order_qty", "order_multiple")
    _add_columns(conn, schema.suppliers, "lead_time_days")


def _v3_counts(conn: Connection) -> None:
    _add_columns(conn, schema.items, "location")
    _add_columns(conn, schema.files, "first_date")


def _v4_snapshots(conn: Connection) -> None:
    _add_columns(conn, schema.periods, "closing_kept")  # months closed before it open from the movements


STEPS: dict[int, Callable[[Connection], None]] = {2: _v2_orders, 3: _v3_counts, 4: _v4_snapshots}


def prepare(engine: Engine) -> int:
    """Creates or upgrades the schema; returns the version the ledger was at (0 when new)."""
    schema.metadata.create_all(engine)
    m = schema.meta
    with engine.begin() as conn:
        query = select(m.c.value).where(m.c.key == "schema_version")
        if engine.dialect.name == "postgresql":
            query = query.with_for_update()  # one process upgrades; the others wait and find it done
        found = conn.execute(query).scalar()
        if found is None:
            conn.execute(m.insert().values(key="schema_version", value=str(schema.SCHEMA_VERSION)))
            return 0
        version = int(found)
        if version > schema.SCHEMA_VERSION:
            raise SchemaTooNew(
                f"账本版本 {version} 比本程序({schema.SCHEMA_VERSION})新, 请升级 jxc"
                f" / the ledger is at schema version {version}, newer than this release's {schema.SCHEMA_VERSION}: upgrade jxc")
        for step in range(version + 1, schema.SCHEMA_VERSION + 1):
            STEPS[step](conn)
        if version < schema.SCHEMA_VERSION:
            conn.execute(update(m).where(m.c.key == "schema_version").values(value=str(schema.SCHEMA_VERSION)))
        return version
