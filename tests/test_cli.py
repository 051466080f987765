"""The `jxc` command run as a subprocess, as IT and cron run it."""
from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from conftest import D, drop_master, jxc, make_form


@pytest.mark.slow
def test_init_run_check_reverse_backup(tmp_path):
    root = tmp_path / "ws"
    out = jxc("init", str(root), cwd=tmp_path).stdout
    assert "workspace created" in out
    for name in ("config.yaml", "inbox", "outbox", "archive", "rejected", "templates", "ledger.sqlite3"):
        assert (root / name).exists(), name
    assert (root / "templates" / "receipt.xlsx").exists()

    drop_master(root / "inbox")
    make_form(root / "inbox" / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 31)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20}])
    make_form(root / "inbox" / "receipt.xlsx", "receipt",
              {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1", "supplier": "S01"},
              [{"sku": "A001", "qty": 5, "unit_cost": 23}])
    result = jxc("run", "--json", cwd=root)
    outcomes = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["file"], o["status"]) for o in outcomes][-2:] == [("opening.xlsx", "posted"), ("receipt.xlsx", "posted")]

    assert "consistent" in jxc("check", cwd=root).stdout
    assert "CG-1-R" in jxc("reverse", "CG-1", "--date", "2026-11-04", cwd=root).stdout
    again = jxc("reverse", "CG-1", cwd=root, check=False)
    assert again.returncode == 2 and "already been reversed" in again.stderr and len(again.stderr.splitlines()) == 1

    backup = jxc("backup", str(tmp_path / "backups"), cwd=root).stdout
    [copy] = (tmp_path / "backups").iterdir()
    assert str(copy.name) in backup
    with sqlite3.connect(copy) as conn:
        assert conn.execute("select qty from balances where sku='A001'").fetchone()[0] == 10 * 10_000


def _workspace_with_an_opening(tmp_path: Path) -> Path:
    """A workspace whose ledger holds the master data and an opening of A001 10 @ 20 in WH1."""
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    make_form(root / "inbox" / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": D},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20}])
    jxc("run", "--quiet", cwd=root)
    return root


@pytest.mark.slow
def test_check_exits_1_when_the_ledger_was_tampered_with(tmp_path):
    root = _workspace_with_an_opening(tmp_path)
    with sqlite3.connect(root / "ledger.sqlite3") as conn:
        conn.execute("update balances set qty = qty + 10000")
    result = jxc("check", cwd=root, check=False)
    assert result.returncode == 1
    assert "A001 @ WH1" in result.stdout


@pytest.mark.slow
def test_the_routine_check_walks_on_from_the_point_the_last_clean_check_recorded(tmp_path):
    root = _workspace_with_an_opening(tmp_path)
    first = jxc("check", "--since", "LAST", cwd=root).stdout  # nothing recorded yet: the full check, recorded
    assert "running the full check" in first and "the ledger is consistent" in first
    make_form(root / "inbox" / "receipt.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1",
                                                           "supplier": "S01"}, [{"sku": "A001", "qty": 5, "unit_cost": 23}])
    jxc("run", "--quiet", cwd=root)
    with sqlite3.connect(root / "ledger.sqlite3") as conn:
        opening = conn.execute("select id from documents where doc_no = 'QC-1'").fetchone()[0]
    routine = jxc("check", "--since", "LAST", cwd=root).stdout
    assert "from the last check's point on" in routine and f"document #{opening})" in routine
    with sqlite3.connect(root / "ledger.sqlite3") as conn:  # the point now: a quiet edit of its document is found
        conn.execute("update documents set partner = 'S99' where doc_no = 'CG-1'")
    broken = jxc("check", "--since", "LAST", cwd=root, check=False)
    assert broken.returncode == 1 and broken.stdout.startswith("receipt CG-1: ")
    with sqlite3.connect(root / "ledger.sqlite3") as conn:  # the point no longer as recorded
        conn.execute("update documents set partner = 'S01' where doc_no = 'CG-1'")
        conn.execute("update documents set chain_hash = upper(chain_hash) where doc_no = 'CG-1'")
    gone = jxc("check", "--since", "LAST", cwd=root, check=False)
    assert gone.returncode == 1 and "run the full jxc check" in gone.stdout


def test_run_on_an_empty_inbox_with_no_config_uses_the_embedded_default(tmp_path):
    (tmp_path / "inbox").mkdir()
    result = jxc("run", cwd=tmp_path)
    assert "nothing waiting" in result.stdout
    assert (tmp_path / "ledger.sqlite3").exists()


@pytest.mark.slow
def test_bad_usage_and_bad_config_exit_2_with_one_line(tmp_path):
    missing = jxc("--config", str(tmp_path / "nope.yaml"), "run", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    (tmp_path / "config.yaml").write_text("stock:\n  allow_negativ_stock: true\n", encoding="utf-8")
    bad = jxc("run", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "allow_negativ_stock" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    unknown = jxc("frobnicate", cwd=tmp_path, check=False)
    assert unknown.returncode == 2


def test_every_command_has_help_with_an_example(tmp_path):
    for command in ("init", "templates", "watch", "run", "report", "status", "reverse", "check", "backup", "restore", "demo"):
        out = jxc(command, "--help", cwd=tmp_path).stdout
        assert "example:" in out and "jxc " + command in out.split("example:")[1]


@pytest.mark.slow
def test_status_lists_what_waits_and_what_failed(tmp_path):
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    (root / "inbox" / "broken.xlsx").write_bytes(b"not a zip")
    jxc("run", cwd=root)
    make_form(root / "inbox" / "waiting.xlsx", "receipt", {}, [])
    info = json.loads(jxc("status", "--json", cwd=root).stdout)
    assert info["waiting"] == ["waiting.xlsx"]
    assert info["last_failed"]["name"] == "broken.xlsx"
    assert "file-unreadable" in info["last_failed"]["first_problems"]


@pytest.mark.slow
def test_a_costing_method_set_in_config_applies_from_the_next_month_and_status_says_so(tmp_path):
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    make_form(root / "inbox" / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 31)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20}])
    jxc("run", cwd=root)
    config = root / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("method: moving_average", "method: fifo", 1),
                      encoding="utf-8")
    make_form(root / "inbox" / "receipt.xlsx", "receipt",
              {"doc_no": "CG-1", "doc_date": D, "warehouse": "WH1", "supplier": "S01"},
              [{"sku": "A001", "qty": 5, "unit_cost": 23}])
    jxc("run", cwd=root)
    out = jxc("status", cwd=root).stdout
    assert "成本计价 costing: fifo  (all → fifo from 2026-11)" in out, out
