"""`jxc migrate-ledger --to URL`, run as IT runs it: the demo's ledger goes from SQLite
to the real PostgreSQL server and from there into a new SQLite file, keeping every
balance and passing `jxc check` at each step; a target that holds anything is refused."""
from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import D, drop_master, jxc, make_form
from jxc_sheets.config import Config, Settings, default_config_text
from jxc_sheets.demo import write_demo_inbox
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.pipeline import run_inbox

DEMO_DATE = date(2026, 11, 25)


def demo_workspace(root: Path) -> Path:
    settings = Settings(Config(), root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True)
    (root / "config.yaml").write_text(default_config_text(), encoding="utf-8")
    write_demo_inbox(settings.inbox, DEMO_DATE)
    engine = open_ledger(settings.ledger_url)
    assert {o.status for o in run_inbox(settings, engine=engine)} == {"posted", "rejected"}
    engine.dispose()
    return root


def workspace_on(root: Path, url: str) -> Path:
    """A site whose config.yaml points `ledger.url` at `url`."""
    for name in ("inbox", "outbox", "archive", "rejected"):
        (root / name).mkdir(parents=True)
    config = default_config_text().replace("url: sqlite:///ledger.sqlite3", f'url: "{url}"')
    assert config != default_config_text()
    (root / "config.yaml").write_text(config, encoding="utf-8")
    return root


def ledger_state(url: str) -> tuple[list[tuple], dict[str, int]]:
    engine = open_ledger(url, create=False)
    try:
        with engine.connect() as conn:
            balances = sorted(tuple(r) for r in conn.execute(select(schema.balances)))
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                      for t in schema.metadata.sorted_tables
                      if t is not schema.meta}  # the version, and the point the last clean jxc check verified
    finally:
        engine.dispose()
    return balances, counts


@pytest.mark.slow
def test_the_demo_ledger_moves_to_postgresql_and_back_unchanged(tmp_path, postgres_url):
    here = demo_workspace(tmp_path / "sqlite")
    sqlite_url = f"sqlite:///{here / 'ledger.sqlite3'}"
    before = ledger_state(sqlite_url)
    assert len(before[0]) > 50 and before[1]["movements"] > 100

    migrated = jxc("migrate-ledger", "--to", postgres_url, cwd=here)
    out = migrated.stdout
    assert "jxc check clean on both sides" in out and f"{before[1]['movements']:>10} 行 rows" in out
    # each step said as it starts, on stderr (a big ledger takes minutes), the summary alone on
    # stdout; the demo's tables are all under 5,000 rows, each copied unannounced
    steps = [line.split("] ", 1)[1] for line in migrated.stderr.splitlines() if "] " in line]
    assert steps[0].startswith("检查源账本 / checking the source ledger") and steps[1].startswith("核对副本")
    assert steps[-1].startswith("更新统计信息 / updating the planner's statistics") and "copying" not in out
    on_pg = workspace_on(tmp_path / "pg", postgres_url)
    assert "consistent" in jxc("check", cwd=on_pg).stdout
    assert ledger_state(postgres_url) == before

    # The copied ids are behind PostgreSQL's sequences: the next posting continues after them.
    drop_master(on_pg / "inbox")
    make_form(on_pg / "inbox" / "receipt.xlsx", "receipt", {"doc_no": "CG-AFTER", "doc_date": D, "warehouse": "WH1",
                                                          "supplier": "S01"}, [{"sku": "A001", "qty": 5, "unit_cost": 23}])
    assert "receipt.xlsx" in jxc("run", cwd=on_pg).stdout
    assert "consistent" in jxc("check", cwd=on_pg).stdout
    after = ledger_state(postgres_url)
    assert after[1]["documents"] == before[1]["documents"] + 1

    back = tmp_path / "back" / "ledger.sqlite3"
    jxc("migrate-ledger", "--to", f"sqlite:///{back}", cwd=on_pg)
    assert "consistent" in jxc("check", cwd=workspace_on(tmp_path / "back", f"sqlite:///{back}")).stdout
    assert ledger_state(f"sqlite:///{back}") == after


def small_workspace(root: Path) -> Path:
    """Master data and one opening document, posted."""
    settings = workspace_on(root, "sqlite:///ledger.sqlite3")
    drop_master(settings / "inbox")
    make_form(settings / "inbox" / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": D},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20}])
    engine = open_ledger(f"sqlite:///{root / 'ledger.sqlite3'}")
    assert {o.status for o in run_inbox(Settings(Config(), root), engine=engine)} == {"posted"}
    engine.dispose()
    return root


def test_a_target_that_holds_anything_is_refused_and_left_as_it_was(tmp_path):
    source = small_workspace(tmp_path / "source")
    target = small_workspace(tmp_path / "target") / "ledger.sqlite3"
    before = ledger_state(f"sqlite:///{target}")

    result = jxc("migrate-ledger", "--to", f"sqlite:///{target}", cwd=source, check=False)

    assert result.returncode == 2 and "target database is not empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "files (5)" in result.stderr
    assert ledger_state(f"sqlite:///{target}") == before


def test_a_source_that_fails_jxc_check_is_not_copied(tmp_path):
    source = small_workspace(tmp_path / "source")
    with sqlite3.connect(source / "ledger.sqlite3") as conn:
        conn.execute("update balances set qty = qty + 10000")
    target = tmp_path / "new.sqlite3"

    result = jxc("migrate-ledger", "--to", f"sqlite:///{target}", cwd=source, check=False)

    assert result.returncode == 2 and "fails jxc check" in result.stderr and "A001 @ WH1" in result.stderr
    assert ledger_state(f"sqlite:///{target}")[1]["documents"] == 0
