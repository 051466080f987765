"""Writing many rows at once, for a batch file of 100,000 lines: ids taken ahead, and
rows handed to the driver's executemany as tuples (on PostgreSQL, streamed by COPY),
each column's conversion (Scaled, SQLite's dates) looked up once. SQLAlchemy's own
executemany builds a parameter set per row, which costs more than the database's insert
itself at that size.

Only inside a posting transaction: ids are taken ahead under the posting lock (db.py),
so no other writer takes them meanwhile."""
from __future__ import annotations

from itertools import chain, repeat
from decimal import Decimal
from functools import partial
from operator import attrgetter, is_not, itemgetter
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, Date, Table, func, select
from sqlalchemy.types import TypeEngine

from .queries import chunks
from .schema import Scaled


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
    first row), records with an attribute per column of `columns`, or sequences of
    values in the order of `columns`."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    names = list(columns or first)
    quote = conn.dialect.identifier_preparer.quote

    def into(kept: Sequence[int]) -> str:
        return f"{quote(table.name)} ({', '.join(quote(names[i]) for i in kept)})"

    if conn.dialect.name == "postgresql":
        _copy(conn, table, f"COPY {into(range(len(names)))} FROM STDIN", names, chain([first], rows), chunk)
        return
    marker = _marker(conn)
    for values in _converted_columns(conn, table, names, chain([first], rows), chunk):
        kept = _not_left_null(table, names, values)
        conn.exec_driver_sql(f"INSERT INTO {into(kept)} VALUES ({', '.join([marker] * len(kept))})",
                             list(zip(*(values[i] for i in kept))))


def _not_left_null(table: Table, names: Sequence[str], columns: Sequence[list]) -> Sequence[int]:
    """Which of `columns` an insert names. Binding NULL costs the sqlite3 module a failed
    adaptation per value, more than the insert itself: a nullable column without a
    default that is empty throughout is left out, to be NULL all the same."""
    kept = [i for i, values in enumerate(columns) if not table.c[names[i]].nullable
            or table.c[names[i]].server_default is not None or any(map(is_not, values, repeat(None)))]
    return kept or range(len(names))


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
    for columns in _converted_columns(conn, table, names, rows, chunk):
        yield list(zip(*columns))


def _converted_columns(conn: Connection, table: Table, names: Sequence[str], rows: Iterable,
                       chunk: int) -> Iterator[list[list]]:
    """The values of each of `names`, converted as the columns store them, `chunk` rows at a time."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    dialect = conn.dialect
    types = [table.c[name].type.dialect_impl(dialect) for name in names]
    convert = [_column_converter(t, t.bind_processor(dialect)) for t in types]
    for batch in chunks(chain([first], rows), chunk):
        yield [to_db(values) for values, to_db in zip(_columns_of(batch, names), convert)]


def _columns_of(rows: list, names: Sequence[str]) -> Iterator[list]:
    """Each of `names`'s values down `rows`: mappings, records with an attribute per name,
    or sequences of values in the order of `names` (rows as a query returns them)."""
    if isinstance(rows[0], Sequence):
        return map(list, zip(*rows))
    pick = itemgetter if isinstance(rows[0], Mapping) else attrgetter
    return (list(map(pick(name), rows)) for name in names)


def _column_converter(column_type: TypeEngine, to_db: Callable | None) -> Callable[[list], list]:
    """A whole column's values → as the column stores them. A Scaled or date column's
    values recur (quantities, rates, dates): each distinct value is converted once."""
    if to_db is None:
        return _as_is
    if isinstance(column_type, Scaled):
        return partial(_each_distinct_once, partial(_scaled, column_type.places), to_db)
    if isinstance(column_type, Date):
        return partial(_each_distinct_once, partial(_each, to_db), to_db)
    return partial(_each, to_db)


def _as_is(values: list) -> list:
    return values


def _each(to_db: Callable, values: list) -> list:
    return [None if value is None else to_db(value) for value in values]


def _each_distinct_once(convert: Callable[[list], list], to_db: Callable, values: list) -> list:
    """What `_each(to_db, values)` returns, each distinct value converted once by
    `convert` (to_db's results for a list of them, none None). Whatever fails there (an
    unhashable value, a Decimal with more places than its column) is left to `_each`, to
    fail as it fails, at the same value."""
    try:
        distinct = set(values)
        distinct.discard(None)
        distinct = list(distinct)
        converted = dict(zip(distinct, convert(distinct)))
    except Exception:
        return _each(to_db, values)
    converted[None] = None
    return list(map(converted.__getitem__, values))


def _scaled(places: int, values: list) -> list[int]:
    """Scaled.process_bind_param of each of `values`, a whole list at a time: it raises
    ValueError where that would (a value not a Decimal is left to it)."""
    if set(map(type, values)) - {Decimal}:
        raise ValueError("not only Decimals")
    scaled = list(map(Decimal.scaleb, values, repeat(places)))
    integral = list(map(int, scaled))
    if integral != scaled:
        raise ValueError(f"more than {places} decimal places")
    return integral
