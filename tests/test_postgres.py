"""The same program on the machine's real PostgreSQL server: the demo drop posts to
the same balances, to the cent, as on SQLite."""
from __future__ import annotations

from datetime import date

import openpyxl
import pytest
import sqlalchemy
from sqlalchemy import select

from conftest import PG_SERVER, pg_schema
from jxc_sheets.closing import close_month
from jxc_sheets.config import Config, Settings
from jxc_sheets.demo import write_demo_inbox
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.periods import months_with_movements
from jxc_sheets.pipeline import run_inbox

@pytest.fixture
def pg_engine():
    with pg_schema() as name:
        engine = sqlalchemy.create_engine(PG_SERVER, connect_args={"options": f"-csearch_path={name}"})
        schema.metadata.create_all(engine)
        yield engine
        engine.dispose()


def _workspace(root) -> Settings:
    settings = Settings(Config(), root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True)
    write_demo_inbox(settings.inbox, date(2026, 11, 25))
    return settings


def _state(engine):
    with engine.connect() as conn:
        balances = sorted(tuple(r) for r in conn.execute(select(schema.balances)))
        movements = sorted((r.sku, r.warehouse, r.qty, r.value) for r in conn.execute(select(schema.movements)))
        fulfilments = sorted((r.order_line_no, r.sku, r.qty, r.doc_date) for r in conn.execute(select(schema.fulfilments)))
        assert fulfilments, "the demo receives and delivers against orders"
        return balances, movements, fulfilments, check_ledger(conn)


@pytest.mark.slow
def test_the_demo_posts_the_same_on_postgresql_and_sqlite(tmp_path, pg_engine):
    on_pg = _workspace(tmp_path / "pg")
    on_sqlite = _workspace(tmp_path / "sqlite")
    sqlite_engine = open_ledger(on_sqlite.ledger_url)

    pg_outcomes = run_inbox(on_pg, engine=pg_engine)
    sqlite_outcomes = run_inbox(on_sqlite, engine=sqlite_engine)

    assert [(o.file, o.status) for o in pg_outcomes] == [(o.file, o.status) for o in sqlite_outcomes]
    assert sum(o.status == "rejected" for o in pg_outcomes) == 2
    pg_state, sqlite_state = _state(pg_engine), _state(sqlite_engine)
    assert pg_state[3] == [] and sqlite_state[3] == []
    assert pg_state[:3] == sqlite_state[:3]


def _pack(path) -> list[tuple]:
    """Every sheet's cells as read back; the audit sheet without the time of each close."""
    book = openpyxl.load_workbook(path, read_only=True)
    return [(sheet.title, row[:2] + row[3:] if sheet.title == "audit" else row)
            for sheet in book for row in sheet.iter_rows(values_only=True)]


@pytest.mark.slow
def test_the_month_end_packs_are_the_same_on_postgresql_and_sqlite(tmp_path, pg_engine):
    on_pg, on_sqlite = _workspace(tmp_path / "pg"), _workspace(tmp_path / "sqlite")
    sqlite_engine = open_ledger(on_sqlite.ledger_url)
    run_inbox(on_pg, engine=pg_engine)
    run_inbox(on_sqlite, engine=sqlite_engine)
    with sqlite_engine.connect() as conn:
        months = [m for m in months_with_movements(conn) if m < "2026-11"]
    assert len(months) >= 2  # the later ones open from the closing kept by the one before
    for month in months:
        pg_pack, sqlite_pack = (close_month(engine, settings, month, "test", today=date(2026, 11, 25)).pack
                                for engine, settings in ((pg_engine, on_pg), (sqlite_engine, on_sqlite)))
        assert _pack(pg_pack) == _pack(sqlite_pack)
    kept = []
    for engine in (pg_engine, sqlite_engine):
        with engine.connect() as conn:
            kept.append(sorted(tuple(r) for r in conn.execute(select(schema.period_balances))))
    assert kept[0] == kept[1] and kept[0]
