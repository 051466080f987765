"""What each benchmark process does and times: `python benchmarks/measure.py NAME
JSON-ARGUMENTS` runs one of the functions below in a process of its own and prints
its numbers and its peak RSS as one line of JSON (run.py starts these).

Only the standard library is imported up front, so a process that only waits for
hledger stays small."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """This process's peak RSS since it started. VmHWM, not getrusage: Linux carries the
    parent's peak into a child's ru_maxrss across fork and exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- ingest ---------------------------------------------------------------------------------------

def ingest(path: str, url: str) -> dict:
    """The stages one by one, timed: what the pipeline does for one file; then the plain
    python-calamine read of the same file, the denominator. The read comes after, so that
    the peak RSS taken before it is jxc's alone: what calamine leaves in the heap would
    otherwise lie under jxc's peak."""
    import python_calamine

    from jxc_sheets.check import check
    from jxc_sheets.ledger import post
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.sheets.read import read_workbook
    from jxc_sheets.validate import validate

    engine = open_ledger(url)
    t1 = time.perf_counter()
    raws, problems = read_workbook(Path(path))
    t2 = time.perf_counter()
    validated = validate(raws)
    t3 = time.perf_counter()
    with engine.begin() as conn:
        checked = check(conn, validated.documents, validated.master, False)
        if problems or validated.problems or checked.problems:
            raise AssertionError((problems[:3], validated.problems[:3], checked.problems[:3]))
        file_id = post.record_file(conn, post.FileRecord(Path(path).name, "", "receipt", "posted"))
        post.post_documents(conn, checked.to_post, file_id)
    t4 = time.perf_counter()
    jxc_peak = peak_rss_mb()
    book = python_calamine.CalamineWorkbook.from_path(path)
    plain_rows = sum(1 for _ in book.get_sheet_by_name("明细").iter_rows())
    book.close()
    t5 = time.perf_counter()
    return {"plain_read": t5 - t4, "read": t2 - t1, "validate": t3 - t2, "post": t4 - t3, "plain_rows": plain_rows,
            "jxc_peak_rss_mb": jxc_peak,
            "lines": sum(len(d.lines) for d in checked.to_post)}


def rejected(path: str) -> dict:
    """A file with bad cells, from the read to its annotated copy in rejected/, timed: what
    the pipeline does for it before the ledger is asked anything."""
    from jxc_sheets.sheets.annotate import write_errors_copy
    from jxc_sheets.sheets.read import read_workbook
    from jxc_sheets.validate import validate

    source = Path(path)
    t0 = time.perf_counter()
    raws, problems = read_workbook(source)
    problems = [*problems, *validate(raws).problems]
    t1 = time.perf_counter()
    write_errors_copy(source, source.with_name(source.stem + ".errors.xlsx"), problems, source.name)
    t2 = time.perf_counter()
    return {"read_validate": t1 - t0, "annotate": t2 - t1, "problems": [p.where for p in problems]}


# --- latency ----------------------------------------------------------------------------------------

WARM_DROPS = 3


def latency(root: str, stocked_skus: int, url: str | None = None) -> dict:
    """Drops, one at a time, a good 50-line delivery, a bad one, three more good ones and a
    backdated receipt (dated before the deliveries, in the open month before) into the inbox of the workspace at `root`, and processes each as the watcher does
    (pipeline.process_batch, with the watcher's engine opened once beforehand): the
    answer is the moment the file's outcome is known (posted and archived, or rejected
    with its annotated copy); the reports are refreshed when the batch returns.
    The first `stocked_skus` skus have stock in the first warehouse. `url`: the ledger,
    when it is not the workspace's own SQLite file."""
    import generate
    from jxc_sheets import inbox
    from jxc_sheets.config import Config, LedgerConfig, Settings
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.pipeline import process_batch

    settings = Settings(Config(ledger=LedgerConfig(url=url)) if url else Config(), Path(root))
    engine = open_ledger(settings.ledger_url)
    staging = Path(root) / "staging"
    staging.mkdir()
    count = min(generate.DELIVERY_LINES, stocked_skus)

    def skus(k: int) -> list[str]:
        return [generate._sku((k * count + i) % stocked_skus) for i in range(count)]

    drops = [("first", skus(0), False), ("bad", skus(0), True),
             *((f"warm{k}", skus(k), False) for k in range(1, WARM_DROPS + 1)), ("backdated", skus(1), False)]
    result = {}
    for name, sku_list, bad in drops:
        if name == "backdated":
            form = receipt_form(staging / "收货-backdated.xlsx", "CG-BENCH-backdated", sku_list, BACKDATED_DAY)
        else:
            form = generate.delivery_form(staging / f"发货-{name}.xlsx", f"XS-BENCH-{name}", sku_list, bad)
        answered = {}
        dropped = form.rename(settings.inbox / form.name)
        start, wall = time.perf_counter(), time.time()
        outcomes = process_batch(inbox.candidates(settings.inbox), settings, engine,
                                 on_outcome=lambda o: answered.setdefault(o.file, time.perf_counter()))
        done = time.perf_counter()
        (outcome,) = outcomes
        _check_answer(settings, outcome, bad, dropped)
        report = "log.xlsx" if bad else "stock.xlsx"  # a rejected file changes only the log (and the dashboard)
        if (settings.outbox / report).stat().st_mtime < wall - 1:
            raise AssertionError(f"{report} was not rewritten")
        result[name] = {"answer": answered[outcome.file] - start, "reports": done - start, "lines": outcome.lines}
    result["stock_alone"] = _stock_alone(engine, Path(root) / "stock-alone.xlsx")
    return result


def restart_drop(root: str, stocked_skus: int) -> dict:
    """One more 50-line delivery into the workspace at `root` after the latency drops, in a
    process of its own: the first refresh after a start, its outbox (and outbox/.cache/)
    written by the process before."""
    import generate
    from jxc_sheets import inbox
    from jxc_sheets.config import Config, Settings
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.pipeline import process_batch

    settings = Settings(Config(), Path(root))
    engine = open_ledger(settings.ledger_url)
    count = min(generate.DELIVERY_LINES, stocked_skus)
    skus = [generate._sku(((WARM_DROPS + 1) * count + i) % stocked_skus) for i in range(count)]
    form = generate.delivery_form(Path(root) / "staging" / "发货-restart.xlsx", "XS-BENCH-restart", skus, False)
    form.rename(settings.inbox / form.name)
    start = time.perf_counter()
    (outcome,) = process_batch(inbox.candidates(settings.inbox), settings, engine)
    if outcome.status != "posted":
        raise AssertionError(f"unexpected answer: {outcome}")
    return {"reports": time.perf_counter() - start, "stock_alone": _stock_alone(engine, Path(root) / "stock-alone.xlsx")}


def _stock_alone(engine, path: Path) -> float:
    """The floor of a refresh: outbox/stock.xlsx alone, as write_reports writes it, on the same
    ledger in the same process (the median of three)."""
    from jxc_sheets import clock
    from jxc_sheets.ledger.db import reading
    from jxc_sheets.reports.stock import write_stock

    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        with reading(engine) as conn:
            write_stock(conn, path, today=clock.today())
        seconds.append(time.perf_counter() - start)
    return sorted(seconds)[1]


def report_command(root: str) -> dict:
    """`jxc report` on the workspace at `root` (after the latency drops): with --all, every
    month's ledger mirror written; then again, nothing posted meanwhile: the mirrors are up to
    date and left as they are."""
    from jxc_sheets.config import Config, Settings
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.reports.refresh import write_reports

    settings = Settings(Config(), Path(root))
    engine = open_ledger(settings.ledger_url)
    mirrors = settings.outbox / "ledger"
    start = time.perf_counter()
    everything = write_reports(engine, settings, None, rebuild=True)
    middle = time.perf_counter()
    again = write_reports(engine, settings, None)
    return {"all": middle - start, "again": time.perf_counter() - middle,
            "months": sum(p.parent == mirrors for p in everything), "months_again": sum(p.parent == mirrors for p in again)}


BACKDATED_DAY = date(2026, 10, 1)  # in the open month before the drops, under their deliveries and more


def receipt_form(path: Path, doc_no: str, skus: list[str], day: date) -> Path:
    """A receipt of the `skus` into the first warehouse dated `day`: posting it revalues each
    pair from that day on (after the deliveries dropped before it, and the history's own)."""
    import generate
    from jxc_sheets import kinds
    from jxc_sheets.sheets.forms import write_form

    lines = [{"sku": sku, "qty": 2, "unit_cost": 9.75} for sku in skus]
    header = {"doc_no": doc_no, "doc_date": day, "warehouse": generate._warehouse(0), "supplier": "S01"}
    return write_form(path, kinds.KINDS["receipt"], header=header, lines=lines)


def _check_answer(settings, outcome, bad: bool, dropped: Path) -> None:
    if bad:
        copy = settings.root / outcome.moved_to
        ok = outcome.status == "rejected" and copy.name.endswith(".errors.xlsx") and copy.exists() \
            and (settings.rejected / dropped.name).exists()
    else:
        ok = outcome.status == "posted" and (settings.root / outcome.moved_to).exists()
    if not ok or dropped.exists():
        raise AssertionError(f"unexpected answer: {outcome}")


# --- month-end ----------------------------------------------------------------------------------------

def monthend(root: str, month: str, method: str = "moving_average") -> dict:
    """Closes `month`. Under another method than the generated ledger's moving average, the
    method applies from `month` on and the month is first valued by it, as posting would
    have done (not timed)."""
    from jxc_sheets.closing import close_month
    from jxc_sheets.config import Config, CostingConfig, Settings
    from jxc_sheets.ledger import repost, schema
    from jxc_sheets.ledger.db import open_ledger

    settings = Settings(Config(costing=CostingConfig(method=method)), Path(root))
    engine = open_ledger(settings.ledger_url)
    if method != "moving_average":
        with engine.begin() as conn:
            conn.execute(schema.costing_methods.insert().values(scope="*", from_month=month, method=method,
                                                                recorded_at=datetime.now()))
            repost.revalue_open_months(conn)
    start = time.perf_counter()
    closed = close_month(engine, settings, month, by="benchmark", today=date(2026, 11, 25))
    seconds = time.perf_counter() - start
    failed = [c.check for c in closed.checks if c.ok != "Y"]
    if closed.forced or failed or not closed.pack.exists():
        raise AssertionError(f"the close did not go through cleanly: {closed.blockers} {failed}")
    return {"seconds": seconds, "pack_mb": closed.pack.stat().st_size / 1e6}


# --- assembly and landed cost ----------------------------------------------------------------------------

def _posted(engine, docs, master=()) -> float:
    """Seconds to check and post `docs` as the pipeline posts one file: one transaction."""
    from jxc_sheets.check import check
    from jxc_sheets.ledger import money, post

    start = time.perf_counter()
    with engine.begin() as conn:
        checked = check(conn, docs, master, False)
        if checked.problems:
            raise AssertionError([p.render() for p in checked.problems[:3]])
        file_id = post.record_file(conn, post.FileRecord("bench.xlsx", "", docs[0].kind if docs else "", "posted"))
        post.upsert_master(conn, checked.master)
        ids = post.post_documents(conn, checked.to_post, file_id)
        money.allocate(conn, money.record_documents(conn, ids))
    return time.perf_counter() - start


def _document(kind: str, doc_no: str, day: date, lines=(), **header):
    from jxc_sheets import kinds
    from jxc_sheets.records import Document

    values = {f.key: None for f in kinds.KINDS[kind].header} | {"doc_no": doc_no, "doc_date": day} | header
    return Document(kind, doc_no, day, values, tuple(lines), f"{doc_no}.xlsx", "", {})


def _line(n: int, sku: str, qty, cost=None, receipt_no: str = ""):
    from decimal import Decimal

    from jxc_sheets.records import Line

    qty = None if qty is None else Decimal(qty)
    return Line(n, sku, qty, "", qty, Decimal(1), None if cost is None else Decimal(cost), None, "", "", None, {},
                receipt_no=receipt_no)


def assembly(root: str, components: int, day: str) -> dict:
    """One box assembled in WH01 from a BOM of `components` items with stock there, checked and
    posted as a dropped file is; the finished item and its BOM registered first (not timed)."""
    from decimal import Decimal

    from sqlalchemy import select

    from jxc_sheets import kinds
    from jxc_sheets.ledger import schema
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.records import MasterRow

    engine = open_ledger(f"sqlite:///{Path(root) / 'ledger.sqlite3'}")
    b = schema.balances
    with engine.connect() as conn:
        parts = conn.execute(select(b.c.sku).where(b.c.warehouse == "WH01", b.c.qty >= 1).order_by(b.c.sku)
                             .limit(components)).scalars().all()
    item = {f.key: None for f in kinds.KINDS["items"].lines} | {"sku": "KIT", "name": "礼盒", "unit": "盒"}
    bom = [MasterRow("boms", "KIT", {f.key: None for f in kinds.KINDS["boms"].lines}
                     | {"sku": "KIT", "component": sku, "qty": Decimal(1)}, 2 + n, {}) for n, sku in enumerate(parts)]
    _posted(engine, [], [MasterRow("items", "KIT", item, 2, {})])
    _posted(engine, [], bom)
    seconds = _posted(engine, [_document("assembly", "ZZ-1", date.fromisoformat(day), warehouse="WH01",
                                         finished_sku="KIT", finished_qty=Decimal(1), fee=Decimal("5.00"))])
    return {"seconds": seconds, "components": len(parts)}


def landed(root: str, receipts: int, lines: int, skus: int, day: str) -> dict:
    """`receipts` receipts of `lines` lines each posted into WH01 (not timed), then one landed
    cost naming them all, spread by amount, checked and posted as a dropped file is."""
    from decimal import Decimal

    from jxc_sheets.ledger.db import open_ledger

    engine = open_ledger(f"sqlite:///{Path(root) / 'ledger.sqlite3'}")
    on = date.fromisoformat(day)
    numbers = [f"RK-LC{r:03d}" for r in range(receipts)]
    for r, doc_no in enumerate(numbers):
        _posted(engine, [_document("receipt", doc_no, on, warehouse="WH01", supplier="S01", lines=[
            _line(i + 1, f"SKU{(r * lines + i) % skus:05d}", 10 + i % 7, f"{1 + (r + i) % 90}.25") for i in range(lines)])])
    expense = _document("landed_cost", "FY-1", on, supplier="S02", expense_amount=Decimal("98765.43"),
                        expense_tax=Decimal("8888.89"),
                        lines=[_line(n, "", None, receipt_no=doc_no) for n, doc_no in enumerate(numbers, start=1)])
    return {"seconds": _posted(engine, [expense]), "lines": receipts * lines}


def sales_prices(root: str, lines: int, price_rows: int, day: str) -> dict:
    """A delivery of `lines` lines with every price left empty, priced from a price list of
    `price_rows` rows (the customer's own for its items, the rest other customers' and
    grades'), checked and posted as a dropped file is; the price list is written first (not timed)."""
    from datetime import date as _date
    from datetime import timedelta
    from decimal import Decimal

    from sqlalchemy import insert, select

    from jxc_sheets.ledger import schema
    from jxc_sheets.ledger.db import open_ledger

    engine = open_ledger(f"sqlite:///{Path(root) / 'ledger.sqlite3'}")
    b, pl = schema.balances, schema.price_lists
    with engine.connect() as conn:
        stocked = conn.execute(select(b.c.sku).where(b.c.warehouse == "WH01", b.c.qty >= 1).order_by(b.c.sku)
                               .limit(lines)).scalars().all()
        skus = conn.execute(select(schema.items.c.sku).order_by(schema.items.c.sku)).scalars().all()
    own = [{"scope": "customer", "code": "C001", "sku": sku, "valid_from": _date(1, 1, 1), "valid_to": None,
            "price": Decimal("999.50"), "min_price": None, "remark": ""} for sku in stocked]
    others = [{"scope": "grade" if n % 3 == 0 else "customer", "code": f"G{n % 5}" if n % 3 == 0 else f"C{2 + n % 99:03d}",
               "sku": skus[n % len(skus)], "valid_from": _date(2024, 1, 1) + timedelta(days=n // len(skus)), "valid_to": None,
               "price": Decimal("10.00") + n % 500, "min_price": None, "remark": ""}
              for n in range(max(0, price_rows - len(own)))]
    with engine.begin() as conn:
        seen, rows = set(), []
        for row in own + others:
            key = (row["scope"], row["code"], row["sku"], row["valid_from"])
            if key not in seen:
                seen.add(key)
                rows.append(row)
        conn.execute(insert(pl), rows)
    delivery = _document("delivery", "XS-PRICE", _date.fromisoformat(day), warehouse="WH01", customer="C001",
                         lines=[_line(n, sku, 1) for n, sku in enumerate(stocked, start=1)])
    return {"seconds": _posted(engine, [delivery]), "lines": len(stocked), "price_rows": len(rows)}


def sales_analysis(ledger: str, out: str, today: str) -> dict:
    """outbox/analysis.xlsx written from the whole ledger (reports/analysis.py)."""
    from datetime import date as _date

    from jxc_sheets.ledger.db import open_ledger, reading
    from jxc_sheets.reports.analysis import write_analysis

    engine = open_ledger(f"sqlite:///{ledger}", create=False)
    start = time.perf_counter()
    with reading(engine) as conn:
        write_analysis(conn, Path(out), _date.fromisoformat(today))
    return {"seconds": time.perf_counter() - start}


# --- check ----------------------------------------------------------------------------------------------

def check(root: str, since: bool, url: str = "") -> dict:
    """`jxc check` (or `jxc check --since LAST`) on the workspace at `root`, as the command
    runs it (cli.main): its wall and CPU seconds. `url`: the ledger, when it is not the
    workspace's own SQLite file."""
    import os

    import yaml

    from jxc_sheets import cli

    config = Path(root) / "config.yaml"
    if not config.exists():  # the ledger beside it, else at `url`
        config.write_text(yaml.safe_dump({"ledger": {"url": url}} if url else {}), encoding="utf-8")
    cpu, start = os.times(), time.perf_counter()
    status = cli.main(["--config", str(config), "check", *(["--since", "LAST"] if since else [])])
    seconds, after = time.perf_counter() - start, os.times()
    if status != 0:
        raise AssertionError(f"jxc check exited {status}")
    return {"seconds": seconds, "cpu": after.user + after.system - cpu.user - cpu.system}


def drop(root: str, stocked_skus: int, url: str = "") -> dict:
    """One 50-line delivery dropped into the inbox and posted as the watcher does; the
    reports are left alone (what this is for, jxc check --since, does not read them)."""
    import generate
    from jxc_sheets import inbox
    from jxc_sheets.config import Config, LedgerConfig, Settings
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.pipeline import process_batch

    settings = Settings(Config(ledger=LedgerConfig(url=url)) if url else Config(), Path(root))
    count = min(generate.DELIVERY_LINES, stocked_skus)
    form = generate.delivery_form(settings.inbox / "发货-check.xlsx", "XS-BENCH-check",
                                  [generate._sku(i) for i in range(count)])
    (outcome,) = process_batch(inbox.candidates(settings.inbox), settings, open_ledger(settings.ledger_url),
                               refresh=lambda outcomes: None)
    _check_answer(settings, outcome, False, form)
    return {"lines": outcome.lines}


# --- reports -------------------------------------------------------------------------------------------

def stock_report(ledger: str, out: str) -> dict:
    """outbox/stock.xlsx as write_reports writes it (stock, summary, below_safety)."""
    from jxc_sheets.ledger.db import open_ledger, reading
    from jxc_sheets.reports.stock import write_stock

    engine = open_ledger(f"sqlite:///{ledger}", create=False)
    start = time.perf_counter()
    with reading(engine) as conn:
        write_stock(conn, Path(out))
    return {"seconds": time.perf_counter() - start}


def plain_xlsxwriter(ledger: str, out: str) -> dict:
    """The same rows from the same query, written by xlsxwriter in constant_memory mode
    with nothing else: no formats, no other sheets."""
    import xlsxwriter

    from jxc_sheets.ledger.db import open_ledger, reading
    from jxc_sheets.reports import data

    engine = open_ledger(f"sqlite:///{ledger}", create=False)
    start = time.perf_counter()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("stock")
    rows = 0
    with reading(engine) as conn:
        for rows, row in enumerate(data.stock_rows(conn), start=1):
            sheet.write_row(rows, 0, [float(v) if v is not None and not isinstance(v, str) else v for v in row])
    book.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


# --- the money side -----------------------------------------------------------------------------------

def money_post(ledger: str, form: str, url: str = "") -> dict:
    """A 收款单 read, validated, checked and posted (its settlements made, named then oldest
    first) in one transaction, as the pipeline does for one file; on the ledger at `url`
    (PostgreSQL) when given."""
    from jxc_sheets.check import check
    from jxc_sheets.ledger import money, post
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.sheets.read import read_workbook
    from jxc_sheets.validate import validate

    engine = open_ledger(url or f"sqlite:///{ledger}", create=False)
    with engine.connect() as conn:  # warm the page cache as a running watcher has it
        money.balance_of(conn, "customer", "BIG")
    start = time.perf_counter()
    raws, problems = read_workbook(Path(form))
    validated = validate(raws)
    with engine.begin() as conn:
        checked = check(conn, validated.documents, validated.master, False)
        if problems or validated.problems or checked.problems:
            raise AssertionError((problems[:3], validated.problems[:3], checked.problems[:3]))
        file_id = post.record_file(conn, post.FileRecord(Path(form).name, "", "collection", "posted"))
        money.allocate(conn, money.post_money(conn, checked.money, file_id))
    seconds = time.perf_counter() - start
    with engine.connect() as conn:
        from jxc_sheets.ledger import schema
        s = schema.settlements
        d = schema.documents
        settled = conn.execute(s.select().with_only_columns(s.c.id).where(
            s.c.document_id == conn.execute(d.select().with_only_columns(d.c.id).where(d.c.doc_no == "SK-BENCH"))
            .scalar_one())).all()
    return {"seconds": seconds, "lines": len(checked.money[0].lines), "settled": len(settled)}


def money_aging(ledger: str, at: str, url: str = "") -> dict:
    """money.aging at a date (what money.xlsx's aging sheet shows) over every open item; on
    the ledger at `url` (PostgreSQL) when given."""
    from jxc_sheets.ledger import money
    from jxc_sheets.ledger.db import open_ledger, reading

    engine = open_ledger(url or f"sqlite:///{ledger}", create=False)
    start = time.perf_counter()
    with reading(engine) as conn:
        rows = money.aging(conn, date.fromisoformat(at))
    seconds = time.perf_counter() - start
    with reading(engine) as conn:
        open_items = len(money.open_items(conn))
    return {"seconds": seconds, "partners": len(rows), "open_items": open_items}


def money_statements(ledger: str, folder: str, month: str) -> dict:
    """Every partner's 对账单 of `month` written (reports.money.write_month_statements),
    into an empty folder; then again with nothing changed."""
    from jxc_sheets.ledger.db import open_ledger, reading
    from jxc_sheets.reports.money import write_month_statements

    engine = open_ledger(f"sqlite:///{ledger}", create=False)
    first = date.fromisoformat(f"{month}-01")
    start = time.perf_counter()
    with reading(engine) as conn:
        written = write_month_statements(conn, Path(folder), first, _month_end(first))
    seconds = time.perf_counter() - start
    with reading(engine) as conn:
        write_month_statements(conn, Path(folder), first, _month_end(first))
    return {"seconds": seconds, "again": time.perf_counter() - start - seconds, "statements": len(written)}


def plain_statements(ledger: str, out: str, month: str) -> dict:
    """The same statements' rows (a partner's header row, then its lines) as one sheet by
    plain xlsxwriter in constant_memory mode."""
    import xlsxwriter

    from jxc_sheets.ledger import money
    from jxc_sheets.ledger.db import open_ledger, reading

    engine = open_ledger(f"sqlite:///{ledger}", create=False)
    first = date.fromisoformat(f"{month}-01")
    start = time.perf_counter()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("statements")
    row = 0
    with reading(engine) as conn:
        for st in money.statements(conn, first, _month_end(first)):
            sheet.write_row(row, 0, [st.side, st.partner, st.name, float(st.opening), float(st.closing)])
            row += 1
            for line in st.lines:
                sheet.write_row(row, 0, [line.line_no, line.ref_date.isoformat(), line.kind, line.ref_doc,
                                         float(line.debit), float(line.credit), float(line.balance)])
                row += 1
    book.close()
    return {"seconds": time.perf_counter() - start, "rows": row}


def _month_end(first: date) -> date:
    from datetime import timedelta

    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


# --- the watcher at rest ----------------------------------------------------------------------------

def watch_cpu(root: str, observer: str, idle_seconds: float, copy_seconds: float, stall_seconds: float) -> dict:
    """`jxc watch` as a process of its own on a new workspace at `root`, its CPU time (user +
    system, from /proc) over wall time: idle for `idle_seconds`; then while a form arrives
    slowly, as copies to a share do — half of it in 10 pieces over `copy_seconds` / 2, a stall of
    `stall_seconds` (longer than inbox.stable_seconds: the half file looks finished but is no
    complete workbook), the rest likewise — until the watcher takes it (the file leaves the
    inbox; reading and posting it is not counted)."""
    import signal

    import generate

    workspace = Path(root)
    subprocess.run([sys.executable, "-m", "jxc_sheets", "init", str(workspace)], check=True, capture_output=True)
    config = workspace / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("observer: auto", f"observer: {observer}"),
                      encoding="utf-8")
    form = generate.delivery_form(workspace / "slow.xlsx", "XS-SLOW", [generate._sku(0)], False).read_bytes()
    (workspace / "slow.xlsx").unlink()
    watcher = subprocess.Popen([sys.executable, "-m", "jxc_sheets", "watch"], cwd=workspace,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    arriving = workspace / "inbox" / "slow.xlsx"

    def copy_slowly() -> None:
        half, pieces = len(form) // 2, 10
        with open(arriving, "wb") as f:
            for first, part in ((True, form[:half]), (False, form[half:])):
                for i in range(pieces):
                    f.write(part[i * len(part) // pieces:(i + 1) * len(part) // pieces])
                    f.flush()
                    time.sleep(copy_seconds / 2 / pieces)
                if first:
                    time.sleep(stall_seconds)

    try:
        _wait_for(lambda: (workspace / "outbox" / "status.json").exists(), 60)
        time.sleep(1.0)  # start-up (imports, the first reports) is not rest
        idle = _cpu_over(watcher.pid, lambda: time.sleep(idle_seconds))
        cpu, wall = _cpu_seconds(watcher.pid), time.perf_counter()
        copy_slowly()
        taken_cpu, taken_wall = _last_while(watcher.pid, arriving.exists, 120)
        settling = {"cpu": taken_cpu - cpu, "wall": taken_wall - wall}
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=120)
    return {"idle": idle, "settling": settling}


def _cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (all its threads), from /proc/PID/stat."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_over(pid: int, action) -> dict:
    cpu, wall = _cpu_seconds(pid), time.perf_counter()
    action()
    return {"cpu": _cpu_seconds(pid) - cpu, "wall": time.perf_counter() - wall}


def _last_while(pid: int, condition, timeout: float) -> tuple[float, float]:
    """Process `pid`'s CPU seconds and the wall clock at the last look, 5 ms apart, at which
    `condition` still held: what the watcher spent before it took the file, not its reading
    and posting after (a wider look would count some of them)."""
    deadline = time.monotonic() + timeout
    seen = _cpu_seconds(pid), time.perf_counter()
    while condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)
        seen = _cpu_seconds(pid), time.perf_counter()
    return seen


def _wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


# --- peers -----------------------------------------------------------------------------------------------

def hledger(journal: str) -> dict:
    """`hledger -f JOURNAL balance`. Its peak RSS is this process's only child's (at least
    this small process's own, which the kernel carries into it: a few MB)."""
    start = time.perf_counter()
    subprocess.run(["hledger", "-f", journal, "balance"], check=True, stdout=subprocess.DEVNULL, timeout=3600)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


CHILDREN = {f.__name__: f for f in (ingest, rejected, latency, monthend, stock_report, plain_xlsxwriter, hledger, watch_cpu,
                                   money_post, money_aging, money_statements, plain_statements, assembly, landed,
                                   sales_prices, sales_analysis, check, drop, report_command, restart_drop)}

def run_child(name: str, arguments: dict, output: str, answer) -> None:
    """What `python measure.py NAME JSON` does, in a process forked by run.py's fork server
    (jxc imported there once, not again in each child): the numbers go back through
    `answer` (a Pipe's end), what the child prints to `output`."""
    import atexit
    import os
    import traceback

    with open(output, "w", encoding="utf-8") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    try:
        answer.send({**CHILDREN[name](**arguments), "peak_rss_mb": peak_rss_mb()})
    except BaseException:  # noqa: BLE001  (the parent reports it, with the output)
        answer.send({"failed": traceback.format_exc()})
    finally:
        atexit._run_exitfuncs()  # a forked child skips them: jxc's report processes are shut down here
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    name, arguments = sys.argv[1:3]
    result = CHILDREN[name](**json.loads(arguments))
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
