"""Random SIGKILLs: `jxc run` and `jxc watch` killed at random moments over many runs,
restarted after each kill, leave a ledger that passes `jxc check`, every dropped file
in exactly one place, every good document posted exactly once — the same ledger, to
the cent, as the same files processed without a kill — and whole reports.

The plan (which files, which command, when to kill) comes from one seed, printed on
failure; JXC_SOAK_SEED=N replays the plan (the moments themselves depend on timing).
Each run kills 16 times (a new seed each run, so CI soaks on); JXC_SOAK_KILLS=N for a longer soak."""
from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from conftest import drop_master, jxc, make_form
from jxc_sheets import inbox
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.pipeline import run_inbox
from test_watch import _workspace

SEED = int(os.environ.get("JXC_SOAK_SEED") or random.randrange(1 << 32))
KILLS = int(os.environ.get("JXC_SOAK_KILLS") or 16)
OPENED, DAY = date(2026, 11, 1), date(2026, 11, 3)
# One cost per sku, whole quantities: every average stays exactly that cost, so the
# values do not depend on the order the files happen to be posted in after a kill.
COSTS = {"A001": Decimal("2.50"), "B002": Decimal("0.35"), "00123": Decimal("12.80")}
WAREHOUSES = ("WH1", "WH2")
SETUP = {"warehouses.xlsx", "suppliers.xlsx", "customers.xlsx", "items.xlsx", "opening.xlsx"}  # posted before the kills


@dataclass
class Plan:
    """Every file dropped, in the order of the cycles, and the documents that must post."""

    rng: random.Random
    cycles: list[list[tuple[str, bytes]]] = field(default_factory=list)
    good: set[tuple[str, str]] = field(default_factory=set)  # (kind, doc_no)
    good_files: list[bytes] = field(default_factory=list)

    def drop(self, files: list[tuple[str, bytes]], folder: Path) -> None:
        staging = folder.parent / "staging"
        staging.mkdir(exist_ok=True)
        for name, data in files:  # written elsewhere, then renamed in: each arrives whole
            (staging / name).write_bytes(data)
            (staging / name).rename(folder / name)

    @property
    def dropped(self) -> dict[str, bytes]:
        return {name: data for cycle in self.cycles for name, data in cycle}


def _book(path: Path, kind: str, header: dict, lines: list[dict]) -> bytes:
    return make_form(path, kind, {"doc_date": DAY, **header}, lines).read_bytes()


def _lines(rng: random.Random, n: int, most: int, cost: bool = False) -> list[dict]:
    lines = []
    for _ in range(n):
        sku = rng.choice(list(COSTS))
        line = {"sku": sku, "qty": rng.randint(1, most)}
        if cost:
            line["unit_cost"] = str(COSTS[sku])
        lines.append(line)
    return lines


def _cycle_files(plan: Plan, i: int, scratch: Path) -> list[tuple[str, bytes]]:
    """A few good documents, a bad file or two, now and then a big file, a second drop
    of an earlier file and a document number reused with other content."""
    rng, files = plan.rng, []

    def good(kind: str, doc_no: str, header: dict, lines: list[dict]) -> None:
        name = f"c{i:02d}-{len(files)}-{kind}.xlsx"
        data = _book(scratch / name, kind, {"doc_no": doc_no, **header}, lines)
        files.append((name, data))
        plan.good.add((kind, doc_no))
        plan.good_files.append(data)

    wh = rng.choice(WAREHOUSES)
    good("receipt", f"CG-{i:02d}", {"warehouse": wh, "supplier": "S01"}, _lines(rng, rng.randint(1, 4), 20, cost=True))
    good("delivery", f"XS-{i:02d}", {"warehouse": wh, "customer": "C01"}, _lines(rng, rng.randint(1, 3), 5))
    if rng.random() < 0.4:
        good("transfer", f"DB-{i:02d}", {"from_warehouse": wh, "to_warehouse": "WH2" if wh == "WH1" else "WH1"},
             _lines(rng, 2, 4))
    if rng.random() < 0.3:
        lines = [{**line, "qty": -line["qty"]} for line in _lines(rng, 1, 3)] + _lines(rng, 1, 3)
        good("adjustment", f"TZ-{i:02d}", {"warehouse": wh, "reason": "盘点"}, lines)
    if i % 8 == 0:  # a big file: its reading and posting take a while to kill into
        good("receipt", f"CG-BIG-{i:02d}", {"warehouse": "WH1", "supplier": "S01"}, _lines(rng, 1500, 9, cost=True))
    bad = rng.choice(["unknown-sku", "negative-qty", "garbage", "empty", "truncated"])
    name = f"c{i:02d}-{len(files)}-bad-{bad}.xlsx"
    if bad in ("unknown-sku", "negative-qty"):
        sku, qty = ("ZZZ9", 1) if bad == "unknown-sku" else ("A001", -2)
        data = _book(scratch / name, "receipt", {"doc_no": f"BAD-{i:02d}", "warehouse": "WH1", "supplier": "S01"},
                     [{"sku": sku, "qty": qty, "unit_cost": "1.00"}])
    else:
        whole = _book(scratch / name, "delivery", {"doc_no": f"BAD-{i:02d}", "warehouse": "WH1", "customer": "C01"},
                      [{"sku": "A001", "qty": 1}])
        data = {"garbage": b"this is no workbook\r\n", "empty": b"", "truncated": whole[: len(whole) // 2]}[bad]
    files.append((name, data))
    if rng.random() < 0.4:  # dropped again, same content: skipped
        files.append((f"c{i:02d}-{len(files)}-again.xlsx", rng.choice(plan.good_files)))
    if i > 0 and rng.random() < 0.3:  # an earlier receipt's number with other content: refused
        header = {"doc_no": f"CG-{rng.randrange(i):02d}", "warehouse": "WH1", "supplier": "S01"}
        data = _book(scratch / "conflict.xlsx", "receipt", header, [{"sku": "A001", "qty": 999, "unit_cost": "1.00"}])
        files.append((f"c{i:02d}-{len(files)}-conflict.xlsx", data))
    return files


def _opening(folder: Path) -> None:
    make_form(folder / "opening.xlsx", "opening", {"doc_no": "QC-1", "doc_date": OPENED},
              [{"warehouse": wh, "sku": sku, "qty": 1000, "unit_cost": str(cost)}
               for wh in WAREHOUSES for sku, cost in COSTS.items()])


# --- killing ------------------------------------------------------------------------

def _start(root: Path, command: str, temp: Path) -> subprocess.Popen:
    """`jxc run` or `jxc watch`, keeping its temporary files (a killed run leaves its local
    copies of the claimed files behind) inside the test's folder."""
    return subprocess.Popen([sys.executable, "-m", "jxc_sheets", command], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            env={**os.environ, "TMPDIR": str(temp)})


def _report_temps(root: Path) -> set[Path]:
    return set((root / "outbox").rglob(".*.tmp"))


def _held(root: Path, process: subprocess.Popen) -> list[Path]:
    """The files `process` has claimed (earlier runs may have left claims of their own)."""
    work = root / "inbox" / inbox.WORK
    mine = f"{inbox.CLAIM_SEPARATOR}{process.pid}{inbox.CLAIM_SEPARATOR}"
    return [p for p in work.iterdir() if mine in p.name] if work.is_dir() else []


def _kill_at_random(process: subprocess.Popen, root: Path, rng: random.Random) -> str:
    """Kills `process` after a random delay, or a random moment after it claimed files,
    or as it writes a report; returns what happened, for the failure message."""
    mode = rng.choice(["delay", "delay", "claimed", "report"])
    delay = rng.uniform(0.9, 2.4) if mode == "delay" else rng.uniform(0, 0.3) if mode == "claimed" else 0
    old_temps = _report_temps(root)
    sign = {"delay": lambda: True, "claimed": lambda: bool(_held(root, process)),
            "report": lambda: bool(_report_temps(root) - old_temps)}[mode]
    started = time.monotonic()
    while process.poll() is None and not sign() and time.monotonic() - started < 15:
        time.sleep(0.002)
    deadline = time.monotonic() + delay
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    finished = process.poll() is not None
    process.kill()
    process.communicate(timeout=30)
    held, temps = len(_held(root, process)), len(_report_temps(root) - old_temps)
    return (f"{mode}+{delay:.2f}s at {time.monotonic() - started:.2f}s: "
            + ("had finished" if finished else f"killed holding {held} files, {temps} reports half written"))


# --- where every file is ---------------------------------------------------------------

_COPY = re.compile(r"^(.*) \(\d+\)(\.[^.]*)$")
_ANNOTATED = re.compile(r"\.errors( \(\d+\))?\.xlsx$")


def _places(root: Path) -> dict[str, list[Path]]:
    """Each original file name → every place a file of that name is (`a (2).xlsx` is `a.xlsx`)."""
    found: dict[str, list[Path]] = {}
    work = root / "inbox" / inbox.WORK
    seen = [p for p in (root / "inbox").iterdir() if p.is_file() and inbox.is_candidate(p)]
    seen += list(work.iterdir()) if work.is_dir() else []
    seen += [p for p in (root / "archive").rglob("*") if p.is_file() and not p.name.startswith(".")]
    # hidden: the temporary file of an errors copy whose writing was killed
    seen += [p for p in (root / "rejected").iterdir() if not _ANNOTATED.search(p.name) and not p.name.startswith(".")
             and p.is_file()]
    resolved = root / "rejected" / "resolved"  # a rejected file a later posting resolved (same number or name)
    seen += [p for p in resolved.iterdir() if not _ANNOTATED.search(p.name)] if resolved.is_dir() else []
    for path in seen:
        name = inbox.original_name(path) if path.parent == work else path.name
        copy = _COPY.match(name)
        name = f"{copy[1]}{copy[2]}" if copy else name
        if name not in SETUP:
            found.setdefault(name, []).append(path)
    return found


def _assert_every_file_in_one_place(root: Path, plan: Plan, context: str, *, killed: bool = False) -> None:
    """Each dropped file is in exactly one place, untouched, and answered when rejected.
    Right after a kill, one twin is allowed: a claim in .work hard-linked to its place in
    archive/, rejected/ or the inbox, a move cut between its link and its unlink (the next
    run finishes it). It is the same file, not a copy, so it is judged by its place."""
    work = root / "inbox" / inbox.WORK
    places = _places(root)
    dropped = plan.dropped
    assert sorted(places) == sorted(dropped), context  # none lost, none from nowhere
    if killed:
        places = {name: _without_cut_move(paths, work) for name, paths in places.items()}
    twice = {name: [str(p.relative_to(root)) for p in paths] for name, paths in places.items() if len(paths) > 1}
    assert twice == {}, context
    changed = [name for name, [path] in places.items() if path.read_bytes() != dropped[name]]
    assert changed == [], context  # each untouched
    unanswered = [path.name for [path] in places.values() if path.parent == root / "rejected"
                  and not list(root.glob(f"rejected/{path.stem}.errors*.xlsx"))]
    assert unanswered == [], context  # a rejected file always has its annotated copy beside it


def _without_cut_move(paths: list[Path], work: Path) -> list[Path]:
    """`paths` less a claim in .work that is the very same file (one inode) as its other place."""
    if len(paths) != 2:
        return paths
    claims = [p for p in paths if p.parent == work]
    others = [p for p in paths if p.parent != work]
    if len(claims) == 1 and len(others) == 1 and claims[0].samefile(others[0]):
        return others
    return paths


def _assert_ledger_consistent(root: Path, context: str) -> None:
    engine = open_ledger(Settings(Config(), root).ledger_url)
    try:
        with engine.connect() as conn:
            assert check_ledger(conn) == [], context
    finally:
        engine.dispose()


def _assert_outbox_whole(root: Path, context: str) -> None:
    """Every report opens: a report is written under a hidden temporary name and renamed,
    so a kill leaves the old one or the new one, never half of one."""
    books = [p for p in (root / "outbox").rglob("*.xlsx") if not p.name.startswith(".")]
    assert books, context
    for book in books:
        openpyxl.load_workbook(book, read_only=True).close()
    assert (root / "outbox" / "index.html").read_text(encoding="utf-8").rstrip().endswith("</html>"), context
    status = root / "outbox" / "status.json"
    if status.exists():
        json.loads(status.read_text(encoding="utf-8"))


# --- the ledger, compared -------------------------------------------------------------

def _ledger(root: Path) -> tuple[list[tuple], dict[tuple[str, str], tuple], int]:
    """(kind, doc_no, content_hash) of each document, (qty, value) of each pair, and the number of movements."""
    engine = open_ledger(Settings(Config(), root).ledger_url)
    d, b, m = schema.documents, schema.balances, schema.movements
    try:
        with engine.connect() as conn:
            documents = sorted(tuple(r) for r in conn.execute(select(d.c.kind, d.c.doc_no, d.c.content_hash)))
            balances = {(r.sku, r.warehouse): (r.qty, r.value) for r in conn.execute(select(b))}
            movements = len(conn.execute(select(m.c.id)).all())
    finally:
        engine.dispose()
    return documents, balances, movements


def _replay(plan: Plan, root: Path) -> Settings:
    """The same files, cycle after cycle, into a fresh workspace, with no kill."""
    settings = Settings(Config(), root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True)
    drop_master(settings.inbox)
    run_inbox(settings)
    _opening(settings.inbox)
    run_inbox(settings)
    for cycle in plan.cycles:
        plan.drop(cycle, settings.inbox)
        run_inbox(settings)
    return settings


def _filed(root: Path) -> tuple[list[str], list[str]]:
    places = _places(root)
    return (sorted(n for n, [p] in places.items() if (root / "archive") in p.parents),
            sorted(n for n, [p] in places.items() if p.parent == root / "rejected"))


@pytest.mark.slow
def test_random_kills_lose_nothing_post_nothing_twice_and_leave_whole_reports(tmp_path):
    print(f"soak seed {SEED}: JXC_SOAK_SEED={SEED} replays this plan")
    plan = Plan(random.Random(SEED))
    root = _workspace(tmp_path)
    _opening(root / "inbox")
    jxc("run", "--quiet", cwd=root)
    scratch, temp = tmp_path / "scratch", tmp_path / "tmp"
    scratch.mkdir()
    temp.mkdir()
    history = []
    for i in range(KILLS):
        files = _cycle_files(plan, i, scratch)
        plan.cycles.append(files)
        plan.drop(files, root / "inbox")
        command = plan.rng.choice(["run", "run", "watch"])
        history.append(f"{i}: {command} {_kill_at_random(_start(root, command, temp), root, plan.rng)}")
        context = f"seed {SEED}, after kill\n" + "\n".join(history)
        _assert_ledger_consistent(root, context)
        _assert_every_file_in_one_place(root, plan, context, killed=True)
        _assert_outbox_whole(root, context)
    context = f"seed {SEED}\n" + "\n".join(history)
    print(context)

    jxc("run", "--quiet", cwd=root)  # a clean run takes what is left
    assert "consistent" in jxc("check", cwd=root).stdout

    _assert_every_file_in_one_place(root, plan, context)
    assert inbox.candidates(root / "inbox") == [], context
    assert list((root / "inbox" / inbox.WORK).iterdir()) == [], context
    _assert_outbox_whole(root, context)

    documents, balances, movements = _ledger(root)
    posted = {(kind, doc_no) for kind, doc_no, _hash in documents}
    assert len(documents) == len(posted), context  # no document twice
    assert posted - {("opening", "QC-1")} == plan.good, context

    replay = _replay(plan, tmp_path / "replay")
    assert _ledger(replay.root) == (documents, balances, movements), context
    assert _filed(replay.root) == _filed(root), context


# --- killed at each step of a move -----------------------------------------------------

DIE_IN_MOVE = """
import os, signal, sys
from pathlib import Path
from jxc_sheets import inbox
from jxc_sheets.cli import main

step, name = sys.argv[1:]
real_link, real_unlink = os.link, Path.unlink
def link(source, *args, **kwargs):  # a move out of .work begins
    if step == "link" and inbox.WORK in Path(source).parts and str(source).endswith(name):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_link(source, *args, **kwargs)
def unlink(self, *args, **kwargs):  # linked to its destination, the claim is about to go
    if step == "unlink" and inbox.WORK in self.parts and self.name.endswith(name):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_unlink(self, *args, **kwargs)
os.link, Path.unlink = link, unlink
sys.exit(main(["run"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("step", ["link", "unlink"])
@pytest.mark.parametrize("content", ["good", "bad"])
def test_a_run_killed_in_the_middle_of_filing_a_file_away_files_it_once(tmp_path, content, step):
    """A move out of .work is a hard link into archive/ (or rejected/), then the unlink of
    the claim; killed in between, the file is in both places, and the next run finishes
    the move. A rejected file never sits in rejected/ without its annotated copy."""
    root = _workspace(tmp_path)
    book = root / "inbox" / "r1.xlsx"
    if content == "good":
        make_form(book, "receipt", {"doc_no": "CG-1", "doc_date": DAY, "warehouse": "WH1", "supplier": "S01"},
                  [{"sku": "A001", "qty": 1, "unit_cost": "2.50"}])
    else:
        book.write_bytes(b"no workbook")
    data = book.read_bytes()
    killed = subprocess.run([sys.executable, "-c", DIE_IN_MOVE, step, "r1.xlsx"], cwd=root, capture_output=True,
                            env={**os.environ, "TMPDIR": str(tmp_path)})  # its leftover temporary copy stays here
    assert killed.returncode == -9
    assert len(list((root / "inbox" / inbox.WORK).iterdir())) == 1  # it died holding the file

    jxc("run", "--quiet", cwd=root)

    [place] = _places(root)["r1.xlsx"]
    assert place.read_bytes() == data
    assert (root / ("archive" if content == "good" else "rejected")) in place.parents
    assert list((root / "inbox" / inbox.WORK).iterdir()) == []
    annotated = sorted(p.name for p in (root / "rejected").glob("*.errors*.xlsx"))
    if content == "good":
        assert annotated == []
    else:  # killed before the original moved, the second rejection writes a second copy
        assert annotated == (["r1 (2).errors.xlsx", "r1.errors.xlsx"] if step == "link" else ["r1.errors.xlsx"])
    assert [d[:2] for d in _ledger(root)[0]] == ([("receipt", "CG-1")] if content == "good" else [])
    assert "consistent" in jxc("check", cwd=root).stdout


def test_a_claim_with_another_link_outside_the_workspace_is_recovered_not_dropped(tmp_path):
    """Only a twin in the inbox, archive/ or rejected/ shows a move that was cut short; a
    file that was dropped hard-linked from elsewhere is still put back."""
    folder, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claim = folder / inbox.WORK / f"{socket.gethostname()}~{int(gone.stdout)}~r.xlsx"
    claim.parent.mkdir()
    claim.write_bytes(b"data")
    os.link(claim, elsewhere / "r.xlsx")
    recovered = inbox.recover_abandoned(folder, filed_in=(tmp_path / "archive", tmp_path / "rejected"))
    assert recovered == [folder / "r.xlsx"]
    assert (folder / "r.xlsx").read_bytes() == b"data"
