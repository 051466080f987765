"""Generated data for the benchmarks (nothing of it is committed): the receipt
workbook of the ingest benchmark, a ledger of many movements written straight
into SQLite, the same movements as an hledger journal, and the delivery forms
dropped by the latency benchmark.

The ledger is what posting would have made — documents, lines, movements with
running balances under the moving average, the balances table, the hash chain
(chain.link, the rule `jxc check` verifies) and closed months — but written with
executemany in a few big transactions instead of document by document, so a
million movements take seconds, not hours. It is checked with
integrity.check_ledger once, when it is generated, and cached by its shape and
the source of the modules it imitates.
"""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import time
from collections import namedtuple
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from jxc_sheets import kinds
from jxc_sheets.ledger import chain, costing, integrity, money, schema
from jxc_sheets.ledger.db import open_ledger

RECEIPT_COLUMNS = ["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit", "unit_cost", "batch", "remark"]

FIRST_DAY, LAST_DAY = date(2024, 11, 1), date(2026, 10, 31)  # 24 months
CLOSE_MONTH = "2026-10"  # the month-end benchmark closes the last month; the ones before are closed already
DROP_DAY = date(2026, 11, 2)  # the latency benchmark's deliveries: after the history, in an open month
WAREHOUSES, SITES, SUPPLIERS, CUSTOMERS = 20, 5, 20, 100
PER_PAIR = 5  # movements per sku × warehouse: receipt, delivery, receipt, delivery, receipt (or R R D R D)
PATTERNS = (("receipt", "delivery", "receipt", "delivery", "receipt"),
            ("receipt", "receipt", "delivery", "receipt", "delivery"))
DELIVERY_LINES = 50


# --- the ingest benchmark's workbook ----------------------------------------------------------

def receipt_workbook(path: Path, lines: int, skus: int, bad_lines: tuple[int, ...] = ()) -> None:
    """A receipt in the batch layout, 10 columns, 1,000 lines per document; the lines
    numbered in `bad_lines` (0-based) have a quantity that is no number."""
    import xlsxwriter

    labels = {f.key: f.label for f in kinds.KINDS["receipt"].fields}
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("明细")
    sheet.write_row(0, 0, [labels[c] for c in RECEIPT_COLUMNS])
    start = date(2026, 11, 1)
    for i in range(lines):
        doc = i // 1000
        sheet.write_row(i + 1, 0, [
            f"CG-{doc:05d}", (start + timedelta(days=doc % 28)).isoformat(), f"WH{doc % 3 + 1}", "S01",
            f"SKU{i % skus:05d}", "x" if i in bad_lines else (i % 50) + 1, "", f"{(i % 997) / 10 + 1:.2f}", f"B{doc}", "",
        ])
    meta = book.add_worksheet("_meta")
    meta.write_row(0, 0, ["kind", "receipt"])
    meta.write_row(1, 0, ["version", kinds.FORM_VERSION])
    meta.write_row(2, 0, ["layout", "batch"])
    meta.hide()
    book.close()


def libreoffice_copy(source: Path, folder: Path) -> Path | None:
    """The workbook opened and saved again by LibreOffice, as many users' files are made;
    None when LibreOffice is not installed."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        return None
    subprocess.run([office, "--headless", "--calc", "--convert-to", "xlsx", "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=1800)
    return folder / source.name


def seed_ingest_ledger(url: str, skus: int) -> None:
    engine = open_ledger(url)
    with engine.begin() as conn:
        conn.execute(schema.warehouses.insert(), [{"code": f"WH{i}", "name": f"仓库{i}", "site": "", "remark": ""} for i in (1, 2, 3)])
        conn.execute(schema.suppliers.insert(), [{"code": "S01", "name": "供应商", "contact": "", "phone": "", "address": "", "remark": ""}])
        conn.execute(schema.items.insert(), [
            {"sku": f"SKU{i:05d}", "name": f"物料{i}", "spec": "", "unit": "个", "category": "", "safety_stock": 0,
             "reorder_qty": 0, "lead_time_days": 0, "default_supplier": "", "active": True} for i in range(skus)
        ])
    engine.dispose()


# --- the big ledger ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """A ledger: `skus` items × 20 warehouses in the master data; the first `history_skus`
    of them have 5 movements in every warehouse over the 24 months."""

    skus: int
    history_skus: int

    @property
    def movements(self) -> int:
        return self.history_skus * WAREHOUSES * PER_PAIR


def source_key() -> str:
    """Changes when this generator or what it imitates (schema, chain, costing) changes."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for module in (schema, chain, costing, money):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def cached_ledger(shape: Shape, cache: Path, log=print) -> Path:
    """The ledger file of `shape`, generated into `cache` unless it is there already."""
    key = source_key()
    path = cache / f"ledger-{shape.skus}x{WAREHOUSES}-{shape.movements}-{key}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob("ledger-*"):  # made by an older generator or schema: of no use any more
        if f"-{key}." not in stale.name:
            stale.unlink()
    partial = path.with_suffix(".partial")
    for leftover in cache.glob(partial.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    write_ledger(partial, shape)
    written = time.perf_counter() - started
    engine = open_ledger(f"sqlite:///{partial}")
    with engine.begin() as conn:  # what each delivery, receipt and return is owed, as posting records it
        d = schema.documents
        ids = conn.execute(select(d.c.id).where(d.c.kind.in_(money.STOCK_ITEMS)).order_by(d.c.id)).scalars().all()
        money.allocate(conn, money.record_documents(conn, ids))
    with engine.connect() as conn:
        problems = integrity.check_ledger(conn)
    engine.dispose()
    if problems:
        raise AssertionError(f"the generated ledger fails jxc check: {problems[:5]}")
    for leftover in cache.glob(partial.name + "-*"):  # WAL files, empty after the last connection closed
        leftover.unlink()
    partial.rename(path)
    log(f"generated a ledger of {shape.movements:,} movements in {written:.1f} s "
        f"(jxc check clean, {time.perf_counter() - started - written:.1f} s): {path}")
    return path


def _stamp(day: date) -> str:
    return f"{day.isoformat()} 18:00:00.000000"  # SQLAlchemy's DateTime text on SQLite


Doc = namedtuple("Doc", chain.DOC_FIELDS)
Move = namedtuple("Move", chain.MOVE_FIELDS)
QTY, MONEY, COST = 10 ** schema.QTY_PLACES, 10 ** schema.MONEY_PLACES, 10 ** schema.COST_PLACES


def _decimal(scaled: int, places: int) -> Decimal:
    return Decimal(scaled).scaleb(-places)  # as schema.Scaled reads it back


def _ratio(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half up, both positive (costing's ROUND_HALF_UP)."""
    return (2 * numerator + denominator) // (2 * denominator)


def write_ledger(path: Path, shape: Shape) -> None:
    open_ledger(f"sqlite:///{path}").dispose()  # the schema, as jxc creates it
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    indexes = [ix for table in (schema.movements, schema.lines) for ix in table.indexes]
    for ix in indexes:  # built once at the end: faster than keeping them up to date row by row
        db.execute(f'DROP INDEX "{ix.name}"')
    with db:
        _write_master(db, shape)
        _write_history(db, shape)
        _write_closed_months(db)
    engine = open_ledger(f"sqlite:///{path}", create=False)
    for ix in indexes:
        ix.create(engine)
    engine.dispose()
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


def _sku(s: int) -> str:
    return f"SKU{s:05d}"


def _warehouse(w: int) -> str:
    return f"WH{w + 1:02d}"


def _cost_cents(s: int, visit: int) -> int:
    return 100 + (s * 37 + visit * 11) % 9900


def _write_master(db: sqlite3.Connection, shape: Shape) -> None:
    sites = ["上海", "苏州", "杭州", "南京", "宁波"][:SITES]
    db.executemany("INSERT INTO warehouses (code, name, site, remark) VALUES (?, ?, ?, '')",
                   [(_warehouse(w), f"仓库{w + 1:02d}", sites[w % SITES]) for w in range(WAREHOUSES)])
    db.executemany("INSERT INTO suppliers (code, name, contact, phone, address, remark, lead_time_days)"
                   " VALUES (?, ?, '', '', '', '', 7)", [(f"S{i:02d}", f"供应商{i:02d}") for i in range(1, SUPPLIERS + 1)])
    db.executemany("INSERT INTO customers (code, name, contact, phone, address, remark) VALUES (?, ?, '', '', '', '')",
                   [(f"C{i:03d}", f"客户{i:03d}") for i in range(1, CUSTOMERS + 1)])
    db.executemany(
        "INSERT INTO items (sku, name, spec, unit, category, safety_stock, reorder_qty, lead_time_days,"
        " default_supplier, std_cost, sale_price, active) VALUES (?, ?, '', '个', ?, ?, ?, 7, ?, ?, ?, 1)",
        [(_sku(s), f"物料{s:05d}", f"类别{s % 20:02d}",
          (2000 if s % 50 == 0 else 10) * QTY,  # every 50th item is short: reorder suggestions have work
          100 * QTY, f"S{s % SUPPLIERS + 1:02d}", _cost_cents(s, 0) * (COST // MONEY),
          _cost_cents(s, 0) * 13 // 10 * (COST // MONEY)) for s in range(shape.skus)])


def _write_history(db: sqlite3.Connection, shape: Shape) -> None:
    days = (LAST_DAY - FIRST_DAY).days + 1
    gap = days // PER_PAIR
    pairs = shape.history_skus * WAREHOUSES
    qty = [0] * pairs  # whole units
    value = [0] * pairs  # cents
    unit_cost = [0] * pairs  # scaled
    count = [0] * pairs
    last_day = [""] * pairs
    documents, files, lines, movements = [], [], [], []
    previous = chain.GENESIS
    doc_id = 0
    for t in range(days):
        visit, phase = divmod(t, gap)
        if visit >= PER_PAIR:
            break
        day = FIRST_DAY + timedelta(days=t)
        day_text = day.isoformat()
        # the pairs whose visits fall on this phase of the cycle: (p * gap) // pairs == phase
        first, last = -(-phase * pairs // gap), -(-(phase + 1) * pairs // gap)
        todo: dict[tuple[int, str], list[int]] = {}
        for p in range(first, last):
            s, w = divmod(p, WAREHOUSES)
            todo.setdefault((w, PATTERNS[(s + w) % 2][visit]), []).append(p)
        for (w, kind), members in sorted(todo.items()):
            doc_id += 1
            receipt = kind == "receipt"
            doc_no = f"{'RK' if receipt else 'XS'}{doc_id:07d}"
            partner = f"S{(t + w) % SUPPLIERS + 1:02d}" if receipt else f"C{(t * 7 + w) % CUSTOMERS + 1:03d}"
            content_hash = hashlib.sha256(doc_no.encode()).hexdigest()
            moves = []
            for line_no, p in enumerate(members, start=1):
                s = p // WAREHOUSES
                q_before, v_before = qty[p], value[p]
                if receipt:
                    cents = _cost_cents(s, visit)
                    q = 10 + (s * 7 + w * 3 + visit) % 50
                    v = q * cents
                    cost, price = cents * (COST // MONEY), None
                else:
                    q = -max(1, q_before // 3)
                    v = -(v_before if -q == q_before else _ratio(-q * v_before, q_before))
                    cost, price = None, _cost_cents(s, 0) * 13 // 10 * (COST // MONEY)
                qty[p], value[p] = q_before + q, v_before + v
                if qty[p] > 0:
                    unit_cost[p] = _ratio(value[p] * (COST // MONEY), qty[p])
                count[p] += 1
                last_day[p] = day_text
                sku, wh = _sku(s), _warehouse(w)
                lines.append((doc_id, line_no, sku, wh, abs(q) * QTY, "个", abs(q) * QTY, QTY, cost, price))
                basis, given = ("cost", v) if receipt else ("issue", None)
                movements.append((doc_id, line_no, kind, day_text, sku, wh, q * QTY,
                                  _ratio(abs(v) * (COST // MONEY), abs(q)), v, qty[p] * QTY, value[p], basis, given))
                moves.append(Move(line_no, sku, wh, day, _decimal(q * QTY, schema.QTY_PLACES), basis,
                                  None if given is None else _decimal(given, schema.MONEY_PLACES), None))
            wh = _warehouse(w)
            previous = chain.link(previous, Doc(doc_id, kind, doc_no, day, wh, "", partner, "", "", content_hash, None), moves)
            documents.append((doc_id, kind, doc_no, day_text, wh, partner, f"{doc_no}.xlsx", content_hash, doc_id,
                              _stamp(day), previous))
            files.append((doc_id, f"{doc_no}.xlsx", content_hash, kind, len(members),
                          f"archive/{day:%Y-%m}/{doc_no}.xlsx", _stamp(day), day_text))
    db.executemany("INSERT INTO files (id, name, file_hash, kind, status, documents, lines, problems, first_problems,"
                   " moved_to, processed_at, first_date) VALUES (?, ?, ?, ?, 'posted', 1, ?, 0, '', ?, ?, ?)", files)
    db.executemany("INSERT INTO documents (id, kind, doc_no, doc_date, warehouse, to_warehouse, partner, ref_doc, reason,"
                   " prepared_by, remark, source_file, content_hash, file_id, posted_at, chain_hash)"
                   " VALUES (?, ?, ?, ?, ?, '', ?, '', '', '', '', ?, ?, ?, ?, ?)", documents)
    db.executemany("INSERT INTO lines (document_id, line_no, sku, warehouse, qty, unit, qty_entered, factor, unit_cost,"
                   " unit_price, batch, remark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '')", lines)
    db.executemany("INSERT INTO movements (document_id, line_no, kind, doc_date, sku, warehouse, qty, unit_cost, value,"
                   " balance_qty, balance_value, basis, given) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", movements)
    db.executemany("INSERT INTO balances (sku, warehouse, qty, value, unit_cost, last_date, movements)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(_sku(p // WAREHOUSES), _warehouse(p % WAREHOUSES), qty[p] * QTY, value[p], unit_cost[p],
                     last_day[p], count[p]) for p in range(pairs) if count[p]])


def _write_closed_months(db: sqlite3.Connection) -> None:
    """Every month before the benchmark's is closed, as a company that closes monthly has it."""
    months, day = [], FIRST_DAY
    while f"{day:%Y-%m}" < CLOSE_MONTH:
        months.append((f"{day:%Y-%m}", _stamp((day.replace(day=28) + timedelta(days=10)).replace(day=5))))
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    db.executemany("INSERT INTO periods (month, closed_at, closed_by) VALUES (?, ?, 'benchmark')", months)
    db.executemany("INSERT INTO period_audit (month, action, at, by, reason) VALUES (?, 'close', ?, 'benchmark', '')",
                   months)


def copy_ledger(cached: Path, root: Path) -> Path:
    """A workspace at `root` whose ledger is a copy of `cached` (the cache stays untouched)."""
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        (root / name).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, root / "ledger.sqlite3")
    return root


# --- the same movements as an hledger journal -----------------------------------------------------

def _amount(scaled: int, places: int) -> str:
    text = str(_decimal(abs(scaled), places))
    return text.rstrip("0").rstrip(".") if "." in text else text


def hledger_journal(ledger: Path, path: Path) -> Path:
    """One transaction per document, one posting per movement (the quantity in the sku's
    commodity at its total cost), balanced by the supplier's or customer's account."""
    partial = path.with_suffix(".partial")
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    rows = db.execute("SELECT d.id, d.doc_date, d.kind, d.doc_no, d.partner, m.warehouse, m.sku, m.qty, m.value"
                      " FROM movements m JOIN documents d ON d.id = m.document_id ORDER BY m.id")
    with partial.open("w", encoding="utf-8") as out:
        current = None
        balancing = ""
        for doc_id, day, kind, doc_no, partner, warehouse, sku, q, v in rows:
            if doc_id != current:
                if balancing:
                    out.write(balancing)
                current = doc_id
                out.write(f"\n{day} {kind} {doc_no}\n")
                balancing = f"    {'payable' if kind == 'receipt' else 'cogs'}:{partner}\n"
            sign = "-" if q < 0 else ""
            out.write(f'    inventory:{warehouse}:{sku}  {sign}{_amount(q, schema.QTY_PLACES)} "{sku}"'
                      f" @@ {_amount(v, schema.MONEY_PLACES)} CNY\n")
        out.write(balancing)
    db.close()
    partial.rename(path)
    return path


# --- the latency benchmark's drops ------------------------------------------------------------------

def delivery_form(path: Path, doc_no: str, skus: list[str], bad: bool = False) -> Path:
    """A 50-line delivery form as staff fill it (written by the template writer). A bad one
    has an unknown sku, a negative and a non-numeric quantity."""
    from jxc_sheets.sheets.forms import write_form

    lines = [{"sku": sku, "qty": 1, "unit_price": 12.5} for sku in skus]
    if bad:
        lines[1]["sku"] = "NO-SUCH-SKU"
        lines[len(lines) // 2]["qty"] = -2
        lines[-1]["qty"] = "三个"
    header = {"doc_no": doc_no, "doc_date": DROP_DAY, "warehouse": _warehouse(0), "customer": "C001"}
    return write_form(path, kinds.KINDS["delivery"], header=header, lines=lines)


# --- the money ledger: receivables of many partners --------------------------------------------------

BIG_CUSTOMER = "BIG"  # the customer whose 收款单 the money benchmark posts
MONEY_ACCOUNT = "BANK1"


@dataclass(frozen=True)
class MoneyShape:
    """`documents` deliveries over the 24 months, the first `big_open` of them BIG_CUSTOMER's
    (open in full, oldest first), the rest spread over `partners` customers; each of those
    is half settled by one receipt of funds of its customer, so every delivery is open."""

    documents: int
    partners: int
    big_open: int


def money_ledger(path: Path, shape: MoneyShape) -> Path:
    """A ledger of receivables only: documents (no lines, no movements: the money side
    reads none), money items, settlements, one funds account, the customers. Written
    straight into SQLite; its hash chain is not computed (the documents carry a placeholder:
    `jxc check` would report them), since only posting after them and reading them is timed."""
    open_ledger(f"sqlite:///{path}").dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    tables = (schema.money_items, schema.settlements, schema.documents)
    indexes = [ix for table in tables for ix in table.indexes]
    for ix in indexes:
        db.execute(f'DROP INDEX "{ix.name}"')
    days = (LAST_DAY - FIRST_DAY).days + 1
    with db:
        db.execute("INSERT INTO funds_accounts (code, name, type, bank_account, remark) VALUES (?, '银行', '银行', '', '')",
                   (MONEY_ACCOUNT,))
        customers = [(f"C{i:05d}", f"客户{i:05d}") for i in range(shape.partners)] + [(BIG_CUSTOMER, "大客户")]
        db.executemany("INSERT INTO customers (code, name, contact, phone, address, remark, payment_days)"
                       " VALUES (?, ?, '', '', '', '', 30)", customers)
        documents, items, settlements = [], [], []
        big_open = shape.big_open
        spread = shape.documents - big_open
        for n in range(shape.documents):
            doc_id = n + 1
            if n < big_open:
                partner, day = BIG_CUSTOMER, FIRST_DAY + timedelta(days=n * days // big_open)
            else:
                k = n - big_open
                partner, day = f"C{k % shape.partners:05d}", FIRST_DAY + timedelta(days=k * days // spread)
            doc_no = f"XS{doc_id:08d}"
            documents.append((doc_id, "delivery", doc_no, day.isoformat(), partner, hashlib.sha256(doc_no.encode()).hexdigest(),
                              _stamp(day)))
            amount = (1_000 + (n * 7919) % 900_000) * MONEY // 100
            items.append((doc_id, doc_id, partner, doc_no, day.isoformat(), (day + timedelta(days=30)).isoformat(), amount))
        # one receipt of funds per spread customer, on the last day, settling half of each of its deliveries
        paid: dict[str, int] = {}
        for doc_id, _d, partner, _ref, _day, _due, amount in items[big_open:]:
            paid[partner] = paid.get(partner, 0) + amount // 2
        next_id = shape.documents + 1
        credit_of = {}
        for partner, total in sorted(paid.items()):
            doc_no = f"SK{next_id:08d}"
            documents.append((next_id, "collection", doc_no, LAST_DAY.isoformat(), partner,
                              hashlib.sha256(doc_no.encode()).hexdigest(), _stamp(LAST_DAY)))
            items.append((next_id, next_id, partner, doc_no, LAST_DAY.isoformat(), LAST_DAY.isoformat(), -total))
            credit_of[partner] = next_id
            next_id += 1
        for doc_id, _d, partner, _ref, _day, _due, amount in items[big_open:shape.documents]:
            settlements.append((doc_id, credit_of[partner], amount // 2, LAST_DAY.isoformat(), credit_of[partner]))
        db.executemany("INSERT INTO documents (id, kind, doc_no, doc_date, warehouse, to_warehouse, partner, ref_doc,"
                       " reason, prepared_by, remark, source_file, content_hash, posted_at, chain_hash)"
                       " VALUES (?, ?, ?, ?, '', '', ?, '', '', '', '', 'generated', ?, ?, 'generated')", documents)
        settled: dict[int, int] = {}  # what the settlements add up to, kept on each item as the ledger keeps it
        for debit, credit, amount, _day, _doc in settlements:
            settled[debit] = settled.get(debit, 0) + amount
            settled[credit] = settled.get(credit, 0) - amount
        db.executemany("INSERT INTO money_items (id, document_id, line_no, side, partner, ref, doc_date, due_date, amount,"
                       " settled) VALUES (?, ?, 0, 'customer', ?, ?, ?, ?, ?, ?)",
                       [(*item, settled.get(item[0], 0)) for item in items])
        db.executemany("INSERT INTO settlements (debit_item_id, credit_item_id, amount, doc_date, document_id)"
                       " VALUES (?, ?, ?, ?, ?)", settlements)
    engine = open_ledger(f"sqlite:///{path}", create=False)
    for ix in indexes:
        ix.create(engine)
    engine.dispose()
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("ANALYZE")
    db.close()
    return path


def cached_money_ledger(shape: MoneyShape, cache: Path, log=print) -> Path:
    path = cache / f"money-{shape.documents}-{shape.partners}-{shape.big_open}-{source_key()}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(f"money-{shape.documents}-{shape.partners}-{shape.big_open}-*"):
        stale.unlink()
    started = time.perf_counter()
    partial = money_ledger(path.with_suffix(".partial"), shape)
    for leftover in cache.glob(partial.name + "-*"):
        leftover.unlink()
    partial.rename(path)
    log(f"generated a money ledger of {shape.documents:,} documents, {shape.partners:,} partners "
        f"in {time.perf_counter() - started:.1f} s: {path}")
    return path


def collection_form(path: Path, lines: int, settles: int) -> tuple[Path, int]:
    """BIG_CUSTOMER's 收款单 of `lines` lines, each naming one of its `settles` oldest
    deliveries (evenly spread), for what those `settles` are owed in all: the named ones
    settle first, the rest of them oldest first. Returns the form and that amount (cents)."""
    from jxc_sheets.sheets.forms import write_form

    amounts = [(1_000 + (n * 7919) % 900_000) for n in range(settles)]  # cents, as money_ledger made them
    step = max(1, settles // lines)
    named = [{"settle_doc": f"XS{n + 1:08d}"} for n in range(0, settles, step)][:lines]
    total = sum(amounts)
    write_form(path, kinds.KINDS["collection"], header={
        "doc_no": "SK-BENCH", "doc_date": DROP_DAY, "customer": BIG_CUSTOMER, "account": MONEY_ACCOUNT,
        "amount": Decimal(total).scaleb(-2)}, lines=named)
    return path, total
