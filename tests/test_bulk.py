"""bulk.py against SQLAlchemy's own insert, on real SQLite: the rows a batch writes
column by column (each distinct value converted once) are stored exactly as SQLAlchemy
stores them one by one, to the last digit, and a value the column cannot hold fails
both ways."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import Column, Date, Integer, MetaData, Table, create_engine, insert

from jxc_sheets.ledger import bulk, schema
from jxc_sheets.ledger.schema import Scaled

metadata = MetaData()


def scaled_table(name: str) -> Table:
    return Table(name, metadata, Column("id", Integer, primary_key=True), Column("qty", schema.Qty()),
                 Column("money", schema.Money()), Column("cost", schema.Cost()), Column("day", Date))


by_bulk, by_sqlalchemy = scaled_table("by_bulk"), scaled_table("by_sqlalchemy")


def decimals(places: int):
    """Up to `places` places, and sometimes one more (which the column refuses); the
    extremes the column holds; zeros of both signs and other exponents."""
    largest = schema.largest(places)
    return st.one_of(st.none(), st.decimals(-largest, largest, places=places, allow_nan=False),
                     st.decimals(Decimal(-10), Decimal(10), places=places + 1, allow_nan=False),
                     st.sampled_from([Decimal(0), Decimal("-0"), Decimal("0E-9"), Decimal("1.000000000"), largest,
                                      -largest, Decimal(7), Decimal("1E+3")]),
                     st.integers(-10 ** 6, 10 ** 6))


rows = st.lists(st.fixed_dictionaries({
    "qty": decimals(schema.QTY_PLACES), "money": decimals(schema.MONEY_PLACES), "cost": decimals(schema.COST_PLACES),
    "day": st.none() | st.dates(date(1990, 1, 1), date(2100, 1, 1))}), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('bulk') / 'bulk.sqlite3'}")
    metadata.create_all(engine)
    return engine


def stored(conn, table: Table) -> list[tuple]:
    return conn.exec_driver_sql(f"SELECT qty, money, cost, day FROM {table.name} ORDER BY id").all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_columns_converted_at_once_are_stored_as_sqlalchemy_stores_each_value(engine, batch):
    """E.g. qty 1.2345 is stored as 12345, money -0.5 as -50, cost 0E-9 as 0, a date as
    '2026-12-07', None as NULL; qty 0.00001 (five places) fails in both."""
    numbered = [{"id": i + 1, **row} for i, row in enumerate(batch)]
    with engine.connect() as conn:
        expected = written(conn, lambda: conn.execute(insert(by_sqlalchemy), numbered), by_sqlalchemy)
        if expected is None:
            with pytest.raises(ValueError):
                written(conn, lambda: bulk.insert_rows(conn, by_bulk, numbered, chunk=7), by_bulk, swallow=False)
        else:
            assert written(conn, lambda: bulk.insert_rows(conn, by_bulk, numbered, chunk=7), by_bulk) == expected


def written(conn, write, table: Table, swallow: bool = True) -> list[tuple] | None:
    """The rows as `write` stores them in `table`, rolled back after; None if it fails."""
    transaction = conn.begin()
    try:
        write()
        return stored(conn, table)
    except Exception:
        if swallow:
            return None
        raise
    finally:
        transaction.rollback()


def test_a_column_empty_throughout_a_chunk_is_stored_null(engine):
    """Two rows with no cost and no date, one with both: NULL where nothing was given
    (such columns are left out of the chunk's insert), chunk by chunk."""
    rows = [{"id": 1, "qty": Decimal(1), "money": None, "cost": None, "day": None},
            {"id": 2, "qty": Decimal(2), "money": None, "cost": None, "day": None},
            {"id": 3, "qty": None, "money": None, "cost": Decimal("0.000001"), "day": date(2026, 12, 7)}]
    with engine.connect() as conn:
        assert written(conn, lambda: bulk.insert_rows(conn, by_bulk, rows, chunk=2), by_bulk) == \
            [(10000, None, None, None), (20000, None, None, None), (None, None, 1, "2026-12-07")]


def test_rows_as_a_query_returns_them_are_stored_as_the_same_rows_as_mappings(engine):
    """migrate-ledger hands insert_rows the rows of a SELECT, values in column order: the
    three rows above, read back from by_sqlalchemy as Rows and as plain tuples, are
    stored in by_bulk exactly as they are stored there."""
    rows = [{"id": 1, "qty": Decimal("1.5"), "money": Decimal("-0.5"), "cost": None, "day": date(2026, 12, 7)},
            {"id": 2, "qty": Decimal(2), "money": None, "cost": Decimal("0.000001"), "day": None},
            {"id": 3, "qty": None, "money": None, "cost": None, "day": None}]
    names = ["id", "qty", "money", "cost", "day"]
    with engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(insert(by_sqlalchemy), rows)
        expected = stored(conn, by_sqlalchemy)
        queried = conn.execute(by_sqlalchemy.select().order_by(by_sqlalchemy.c.id)).all()
        assert expected == [(15000, -50, None, "2026-12-07"), (20000, None, 1, None), (None, None, None, None)]
        bulk.insert_rows(conn, by_bulk, queried, names, chunk=2)
        assert stored(conn, by_bulk) == expected
        conn.execute(by_bulk.delete())
        bulk.insert_rows(conn, by_bulk, [tuple(row) for row in queried], names)
        assert stored(conn, by_bulk) == expected
        transaction.rollback()


def test_a_value_with_too_many_places_fails_as_the_column_fails_it():
    """1.23456 in a qty (4 places): the same ValueError as Scaled's own, at that value."""
    to_db = Scaled(schema.QTY_PLACES).bind_processor(None)
    values = [Decimal("1.5"), None, Decimal("1.23456"), Decimal("1.5")]
    with pytest.raises(ValueError, match="1.23456 has more than 4 decimal places"):
        bulk._column_converter(Scaled(schema.QTY_PLACES), to_db)(values)
    assert bulk._column_converter(Scaled(schema.QTY_PLACES), to_db)(values[:2] + [7, Decimal("-0.0001")]) == \
        [15000, None, 70000, -1]
