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
from jxc_sheets.reports.book import sheet_key

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
    return [(sheet.title, row[:2] + row[3:] if sheet_key(sheet.title) == "audit" else row)
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


def test_rows_streamed_by_copy_come_back_as_written(pg_engine):
    """bulk.insert_rows streams a batch by COPY on PostgreSQL: texts with a tab, a new line
    (serials are kept one a line), a backslash, quotes and \\N; None; dates; and scaled
    numbers (1.2345 stored as 12345) read back exactly as they went in, in the same
    transaction as the rows written before them."""
    from decimal import Decimal
    from jxc_sheets.ledger import bulk

    awkward = ["a\tb", "SN1\nSN2", "C:\\库存\\x", 'say "hi"', "\\N", "", "逗号,分号;"]
    with pg_engine.begin() as conn:
        conn.execute(schema.documents.insert().values(
            id=1, kind="receipt", doc_no="R-1", doc_date=date(2026, 11, 3), warehouse="WH1", to_warehouse="",
            partner="S01", ref_doc="", reason="", prepared_by="", remark="", source_file="x.xlsx",
            content_hash="h", posted_at=date(2026, 11, 3)))
        bulk.insert_rows(conn, schema.lines, [
            {"document_id": 1, "line_no": i + 1, "sku": "A001", "warehouse": "", "qty": Decimal("1.2345"), "unit": "个",
             "qty_entered": Decimal("1.2345"), "factor": Decimal(1), "unit_cost": None, "unit_price": None, "batch": "",
             "remark": text, "expected_date": date(2026, 12, i + 1), "serials": text or None}
            for i, text in enumerate(awkward)])
    with pg_engine.connect() as conn:
        rows = conn.execute(select(schema.lines.c.remark, schema.lines.c.serials, schema.lines.c.qty,
                                   schema.lines.c.expected_date, schema.lines.c.unit_cost)
                            .order_by(schema.lines.c.line_no)).all()
    assert [tuple(r) for r in rows] == [(text, text or None, Decimal("1.2345"), date(2026, 12, i + 1), None)
                                        for i, text in enumerate(awkward)]
