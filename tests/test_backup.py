"""Durability: the SQLite ledger stays on local disk, backups rotate, and a restore
only brings back a ledger that passes the check."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import D, drop_master, jxc, make_form
from jxc_sheets.health import Health, write_status
from jxc_sheets.ledger.backup import BackupError, verify
from jxc_sheets.ledger.db import LedgerLocationError, refuse_network_filesystem
from jxc_sheets.pipeline import run_inbox
from jxc_sheets.workspace import backup, restore


def test_the_sqlite_ledger_refuses_a_network_filesystem(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n//nas/jxc /mnt/nas cifs rw 0 0\n", encoding="utf-8")
    refuse_network_filesystem(Path("/srv/jxc"), mounts)  # local disk: fine
    with pytest.raises(LedgerLocationError, match=r"network filesystem \(cifs\).*PostgreSQL"):
        refuse_network_filesystem(Path("/mnt/nas/jxc"), mounts)


def _posted(workspace, n: int) -> None:
    make_form(workspace.inbox / f"r{n}.xlsx", "receipt",
              {"doc_no": f"CG-{n}", "doc_date": D, "warehouse": "WH1", "supplier": "S01"},
              [{"sku": "A001", "qty": 10, "unit_cost": 2}])
    assert [o.status for o in run_inbox(workspace)] == ["posted"]


def _a001(workspace) -> int:
    with sqlite3.connect(workspace.root / "ledger.sqlite3") as conn:
        return conn.execute("select qty from balances where sku = 'A001'").fetchone()[0] // 10_000


def test_backups_are_dated_sound_and_rotated(workspace):
    workspace.config = workspace.config.model_copy(update={"backup": workspace.config.backup.model_copy(update={"keep": 2})})
    drop_master(workspace.inbox)
    run_inbox(workspace)
    made = [backup(workspace) for _ in range(3)]
    kept = sorted(workspace.backups.iterdir())
    assert len(kept) == 2 and made[-1] in kept
    assert verify(made[-1]) == []


def test_restore_brings_a_sound_backup_back_and_keeps_the_ledger_it_replaces(workspace):
    drop_master(workspace.inbox)
    run_inbox(workspace)
    _posted(workspace, 1)
    saved = backup(workspace, workspace.root / "copy.sqlite3")
    _posted(workspace, 2)
    assert _a001(workspace) == 20

    kept = restore(workspace, saved)

    assert _a001(workspace) == 10
    assert verify(workspace.root / "ledger.sqlite3") == []  # the live ledger passes jxc check
    assert kept.parent == workspace.backups and verify(kept) == []


def test_a_tampered_backup_is_refused_and_the_ledger_left_alone(workspace):
    drop_master(workspace.inbox)
    run_inbox(workspace)
    _posted(workspace, 1)
    saved = backup(workspace, workspace.root / "copy.sqlite3")
    with sqlite3.connect(saved) as conn:
        conn.execute("update balances set qty = qty + 10000")
    with pytest.raises(BackupError, match="fails the check"):
        restore(workspace, saved)
    assert _a001(workspace) == 10


def test_restore_waits_for_the_watcher_to_stop(workspace):
    drop_master(workspace.inbox)
    run_inbox(workspace)
    saved = backup(workspace, workspace.root / "copy.sqlite3")
    write_status(workspace.outbox, Health(last_scan="2026-11-25T10:00:00"))  # this very process, running
    with pytest.raises(BackupError, match="stop jxc watch first"):
        restore(workspace, saved)


@pytest.mark.slow
def test_backup_and_restore_from_the_command_line(tmp_path):
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    made = jxc("backup", cwd=root).stdout
    [copy] = (root / "backups").iterdir()
    assert copy.name in made
    assert "restored" in jxc("restore", str(copy), cwd=root).stdout
    refused = jxc("restore", str(root / "nope.sqlite3"), cwd=root, check=False)
    assert refused.returncode == 2 and "no such backup" in refused.stderr
