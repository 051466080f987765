"""Batches benchmark (issue 18): posting a 500-line delivery whose batches are picked
first-expiry-first-out, and `jxc trace`, on a ledger of many movements and batches.

    .venv/bin/python benchmarks/batches.py                      # 1,000,000 movements, 200,000 batches
    .venv/bin/python benchmarks/batches.py --movements 10000 --batches 2000

The ledger is written straight into SQLite (as benchmarks/generate.py does): tracked
items each holding `batches ÷ tracked` batches in one warehouse, one opening movement per
batch, and untracked items filling the rest of the movements. The delivery is a real
workbook through the pipeline (read → validate → check → post → archive; the reports are
not rewritten: they are not what is measured). Each delivery line asks for 1.5 batches'
worth, so FEFO picks two batches a line. Prints seconds per measure, and the ratio of
posting at this size to posting at 10,000 movements.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jxc_sheets import inbox  # noqa: E402
from jxc_sheets.config import BatchesConfig, Config, Settings  # noqa: E402
from jxc_sheets.kinds import KINDS  # noqa: E402
from jxc_sheets.ledger.db import open_ledger, reading  # noqa: E402
from jxc_sheets.pipeline import process_batch  # noqa: E402
from jxc_sheets.reports.trace import trace, trace_path, write_trace  # noqa: E402
from jxc_sheets.sheets.forms import write_form  # noqa: E402

QTY, MONEY, COST = 10 ** 4, 10 ** 2, 10 ** 6
DAY = date(2026, 10, 1)
PER_BATCH = 100  # units of each batch


def build(root: Path, movements: int, batches: int, tracked: int) -> Settings:
    settings = Settings(Config(batches=BatchesConfig(auto_pick="fefo")), root)
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True, exist_ok=True)
    open_ledger(settings.ledger_url).dispose()  # the schema
    db = sqlite3.connect(root / "ledger.sqlite3")
    db.execute("INSERT INTO warehouses (code, name, site, remark) VALUES ('WH1', '总仓', '', '')")
    db.execute("INSERT INTO suppliers (code, name, contact, phone, address, remark) VALUES ('S1', '供应商', '', '', '', '')")
    db.execute("INSERT INTO customers (code, name, contact, phone, address, remark) VALUES ('C1', '客户', '', '', '', '')")
    untracked = max(1, (movements - batches) // 50)
    items = [(f"T{i:05d}", 1, 1) for i in range(tracked)] + [(f"U{i:06d}", None, None) for i in range(untracked)]
    db.executemany("INSERT INTO items (sku, name, spec, unit, category, safety_stock, reorder_qty, lead_time_days,"
                   " default_supplier, active, batch_tracked, expiry_tracked, shelf_life_days) VALUES"
                   " (?, ?, '', '个', '', 0, 0, 0, '', 1, ?, ?, 365)", [(s, s, b, e) for s, b, e in items])
    stamp = DAY.isoformat()
    db.execute("INSERT INTO documents (id, kind, doc_no, doc_date, warehouse, to_warehouse, partner, ref_doc, reason,"
               " prepared_by, remark, source_file, content_hash, posted_at) VALUES (1, 'opening', 'QC-BENCH', ?, '', '',"
               " '', '', '', '', '', 'bench', ?, ?)", (stamp, "0" * 64, stamp + " 00:00:00"))
    per_sku = batches // tracked
    moves, batch_rows, batch_moves, batch_balances, balances = [], [], [], [], []
    for t in range(tracked):
        sku = f"T{t:05d}"
        for b in range(per_sku):
            name = f"B{t:05d}-{b:03d}"
            expiry = (DAY + timedelta(days=30 + (b * 7919) % 400)).isoformat()  # shuffled expiries
            moves.append((1, len(moves) + 1, "opening", stamp, sku, "WH1", PER_BATCH * QTY, 1 * COST, PER_BATCH * MONEY,
                          (b + 1) * PER_BATCH * QTY, (b + 1) * PER_BATCH * MONEY, "cost", PER_BATCH * MONEY))
            batch_rows.append((sku, name, None, expiry, 1, len(moves), "S1"))
            batch_moves.append((1, len(moves), "opening", stamp, sku, "WH1", name, PER_BATCH * QTY, "S1"))
            batch_balances.append((sku, "WH1", name, PER_BATCH * QTY))
        balances.append((sku, "WH1", per_sku * PER_BATCH * QTY, per_sku * PER_BATCH * MONEY, 1 * COST, stamp, per_sku))
    filler = movements - len(moves)
    for u in range(untracked):
        n = filler // untracked + (1 if u < filler % untracked else 0)
        sku = f"U{u:06d}"
        for k in range(n):
            moves.append((1, len(moves) + 1, "opening", stamp, sku, "WH1", QTY, COST, MONEY, (k + 1) * QTY, (k + 1) * MONEY,
                          "cost", MONEY))
        balances.append((sku, "WH1", n * QTY, n * MONEY, COST, stamp, n))
    db.executemany("INSERT INTO movements (document_id, line_no, kind, doc_date, sku, warehouse, qty, unit_cost, value,"
                   " balance_qty, balance_value, basis, given) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", moves)
    db.executemany("INSERT INTO balances (sku, warehouse, qty, value, unit_cost, last_date, movements) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   balances)
    db.executemany("INSERT INTO batches (sku, batch, production_date, expiry_date, document_id, line_no, partner)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", batch_rows)
    db.executemany("INSERT INTO batch_movements (document_id, line_no, kind, doc_date, sku, warehouse, batch, qty, partner)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_moves)
    db.executemany("INSERT INTO batch_balances (sku, warehouse, batch, qty) VALUES (?, ?, ?, ?)", batch_balances)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return settings


def post_delivery(settings: Settings, lines: int, tracked: int, n: int) -> float:
    """Seconds to post a `lines`-line delivery with empty 批号 (FEFO), read to archived."""
    rows = [{"sku": f"T{(i * 7 + n) % tracked:05d}", "qty": PER_BATCH * 3 // 2, "unit_price": 2} for i in range(lines)]
    path = write_form(settings.inbox / f"delivery-{n}.xlsx", KINDS["delivery"],
                      header={"doc_no": f"XS-BENCH-{n}", "doc_date": DAY + timedelta(days=1), "warehouse": "WH1",
                              "customer": "C1"}, lines=rows)
    engine = open_ledger(settings.ledger_url)
    start = time.perf_counter()
    [outcome] = process_batch([path], settings, engine, refresh=lambda outcomes: None)
    took = time.perf_counter() - start
    engine.dispose()
    assert outcome.status == "posted", outcome.problems[:3]
    assert not inbox.candidates(settings.inbox)
    return took


def trace_one(settings: Settings) -> tuple[float, int]:
    engine = open_ledger(settings.ledger_url)
    start = time.perf_counter()
    with reading(engine) as conn:
        found = trace(conn, "B00007-001")
    with tempfile.TemporaryDirectory() as folder:
        write_trace(found, Path(folder) / trace_path(settings.outbox, "x").name)
    took = time.perf_counter() - start
    engine.dispose()
    return took, len(found.moves)


def measure(movements: int, batches: int, lines: int, tracked: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        settings = build(Path(folder), movements, batches, tracked)
        built = time.perf_counter() - start
        post_delivery(settings, 20, tracked, 0)  # warm: the first file pays for imports and the page cache
        posts = sorted(post_delivery(settings, lines, tracked, n) for n in range(1, 4))
        traced, moves = trace_one(settings)
    return {"built": built, "post": posts[1], "trace": traced, "trace_moves": moves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--tracked", type=int, default=2_000, help="batch-tracked items (batches are spread over them)")
    args = parser.parse_args()
    small = measure(10_000, 5_000, args.lines, 500)  # 10 batches an item: enough for the four deliveries
    big = measure(args.movements, args.batches, args.lines, args.tracked)
    print(f"{'measure':60s}  {'seconds':>8s}  target")
    print(f"{'post a ' + str(args.lines) + '-line FEFO delivery, 10,000 movements (median of 3)':60s}  {small['post']:8.2f}")
    print(f"{f'the same, {args.movements:,} movements, {args.batches:,} batches':60s}  {big['post']:8.2f}  ≤ 0.5")
    print(f"{'ratio, large ÷ small':60s}  {big['post'] / small['post']:8.2f}  ≤ 1.5")
    traced = f"jxc trace of one batch ({int(big['trace_moves'])} movements), {args.movements:,} movements"
    print(f"{traced:60s}  {big['trace']:8.2f}  ≤ 2")
    print(f"{'(generating the large ledger, not counted)':60s}  {big['built']:8.2f}")


if __name__ == "__main__":
    main()
