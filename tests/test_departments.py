"""Department folders on real folders: each department drops into its own sub-folder
of the inbox, which posts only its kinds; the `jxc` command as a subprocess, and
the real watcher."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from conftest import D, RunningWatcher, drop_master, jxc, make_form, make_table, wait_until
from jxc_sheets import inbox
from jxc_sheets.config import (Config, ConfigError, DepartmentsConfig, InboxConfig, Settings, default_config_text,
                               load_settings)
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.pipeline import process_batch, run_inbox
from jxc_sheets.watch import RetryBook

DEPARTMENTS = ("warehouse", "purchasing", "sales", "finance")


def _settings(root: Path, inbox_config: InboxConfig = InboxConfig(), **departments) -> Settings:
    config = Config(inbox=inbox_config, departments=DepartmentsConfig(enabled=True, **departments))
    settings = Settings(config, root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True, exist_ok=True)
    for name in settings.departments:
        (settings.inbox / name).mkdir(exist_ok=True)
    return settings


def _receipt(path: Path, doc_no: str = "CG-1") -> Path:
    return make_form(path, "receipt", {"doc_no": doc_no, "doc_date": D, "warehouse": "WH1", "supplier": "S01"},
                     [{"sku": "A001", "qty": 4, "unit_cost": "20.00"}])


def _delivery(path: Path, doc_no: str = "XS-1") -> Path:
    return make_form(path, "delivery", {"doc_no": doc_no, "doc_date": D, "warehouse": "WH1", "customer": "C01"},
                     [{"sku": "A001", "qty": 1}])


def _ledger(settings: Settings) -> tuple:
    with open_ledger(settings.ledger_url).connect() as conn:
        documents = sorted(r.doc_no for r in conn.execute(select(schema.documents.c.doc_no)))
        movements = conn.execute(select(func.count()).select_from(schema.movements)).scalar_one()
        balances = sorted(tuple(r) for r in conn.execute(select(schema.balances)))
    return documents, movements, balances


def _files(settings: Settings) -> dict[str, tuple[str, str]]:
    with open_ledger(settings.ledger_url).connect() as conn:
        f = schema.files
        return {r.name: (r.status, r.moved_to) for r in conn.execute(select(f.c.name, f.c.status, f.c.moved_to))}


def _archived(settings: Settings) -> list[str]:
    return sorted(p.relative_to(settings.archive).as_posix().split("/", 1)[0] + "/" + p.name
                  for p in settings.archive.rglob("*.xlsx"))


# --- the config -------------------------------------------------------------------

def test_departments_are_off_by_default_and_the_default_folders_are_the_four_departments(tmp_path):
    assert Settings(Config(), tmp_path).departments == ()
    config = tmp_path / "config.yaml"
    config.write_text(default_config_text().replace("  enabled: false", "  enabled: true"), encoding="utf-8")
    settings = load_settings(config)
    assert settings.departments == DEPARTMENTS
    assert settings.config.departments.folders["warehouse"] == ("receipt", "delivery", "transfer", "count", "count_approval",
                                                                   "adjustment")
    assert settings.config.departments.root_may_post == "all"


@pytest.mark.parametrize("yaml_text, says", [
    ("departments:\n  folders:\n    warehouse: [reciept]\n", "unknown kind reciept"),
    ("departments:\n  folders:\n    ware/house: [receipt]\n", "not a plain folder name"),
    ("departments:\n  folders:\n    Sales: [sales_order]\n    sales: [sales_return]\n", "appears twice"),
    ("departments:\n  root_may_post: [recipt]\n", "unknown kind recipt"),
])
def test_a_typo_in_the_departments_section_is_refused_with_its_key(tmp_path, yaml_text, says):
    config = tmp_path / "config.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match="departments") as refused:
        load_settings(config)
    assert says in str(refused.value)


def test_jxc_init_makes_the_department_folders_only_when_enabled(tmp_path):
    plain = tmp_path / "plain"
    jxc("init", str(plain), cwd=tmp_path)
    assert [p.name for p in (plain / "inbox").iterdir() if p.is_dir()] == []

    root = tmp_path / "ws"
    root.mkdir()
    (root / "config.yaml").write_text(default_config_text().replace("  enabled: false", "  enabled: true"),
                                      encoding="utf-8")
    out = jxc("init", str(root), cwd=tmp_path).stdout
    assert "warehouse, purchasing, sales, finance" in out
    for base in ("inbox", "rejected", "archive"):
        assert sorted(p.name for p in (root / base).iterdir() if p.is_dir()) == sorted(DEPARTMENTS)


# --- jxc run: each folder posts its kinds ----------------------------------------------

def _department_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "config.yaml").write_text(default_config_text().replace("  enabled: false", "  enabled: true"),
                                      encoding="utf-8")
    jxc("init", str(root), cwd=tmp_path)
    return root


@pytest.mark.slow
def test_a_department_posts_its_own_kinds_and_a_kind_of_another_is_refused_at_its_kind_cell(tmp_path):
    root = _department_workspace(tmp_path)
    settings = load_settings(root / "config.yaml")
    drop_master(root / "inbox" / "finance")
    _receipt(root / "inbox" / "warehouse" / "receipt.xlsx")
    posted = [json.loads(line) for line in jxc("run", "--json", cwd=root).stdout.splitlines()]
    assert sorted((o["file"], o["status"]) for o in posted) == [
        ("finance/customers.xlsx", "posted"), ("finance/items.xlsx", "posted"), ("finance/suppliers.xlsx", "posted"),
        ("finance/warehouses.xlsx", "posted"), ("warehouse/receipt.xlsx", "posted")]
    assert "warehouse/receipt.xlsx" in _archived(settings)  # archive/warehouse/YYYY-MM/receipt.xlsx
    before = _ledger(settings)

    wrong = _receipt(root / "inbox" / "sales" / "receipt.xlsx", "CG-2")  # sales may not post a receipt
    [dry] = [json.loads(line) for line in jxc("run", "--dry-run", "--json", cwd=root).stdout.splitlines()]
    assert (dry["status"], [p["code"] for p in dry["problems"]]) == ("rejected", ["department-kind"])
    assert wrong.exists()

    [outcome] = [json.loads(line) for line in jxc("run", "--json", cwd=root).stdout.splitlines()]

    assert (outcome["file"], outcome["status"]) == ("sales/receipt.xlsx", "rejected")
    [p] = outcome["problems"]
    assert (p["where"], p["code"], p["value"]) == ("_meta!B1", "department-kind", "receipt")
    assert p["en"] == ("the folder inbox/sales may not post receipt, only: sales_order, sales_return, sales_plan, "
                       "exchange, price_list, feedback, repair; "
                       "put it into inbox/warehouse")
    assert p["zh"].startswith("inbox/sales 文件夹不能提交采购入库(receipt)") and "inbox/warehouse" in p["zh"]
    assert _ledger(settings) == before  # nothing of it posted
    assert outcome["moved_to"] == "rejected/sales/receipt.errors.xlsx"
    assert sorted(p.name for p in (root / "rejected" / "sales").iterdir()) == ["receipt.errors.xlsx", "receipt.xlsx"]
    assert _files(settings)["sales/receipt.xlsx"] == ("rejected", "rejected/sales/receipt.xlsx")
    copy = openpyxl.load_workbook(root / "rejected" / "sales" / "receipt.errors.xlsx")
    first = copy.worksheets[0]
    assert (first["A5"].value, first["B5"].value) == ("_meta!B1", "department-kind")
    assert "[department-kind]" in copy["_meta"]["B1"].comment.text
    assert "consistent" in jxc("check", cwd=root).stdout


def test_an_export_naming_each_rows_kind_is_answered_at_the_kind_cell_before_any_validation(tmp_path):
    settings = _settings(tmp_path)
    # No master data at all: were the rows validated or checked, unknown codes would be reported too.
    make_table(settings.inbox / "sales" / "shop-export.xlsx", "sales_return", [
        {"doc_no": "TH-1", "doc_date": D, "kind": "sales_return", "warehouse": "WH1", "customer": "C01", "sku": "A001", "qty": 1},
        {"doc_no": "TH-1", "doc_date": D, "kind": "销售退货", "warehouse": "WH1", "customer": "C01", "sku": "B002", "qty": 1},
        {"doc_no": "XS-1", "doc_date": D, "kind": "delivery", "warehouse": "WH1", "customer": "C01", "sku": "A001", "qty": 2},
        {"doc_no": "XS-2", "doc_date": D, "kind": "delivery", "warehouse": "WH1", "customer": "C01", "sku": "A001", "qty": 3},
    ], columns=["doc_no", "doc_date", "kind", "warehouse", "customer", "sku", "qty"], meta=False)

    [outcome] = run_inbox(settings)

    assert outcome.status == "rejected"
    assert [(p.where, p.code, p.value) for p in outcome.problems] == [("明细!C4", "department-kind", "delivery")]
    assert "put it into inbox/warehouse" in outcome.problems[0].en
    assert _ledger(settings)[:2] == ([], 0)


# --- the inbox itself ------------------------------------------------------------------

def test_the_inbox_itself_still_takes_every_kind_unless_root_may_post_says_otherwise(tmp_path):
    settings = _settings(tmp_path / "all")
    drop_master(settings.inbox)
    _receipt(settings.inbox / "receipt.xlsx")
    assert {o.status for o in run_inbox(settings)} == {"posted"}
    assert [p.parent.parent == settings.archive for p in settings.archive.rglob("receipt.xlsx")] == [True]

    settings = _settings(tmp_path / "some", root_may_post=("opening",))
    drop_master(settings.inbox / "finance")
    run_inbox(settings)
    _receipt(settings.inbox / "receipt.xlsx")
    [outcome] = run_inbox(settings)
    assert [(p.where, p.code) for p in outcome.problems] == [("_meta!B1", "department-kind")]
    assert outcome.problems[0].en == "the folder inbox may not post receipt, only: opening; put it into inbox/warehouse"
    assert (settings.rejected / "receipt.xlsx").exists()  # the inbox's own answers stay in rejected/


def test_a_kind_no_folder_may_post_says_to_ask_it(tmp_path):
    settings = _settings(tmp_path, root_may_post=(), folders={"warehouse": ("receipt",)})
    make_form(settings.inbox / "warehouse" / "transfer.xlsx", "transfer",
              {"doc_no": "DB-1", "doc_date": D, "from_warehouse": "WH1", "to_warehouse": "WH2"}, [{"sku": "A001", "qty": 1}])
    [outcome] = run_inbox(settings)
    [p] = outcome.problems
    assert p.en == "the folder inbox/warehouse may not post transfer, only: receipt; no folder may post it: ask IT"
    assert (settings.rejected / "warehouse" / "transfer.errors.xlsx").exists()


def test_a_sub_folder_that_is_no_department_is_left_alone_and_named_once_in_the_log(tmp_path, caplog):
    settings = _settings(tmp_path)
    (settings.inbox / "old stuff").mkdir()
    kept = _receipt(settings.inbox / "old stuff" / "receipt.xlsx")
    with caplog.at_level(logging.WARNING, logger="jxc"):
        for _ in range(3):
            assert inbox.candidates(settings.inbox, settings.departments) == []
            inbox.listing(settings.inbox, settings.departments)
            assert run_inbox(settings) == []
    assert kept.exists()
    said = [r.getMessage() for r in caplog.records if "old stuff" in r.getMessage()]
    assert len(said) == 1 and "no department folder" in said[0]


# --- claims remember the department ------------------------------------------------------

def test_claim_names_say_which_folder_a_file_came_from():
    for department, name in (("", "r.xlsx"), ("", "a~b.xlsx"), ("warehouse", "r.xlsx"), ("仓库", "a~b ~.xlsx")):
        held = inbox.parse_claim(inbox.claim_name(department, name))
        assert (held.pid, held.department, held.name) == (os.getpid(), department, name)
    assert inbox.parse_claim("host~12~~..~x.xlsx") is None  # never a way out of the inbox


@pytest.mark.slow
def test_a_file_claimed_by_a_run_that_died_goes_back_to_its_department_folder(tmp_path):
    root = _department_workspace(tmp_path)
    settings = load_settings(root / "config.yaml")
    drop_master(root / "inbox" / "finance")
    jxc("run", "--quiet", cwd=root)
    dropped = _receipt(root / "inbox" / "warehouse" / "receipt.xlsx")
    # a real claim by a real process, which then dies without filing the file away
    subprocess.run([sys.executable, "-c", "import sys, os; from pathlib import Path; from jxc_sheets import inbox; "
                    "inbox.claim(Path(sys.argv[1]), Path(sys.argv[2])); os._exit(9)", str(dropped), str(settings.inbox)],
                   check=False, timeout=60)
    [claimed] = (settings.inbox / inbox.WORK).iterdir()
    assert "~~warehouse~receipt.xlsx" in claimed.name and not dropped.exists()

    assert inbox.recover_abandoned(settings.inbox) == [dropped]
    assert json.loads(jxc("status", "--json", cwd=root).stdout)["waiting"] == ["warehouse/receipt.xlsx"]
    out = jxc("run", cwd=root).stdout
    assert "warehouse/receipt.xlsx" in out and "已过账 posted" in out
    assert "warehouse/receipt.xlsx" in _archived(settings)
    assert _ledger(settings)[0] == ["CG-1"]


def test_a_system_failure_gives_the_file_back_to_its_department_folder(tmp_path):
    settings = _settings(tmp_path)
    drop_master(settings.inbox / "finance")
    run_inbox(settings)
    _receipt(settings.inbox / "warehouse" / "receipt.xlsx")
    engine = open_ledger(settings.ledger_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TRIGGER no_docs BEFORE INSERT ON documents BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    retries = RetryBook(max_attempts=2, first_delay=60)
    [outcome] = process_batch(inbox.candidates(settings.inbox, settings.departments), settings, engine, retries=retries)
    assert (outcome.file, outcome.status) == ("warehouse/receipt.xlsx", "retry")
    assert (settings.inbox / "warehouse" / "receipt.xlsx").exists()
    assert retries.waiting("warehouse/receipt.xlsx") and not retries.waiting("receipt.xlsx")


# --- finished files only, per folder -------------------------------------------------------

def test_the_same_name_in_two_folders_settles_on_its_own(tmp_path):
    settings = _settings(tmp_path)
    a = _receipt(settings.inbox / "warehouse" / "r.xlsx")
    b = _receipt(settings.inbox / "finance" / "r.xlsx")
    (settings.inbox / "finance" / "~$r.xlsx").write_bytes(b"owner")  # open in Excel in finance only
    settling = inbox.Settling(stable_seconds=1.0, grace_seconds=10.0)
    assert settling.ready(inbox.listing(settings.inbox, settings.departments), now=100.0) == ([], 2)
    assert settling.ready(inbox.listing(settings.inbox, settings.departments), now=102.0) == ([a], 1)
    (settings.inbox / "finance" / "~$r.xlsx").unlink()
    assert sorted(settling.ready(inbox.listing(settings.inbox, settings.departments), now=103.0)[0]) == sorted([a, b])


# --- the real watcher ----------------------------------------------------------------------

FAST = InboxConfig(stable_seconds=0.5, poll_interval=0.3, rescan_seconds=2, lease_seconds=30)


@pytest.mark.slow
@pytest.mark.parametrize("observer", ["native", "polling"])
def test_the_watcher_takes_files_from_each_department_and_answers_misplaced_ones(tmp_path, observer):
    settings = _settings(tmp_path, FAST.model_copy(update={"observer": observer}))
    drop_master(settings.inbox / "finance")
    with RunningWatcher(settings) as running:
        wait_until(lambda: len(_archived(settings)) == 4)
        _receipt(settings.inbox / "warehouse" / "receipt.xlsx")
        wait_until(lambda: "warehouse/receipt.xlsx" in _archived(settings))
        before = _ledger(settings)
        _delivery(settings.inbox / "purchasing" / "delivery.xlsx")
        wait_until(lambda: (settings.rejected / "purchasing" / "delivery.errors.xlsx").exists())
        _delivery(settings.inbox / "warehouse" / "delivery.xlsx")
        wait_until(lambda: "warehouse/delivery.xlsx" in _archived(settings))
    # posted once, from the warehouse's folder; that resolved the misplaced one
    assert (settings.rejected / "purchasing" / "resolved" / "delivery.xlsx").exists()
    assert _ledger(settings)[0] == sorted(before[0] + ["XS-1"])
    assert any("purchasing/delivery.xlsx" in line and "department-kind" in line for line in running.lines)


@pytest.mark.slow
def test_a_department_folder_made_while_the_watcher_runs_is_watched_too(tmp_path):
    # rescans only every 10 minutes: only the native observer can see the file in time
    settings = _settings(tmp_path, FAST.model_copy(update={"observer": "native", "rescan_seconds": 600}))
    drop_master(settings.inbox / "finance")
    (settings.inbox / "warehouse").rmdir()
    with RunningWatcher(settings):
        wait_until(lambda: len(_archived(settings)) == 4)
        (settings.inbox / "warehouse").mkdir()
        time.sleep(2)  # the folder's creation wakes the watcher, which then watches it too
        _receipt(settings.inbox / "warehouse" / "receipt.xlsx")
        wait_until(lambda: "warehouse/receipt.xlsx" in _archived(settings), timeout=30)
