"""Schema versions: a ledger written by the first release (a real one, the demo's,
kept as an SQL dump) upgrades in place and stays sound; a newer ledger is refused."""
from __future__ import annotations

import gzip
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect, select, update

from conftest import D, jxc, make_form
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.ledger.migrate import SchemaTooNew
from jxc_sheets.ledger.transfer import reset_sequences
from jxc_sheets.pipeline import run_inbox

V1_DUMP = Path(__file__).parent / "data" / "ledger_v1_demo.sql.gz"


def v1_ledger(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(gzip.decompress(V1_DUMP.read_bytes()).decode("utf-8"))
    return path


def balances(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("select sku, warehouse, qty, value from balances order by sku, warehouse").fetchall()


def test_a_version_1_ledger_upgrades_in_place_and_keeps_its_numbers(tmp_path):
    path = v1_ledger(tmp_path / "ledger.sqlite3")
    before = balances(path)
    assert "due_date" not in {c[1] for c in sqlite3.connect(path).execute("pragma table_info(documents)")}

    engine = open_ledger(f"sqlite:///{path}")
    with engine.connect() as conn:
        version = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
        assert version == str(schema.SCHEMA_VERSION)
        assert {"fulfilments", "order_closures"} <= set(inspect(conn).get_table_names())
        assert "expected_date" in {c["name"] for c in inspect(conn).get_columns("lines")}
        assert "weight" in {c["name"] for c in inspect(conn).get_columns("items")}  # v8, with the nrv table
        assert "nrv" in set(inspect(conn).get_table_names())
        assert check_ledger(conn) == []  # the hash chain and the balances survive the upgrade
        # v8: every item untracked, as before; the batch tables start empty
        assert {"batches", "batch_movements", "batch_balances", "serials", "serial_movements"} <= set(inspect(conn).get_table_names())
        assert conn.execute(select(schema.items.c.sku).where(schema.items.c.batch_tracked.is_(True))).all() == []
        # v6: lines posted before keep their meaning: prices before tax, 税率 0, 金额 = 价税合计
        l = schema.lines
        priced = conn.execute(select(l.c.qty_entered, l.c.unit_cost, l.c.unit_price, l.c.tax_rate, l.c.amount, l.c.tax,
                                     l.c.gross).where((l.c.unit_cost.is_not(None)) | (l.c.unit_price.is_not(None)))).all()
        assert len(priced) > 20
        for qty, cost, price, rate, amount, tax, gross in priced:
            exact = abs(qty) * (cost if cost is not None else price)
            assert (rate, tax, gross) == (0, 0, amount) and abs(amount - exact) <= Decimal("0.005")
    assert balances(path) == before and len(before) > 50
    engine.dispose()
    open_ledger(f"sqlite:///{path}").dispose()  # a second open finds nothing to do


def test_an_upgraded_ledger_takes_orders_and_jxc_check_passes(tmp_path):
    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    v1_ledger(tmp_path / "ledger.sqlite3")
    engine = open_ledger(settings.ledger_url)
    with engine.connect() as conn:
        supplier, sku = conn.execute(select(schema.items.c.default_supplier, schema.items.c.sku)
                                     .where(schema.items.c.default_supplier != "").limit(1)).one()
    make_form(settings.inbox / "po.xlsx", "purchase_order", {"doc_no": "CG-NEW", "doc_date": D, "supplier": supplier},
              [{"sku": sku, "qty": 10, "unit_price": "9.5"}])
    assert [o.status for o in run_inbox(settings, engine=engine)] == ["posted"]
    engine.dispose()
    result = jxc("check", cwd=tmp_path)
    assert result.returncode == 0


def v1_on_postgresql(v1: Path, url: str) -> None:
    """The v1 ledger on PostgreSQL: today's schema with what v1 lacked dropped, then v1's rows."""
    source = create_engine(f"sqlite:///{v1}")
    old = MetaData()
    old.reflect(source)
    engine = open_ledger(url)
    with engine.begin() as conn, source.connect() as rows:
        for table in reversed(schema.metadata.sorted_tables):
            if table.name not in old.tables:
                conn.exec_driver_sql(f'DROP TABLE "{table.name}"')
                continue
            for column in table.c:
                if column.name not in old.tables[table.name].c:
                    conn.exec_driver_sql(f'ALTER TABLE "{table.name}" DROP COLUMN "{column.name}"')
        conn.execute(schema.meta.delete())
        for table in old.sorted_tables:
            conn.execute(table.insert(), [r._asdict() for r in rows.execute(select(table))])
        reset_sequences(conn, old.sorted_tables)
    engine.dispose()
    source.dispose()


def pg_balances(engine) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.exec_driver_sql("select sku, warehouse, qty, value from balances"))


def test_a_version_1_ledger_on_postgresql_upgrades_in_place(tmp_path, postgres_url):
    v1_on_postgresql(v1_ledger(tmp_path / "v1.sqlite3"), postgres_url)
    raw = create_engine(postgres_url)
    with raw.connect() as conn:
        assert conn.execute(select(schema.meta.c.value)).scalar() == "1"
        assert "due_date" not in {c["name"] for c in inspect(conn).get_columns("documents")}
    before = pg_balances(raw)
    assert before == sorted(balances(tmp_path / "v1.sqlite3"))

    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir()
    engine = open_ledger(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(select(schema.meta.c.value)).scalar() == str(schema.SCHEMA_VERSION)
        assert "expected_date" in {c["name"] for c in inspect(conn).get_columns("lines")}
        assert check_ledger(conn) == []
        supplier, sku = conn.execute(select(schema.items.c.default_supplier, schema.items.c.sku)
                                     .where(schema.items.c.default_supplier != "").limit(1)).one()
    assert pg_balances(raw) == before
    make_form(settings.inbox / "po.xlsx", "purchase_order", {"doc_no": "CG-NEW", "doc_date": D, "supplier": supplier},
              [{"sku": sku, "qty": 10, "unit_price": "9.5"}])
    assert [o.status for o in run_inbox(settings, engine=engine)] == ["posted"]
    with engine.connect() as conn:
        assert check_ledger(conn) == []
    engine.dispose()
    raw.dispose()


def test_a_ledger_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    engine = open_ledger(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="99"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="99"):
        open_ledger(f"sqlite:///{path}")
    result = jxc("status", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "upgrade jxc" in result.stderr


def test_a_version_1_backup_can_be_restored(tmp_path):
    jxc("init", "ws", cwd=tmp_path)
    old = v1_ledger(tmp_path / "old.sqlite3")
    jxc("restore", str(old), cwd=tmp_path / "ws")
    engine = open_ledger(f"sqlite:///{tmp_path / 'ws' / 'ledger.sqlite3'}")
    with engine.connect() as conn:
        assert check_ledger(conn) == []
        assert conn.execute(select(schema.balances.c.value)).scalars().first() > Decimal(0)
