"""The benchmark suite (benchmarks/run.py) still runs: at a tiny scale, as a subprocess,
it prints its one table with a row for every benchmark, ingest and latency on the
PostgreSQL server too. Speed targets are ratios for
people to read in that table, never asserted here."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PG_SERVER, pg_admin

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["benchmark", "measure", "seconds", "× denominator", "peak RSS MB", "note"]
ROWS = [  # (benchmark, the start of its measure, measured here whatever the machine has installed)
    ("ingest", "plain python-calamine read (denominator)", True),
    ("ingest", "total: read → posted", True),
    ("ingest", "PostgreSQL: total: read → posted", True),
    ("ingest", "rejected, 2 bad cells: read → annotated copy", True),
    ("ingest", "re-saved by LibreOffice", False),  # skipped with a note without soffice
    ("latency", "drop → answer: posted + archived", True),
    ("latency", "drop → answer: rejected + annotated copy", True),
    ("latency", "drop → reports refreshed", True),
    ("latency", "PostgreSQL: drop → answer: posted + archived", True),
    ("latency", "PostgreSQL: drop → reports refreshed", True),
    ("month-end", "close 2026-10, moving average", True),
    ("month-end", "close 2026-10, FIFO", True),
    ("month-end", "close 2026-10, monthly weighted average", True),
    ("reports", "plain xlsxwriter constant_memory", True),
    ("reports", "stock.xlsx", True),
    ("money", "post a", True),
    ("money", "aging of", True),
    ("money", "plain xlsxwriter, the statements'", True),
    ("money", "对账单 of", True),
    ("money", "PostgreSQL: post a", True),
    ("money", "PostgreSQL: aging of", True),
    ("peers", "hledger balance", False),  # skipped with a note without hledger
    ("watch", "idle CPU, native observer", True),
    ("watch", "settling CPU, native observer", True),
    ("watch", "idle CPU, polling observer", True),
    ("watch", "settling CPU, polling observer", True),
    ("assembly", "assemble 1 from a BOM of", True),
    ("landed-cost", "landed cost over 50 receipts", True),
    ("sales", "a ", True),
    ("sales", "analysis.xlsx", True),
    ("check", "jxc check (", True),
    ("check", "jxc check --since LAST", True),
    ("check", "PostgreSQL: jxc check (", True),
    ("check", "PostgreSQL: jxc check --since LAST", True),
]


HALVES = [("ingest", "latency", "peers", "assembly", "landed-cost", "check"),
          ("month-end", "reports", "money", "watch", "sales")]  # run side by side, about as long each


@pytest.mark.slow
@pytest.mark.parametrize("half", HALVES, ids=["+".join(h) for h in HALVES])
def test_the_suite_prints_one_table_with_a_row_for_each_benchmark(tmp_path: Path, half: tuple[str, ...]):
    """Each half of the suite (`--only`), so that two workers run them at once; month-end
    runs without peers here, and says it has no ratio."""
    pg_admin().dispose()
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scale", "0.001",
                           "--only", ",".join(half), "--cache", str(tmp_path / "cache"), "--pg", PG_SERVER],
                          cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines() if "  " in line]
    assert table[0] == HEADER
    rows = table[1:]
    expected = [(b, m, measured) for b, m, measured in ROWS if b in half]
    for benchmark, measure, measured in expected:
        found = [r for r in rows if r[0] == benchmark and r[1].startswith(measure)]
        assert found, f"no row {benchmark} · {measure} in:\n{done.stdout}"
        if measured:
            assert re.fullmatch(r"[\d,]+\.\d\d", found[0][2]), found[0]  # seconds, measured
    assert {r[0] for r in rows} == set(half)
    assert list(tmp_path.glob("cache/ledger-*.sqlite3"))  # the generated ledger is cached for the next run
