"""The watcher with real observers on real folders, and `jxc watch` as real processes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from conftest import D, RunningWatcher, drop_master, jxc, make_form, wait_until
from jxc_sheets import inbox
from jxc_sheets.config import Config, InboxConfig, Settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.pipeline import process_batch, run_inbox
from jxc_sheets.watch import ReportRefresher, Watcher, _Hint, watch_folder

FAST = InboxConfig(stable_seconds=0.5, poll_interval=0.3, rescan_seconds=2, retry_seconds=0.2, lease_seconds=30)


def _settings(root: Path, **inbox_settings) -> Settings:
    config = Config(inbox=FAST.model_copy(update=inbox_settings))
    settings = Settings(config, root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True, exist_ok=True)
    return settings


def _receipt(path: Path, n: int) -> Path:
    return make_form(path, "receipt", {"doc_no": f"CG-{n:04d}", "doc_date": D, "warehouse": "WH1", "supplier": "S01"},
                     [{"sku": "A001", "qty": 1, "unit_cost": "2.50"}])


def _status(settings: Settings) -> dict:
    path = settings.outbox / "status.json"
    return json.loads(path.read_text(encoding="utf-8"))["instances"][0] if path.exists() else {}


def _archived(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.archive.rglob("*.xlsx"))


def _documents(settings: Settings) -> list[str]:
    with open_ledger(settings.ledger_url).connect() as conn:
        return [r.doc_no for r in conn.execute(select(schema.documents.c.doc_no))]


# --- finished files only ------------------------------------------------------------

def test_a_file_is_ready_only_once_it_stopped_changing_and_is_unlocked_and_complete(tmp_path):
    settling = inbox.Settling(stable_seconds=1.0, grace_seconds=10.0)
    book = _receipt(tmp_path / "r.xlsx", 1)
    data = book.read_bytes()
    book.write_bytes(data[: len(data) // 2])  # half copied

    ready, waiting = settling.ready(inbox.listing(tmp_path), now=100.0)
    assert (ready, waiting) == ([], 1)
    assert settling.ready(inbox.listing(tmp_path), now=102.0)[0] == []  # stable, but no zip directory yet

    book.write_bytes(data)
    os.utime(book, ns=(1, 1))  # whatever the clock, a change of size restarts the wait
    assert settling.ready(inbox.listing(tmp_path), now=103.0)[0] == []
    assert settling.ready(inbox.listing(tmp_path), now=104.5)[0] == [book]

    (tmp_path / "~$r.xlsx").write_bytes(b"owner")  # Excel has it open again
    assert settling.ready(inbox.listing(tmp_path), now=110.0)[0] == []


def test_a_stable_file_that_never_becomes_a_workbook_is_let_through_after_the_grace(tmp_path):
    settling = inbox.Settling(stable_seconds=1.0, grace_seconds=5.0)
    junk = tmp_path / "export.xlsx"
    junk.write_text("not a workbook", encoding="utf-8")
    assert settling.ready(inbox.listing(tmp_path), now=0.0)[0] == []
    assert settling.ready(inbox.listing(tmp_path), now=2.0)[0] == []
    assert settling.ready(inbox.listing(tmp_path), now=6.0)[0] == [junk]


def test_lock_and_temp_files_are_never_ready(tmp_path):
    settling = inbox.Settling(stable_seconds=0, grace_seconds=0)
    for name in ("~$book.xlsx", ".~lock.book.xlsx#", "book.tmp", "x.part", "y.crdownload", ".hidden.xlsx", "~WRL0001.tmp",
                 "4F3A2B1C"):
        (tmp_path / name).write_bytes(b"x")
    assert settling.ready(inbox.listing(tmp_path), now=10.0) == ([], 0)


def test_the_observer_is_polling_on_a_network_mount_and_native_on_local_disk(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n//nas/share /mnt/my\\040share cifs rw 0 0\n"
                      "srv:/export /mnt/nfs nfs4 rw 0 0\n", encoding="utf-8")
    assert inbox.filesystem_type(Path("/mnt/my share/inbox"), mounts) == "cifs"
    assert inbox.filesystem_type(Path("/mnt/nfs/jxc/inbox"), mounts) == "nfs4"
    assert inbox.filesystem_type(Path("/home/jxc/inbox"), mounts) == "ext4"
    assert inbox.choose_observer("auto", tmp_path)[0] == "native"
    assert inbox.choose_observer("polling", tmp_path)[0] == "polling"


def test_the_stability_checks_reading_a_file_do_not_wake_the_watcher(tmp_path):
    """Opening a file to see whether it is finished must not wake the watcher, or it looks
    again at once, and opens it again. A recorder on the watcher's own watch gets the events
    its hint gets, in order: every event before the sentinel's creation came from the reads."""
    book = _receipt(tmp_path / "r.xlsx", 1)
    events, wake = [], threading.Event()
    recorder = type("Recorder", (FileSystemEventHandler,), {"on_any_event": lambda self, e: events.append(e)})()
    observer = Observer()
    observer.add_handler_for_watch(recorder, watch_folder(observer, tmp_path, wake))
    observer.start()
    try:
        for _ in range(3):
            assert inbox.can_open(book) and inbox.is_complete(book)
            inbox.Settling(0, 0).ready(inbox.listing(tmp_path), now=1.0)
        (tmp_path / "sentinel").touch()
        wait_until(lambda: any(e.src_path.endswith("sentinel") for e in events), timeout=10)
    finally:
        observer.stop()
        observer.join(5)
    before = events[:next(i for i, e in enumerate(events) if e.src_path.endswith("sentinel"))]
    assert [e for e in before if _Hint.wakes(e)] == []


# --- the watcher on a thread, real observers ------------------------------------------

@pytest.mark.clock
@pytest.mark.parametrize("observer", ["native", "polling"])
def test_the_watcher_takes_what_is_there_first_then_what_arrives(tmp_path, observer):
    settings = _settings(tmp_path, observer=observer)
    drop_master(settings.inbox)  # already there before the watcher starts
    with RunningWatcher(settings) as running:
        wait_until(lambda: len(_archived(settings)) == 4)
        _receipt(settings.inbox / "r1.xlsx", 1)
        wait_until(lambda: "r1.xlsx" in _archived(settings))
    assert running.watcher.kind == observer
    assert _documents(settings) == ["CG-0001"]
    status = json.loads((settings.outbox / "status.json").read_text(encoding="utf-8"))
    [me] = status["instances"]
    assert me["observer"] == observer and me["stopped_at"] and me["processed_today"]["posted"] == 5
    dashboard = (settings.outbox / "index.html").read_text(encoding="utf-8")
    assert "服务状态" in dashboard and "已停止 stopped" in dashboard


@pytest.mark.slow
def test_a_slow_copy_is_taken_only_when_complete(tmp_path):
    settings = _settings(tmp_path, stable_seconds=1.0)
    drop_master(settings.inbox)
    run_inbox(settings)
    data = _receipt(tmp_path / "slow.xlsx", 7).read_bytes()
    target = settings.inbox / "slow.xlsx"
    with RunningWatcher(settings):
        with open(target, "wb") as f:  # a slow link: 8 chunks over about 3 seconds
            step = len(data) // 8 + 1
            for i in range(0, len(data), step):
                f.write(data[i:i + step])
                f.flush()
                time.sleep(0.4)
        wait_until(lambda: "slow.xlsx" in _archived(settings))
    assert list(settings.rejected.iterdir()) == []
    assert _documents(settings) == ["CG-0007"]


@pytest.mark.slow
def test_a_share_that_goes_away_is_waited_for_not_taken_as_empty(tmp_path):
    settings = _settings(tmp_path, observer="polling")
    drop_master(settings.inbox)
    run_inbox(settings)
    with RunningWatcher(settings) as running:
        time.sleep(1)
        away = tmp_path / "inbox-away"
        settings.inbox.rename(away)  # the share drops
        wait_until(lambda: _status(settings)["inbox_available"] is False)
        assert "unavailable" in _status(settings)["last_error"]
        away.rename(settings.inbox)  # and comes back
        wait_until(lambda: running.watcher.health.inbox_available)
        _receipt(settings.inbox / "after.xlsx", 9)
        wait_until(lambda: "after.xlsx" in _archived(settings))
    assert any("unavailable" in line for line in running.lines)
    assert any("available again" in line for line in running.lines)


def test_a_system_failure_is_retried_then_rejected(tmp_path):
    settings = _settings(tmp_path, max_attempts=2)
    drop_master(settings.inbox)
    run_inbox(settings)
    _receipt(settings.inbox / "r.xlsx", 3)
    engine = open_ledger(settings.ledger_url)
    with engine.begin() as conn:  # the ledger refuses every write to documents: a system failure
        conn.exec_driver_sql("CREATE TRIGGER no_docs BEFORE INSERT ON documents BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with RunningWatcher(settings) as running:
        wait_until(lambda: (settings.rejected / "r.xlsx").exists())
    assert any("重试" in line or "retry" in line for line in running.lines)
    assert (settings.rejected / "r.errors.xlsx").exists()
    with engine.connect() as conn:
        row = conn.execute(select(schema.files.c.status, schema.files.c.first_problems)
                           .where(schema.files.c.name == "r.xlsx")).one()
    assert row.status == "failed" and "disk trouble" in row.first_problems


# --- `jxc watch` as real processes ----------------------------------------------------

def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    config = root / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("stable_seconds: 3", "stable_seconds: 0.5")
                      .replace("rescan_seconds: 60", "rescan_seconds: 2"), encoding="utf-8")
    drop_master(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    return root


def _drop_receipts(root: Path, numbers: range) -> None:
    """Written elsewhere, then renamed in: each file arrives whole, as a save does."""
    staging = root / "staging"
    staging.mkdir(exist_ok=True)
    for n in numbers:
        _receipt(staging / f"r{n:04d}.xlsx", n)
    for n in numbers:
        (staging / f"r{n:04d}.xlsx").rename(root / "inbox" / f"r{n:04d}.xlsx")


def _watch(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jxc_sheets", "watch"], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8")


def _done(root: Path, expected: int) -> bool:
    work = root / "inbox" / inbox.WORK
    left = [p for p in (root / "inbox").iterdir() if p.is_file() and inbox.is_candidate(p)]
    claimed = list(work.iterdir()) if work.is_dir() else []
    finished = len(list((root / "archive").rglob("r*.xlsx"))) + len(list((root / "rejected").glob("r*.xlsx")))
    return not left and not claimed and finished >= expected


def _ledger_documents(root: Path) -> list[str]:
    s = Settings(Config(), root)
    with open_ledger(s.ledger_url).connect() as conn:
        return [r.doc_no for r in conn.execute(select(schema.documents.c.doc_no).where(schema.documents.c.kind == "receipt"))]


@pytest.mark.slow
def test_jxc_watch_works_through_200_files_and_stops_cleanly_on_sigterm(tmp_path):
    root = _workspace(tmp_path)
    watcher = _watch(root)
    try:
        _drop_receipts(root, range(200))
        wait_until(lambda: _done(root, 200), timeout=240, step=0.5)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, out
    assert "stopped" in out
    assert sorted(_ledger_documents(root)) == [f"CG-{n:04d}" for n in range(200)]
    assert "consistent" in jxc("check", cwd=root).stdout


@pytest.mark.slow
@pytest.mark.parametrize("instances", [2, 3])
def test_watchers_side_by_side_on_one_inbox_post_every_document_exactly_once(tmp_path, instances):
    root = _workspace(tmp_path)
    watchers = [_watch(root) for _ in range(instances)]
    try:
        _drop_receipts(root, range(300))
        wait_until(lambda: _done(root, 300), timeout=300, step=0.5)
    finally:
        for w in watchers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=60)[0] for w in watchers]
    documents = _ledger_documents(root)
    assert sorted(documents) == [f"CG-{n:04d}" for n in range(300)]  # each once: no duplicate, none missing
    assert len(list((root / "archive").rglob("r*.xlsx"))) == 300
    assert sum(out.count("已过账 posted") for out in outputs) == 300
    assert sum(1 for out in outputs if "已过账 posted" in out) >= 2  # the work really was shared
    assert "consistent" in jxc("check", cwd=root).stdout


@pytest.mark.slow
def test_a_watcher_killed_mid_batch_leaves_nothing_lost_or_posted_twice(tmp_path):
    root = _workspace(tmp_path)
    first = _watch(root)
    _drop_receipts(root, range(150))
    wait_until(lambda: len(list((root / "archive").rglob("r*.xlsx"))) >= 20, timeout=120, step=0.05)
    first.kill()  # SIGKILL: no chance to tidy up
    first.communicate(timeout=30)
    assert list((root / "inbox" / inbox.WORK).iterdir())  # it died holding claimed files
    second = _watch(root)
    try:
        wait_until(lambda: _done(root, 150), timeout=240, step=0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
    assert sorted(_ledger_documents(root)) == [f"CG-{n:04d}" for n in range(150)]
    assert "consistent" in jxc("check", cwd=root).stdout


def test_a_file_whose_rename_is_refused_is_left_for_later(tmp_path):
    """A sharing violation on a Windows share refuses the rename; here a directory in the
    way refuses it, which even root cannot get past."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    book = _receipt(folder / "held.xlsx", 5)
    (folder / inbox.WORK / f"{socket.gethostname()}~{os.getpid()}~held.xlsx" / "x").mkdir(parents=True)
    assert inbox.claim(book, folder) is None
    assert book.exists()


def test_in_a_terminal_each_answer_scrolls_by_above_a_status_line(tmp_path):
    import io

    from rich.console import Console

    from jxc_sheets.watch import LiveConsole

    settings = _settings(tmp_path)
    drop_master(settings.inbox)
    screen = io.StringIO()
    view = LiveConsole(Console(file=screen, force_terminal=True, width=200))
    watcher = Watcher(settings, out=view)
    thread = threading.Thread(target=view.run, args=(watcher,), daemon=True)
    thread.start()
    wait_until(lambda: len(_archived(settings)) == 4)
    wait_until(lambda: "监视中 watching" in screen.getvalue(), timeout=10)
    watcher.stop()
    thread.join(timeout=30)
    shown = screen.getvalue()
    assert "items.xlsx" in shown and "已过账 posted" in shown


# --- reports on their own thread ---------------------------------------------------------

def test_report_requests_made_while_one_runs_merge_into_one_more_refresh(workspace, engine):
    drop_master(workspace.inbox)
    make_form(workspace.inbox / "october.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 31)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 20}])
    make_form(workspace.inbox / "november.xlsx", "receipt", {"doc_no": "R-1", "doc_date": D, "warehouse": "WH1",
                                                              "supplier": "S01"}, [{"sku": "A001", "qty": 5, "unit_cost": 20}])
    held = []
    outcomes = process_batch(sorted(workspace.inbox.iterdir()), workspace, engine, refresh=held.extend)
    assert {o.status for o in outcomes} == {"posted"} and not (workspace.outbox / "stock.xlsx").exists()

    errors = []
    refresher = ReportRefresher(engine, workspace, errors.append)
    for outcome in outcomes:  # one request per file, as fast as they come
        refresher.request([outcome])
    assert refresher.wait_idle(timeout=120)
    assert (workspace.outbox / "stock.xlsx").exists()
    assert sorted(p.name for p in (workspace.outbox / "ledger").iterdir()) == ["2026-10.xlsx", "2026-11.xlsx"]
    refresher.close()
    assert not refresher._thread.is_alive() and errors == []
