"""The inbox against what a shared folder really holds: names too long for the claim
prefix, symbolic links, rejected files fixed under another name — on real folders,
with `jxc run` as a subprocess where staff would use it."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import pytest
from sqlalchemy import select

from conftest import D, RunningWatcher, drop_master, jxc, make_form, run_files, wait_until
from jxc_sheets import inbox
from jxc_sheets.closing import Blocked, close_month
from jxc_sheets.closing import Blocked, close_month
from jxc_sheets.ledger import schema

LONG = "二〇二六年十一月上海总仓华东纸业采购入库单已核对数量与单价请财务审核" * 3  # 96 characters, 288 bytes


def _receipt(path: Path, doc_no: str = "CG-0001", sku: str = "A001", day: date = D) -> Path:
    return make_form(path, "receipt", {"doc_no": doc_no, "doc_date": day, "warehouse": "WH1", "supplier": "S01"},
                     [{"sku": sku, "qty": 2, "unit_cost": "2.50"}])


def _long_name(tail: str) -> str:
    """A name of 252–255 bytes: as many Chinese characters as fit before `tail`. Even the
    shortest claim prefix (`H~1~`) takes it past 255, so it is always claimed cut short,
    whatever the host's name and the process id (80 characters and `-1.xlsx` fitted beside
    a 2-letter host name and a 4-digit pid)."""
    name = LONG[:(255 - len(tail.encode())) // 3] + tail
    assert 252 <= len(name.encode()) <= 255
    return name


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    return root


def _files(root: Path) -> dict[str, tuple[str, str]]:
    from jxc_sheets.ledger.db import open_ledger

    engine = open_ledger(f"sqlite:///{root / 'ledger.sqlite3'}", create=False)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.files.c.name, schema.files.c.status, schema.files.c.first_problems))
        found = {r.name: (r.status, r.first_problems) for r in rows}
    engine.dispose()
    return found


def _names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


# --- long names ---------------------------------------------------------------------------

def test_a_long_chinese_name_is_claimed_cut_short_and_answered_under_its_own_name(tmp_path):
    root = _workspace(tmp_path)
    good, bad = _long_name("-好.xlsx"), _long_name("-坏.xlsx")
    _receipt(root / "inbox" / good, "CG-0001")
    _receipt(root / "inbox" / bad, "CG-0002", sku="NOPE")

    done = jxc("run", cwd=root)

    assert good in done.stdout and bad in done.stdout
    assert good in [p.name for p in (root / "archive").rglob("*.xlsx")]
    rejected = _names(root / "rejected")
    assert bad in rejected
    [errors] = [n for n in rejected if n != bad]  # its answer: the name cut to fit, never lost
    assert errors.endswith(".errors.xlsx") and errors.startswith(LONG[:70]) and len(errors.encode()) <= 255
    assert openpyxl.load_workbook(root / "rejected" / errors).sheetnames[0]  # a workbook that opens
    assert _files(root)[good][0] == "posted" and _files(root)[bad][0] == "rejected"
    assert [p for p in (root / "inbox").rglob("*") if p.is_file()] == []  # nothing left claimed


@pytest.mark.slow
def test_the_watcher_answers_a_long_name_instead_of_retrying_it_forever(workspace, engine):
    drop_master(workspace.inbox)
    run_files(workspace, engine)
    name = _long_name(".xlsx")
    with RunningWatcher(workspace) as running:
        _receipt(workspace.inbox / name)
        wait_until(lambda: any(p.name == name for p in workspace.archive.rglob("*.xlsx")), timeout=30)
    assert any(name in line and "posted" in line for line in running.lines)


def test_long_names_that_begin_alike_never_meet_in_work_and_go_back_under_their_own_names(workspace):
    first, second = _long_name("-1.xlsx"), _long_name("-2.xlsx")
    for name in (first, second):
        (workspace.inbox / name).write_bytes(name.encode())
    claims = [inbox.claim(workspace.inbox / name, workspace.inbox) for name in (first, second)]

    assert None not in claims and claims[0] != claims[1]
    assert [inbox.original_name(c) for c in claims] == [first, second]
    # the run dies holding them: the next one puts them back as they were dropped
    inbox.recover_abandoned(workspace.inbox, include_own=True)
    assert sorted(p.name for p in workspace.inbox.iterdir() if p.is_file()) == sorted([first, second])
    assert {(workspace.inbox / n).read_bytes() for n in (first, second)} == {first.encode(), second.encode()}
    assert list((workspace.inbox / inbox.WORK / inbox.NAMES).iterdir()) == []


def test_a_name_that_is_too_long_to_file_is_answered_not_retried(workspace, engine, monkeypatch):
    """Some shares hold shorter names than the inbox's disk (eCryptfs: 143 bytes): filing
    the answer fails with ENAMETOOLONG. That is the name's fault, not a passing failure:
    answered at once, under a name cut short, never given back to be tried again."""
    drop_master(workspace.inbox)
    run_files(workspace, engine)
    name = _long_name("-长长.xlsx")  # its answer, NAME.errors.xlsx, is longer than 255 bytes
    _receipt(workspace.inbox / name, sku="NOPE")
    monkeypatch.setattr(inbox, "name_max", lambda folder: 400 if folder == workspace.rejected else 255)

    [outcome] = run_files(workspace, engine).values()

    assert (outcome.status, [p.code for p in outcome.problems]) == ("rejected", ["file-name-too-long"])
    [filed] = [p for p in workspace.rejected.iterdir() if not p.name.endswith(".errors.xlsx")]
    assert len(filed.name.encode()) <= inbox.NAME_MAX // 2 and filed.name.startswith(LONG[:30])


# --- links --------------------------------------------------------------------------------

def test_links_in_the_inbox_are_refused_unread_and_never_filed(tmp_path):
    root = _workspace(tmp_path)
    outside = _receipt(tmp_path / "outside.xlsx")
    before = outside.read_bytes()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it would block: the run finishing proves nothing read through the link
    links = {"passwd.xlsx": Path("/etc/passwd"), "receipt.xlsx": outside, "pipe.xlsx": fifo,
             "gone.xlsx": tmp_path / "nothing-here.xlsx"}
    for name, target in links.items():
        (root / "inbox" / name).symlink_to(target)

    done = jxc("run", cwd=root)

    assert outside.read_bytes() == before and Path("/etc/passwd").exists()
    for folder in ("inbox", "archive", "rejected"):
        assert not [p for p in (root / folder).rglob("*") if p.is_symlink()], folder
    assert _names(root / "rejected") == sorted(f"{Path(n).stem}.errors.xlsx" for n in links)
    answer = openpyxl.load_workbook(root / "rejected" / "passwd.errors.xlsx").worksheets[0]
    assert "file-is-link" in str([c.value for row in answer.iter_rows() for c in row])
    files = _files(root)
    for name in links:
        assert files[name][0] == "rejected" and "[file-is-link]" in files[name][1], name
        assert name in done.stdout
    assert "/etc/passwd" in files["passwd.xlsx"][1] and "root:" not in files["passwd.xlsx"][1]


# --- rejected files put right ---------------------------------------------------------------

OCT = date(2026, 10, 15)


def test_a_rejected_file_fixed_under_a_new_name_is_resolved_and_the_month_closes(workspace, engine):
    drop_master(workspace.inbox)
    run_files(workspace, engine)
    _receipt(workspace.inbox / "r.xlsx", "CG-0009", sku="NOPE", day=OCT)
    assert run_files(workspace, engine)["r.xlsx"].status == "rejected"
    with pytest.raises(Blocked, match="r.xlsx"):
        close_month(engine, workspace, "2026-10", by="test")

    _receipt(workspace.inbox / "r-改好了.xlsx", "CG-0009", day=OCT)  # fixed, saved under another name
    outcome = run_files(workspace, engine)["r-改好了.xlsx"]

    assert outcome.status == "posted" and any("resolved/" in n and "r.xlsx" in n for n in outcome.notes)
    assert _names(workspace.rejected) == ["resolved/r.errors.xlsx", "resolved/r.xlsx"]
    with engine.connect() as conn:
        f = schema.files
        moved, = conn.execute(select(f.c.moved_to).where(f.c.name == "r.xlsx")).scalars()
        warnings, = conn.execute(select(f.c.warnings).where(f.c.name == "r-改好了.xlsx")).scalars()
    assert moved == "rejected/resolved/r.xlsx" and "r.xlsx" in warnings  # the log says where it went
    assert close_month(engine, workspace, "2026-10", by="test").forced is False


def test_a_red_marked_copy_fixed_and_dropped_again_resolves_its_original(workspace, engine):
    """The clerk opens rejected/x.errors.xlsx, fixes one cell, misses the other, drops it:
    rejected again, answered as `x (2).errors.xlsx`; fixed fully and dropped once more, it
    posts and both rejected tries are resolved. A later file of another document number
    under another name resolves nothing."""
    drop_master(workspace.inbox)
    run_files(workspace, engine)
    _receipt(workspace.rejected / "other.xlsx", "CG-0100", sku="NOPE", day=OCT).rename(workspace.inbox / "other.xlsx")
    _receipt(workspace.inbox / "x.xlsx", "CG-0007", sku="NOPE", day=OCT)
    run_files(workspace, engine)

    _receipt(workspace.inbox / "x.errors.xlsx", "CG-0007", sku="OLD1", day=OCT)  # an inactive item: still wrong
    assert run_files(workspace, engine)["x.errors.xlsx"].status == "rejected"
    assert _names(workspace.rejected) == ["other.errors.xlsx", "other.xlsx", "x (2).errors.xlsx", "x (2).xlsx",
                                          "x.errors.xlsx", "x.xlsx"]

    _receipt(workspace.inbox / "x.errors.xlsx", "CG-0007", day=OCT)
    assert run_files(workspace, engine)["x.errors.xlsx"].status == "posted"
    assert _names(workspace.rejected) == ["other.errors.xlsx", "other.xlsx", "resolved/x (2).errors.xlsx",
                                          "resolved/x (2).xlsx", "resolved/x.errors.xlsx", "resolved/x.xlsx"]
    with pytest.raises(Blocked, match="other.xlsx"):
        close_month(engine, workspace, "2026-10", by="test")


# --- a folder dropped into the inbox ------------------------------------------------------------

def test_a_folder_dropped_into_the_inbox_is_processed_and_answered_in_its_own_folders(tmp_path):
    """Department folders off: `inbox/11月/` is a clerk's month of forms, taken like the
    inbox's own; the answers come back in rejected/11月/ and archive/11月/. A folder inside
    it is left alone, and the log (here the run's stderr) says where to move its files."""
    root = _workspace(tmp_path)
    month = root / "inbox" / "11月"
    (month / "第一周").mkdir(parents=True)
    _receipt(month / "r1.xlsx", "CG-0011")
    _receipt(month / "r2.xlsx", "CG-0012", sku="NOPE")
    _receipt(month / "第一周" / "r3.xlsx", "CG-0013")

    done = jxc("run", cwd=root)

    assert "11月/r1.xlsx" in done.stdout and "11月/r2.xlsx" in done.stdout
    assert [p.relative_to(root / "archive").as_posix() for p in (root / "archive").rglob("r1.xlsx")] == \
        ["11月/2026-11/r1.xlsx"]
    assert _names(root / "rejected") == ["11月/r2.errors.xlsx", "11月/r2.xlsx"]
    assert _names(month) == ["第一周/r3.xlsx"]
    assert _files(root)["11月/r1.xlsx"][0] == "posted"
    assert "第一周" in done.stderr + done.stdout


@pytest.mark.slow
def test_the_watcher_takes_a_folder_made_while_it_runs(workspace, engine):
    drop_master(workspace.inbox)
    run_files(workspace, engine)
    with RunningWatcher(workspace) as running:
        staging = workspace.root / "staging"
        staging.mkdir()
        _receipt(staging / "r.xlsx")
        staging.rename(workspace.inbox / "十一月")  # a whole folder pasted in at once
        wait_until(lambda: (workspace.archive / "十一月").is_dir() and list((workspace.archive / "十一月").rglob("r.xlsx")),
                   timeout=30)
    assert any("十一月/r.xlsx" in line and "posted" in line for line in running.lines)
