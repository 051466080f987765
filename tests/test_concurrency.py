"""Several sites, one ledger: three `jxc watch` processes, each on its own workspace and
inbox (one per site, as on three machines) and the same `ledger.url`, post concurrently
— into the real PostgreSQL server, and into one SQLite file shared by three processes.

The final ledger is compared with a serial replay of the same files (one process, one
inbox). The files are built so that no outcome depends on the order they happen to be
posted in: opening stock of 10,000 per sku × warehouse covers every issue of the run
(at most 5 per line), so no delivery or transfer can ever fail for stock; every doc_no
is unique, except some files dropped at two sites at once, which must post once and be
skipped once. So these must be equal, whatever the order:

- the documents posted (each exactly once), their movements' sku, warehouse and qty,
  the files' statuses, and every balance's qty and movement count;
- every value of the fixed-cost skus (each receipt at the opening cost: the moving
  average never moves, so issues take the same value in any order), to the cent;
- the value of every opening and receipt movement (qty × its own cost).

The varying-cost skus' issue values do depend on the order (a moving average), so for
them the invariants must hold instead: `jxc check` clean (every balance = the sum of its
movements, each movement's running balance right, the hash chain unbroken: one link per
document, none forked) and every transfer moving the same value out and in. A lost
update or a forked chain fails these; equal totals alone would not find them."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import func, insert, select

from conftest import jxc, make_form, make_table
from jxc_sheets import inbox
from jxc_sheets.config import Config, Settings, default_config_text
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import POSTING_LOCK, open_ledger
from jxc_sheets.ledger.integrity import check_ledger
from jxc_sheets.pipeline import run_inbox

SITES = ("north", "east", "south")
FILES_PER_SITE = int(os.environ.get("JXC_CONCURRENCY_FILES", 200))
SHARED = 8  # of them, dropped at two sites at once: posted once, skipped once
WAREHOUSES = ("W1", "W2", "W3")
FIXED = {"F1": Decimal("10.00"), "F2": Decimal("3.75"), "F3": Decimal("0.40")}  # every receipt at this cost
VARYING = ("V1", "V2", "V3")  # receipts at any cost
OPENING_QTY = 10_000
OPENED = date(2026, 10, 31)
SETUP = ("warehouses.xlsx", "suppliers.xlsx", "customers.xlsx", "items.xlsx", "opening.xlsx")


# --- the files ------------------------------------------------------------------

def write_setup(folder: Path) -> None:
    make_table(folder / "warehouses.xlsx", "warehouses", [{"code": w, "name": f"仓库 {w}"} for w in WAREHOUSES])
    make_table(folder / "suppliers.xlsx", "suppliers", [{"code": "S01", "name": "华东纸业"}])
    make_table(folder / "customers.xlsx", "customers", [{"code": "C01", "name": "宏达商贸"}])
    make_table(folder / "items.xlsx", "items", [{"sku": s, "name": f"物料 {s}", "unit": "个"} for s in (*FIXED, *VARYING)])
    make_form(folder / "opening.xlsx", "opening", {"doc_no": "QC-ALL", "doc_date": OPENED},
              [{"warehouse": w, "sku": s, "qty": OPENING_QTY, "unit_cost": FIXED.get(s, Decimal("8.00"))}
               for w in WAREHOUSES for s in (*FIXED, *VARYING)])


def write_site_files(folder: Path, site: str, rng: random.Random) -> list[str]:
    """FILES_PER_SITE receipts, deliveries and transfers on overlapping skus and warehouses."""
    names = []
    for n in range(FILES_PER_SITE):
        kind = rng.choice(("receipt", "receipt", "delivery", "delivery", "transfer"))
        doc_no = f"{site[0].upper()}-{kind[:2].upper()}-{n:04d}"
        day = OPENED + timedelta(days=rng.randint(1, 24))
        skus = rng.sample((*FIXED, *VARYING), rng.randint(1, 3))
        name = f"{site}-{n:04d}-{kind}.xlsx"
        if kind == "receipt":
            lines = [{"sku": s, "qty": rng.randint(1, 40),
                      "unit_cost": FIXED.get(s) or Decimal(rng.randint(500, 1500)) / 100} for s in skus]
            header = {"doc_no": doc_no, "doc_date": day, "warehouse": rng.choice(WAREHOUSES), "supplier": "S01"}
        elif kind == "delivery":
            lines = [{"sku": s, "qty": rng.randint(1, 5), "unit_price": 20} for s in skus]
            header = {"doc_no": doc_no, "doc_date": day, "warehouse": rng.choice(WAREHOUSES), "customer": "C01"}
        else:
            source, dest = rng.sample(WAREHOUSES, 2)
            lines = [{"sku": s, "qty": rng.randint(1, 5)} for s in skus]
            header = {"doc_no": doc_no, "doc_date": day, "from_warehouse": source, "to_warehouse": dest}
        make_form(folder / name, kind, header, lines)
        names.append(name)
    return names


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> Path:
    """setup/ and one folder of files per site; the first SHARED files of a site are also
    dropped, byte for byte, at the next site."""
    root = tmp_path_factory.mktemp("drops")
    (root / "setup").mkdir()
    write_setup(root / "setup")
    rng = random.Random(20261125)
    names = {}
    for site in SITES:
        (root / site).mkdir()
        names[site] = write_site_files(root / site, site, rng)
    for i, site in enumerate(SITES):
        other = SITES[(i + 1) % len(SITES)]
        for name in names[site][:SHARED]:
            shutil.copyfile(root / site / name, root / other / f"{other}-also-{name}")
    return root


# --- what is compared -----------------------------------------------------------

def facts(url: str) -> dict:
    engine = open_ledger(url, create=False)
    d, m, b, f = schema.documents, schema.movements, schema.balances, schema.files
    try:
        with engine.connect() as conn:
            moves = [tuple(r) for r in conn.execute(
                select(d.c.kind, d.c.doc_no, m.c.line_no, m.c.sku, m.c.warehouse, m.c.qty, m.c.value)
                .join(d, d.c.id == m.c.document_id))]
            balances = conn.execute(select(b)).all()
            return {
                "check": check_ledger(conn),
                "documents": Counter(conn.execute(select(d.c.kind, d.c.doc_no)).all()),
                "movements": Counter(r[:6] for r in moves),
                "fixed values": Counter(r for r in moves if r[3] in FIXED),
                "receipt values": Counter(r for r in moves if r[0] in ("opening", "receipt")),
                "transfers off balance": _transfers_off_balance(moves),
                "statuses": Counter(conn.execute(select(f.c.status)).scalars()),
                "balances qty": sorted((r.sku, r.warehouse, r.qty, r.movements) for r in balances),
                "fixed balances": sorted((r.sku, r.warehouse, r.qty, r.value) for r in balances if r.sku in FIXED),
                "unsealed": conn.execute(select(d.c.doc_no).where(d.c.chain_hash.is_(None))).scalars().all(),
            }
    finally:
        engine.dispose()


def _transfers_off_balance(moves: list[tuple]) -> list[str]:
    """Transfers whose out and in legs moved different values (a transfer moves value, never makes it)."""
    net: Counter = Counter()
    for kind, doc_no, *_rest, value in moves:
        if kind == "transfer":
            net[doc_no] += value
    return sorted(doc_no for doc_no, value in net.items() if value != 0)


@pytest.fixture(scope="module")
def serial(drops, tmp_path_factory) -> dict:
    """The same files through one process and one inbox, one after another."""
    root = tmp_path_factory.mktemp("serial")
    settings = Settings(Config(), root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir()
    engine = open_ledger(settings.ledger_url)
    for folder in ("setup", *SITES):
        for path in sorted((drops / folder).iterdir()):
            shutil.copyfile(path, settings.inbox / path.name)
        run_inbox(settings, engine=engine)
    engine.dispose()
    found = facts(settings.ledger_url)
    expected_files = len(SETUP) + len(SITES) * (FILES_PER_SITE + SHARED)
    assert found["statuses"] == {"posted": expected_files - len(SITES) * SHARED, "skipped": len(SITES) * SHARED}
    assert found["check"] == [] and found["transfers off balance"] == []
    return found


# --- the watchers ------------------------------------------------------------------

def site_workspace(root: Path, ledger_url: str) -> Path:
    for name in ("inbox", "outbox", "archive", "rejected", "templates", "staging"):
        (root / name).mkdir(parents=True)
    config = (default_config_text().replace("url: sqlite:///ledger.sqlite3", f'url: "{ledger_url}"')
              .replace("stable_seconds: 3", "stable_seconds: 0.5").replace("rescan_seconds: 60", "rescan_seconds: 2"))
    (root / "config.yaml").write_text(config, encoding="utf-8")
    return root


def watch(root: Path) -> subprocess.Popen:
    output = open(root / "watch.out", "w", encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "jxc_sheets", "watch"], cwd=root, stdout=output,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8")


def filed(root: Path) -> int:
    """Files answered at this site: archived, or rejected (not counting the annotated copies)."""
    rejected = [p for p in (root / "rejected").glob("*.xlsx") if not p.name.endswith(".errors.xlsx")]
    return len(list((root / "archive").rglob("*.xlsx"))) + len(rejected)


def posting_spans(url: str) -> list[tuple]:
    """When each site posted its first and its last file."""
    f = schema.files
    engine = open_ledger(url, create=False)
    try:
        with engine.connect() as conn:
            return [conn.execute(select(func.min(f.c.processed_at), func.max(f.c.processed_at))
                                 .where(f.c.name.startswith(f"{site}-"))).one() for site in SITES]
    finally:
        engine.dispose()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout  # a guard against a hang, not a measurement
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(params=["postgresql", "sqlite"])
def shared_ledger(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'shared' / 'ledger.sqlite3'}"


@pytest.mark.slow
def test_three_sites_posting_at_once_end_as_the_serial_replay(tmp_path, drops, serial, shared_ledger):
    sites = [site_workspace(tmp_path / site, shared_ledger) for site in SITES]
    for name in SETUP:  # master data and opening stock, once, from the first site
        shutil.copyfile(drops / "setup" / name, sites[0] / "inbox" / name)
    jxc("run", "--quiet", cwd=sites[0])
    for site, root in zip(SITES, sites):  # half waits in each inbox; the rest arrives while they run
        for path in sorted((drops / site).iterdir()):
            shutil.copyfile(path, root / "staging" / path.name)
        for path in sorted((root / "staging").iterdir())[::2]:
            path.rename(root / "inbox" / path.name)
    expected = [FILES_PER_SITE + SHARED + (len(SETUP) if root == sites[0] else 0) for root in sites]
    watchers = [watch(root) for root in sites]
    try:
        while any(list((root / "staging").iterdir()) for root in sites):
            for root in sites:  # renamed in: each file arrives whole
                for path in sorted((root / "staging").iterdir())[:10]:
                    path.rename(root / "inbox" / path.name)
            time.sleep(0.5)
        wait_for(lambda: all(filed(root) == n and not list((root / "inbox" / inbox.WORK).glob("*"))
                             for root, n in zip(sites, expected)), timeout=600, what="every file to be filed away")
    finally:
        for w in watchers:
            w.send_signal(signal.SIGTERM)
        for w in watchers:
            w.wait(timeout=60)
    outputs = [(root / "watch.out").read_text(encoding="utf-8") for root in sites]
    assert [w.returncode for w in watchers] == [0, 0, 0], outputs
    assert all("已过账 posted" in out for out in outputs)  # every site really posted
    assert all(not list((root / "rejected").iterdir()) for root in sites), outputs

    spans = posting_spans(shared_ledger)
    assert max(first for first, _ in spans) < min(last for _, last in spans)  # the three really overlapped
    found = facts(shared_ledger)
    assert found["check"] == []
    assert found["unsealed"] == [] and found["transfers off balance"] == []
    for key in ("documents", "statuses", "movements", "balances qty", "fixed balances", "fixed values",
                "receipt values"):
        assert found[key] == serial[key], key
    assert max(found["documents"].values()) == 1


# --- the lock itself ----------------------------------------------------------------

def test_on_postgresql_a_posting_waits_for_the_one_in_progress_and_a_report_does_not(postgres_url):
    """What BEGIN IMMEDIATE does on SQLite: the second posting starts only after the first
    commits, and then sees what it wrote; a report reads meanwhile, without waiting."""
    first, second = open_ledger(postgres_url), open_ledger(postgres_url)
    observer = sqlalchemy.create_engine(postgres_url)
    w = schema.warehouses
    seen: list[list[str]] = []

    def post_at_the_other_site() -> None:
        with second.begin() as conn:
            seen.append(conn.execute(select(w.c.code)).scalars().all())
            conn.execute(insert(w).values(code="W-B", name="B"))

    def waiting() -> int:
        with observer.connect() as conn:
            return conn.exec_driver_sql(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted"
                f" and classid = {POSTING_LOCK} and objid = hashtext(current_schema())::oid").scalar()

    with first.begin() as conn:
        conn.execute(insert(w).values(code="W-A", name="A"))
        with second.connect() as report:
            report.execution_options(jxc_read_only=True)
            assert report.execute(select(w.c.code)).scalars().all() == []  # not committed yet
        other = threading.Thread(target=post_at_the_other_site)
        other.start()
        wait_for(lambda: waiting() == 1, timeout=30, what="the second posting to wait for the lock")
        assert seen == []
    other.join(timeout=30)
    assert seen == [["W-A"]]
    with first.connect() as conn:
        assert sorted(conn.execute(select(w.c.code)).scalars()) == ["W-A", "W-B"]
    for engine in (first, second, observer):
        engine.dispose()
