"""Report stage: `jxc trace BATCH|SERIAL` → outbox/trace/<batch>.xlsx, the sheet a recall needs.

Sheets: `origin` (where it came from: the item, its dates, the first document that
brought it in and its supplier), `movements` (every movement of it, in date order, with
the document, warehouse, partner and the balance of that warehouse after it),
`customers` (every customer who received it: qty delivered, returned, kept, and the
document numbers). A code that is both a batch and a serial is traced as both.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, select

from ..ledger import schema
from .book import Book, Column

KIND = "trace"
FOLDER = "trace"

ORIGIN_COLUMNS = (
    Column("trace", "追溯类型", width=10), Column("sku", "物料编码", width=16), Column("name", "名称", width=22),
    Column("code", "批号/序列号", width=18), Column("production_date", "生产日期", "date"),
    Column("expiry_date", "有效期至", "date"), Column("kind", "来源单据类型", width=14),
    Column("doc_no", "来源单号", width=16), Column("doc_date", "日期", "date"), Column("supplier", "供应商", width=12),
    Column("supplier_name", "供应商名称", width=20), Column("qty_in", "来源数量", "qty", 14),
)
MOVEMENT_COLUMNS = (
    Column("doc_date", "日期", "date"), Column("kind", "单据类型", width=14), Column("doc_no", "单号", width=16),
    Column("line_no", "行号", "int", width=6), Column("sku", "物料编码", width=16), Column("code", "批号/序列号", width=18),
    Column("warehouse", "仓库", width=10), Column("partner", "往来单位", width=12), Column("qty", "数量", "qty", 14),
    Column("balance", "该仓结存", "qty", 14),
)
CUSTOMER_COLUMNS = (
    Column("customer", "客户", width=12), Column("name", "客户名称", width=20), Column("sku", "物料编码", width=16),
    Column("code", "批号/序列号", width=18), Column("delivered", "发货数量", "qty", 14), Column("returned", "退货数量", "qty", 14),
    Column("kept", "净数量", "qty", 14), Column("doc_nos", "单号", width=40),
    Column("first_date", "首次发货", "date"), Column("last_date", "最近发货", "date"),
)


@dataclass(frozen=True)
class Origin:
    trace: str
    sku: str
    name: str
    code: str
    production_date: date | None
    expiry_date: date | None
    kind: str
    doc_no: str
    doc_date: date | None
    supplier: str
    supplier_name: str
    qty_in: Decimal


@dataclass(frozen=True)
class Move:
    doc_date: date
    kind: str
    doc_no: str
    line_no: int
    sku: str
    code: str
    warehouse: str
    partner: str
    qty: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Customer:
    customer: str
    name: str
    sku: str
    code: str
    delivered: Decimal
    returned: Decimal
    kept: Decimal
    doc_nos: str
    first_date: date | None
    last_date: date | None


@dataclass(frozen=True)
class Trace:
    code: str
    origins: list[Origin]
    moves: list[Move]
    customers: list[Customer]

    @property
    def found(self) -> bool:
        return bool(self.moves)


def trace(conn: Connection, code: str) -> Trace:
    """Every movement of batch or serial `code`, of any item."""
    d, i = schema.documents, schema.items
    bm, sm, t = schema.batch_movements, schema.serial_movements, schema.batches
    rows = []
    for table, column, what in ((bm, bm.c.batch, "batch"), (sm, sm.c.serial, "serial")):
        query = (select(table.c.doc_date, table.c.kind, d.c.doc_no, table.c.line_no, table.c.sku, column.label("code"),
                        table.c.warehouse, table.c.partner, table.c.qty, table.c.id, d.c.reverses)
                 .join(d, d.c.id == table.c.document_id).where(column == code))
        rows += [(what, r) for r in conn.execute(query)]
    rows.sort(key=lambda pair: (pair[1].doc_date, pair[0], pair[1].id))
    names = {r.sku: r.name for r in conn.execute(select(i.c.sku, i.c.name))}
    partners = {r.code: r.name for table in (schema.customers, schema.suppliers)
                for r in conn.execute(select(table.c.code, table.c.name))}
    held: dict[tuple, Decimal] = defaultdict(Decimal)
    moves = []
    for what, r in rows:
        held[(what, r.sku, r.warehouse)] += r.qty
        moves.append(Move(r.doc_date, r.kind, r.doc_no, r.line_no, r.sku, r.code, r.warehouse, r.partner, r.qty,
                          held[(what, r.sku, r.warehouse)]))
    registered = {(r.sku, r.batch): r for r in conn.execute(
        select(t.c.sku, t.c.batch, t.c.production_date, t.c.expiry_date, t.c.partner, t.c.document_id).where(t.c.batch == code))}
    origins = []
    seen = set()
    for what, r in rows:
        if (what, r.sku) in seen or r.qty <= 0 or r.reverses is not None:
            continue
        seen.add((what, r.sku))
        batch = registered.get((r.sku, code)) if what == "batch" else None
        qty_in = sum((x.qty for w, x in rows if w == what and x.sku == r.sku and x.doc_no == r.doc_no and x.qty > 0), Decimal(0))
        supplier = batch.partner if batch else r.partner
        origins.append(Origin("批次 batch" if what == "batch" else "序列号 serial", r.sku, names.get(r.sku, ""), code,
                              batch.production_date if batch else None, batch.expiry_date if batch else None,
                              r.kind, r.doc_no, r.doc_date, supplier, partners.get(supplier, ""), qty_in))
    return Trace(code, origins, moves, _customers(rows, partners))


def _customers(rows: list, partners: dict[str, str]) -> list[Customer]:
    """Deliveries less sales returns and reversals of deliveries, per customer and item."""
    found: dict[tuple[str, str], dict] = {}
    for _what, r in rows:
        if r.kind not in ("delivery", "sales_return") or r.warehouse == "":
            continue
        entry = found.setdefault((r.partner, r.sku), {"delivered": Decimal(0), "returned": Decimal(0), "docs": [], "dates": []})
        if r.kind == "delivery":  # a delivery's reversal brings its qty back: less delivered
            entry["delivered"] -= r.qty
            if r.qty < 0:
                entry["dates"].append(r.doc_date)
        else:
            entry["returned"] += r.qty
        if r.doc_no not in entry["docs"]:
            entry["docs"].append(r.doc_no)
    return [Customer(customer, partners.get(customer, ""), sku, rows[0][1].code if rows else "", e["delivered"], e["returned"],
                     e["delivered"] - e["returned"], ", ".join(e["docs"]), min(e["dates"], default=None),
                     max(e["dates"], default=None))
            for (customer, sku), e in sorted(found.items())]


def trace_path(outbox: Path, code: str) -> Path:
    """outbox/trace/<code>.xlsx, the code made a safe file name."""
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", code).strip("._") or "_"
    return outbox / FOLDER / f"{safe}.xlsx"


def write_trace(found: Trace, path: Path) -> None:
    with Book(path) as book:
        book.add_table("origin", ORIGIN_COLUMNS, found.origins)
        book.add_table("movements", MOVEMENT_COLUMNS, found.moves)
        book.add_table("customers", CUSTOMER_COLUMNS, found.customers)
        book.add_meta(KIND)
