"""The performance suite: one command, one table of ratios.

    python benchmarks/run.py [--lines 100000]

ingest: a receipt workbook in the batch layout (10 columns, generated here,
nothing committed) goes through read → validate → check+post into a fresh
SQLite ledger; the plain python-calamine read of the same file, in the same
run, is the denominator of the ratios. Peak RSS is measured in a child process
that does only the ingest.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit", "unit_cost", "batch", "remark"]


def make_workbook(path: Path, lines: int, skus: int) -> None:
    import xlsxwriter

    from jxc_sheets import kinds

    kind = kinds.KINDS["receipt"]
    labels = {f.key: f.label for f in kind.fields}
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("明细")
    sheet.write_row(0, 0, [labels[c] for c in COLUMNS])
    start = date(2026, 11, 1)
    for i in range(lines):
        doc = i // 1000
        sheet.write_row(i + 1, 0, [
            f"CG-{doc:05d}", (start + timedelta(days=doc % 28)).isoformat(), f"WH{doc % 3 + 1}", "S01",
            f"SKU{i % skus:05d}", (i % 50) + 1, "", f"{(i % 997) / 10 + 1:.2f}", f"B{doc}", "",
        ])
    meta = book.add_worksheet("_meta")
    meta.write_row(0, 0, ["kind", "receipt"])
    meta.write_row(1, 0, ["version", kinds.FORM_VERSION])
    meta.write_row(2, 0, ["layout", "batch"])
    meta.hide()
    book.close()


def seed_ledger(url: str, skus: int) -> None:
    from jxc_sheets.ledger import schema
    from jxc_sheets.ledger.db import open_ledger

    engine = open_ledger(url)
    with engine.begin() as conn:
        conn.execute(schema.warehouses.insert(), [{"code": f"WH{i}", "name": f"仓库{i}", "site": "", "remark": ""} for i in (1, 2, 3)])
        conn.execute(schema.suppliers.insert(), [{"code": "S01", "name": "供应商", "contact": "", "phone": "", "address": "", "remark": ""}])
        conn.execute(schema.items.insert(), [
            {"sku": f"SKU{i:05d}", "name": f"物料{i}", "spec": "", "unit": "个", "category": "", "safety_stock": 0,
             "reorder_qty": 0, "lead_time_days": 0, "default_supplier": "", "active": True} for i in range(skus)
        ])


def ingest(path: Path, url: str) -> dict:
    """The stages one by one, timed; what the pipeline does for one file."""
    import python_calamine

    from jxc_sheets.check import check
    from jxc_sheets.ledger import post
    from jxc_sheets.ledger.db import open_ledger
    from jxc_sheets.sheets.read import read_workbook
    from jxc_sheets.validate import validate

    t0 = time.perf_counter()
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    plain_rows = sum(1 for _ in book.get_sheet_by_name("明细").iter_rows())
    book.close()
    t1 = time.perf_counter()
    raws, problems = read_workbook(path)
    t2 = time.perf_counter()
    validated = validate(raws)
    t3 = time.perf_counter()
    engine = open_ledger(url)
    with engine.begin() as conn:
        checked = check(conn, validated.documents, validated.master, False)
        assert not (problems or validated.problems or checked.problems), (problems, validated.problems[:3], checked.problems[:3])
        file_id = post.record_file(conn, post.FileRecord(path.name, "", "receipt", "posted"))
        post.post_documents(conn, checked.to_post, file_id)
    t4 = time.perf_counter()
    lines = sum(len(d.lines) for d in checked.to_post)
    return {"plain_read": t1 - t0, "read": t2 - t1, "validate": t3 - t2, "post": t4 - t3, "lines": lines,
            "plain_rows": plain_rows, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ingest(Path(args.child[0]), args.child[1])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "receipt-batch.xlsx"
        t = time.perf_counter()
        make_workbook(path, args.lines, args.skus)
        made = time.perf_counter() - t
        size_mb = path.stat().st_size / 1e6
        url = f"sqlite:///{tmp}/ledger.sqlite3"
        seed_ledger(url, args.skus)
        out = subprocess.run([sys.executable, __file__, "--child", str(path), url], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    total = r["read"] + r["validate"] + r["post"]
    base = r["plain_read"]
    rows = [
        ("ingest: plain calamine read (denominator)", base, 1.0),
        ("ingest: read (jxc reader)", r["read"], r["read"] / base),
        ("ingest: validate", r["validate"], r["validate"] / base),
        ("ingest: check + post (one transaction)", r["post"], r["post"] / base),
        ("ingest: total read → posted", total, total / base),
    ]
    print(f"ingest of a {r['lines']:,}-line receipt (batch layout, {len(COLUMNS)} columns, "
          f"{size_mb:.1f} MB; generated in {made:.1f} s)\n")
    print(f"{'measure':<46}{'seconds':>10}{'× plain read':>14}")
    for name, seconds, ratio in rows:
        print(f"{name:<46}{seconds:>10.2f}{ratio:>14.1f}")
    print(f"{'ingest: lines per second':<46}{r['lines'] / total:>10,.0f}")
    print(f"{'ingest: peak RSS of the ingest process (MB)':<46}{r['peak_rss_mb']:>10,.0f}")


if __name__ == "__main__":
    main()
