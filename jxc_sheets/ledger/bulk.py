"""Writing many rows at once, for a batch file of 100,000 lines: ids taken ahead, and
rows handed to the driver's executemany as tuples (on PostgreSQL, streamed by COPY),
each column's conversion (Scaled, SQLite's dates) looked up once. SQLAlchemy's own
executemany builds a parameter set per row, which costs more than the database's insert
itself at that size.

Only inside a posting transaction: ids are taken ahead under the posting lock (db.py),
so no other writer takes them meanwhile."""
from __future__ import annotations

from itertools import chain
from operator import getitem
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, Table, func, select

from .queries import chunks


def take_ids(conn: Connection, table: Table, count: int) -> range:
    """`count` new ids of `table`, in increasing order."""
    if count == 0:
        return range(0)
    column = table.autoincrement_column
    if conn.dialect.name == "postgresql":
        sequence = f"pg_get_serial_sequence('\"{table.name}\"', '{column.name}')"
        last = conn.exec_driver_sql(f"SELECT setval({sequence}, nextval({sequence}) + {int(count) - 1})").scalar()
        return range(last - count + 1, last + 1)
    first = conn.execute(select(func.coalesce(func.max(column), 0))).scalar() + 1
    return range(first, first + count)


def insert_rows(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any] | Any],
                columns: Sequence[str] | None = None, chunk: int = 10_000) -> None:
    """Inserts `rows`: mappings of column name → value (`columns` defaults to those of the
    first row), or records with an attribute per column of `columns`."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    names = list(columns or first)
    marker, quote = _marker(conn), conn.dialect.identifier_preparer.quote
    into = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    if conn.dialect.name == "postgresql":
        _copy(conn, table, f"COPY {into} FROM STDIN", names, chain([first], rows), chunk)
        return
    statement = f"INSERT INTO {into} VALUES ({', '.join([marker] * len(names))})"
    _execute_many(conn, table, statement, names, chain([first], rows), chunk)


def update_rows(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
                keys: Sequence[str], chunk: int = 10_000) -> None:
    """Sets `columns` of the rows whose `keys` are as given, one mapping of column name →
    value per row (the keys' values among them)."""
    marker, quote = _marker(conn), conn.dialect.identifier_preparer.quote
    statement = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = {marker}' for c in columns)} "
                 f"WHERE {' AND '.join(f'{quote(k)} = {marker}' for k in keys)}")
    _execute_many(conn, table, statement, [*columns, *keys], rows, chunk)


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _execute_many(conn: Connection, table: Table, statement: str, names: Sequence[str], rows: Iterable,
                  chunk: int) -> None:
    """`statement` once per row, its parameters the row's `names` converted as the columns store them."""
    for batch in _converted(conn, table, names, rows, chunk):
        conn.exec_driver_sql(statement, batch)


def _copy(conn: Connection, table: Table, statement: str, names: Sequence[str], rows: Iterable, chunk: int) -> None:
    """PostgreSQL: the rows streamed by COPY, in the transaction of `conn` (psycopg 3),
    several times faster than an INSERT per row."""
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in _converted(conn, table, names, rows, chunk):
            for row in batch:
                copy.write_row(row)


def _converted(conn: Connection, table: Table, names: Sequence[str], rows: Iterable, chunk: int) -> Iterator[list[tuple]]:
    """The rows as tuples of their `names`, converted as the columns store them, `chunk` at a time."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    dialect = conn.dialect
    convert = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    pick = getitem if isinstance(first, Mapping) else getattr
    for batch in chunks(chain([first], rows), chunk):
        columns = [[pick(row, name) for row in batch] for name in names]
        for i, to_db in enumerate(convert):
            if to_db is not None:
                columns[i] = [None if value is None else to_db(value) for value in columns[i]]
        yield list(zip(*columns))
