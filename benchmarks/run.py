"""The performance suite: one command, one table of ratios.

    .venv/bin/python benchmarks/run.py                                 # all of it, full size
    .venv/bin/python benchmarks/run.py --only ingest,latency --scale 0.1
    .venv/bin/python benchmarks/run.py --quick                         # the same rows at 1/10 scale

Every measurement stands beside its denominator, measured in the same run:

  ingest     a 100,000-line receipt workbook (batch layout, 10 columns) read, validated and
             posted into a fresh SQLite ledger ÷ the plain python-calamine read of the same
             file; again after LibreOffice re-saved it, when soffice is on PATH.
  latency    a 50-line delivery form dropped into the inbox of a ledger of 1,000,000
             movements (10,000 skus × 20 warehouses, 24 months): drop → answer (posted and
             archived, or rejected with its annotated copy; and for a receipt backdated under
             the deliveries, so that its 50 pairs are revalued) and drop → reports refreshed, as
             the watcher processes it (pipeline.process_batch; the poll interval is not
             counted; the median of three drops after a first one) ÷ the same drop on a
             ledger of 10,000 movements with the same master data; the refresh again ÷
             stock.xlsx written alone on the same ledger in the same process (its floor);
             one more drop in a new process (the first refresh after a restart, the outbox
             written); `jxc report --all` on that workspace afterwards, and `jxc report` again.
             Target: the refresh ≤ 1.5 × stock.xlsx alone; 2026-12-07: ×3.35 (×6.83 before
             reports were rewritten only when changed), missed (README, Benchmarks).
  month-end  closing the last month of that ledger (closing.close_month: the month's
             costs, the lock and the month-end pack) ÷ hledger's `balance` on the same
             movements (peers), under each of the three costing methods (FIFO and the
             monthly average applying from that month on); target ≤ 0.15 each, and the
             pack's peak RSS ≤ 0.15 of hledger's (issue 21).
  reports    stock.xlsx of 200,000 sku × warehouse rows (reports.stock.write_stock) ÷ the
             same rows of the same query written by plain xlsxwriter in constant_memory mode.
  money      on a ledger of 1,000,000 receivables (deliveries, each half settled) of 20,000
             customers, plus one customer's 6,000 open ones (SQLite only): a 500-line 收款单
             naming 500 of that customer's deliveries and paying its oldest 5,000 (read,
             validated, checked, posted, settled; target ≤ 1 s) ÷ the same on a ledger of
             10,000; the aging of every open item (money.aging; target ≤ 2 s); every
             customer's 对账单 of a month, one workbook each (target ≤ 60 s) ÷ the same rows
             as one sheet by plain xlsxwriter (target ≤ 2), and that month again unchanged.
  peers      hledger `balance` on the same 1,000,000 movements as an hledger journal.
  watch      `jxc watch` at rest, with the native and with the polling observer: its CPU
             time (user + system, /proc) ÷ wall time, idle for 10 s, and while a form arrives
             slowly (a copy that stalls halfway for longer than inbox.stable_seconds) until
             it is taken. The target: at most 3 % of a core (× denominator ≤ 0.03).
  assembly   one box assembled from a BOM of 200 components with stock, checked and posted as
             a dropped file, on the 1,000,000-movement ledger (target ≤ 0.3 s) ÷ the same on the
             10,000-movement one.
  landed-cost  a landed cost over 50 receipts of 100 lines (5,000 lines), spread by amount,
             checked and posted, on the big ledger (target ≤ 1 s) ÷ the same on the small one.

  check      `jxc check` on the 1,000,000-movement ledger (target ≤ 10 s), then `jxc check
             --since LAST` after one 50-line delivery dropped (the chain from the point the
             full check recorded), on SQLite and on PostgreSQL; their CPU seconds beside.

Ingest, latency, money and check run again with the ledger on PostgreSQL (--pg, a schema of
its own per measurement, dropped afterwards): ingest into a fresh schema, the others on the
same ledgers copied there by jxc's own migrate-ledger (ledger/transfer.py; not counted),
then cloned by the server for each measurement.

Each measurement runs in a child process of its own, whose peak RSS is reported; the
seconds each took go to stderr. Data is generated into a temporary folder and removed
afterwards, except the ledgers and the journal, which are cached (--cache) by shape and by
the source they imitate, so a second run starts at once. Their PostgreSQL copies are kept
the same way, as schemas named jxc_bench_kept_* on the server (replaced when the source
changes; drop them to make them again). --scale multiplies every size (the
latency drop keeps its 50 lines while there are 50 skus). $JXC_BENCH_SCALE sets the
default of --scale.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import generate  # noqa: E402  (after the path: it imports jxc_sheets)
import measure  # noqa: E402

BENCHMARKS = ("ingest", "latency", "month-end", "reports", "money", "peers", "watch", "assembly", "landed-cost",
              "sales", "check")
QUICK_SCALE = 0.1
KEPT_SCHEMA = "jxc_bench_kept_"  # + the cached ledger file's name: kept_on_postgres
POSTGRES = os.environ.get("JXC_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HEADER = ("benchmark", "measure", "seconds", "× denominator", "peak RSS MB", "note")


@dataclass(frozen=True)
class Row:
    benchmark: str
    measure: str
    seconds: float | None = None
    ratio: float | None = None
    rss_mb: float | None = None
    note: str = ""


class Suite:
    def __init__(self, scale: float, work: Path, cache: Path, postgres: str):
        self.scale = scale
        self.work = work
        self.cache = cache
        self.postgres = postgres  # the server's URL; "" runs nothing on PostgreSQL
        skus = max(10, round(10_000 * scale))
        self.big = generate.Shape(skus, skus)
        self.small = generate.Shape(skus, min(skus, max(2 * generate.DELIVERY_LINES, round(skus / 100))))
        self.hledger: dict | None = None

    def scaled(self, n: int) -> int:
        return max(10, round(n * self.scale))

    def ledger(self, shape: generate.Shape) -> Path:
        return generate.cached_ledger(shape, self.cache, log=lambda text: print(text, file=sys.stderr))

    def workspace(self, name: str, shape: generate.Shape) -> Path:
        return generate.copy_ledger(self.ledger(shape), self.work / name)

    # --- the benchmarks ---------------------------------------------------------------------------

    def ingest(self) -> list[Row]:
        lines = self.scaled(100_000)
        path = self.work / "ingest" / "receipt-batch.xlsx"
        path.parent.mkdir()
        generate.receipt_workbook(path, lines, skus=5_000)
        rows = self._ingest(path, "", f"{lines:,} lines, {len(generate.RECEIPT_COLUMNS)} columns, "
                                     f"{path.stat().st_size / 1e6:.1f} MB, written by xlsxwriter")
        rows += self._ingest_postgres(path)
        rows += self._rejected(lines, rows)
        resaved = generate.libreoffice_copy(path, self.work / "ingest" / "libreoffice")
        if resaved is None:
            rows.append(Row("ingest", "re-saved by LibreOffice", note="skipped: soffice / libreoffice not on PATH"))
        else:
            rows += self._ingest(resaved, "re-saved by LibreOffice: ", f"{resaved.stat().st_size / 1e6:.1f} MB")
        return rows

    def _ingest(self, path: Path, prefix: str, note: str) -> list[Row]:
        url = f"sqlite:///{path.parent / (path.stem + '.sqlite3')}"
        generate.seed_ingest_ledger(url, 5_000)
        r = child("ingest", path=str(path), url=url)
        base, total = r["plain_read"], r["read"] + r["validate"] + r["post"]
        return [
            Row("ingest", f"{prefix}plain python-calamine read (denominator)", base, 1.0, note=note),
            Row("ingest", f"{prefix}read (jxc reader)", r["read"], r["read"] / base),
            Row("ingest", f"{prefix}validate", r["validate"], r["validate"] / base),
            Row("ingest", f"{prefix}check + post, one transaction", r["post"], r["post"] / base),
            Row("ingest", f"{prefix}total: read → posted", total, total / base, r["jxc_peak_rss_mb"],
                f"{r['lines'] / total:,.0f} lines/s; peak RSS before the plain read (the child's with it: "
                f"{r['peak_rss_mb']:.0f} MB)"),
        ]

    def _rejected(self, lines: int, ingest_rows: list[Row]) -> list[Row]:
        """The same batch with two bad quantities: read, validated, refused and answered with
        its annotated copy; beside the accepted total of the rows above (target: ≤ it + 2 s)."""
        path = self.work / "ingest" / "receipt-batch-bad.xlsx"
        generate.receipt_workbook(path, lines, skus=5_000, bad_lines=(lines // 200, lines * 9 // 10))
        r = child("rejected", path=str(path))
        if len(r["problems"]) != 2:
            raise SystemExit(f"the bad batch gave {r['problems']}, not its 2 bad cells")
        accepted = next(row.seconds for row in ingest_rows if row.measure == "total: read → posted")
        base = next(row.seconds for row in ingest_rows if row.measure == "plain python-calamine read (denominator)")
        total = r["read_validate"] + r["annotate"]
        return [Row("ingest", "rejected, 2 bad cells: read → annotated copy written", total, total / base,
                    r["peak_rss_mb"], f"annotated copy {r['annotate']:.2f} s (the user's parts patched); "
                                      f"accepted total above {accepted:.2f} s")]

    def _ingest_postgres(self, path: Path) -> list[Row]:
        if not self.postgres:
            return [Row("ingest", "PostgreSQL: total: read → posted", note="skipped: --pg ''")]
        with postgres_schema(self.postgres) as url:
            generate.seed_ingest_ledger(url, 5_000)
            r = child("ingest", path=str(path), url=url)
        base, total = r["plain_read"], r["read"] + r["validate"] + r["post"]
        return [
            Row("ingest", "PostgreSQL: check + post, one transaction", r["post"], r["post"] / base),
            Row("ingest", "PostgreSQL: total: read → posted", total, total / base, r["jxc_peak_rss_mb"],
                f"{r['lines'] / total:,.0f} lines/s; ÷ the plain read in the same process ({base:.2f} s); "
                f"peak RSS before it (with it: {r['peak_rss_mb']:.0f} MB)"),
        ]

    def latency(self) -> list[Row]:
        big = child("latency", root=str(self.workspace("latency-big", self.big)), stocked_skus=self.big.history_skus)
        small = child("latency", root=str(self.workspace("latency-small", self.small)),
                      stocked_skus=self.small.history_skus)
        restart = child("restart_drop", root=str(self.work / "latency-big"), stocked_skus=self.big.history_skus)
        rows = self._latency_rows(big, small, "") + [
            Row("latency", f"drop → reports refreshed, the first after a restart (outbox written; "
                           f"{self.big.movements:,} movements)", restart["reports"],
                restart["reports"] / restart["stock_alone"],
                note=f"÷ stock.xlsx alone in that process ({restart['stock_alone']:.2f} s); a process of its own")]
        rows += self._report_rows(child("report_command", root=str(self.work / "latency-big")), big["stock_alone"])
        if not self.postgres:
            return rows + [Row("latency", "PostgreSQL: drop → answer", note="skipped: --pg ''")]
        with postgres_schema(self.postgres) as big_url, postgres_schema(self.postgres) as small_url:
            big_root, copied = self.postgres_workspace("latency-big-pg", self.big, big_url)
            small_root, _ = self.postgres_workspace("latency-small-pg", self.small, small_url)
            big = child("latency", root=str(big_root), stocked_skus=self.big.history_skus, url=big_url)
            small = child("latency", root=str(small_root), stocked_skus=self.small.history_skus, url=small_url)
        return rows + self._latency_rows(big, small, "PostgreSQL: ", f"; ledger copied by migrate-ledger in {copied:.0f} s")

    def postgres_workspace(self, name: str, shape: generate.Shape, url: str) -> tuple[Path, float]:
        """A workspace whose ledger is a copy of the cached one in the schema at `url`
        (cloned from the kept copy of it, `kept_on_postgres`); and the seconds `jxc
        migrate-ledger`'s own code took to make that copy."""
        from jxc_sheets.ledger.db import open_ledger
        from jxc_sheets.ledger.transfer import migrate_ledger

        def migrate(target: str) -> None:
            source = open_ledger(f"sqlite:///{self.ledger(shape)}", create=False)
            migrate_ledger(source, target)
            source.dispose()

        root = self.workspace(name, shape)
        kept, copied = self.kept_on_postgres(self.ledger(shape), migrate)
        clone_ledger(kept, url)
        (root / "ledger.sqlite3").unlink()
        return root, copied

    def kept_on_postgres(self, cached: Path, copy: Callable[[str], None]) -> tuple[str, float]:
        """The name of a schema holding the cached ledger file `cached` as `copy(url)` copies it,
        and the seconds that copy took. Like the file, it is kept between runs (on the server,
        named after the file, the seconds in its comment) and replaced when the source key
        changes; it is renamed into place only once complete."""
        import sqlalchemy

        name = KEPT_SCHEMA + cached.stem.replace("-", "_").lower()
        admin = sqlalchemy.create_engine(self.postgres)
        try:
            with admin.begin() as conn:
                found = conn.exec_driver_sql("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                                             "WHERE nspname = %(name)s", {"name": name}).scalar()
                if found is not None:
                    return name, float(found)
                for (stale,) in conn.exec_driver_sql(
                        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %(kept)s AND nspname NOT LIKE %(key)s",
                        {"kept": KEPT_SCHEMA + "%", "key": f"%{generate.source_key()}"}):
                    conn.exec_driver_sql(f'DROP SCHEMA "{stale}" CASCADE')
            with postgres_schema(self.postgres) as url:
                started = time.perf_counter()
                copy(url)
                copied = time.perf_counter() - started
                with admin.begin() as conn:
                    made = schema_of(url)
                    conn.exec_driver_sql(f"COMMENT ON SCHEMA \"{made}\" IS '{copied:.3f}'")
                    conn.exec_driver_sql(f'ALTER SCHEMA "{made}" RENAME TO "{name}"')
        finally:
            admin.dispose()
        print(f"copied {cached.name} to PostgreSQL in {copied:.0f} s, kept as schema {name}", file=sys.stderr)
        return name, copied

    def _latency_rows(self, big: dict, small: dict, prefix: str, more: str = "") -> list[Row]:
        size, base = f"{self.big.movements:,} movements", f"{self.small.movements:,}"
        warm = f"median of {measure.WARM_DROPS} drops"
        answer, answer_base = _median_of(big, "answer"), _median_of(small, "answer")
        reports, reports_base = _median_of(big, "reports"), _median_of(small, "reports")
        return [
            Row("latency", f"{prefix}drop → answer: posted + archived ({big['first']['lines']} lines, {size})", answer,
                answer / answer_base, big["peak_rss_mb"],
                f"{warm}; ÷ same at {base} movements ({answer_base:.2f} s); first drop after start "
                f"{big['first']['answer']:.2f} s{more}"),
            Row("latency", f"{prefix}drop → answer: rejected + annotated copy ({size})", big["bad"]["answer"],
                big["bad"]["answer"] / small["bad"]["answer"], note=f"÷ same at {base} ({small['bad']['answer']:.2f} s)"),
            Row("latency", f"{prefix}drop → answer: backdated receipt, its pairs revalued from its date ({size})",
                big["backdated"]["answer"], big["backdated"]["answer"] / small["backdated"]["answer"],
                note=f"÷ same at {base} ({small['backdated']['answer']:.2f} s)"),
            Row("latency", f"{prefix}drop → reports refreshed ({size})", reports, reports / reports_base,
                note=f"{warm}; ÷ same at {base} ({reports_base:.2f} s); what changed of outbox/ rewritten; first drop "
                     f"after start {big['first']['reports']:.2f} s (it keeps the months' sales in outbox/.cache/)"),
            Row("latency", f"{prefix}drop → reports refreshed ÷ stock.xlsx alone ({size})", reports,
                reports / big["stock_alone"],
                note=f"{warm} ÷ stock.xlsx alone, same ledger and process ({big['stock_alone']:.2f} s, median of 3); "
                     f"first drop after start ×{big['first']['reports'] / big['stock_alone']:.1f}; at {base}: "
                     f"×{reports_base / small['stock_alone']:.1f}"),
        ]

    def _report_rows(self, r: dict, stock_alone: float) -> list[Row]:
        size = f"{self.big.movements:,} movements"
        return [
            Row("latency", f"jxc report --all: every report, every month's mirror ({r['months']} months, {size})",
                r["all"], r["all"] / stock_alone, r["peak_rss_mb"], f"÷ stock.xlsx alone ({stock_alone:.2f} s)"),
            Row("latency", f"jxc report, nothing posted since: {r['months_again']} mirrors rewritten ({size})",
                r["again"], r["again"] / stock_alone, note="÷ stock.xlsx alone; the other reports rewritten"),
        ]

    def peers(self) -> list[Row]:
        if shutil.which("hledger") is None:
            return [Row("peers", "hledger balance", note="skipped: hledger not on PATH (apt-get install hledger)")]
        ledger = self.ledger(self.big)
        journal = ledger.with_suffix(".journal")
        made_note = "cached"
        if not journal.exists():
            started = time.perf_counter()
            generate.hledger_journal(ledger, journal)
            made_note = f"written in {time.perf_counter() - started:.1f} s"
        self.hledger = child("hledger", journal=str(journal))
        return [Row("peers", f"hledger balance, {self.big.movements:,} postings (denominator of month-end)",
                    self.hledger["seconds"], 1.0, self.hledger["child_rss_mb"],
                    f"hledger {_hledger_version()}; journal {journal.stat().st_size / 1e6:.1f} MB, {made_note}")]

    def month_end(self) -> list[Row]:
        h, rows = self.hledger, []
        for method, label in (("moving_average", "moving average"), ("fifo", "FIFO"),
                              ("monthly_weighted_average", "monthly weighted average")):
            r = child("monthend", root=str(self.workspace(f"month-end-{method}", self.big)), month=generate.CLOSE_MONTH,
                      method=method)
            rows.append(Row("month-end", f"close {generate.CLOSE_MONTH}, {label} ({self.big.movements:,} movements)",
                            r["seconds"], r["seconds"] / h["seconds"] if h else None, r["peak_rss_mb"],
                            f"÷ hledger balance; pack {r['pack_mb']:.1f} MB" if h else "no ratio: peers (hledger) not run"))
            if method == "moving_average":
                rows.append(Row("month-end", "peak RSS ÷ hledger's", None, r["peak_rss_mb"] / h["child_rss_mb"] if h else None))
        return rows

    def reports(self) -> list[Row]:
        ledger = str(self.workspace("reports", self.big) / "ledger.sqlite3")
        plain = child("plain_xlsxwriter", ledger=ledger, out=str(self.work / "reports" / "plain.xlsx"))
        stock = child("stock_report", ledger=ledger, out=str(self.work / "reports" / "stock.xlsx"))
        return [
            Row("reports", f"plain xlsxwriter constant_memory, {plain['rows']:,} rows (denominator)",
                plain["seconds"], 1.0, plain["peak_rss_mb"], "same query, rows only"),
            Row("reports", f"stock.xlsx, {plain['rows']:,} rows", stock["seconds"], stock["seconds"] / plain["seconds"],
                stock["peak_rss_mb"], "with its summary and below_safety sheets"),
        ]

    def money(self) -> list[Row]:
        settles = max(50, round(5_000 * self.scale))
        lines = max(5, round(500 * self.scale))
        big_open = settles + settles // 5
        big = generate.MoneyShape(max(2 * big_open, self.scaled(1_000_000)), max(10, self.scaled(20_000)), big_open)
        small_docs = max(2 * big_open, self.scaled(10_000))
        small = generate.MoneyShape(small_docs, max(10, (small_docs - big_open) // 50), big_open)
        folder = self.work / "money"
        folder.mkdir()
        form, _total = generate.collection_form(folder / "收款-BENCH.xlsx", lines, settles)
        log = lambda text: print(text, file=sys.stderr)  # noqa: E731
        posted = {}
        for name, shape in (("big", big), ("small", small)):
            ledger = folder / f"{name}.sqlite3"
            shutil.copyfile(generate.cached_money_ledger(shape, self.cache, log), ledger)
            posted[name] = child("money_post", ledger=str(ledger), form=str(form))
        ledger = str(folder / "big.sqlite3")
        aging = child("money_aging", ledger=ledger, at=generate.DROP_DAY.isoformat())
        month = f"{generate.LAST_DAY:%Y-%m}"
        plain = child("plain_statements", ledger=ledger, out=str(folder / "plain.xlsx"), month=month)
        statements = child("money_statements", ledger=ledger, folder=str(folder / "statements"), month=month)
        b, s = posted["big"], posted["small"]
        size = f"{big.documents:,} documents, {big.partners:,} partners"
        return self._money_rows(big, small, b, s, aging, plain, statements, month, size) + self._money_postgres(
            big, small, form, size)

    def _money_postgres(self, big, small, form: Path, size: str) -> list[Row]:
        """The 收款单 and the aging again, on copies of the same ledgers in PostgreSQL."""
        if not self.postgres:
            return [Row("money", "PostgreSQL: post a 收款单", note="skipped: --pg ''")]
        from jxc_sheets.ledger import schema
        from jxc_sheets.ledger.db import open_ledger, reading
        from jxc_sheets.ledger.transfer import analyze, copy_table, reset_sequences

        def copy(cached: Path, url: str) -> None:
            """migrate-ledger's copy without its jxc check: the generated money ledger has
            deliveries without stock lines, which the check would refuse."""
            source, target = open_ledger(f"sqlite:///{cached}", create=False), open_ledger(url)
            with reading(source) as src, target.begin() as dst:
                for table in schema.metadata.sorted_tables:
                    copy_table(src, dst, table)
                reset_sequences(dst)
            analyze(target)
            source.dispose()
            target.dispose()

        log = lambda text: print(text, file=sys.stderr)  # noqa: E731
        posted, aging = {}, None
        for name, shape in (("big", big), ("small", small)):
            cached = generate.cached_money_ledger(shape, self.cache, log)
            kept, _ = self.kept_on_postgres(cached, partial(copy, cached))
            with postgres_schema(self.postgres) as url:
                clone_ledger(kept, url)
                posted[name] = child("money_post", ledger="", form=str(form), url=url)
                if name == "big":
                    aging = child("money_aging", ledger="", at=generate.DROP_DAY.isoformat(), url=url)
        b, s = posted["big"], posted["small"]
        return [
            Row("money", f"PostgreSQL: post a {b['lines']}-line 收款单 settling {b['settled']:,} documents ({size})",
                b["seconds"], b["seconds"] / s["seconds"], b["peak_rss_mb"],
                f"target ≤ 1 s; ÷ same at {small.documents:,} documents ({s['seconds']:.2f} s); target ≤ 1.5"),
            Row("money", f"PostgreSQL: aging of {aging['open_items']:,} open items", aging["seconds"], None,
                aging["peak_rss_mb"], "target ≤ 2 s"),
        ]

    def _money_rows(self, big, small, b, s, aging, plain, statements, month, size) -> list[Row]:
        return [
            Row("money", f"post a {b['lines']}-line 收款单 settling {b['settled']:,} documents ({size})", b["seconds"],
                b["seconds"] / s["seconds"], b["peak_rss_mb"],
                f"target ≤ 1 s; ÷ same at {small.documents:,} documents ({s['seconds']:.2f} s, {s['settled']:,} settled)"
                f"; target ≤ 1.5"),
            Row("money", f"aging of {aging['open_items']:,} open items ({aging['partners']:,} partners)", aging["seconds"],
                None, aging["peak_rss_mb"], "target ≤ 2 s"),
            Row("money", f"plain xlsxwriter, the statements' {plain['rows']:,} rows as one sheet (denominator)",
                plain["seconds"], 1.0, plain["peak_rss_mb"]),
            Row("money", f"对账单 of {month}: {statements['statements']:,} workbooks", statements["seconds"],
                statements["seconds"] / plain["seconds"], statements["peak_rss_mb"],
                f"target ≤ 60 s and ≤ 2; again, nothing changed: {statements['again']:.2f} s"),
        ]

    def watch(self) -> list[Row]:
        idle, copy = (10.0, 4.0) if self.scale >= 1 else (3.0, 2.0) if self.scale >= 0.01 else (1.0, 1.0)
        stall = 5.0  # longer than inbox.stable_seconds (3)
        observers = ("native", "polling")
        # both at once, a watcher each: they wait on the clock, not on a core
        with ThreadPoolExecutor(len(observers)) as pool:
            runs = pool.map(lambda observer: child("watch_cpu", root=str(self.work / f"watch-{observer}"),
                                                   observer=observer, idle_seconds=idle, copy_seconds=copy,
                                                   stall_seconds=stall), observers)
        rows = []
        for observer, r in zip(observers, runs):
            for name, what in (("idle", f"idle {idle:.0f} s"),
                               ("settling", f"a form copied in {copy:.0f} s with a {stall:.0f} s stall, until taken")):
                cpu, wall = r[name]["cpu"], r[name]["wall"]
                rows.append(Row("watch", f"{name} CPU, {observer} observer", cpu, cpu / wall,
                                note=f"{100 * cpu / wall:.1f} % of a core: CPU s ÷ {wall:.1f} s wall; {what}"))
        return rows

    def assembly(self) -> list[Row]:
        components = min(200, self.big.history_skus)  # the small ledger has as many as it holds
        runs = {name: child("assembly", root=str(self.workspace(f"assembly-{name}", shape)), components=components,
                            day=generate.DROP_DAY.isoformat())
                for name, shape in (("big", self.big), ("small", self.small))}
        big, small = runs["big"], runs["small"]
        return [Row("assembly", f"assemble 1 from a BOM of {big['components']} components ({self.big.movements:,} movements)",
                    big["seconds"], big["seconds"] / small["seconds"], big["peak_rss_mb"],
                    f"target ≤ 0.3 s; ÷ same at {self.small.movements:,} movements, {small['components']} components"
                    f" ({small['seconds']:.2f} s)")]

    def landed_cost(self) -> list[Row]:
        receipts, lines = 50, max(1, self.scaled(5_000) // 50)
        runs = {name: child("landed", root=str(self.workspace(f"landed-{name}", shape)), receipts=receipts, lines=lines,
                            skus=shape.skus, day=generate.DROP_DAY.isoformat())
                for name, shape in (("big", self.big), ("small", self.small))}
        big, small = runs["big"], runs["small"]
        return [Row("landed-cost", f"landed cost over {receipts} receipts, {big['lines']:,} lines "
                                   f"({self.big.movements:,} movements)",
                    big["seconds"], big["seconds"] / small["seconds"], big["peak_rss_mb"],
                    f"target ≤ 1 s; ÷ same at {self.small.movements:,} movements ({small['seconds']:.2f} s)")]

    def sales(self) -> list[Row]:
        lines, price_rows = max(5, self.scaled(500)), max(50, self.scaled(100_000))
        runs = {name: child("sales_prices", root=str(self.workspace(f"sales-{name}", shape)), lines=lines,
                            price_rows=price_rows, day=generate.DROP_DAY.isoformat())
                for name, shape in (("big", self.big), ("small", self.small))}
        big, small = runs["big"], runs["small"]
        analysis = child("sales_analysis", ledger=str(self.workspace("sales-analysis", self.big) / "ledger.sqlite3"),
                         out=str(self.work / "analysis.xlsx"), today=generate.DROP_DAY.isoformat())
        return [
            Row("sales", f"a {big['lines']}-line delivery priced from a price list of {big['price_rows']:,} rows "
                         f"({self.big.movements:,} movements)", big["seconds"], big["seconds"] / small["seconds"],
                big["peak_rss_mb"], f"check + post, the pricing included; target ≤ 0.2 s for the pricing; ÷ same at "
                                    f"{self.small.movements:,} movements ({small['seconds']:.2f} s)"),
            Row("sales", f"analysis.xlsx ({self.big.movements:,} movements)", analysis["seconds"], None,
                analysis["peak_rss_mb"], "target ≤ 10 s"),
        ]


    def check(self) -> list[Row]:
        rows = self._check(self.workspace("check", self.big), "", "")
        if not self.postgres:
            return rows + [Row("check", "PostgreSQL: jxc check", note="skipped: --pg ''")]
        with postgres_schema(self.postgres) as url:
            root, copied = self.postgres_workspace("check-pg", self.big, url)
            return rows + self._check(root, url, "PostgreSQL: ", f"; ledger copied by migrate-ledger in {copied:.0f} s")

    def _check(self, root: Path, url: str, prefix: str, more: str = "") -> list[Row]:
        full = child("check", root=str(root), since=False, url=url)
        child("drop", root=str(root), stocked_skus=self.big.history_skus, url=url)
        since = child("check", root=str(root), since=True, url=url)
        size = f"{self.big.movements:,} movements"
        return [
            Row("check", f"{prefix}jxc check ({size})", full["seconds"], None, full["peak_rss_mb"],
                f"target ≤ 10 s; CPU {full['cpu']:.2f} s{more}"),
            Row("check", f"{prefix}jxc check --since LAST, after one 50-line delivery ({size})", since["seconds"],
                since["seconds"] / full["seconds"], since["peak_rss_mb"], f"÷ the full check; CPU {since['cpu']:.2f} s"),
        ]


@contextmanager
def postgres_schema(server: str):
    """The URL of a new, empty schema of its own on the PostgreSQL server at `server`, as
    `ledger.url` names it (through search_path); the schema is dropped afterwards."""
    import sqlalchemy

    name = f"jxc_bench_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(server)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        yield schema_url(server, name)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()


def schema_url(server: str, name: str) -> str:
    return f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{name}"


def schema_of(url: str) -> str:
    """The schema a `schema_url` names."""
    import sqlalchemy

    return sqlalchemy.engine.make_url(url).query["options"].removeprefix("-csearch_path=")


def clone_ledger(source: str, url: str) -> None:
    """The ledger in the schema `source` copied, row for row and ids kept, into the new
    schema at `url` by the server itself: seconds where migrate-ledger takes minutes."""
    from jxc_sheets.ledger import schema
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.ledger.transfer import analyze, reset_sequences

    target = open_ledger(url)
    quote = target.dialect.identifier_preparer.quote
    with target.begin() as conn:
        for table in schema.metadata.sorted_tables:
            columns = ", ".join(quote(column.name) for column in table.columns)
            conn.execute(table.delete())  # the schema version open_ledger wrote
            conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) "
                                 f"SELECT {columns} FROM {quote(source)}.{quote(table.name)}")
        reset_sequences(conn)
    analyze(target)
    target.dispose()


def child(name: str, **kwargs) -> dict:
    """Runs measure.NAME(**kwargs) in a process of its own; returns its numbers and peak RSS.
    Most are forked from a server that has imported jxc's pipeline already: what is timed
    never includes the imports, and this spares each of the 40-odd children about a second.
    Their peak RSS then holds those modules even where the child would not have needed them
    all. The children whose peak RSS meets a target (ingest's, month-end's) and hledger's
    (its peak RSS is hledger's) start as processes of their own, importing what they use."""
    started = time.perf_counter()
    if name in EXECUTED:
        done = subprocess.run([sys.executable, measure.__file__, name, json.dumps(kwargs)],
                              capture_output=True, text=True, encoding="utf-8")
        result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"failed": ""}
        output = done.stderr
    else:
        result, output = _forked(name, kwargs)
    print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if "failed" in result:
        raise SystemExit(f"benchmark {name} failed:\n{output[-4000:]}\n{result['failed']}")
    return result


EXECUTED = {"hledger", "ingest", "rejected", "monthend"}
PRELOADED = ["measure", "generate", "jxc_sheets.pipeline"]


def _forked(name: str, kwargs: dict) -> tuple[dict, str]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED)
    receiver, sender = context.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile(prefix=f"jxc-bench-{name}-", suffix=".log", delete=False) as log:
        output = Path(log.name)
    try:
        process = context.Process(target=measure.run_child, args=(name, kwargs, str(output), sender))
        process.start()
        sender.close()
        try:
            result = receiver.recv()
        except EOFError:  # it died without answering (killed, out of memory)
            result = None
        process.join()
        result = result or {"failed": f"exit code {process.exitcode}"}
        return result, output.read_text(encoding="utf-8", errors="replace")
    finally:
        output.unlink(missing_ok=True)


def _median_of(latency: dict, measure_name: str) -> float:
    return statistics.median(v[measure_name] for k, v in latency.items() if k.startswith("warm"))


def _hledger_version() -> str:
    out = subprocess.run(["hledger", "--version"], capture_output=True, text=True).stdout.split()
    return out[1].rstrip(",") if len(out) > 1 else "?"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?") if Path("/proc/cpuinfo").exists() else "?"
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{platform.system()} {platform.release()}")


def print_table(rows: list[Row]) -> None:
    def show(value: float | None, places: int) -> str:
        return "—" if value is None else f"{value:,.{places}f}"

    cells = [HEADER] + [(r.benchmark, r.measure, show(r.seconds, 2), show(r.ratio, 2), show(r.rss_mb, 0), r.note)
                        for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER) - 1)]
    for c in cells:
        print("  ".join([c[0].ljust(widths[0]), c[1].ljust(widths[1]),
                         *(v.rjust(w) for v, w in zip(c[2:5], widths[2:5])), c[5]]).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated, of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("JXC_BENCH_SCALE", "1")),
                        help="multiplies every size, e.g. 0.1 for a quick run (default: $JXC_BENCH_SCALE or 1)")
    parser.add_argument("--quick", action="store_true",
                        help="the same rows at 1/10 scale (--scale 0.1): a few minutes, to see that nothing regressed")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "jxc-bench-cache",
                        help="where the generated ledger and journal are kept between runs (default: %(default)s)")
    parser.add_argument("--pg", default=POSTGRES, metavar="URL",
                        help="the PostgreSQL server for ingest, latency and check on PostgreSQL, '' for none "
                             "(default: $JXC_BENCH_PG_URL or %(default)s)")
    args = parser.parse_args()
    if args.quick:
        args.scale = QUICK_SCALE
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
    # peers before month-end: its time is month-end's denominator
    order = sorted(chosen, key=lambda name: (name == "month-end", BENCHMARKS.index(name)))
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="jxc-bench-") as work:
        suite = Suite(args.scale, Path(work), args.cache, args.pg)
        for name in order:
            began = time.perf_counter()
            rows += getattr(suite, name.replace("-", "_"))()
            print(f"{name}: {time.perf_counter() - began:.0f} s", file=sys.stderr)
    rows.sort(key=lambda r: BENCHMARKS.index(r.benchmark))
    print(f"jxc-sheets benchmarks · scale {args.scale:g} · {time.strftime('%Y-%m-%d')} · {machine()}")
    print("× denominator: each measurement ÷ the one named in its row or note, measured in the same run\n")
    print_table(rows)
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
