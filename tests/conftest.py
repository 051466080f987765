"""Shared fixtures: workspaces on real folders and real SQLite files, and
workbooks built cell by cell as staff (or their spreadsheet programs) save them."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

import openpyxl
import pytest

from jxc_sheets import clock, kinds
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.sheets.forms import form_layout

TEST_NOW = datetime.fromisoformat(os.environ.get("JXC_TEST_NOW", "2026-11-20T10:00:00"))
"""Today for every test and every `jxc` they start: never the real date. `.ci/run` runs
the tests marked `clock` again at a month's end, a month's start and a year's end."""
os.environ.update(clock.pinned(TEST_NOW))


@pytest.fixture(autouse=True)
def clock_at_test_now():
    """Every test starts at TEST_NOW, however long the tests before it ran: a module that fixed
    its "today" at import still agrees with the clock, even when TEST_NOW is a minute to midnight."""
    os.environ.update(clock.pinned(TEST_NOW))


def make_form(path: Path, kind: str, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
              *, meta: bool = True, first_row: int = 3) -> Path:
    """A stock form laid out as templates/ lays it out (sheets/forms.form_layout), filled
    as a user would; `first_row` moves the header block (and the table with it)."""
    k = kinds.KINDS[kind]
    layout = form_layout(k)
    shift = first_row - 3
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细"
    ws["A1"] = f"{k.zh}单 {k.name}"
    for f in k.header:
        value_cell = ws[layout.header_cells[f.key]]
        row = value_cell.row + shift
        ws.cell(row, value_cell.column - 1, f.label)
        if f.key in header:
            ws.cell(row, value_cell.column, header[f.key])
    table = layout.table_row + shift
    for j, f in enumerate(k.lines, start=1):
        ws.cell(table, j, f.label)
    for i, line in enumerate(lines, start=1):
        for j, f in enumerate(k.lines, start=1):
            if f.key in line:
                ws.cell(table + i, j, line[f.key])
    if meta:
        _meta(wb, kind, "form")
    wb.save(path)
    return path


def make_table(path: Path, kind: str, rows: Sequence[Mapping[str, Any]], *, columns: Sequence[str] | None = None,
               meta: bool = True, layout: str = "table") -> Path:
    """A plain table: master data, or the batch layout of a stock kind."""
    k = kinds.KINDS[kind]
    fields = {f.key: f for f in (*k.lines, *k.header)}
    keys = list(columns or [f.key for f in k.lines])
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细"
    for j, key in enumerate(keys, start=1):
        ws.cell(1, j, fields[key].label if key in fields else key)
    for i, row in enumerate(rows, start=2):
        for j, key in enumerate(keys, start=1):
            if key in row:
                ws.cell(i, j, row[key])
    if meta:
        _meta(wb, kind, layout)
    wb.save(path)
    return path


def _meta(wb, kind: str, layout: str) -> None:
    meta = wb.create_sheet("_meta")
    meta.append(["kind", kind])
    meta.append(["version", kinds.FORM_VERSION])
    meta.append(["layout", layout])
    meta.sheet_state = "hidden"


WAREHOUSES = [
    {"code": "WH1", "name": "上海总仓", "site": "上海"},
    {"code": "WH2", "name": "苏州仓", "site": "苏州"},
]
SUPPLIERS = [{"code": "S01", "name": "华东纸业"}]
CUSTOMERS = [{"code": "C01", "name": "宏达商贸"}]
ITEMS = [
    {"sku": "A001", "name": "A4 复印纸", "unit": "包", "alt_units": "箱=5", "category": "办公", "safety_stock": 20, "std_cost": 20},
    {"sku": "B002", "name": "签字笔", "unit": "支", "alt_units": "盒=12", "category": "办公", "safety_stock": 100},
    {"sku": "00123", "name": "订书钉", "unit": "盒", "category": "办公"},
    {"sku": "OLD1", "name": "旧款文件夹", "unit": "个", "active": "N"},
]


@pytest.fixture
def workspace(tmp_path: Path) -> Settings:
    settings = Settings(Config(), tmp_path)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    return settings


@pytest.fixture
def engine(workspace: Settings):
    return open_ledger(workspace.ledger_url)


def drop_master(inbox: Path) -> None:
    make_table(inbox / "warehouses.xlsx", "warehouses", WAREHOUSES)
    make_table(inbox / "suppliers.xlsx", "suppliers", SUPPLIERS)
    make_table(inbox / "customers.xlsx", "customers", CUSTOMERS)
    make_table(inbox / "items.xlsx", "items", ITEMS)


def jxc(*args: str, cwd: Path, check: bool = True, answer: str | None = None) -> subprocess.CompletedProcess:
    """The real command, as a subprocess; `answer` is typed when it asks (else its stdin is closed)."""
    result = subprocess.run([sys.executable, "-m", "jxc_sheets", *args], cwd=cwd, capture_output=True,
                            text=True, encoding="utf-8", timeout=300,
                            **({"input": answer} if answer is not None else {"stdin": subprocess.DEVNULL}))
    if check and result.returncode != 0:
        raise AssertionError(f"jxc {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


D = date(2026, 11, 3)


PG_SERVER = os.environ.get("JXC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""The PostgreSQL server of the tests. Without one they skip, except under CI=true, where a
missing server fails them."""


def pg_admin():
    """An engine on `PG_SERVER`, or the test skipped (failed under CI=true) when it is not there."""
    import sqlalchemy

    admin = sqlalchemy.create_engine(PG_SERVER)
    try:
        with admin.connect():
            pass
    except sqlalchemy.exc.OperationalError:
        admin.dispose()
        message = f"no PostgreSQL at {PG_SERVER}: start one, or set JXC_TEST_PG_URL to a server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return admin


@contextmanager
def pg_schema():
    """A new, empty schema of its own on the server, dropped on leaving; yields its name."""
    admin = pg_admin()
    name = f"jxc_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def pg_url(schema_name: str) -> str:
    """`ledger.url` naming a schema: it comes in through the search_path option."""
    return f"{PG_SERVER}?options=-csearch_path%3D{schema_name}"


@pytest.fixture
def postgres_url():
    """The URL of a new, empty schema of its own on the PostgreSQL server (dropped afterwards)."""
    with pg_schema() as name:
        yield pg_url(name)


class RunningWatcher:
    """A real Watcher on a thread of this test process, stopped on leaving the block."""

    def __init__(self, settings: Settings):
        from jxc_sheets.watch import Watcher

        self.lines: list[str] = []
        self.watcher = Watcher(settings, out=self.lines.append)
        self.thread = threading.Thread(target=self.watcher.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.watcher.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def wait_until(condition, timeout: float = 60, step: float = 0.2) -> None:
    """Polls `condition` until it holds; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError("timed out waiting")


def run_files(settings: Settings, engine) -> dict:
    """One `jxc run` of the inbox, in process: each file's outcome by its name."""
    from jxc_sheets.pipeline import run_inbox

    return {o.file: o for o in run_inbox(settings, engine=engine)}
