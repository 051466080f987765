"""Ledger, assembly: bills of materials by version, and what assembly and
disassembly documents need to know of the items (their standard costs and prices).

A BOM version is the set of rows of one finished item and one valid_from date;
a BOM form replaces the versions it names and keeps the others, so a document
dated before a change keeps using the BOM of its date.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, and_, delete, insert, or_, select

from ..records import MasterRow
from . import queries, schema
from .costing import ZERO

ALWAYS = date(1, 1, 1)  # the valid_from of a BOM whose form left it empty


@dataclass(frozen=True)
class Component:
    sku: str
    qty: Decimal  # per finished unit, base unit
    scrap_pct: Decimal = ZERO


def replace_boms(conn: Connection, rows: Sequence[MasterRow]) -> None:
    """The versions the rows name are replaced by the rows; other versions stay."""
    b = schema.boms
    versions = sorted({(r.key, r.values.get("valid_from") or ALWAYS) for r in rows})
    for batch in queries.chunks(versions):
        conn.execute(delete(b).where(or_(*(and_(b.c.sku == sku, b.c.valid_from == day) for sku, day in batch))))
    conn.execute(insert(b), [{"sku": r.key, "valid_from": r.values.get("valid_from") or ALWAYS,
                              "component": r.values["component"], "qty": r.values["qty"],
                              "scrap_pct": r.values.get("scrap_pct") or ZERO, "remark": r.values.get("remark") or ""}
                             for r in rows])


def bom_versions(conn: Connection, skus: Iterable[str] | None = None) -> dict[str, dict[date, tuple[Component, ...]]]:
    """finished sku → valid_from → its components (all BOMs when `skus` is None)."""
    b = schema.boms
    query = select(b.c.sku, b.c.valid_from, b.c.component, b.c.qty, b.c.scrap_pct).order_by(b.c.sku, b.c.valid_from, b.c.component)
    found: dict[str, dict[date, list[Component]]] = defaultdict(lambda: defaultdict(list))
    batches = [None] if skus is None else list(queries.chunks(sorted(set(skus))))
    for batch in batches:
        for r in conn.execute(query if batch is None else query.where(b.c.sku.in_(batch))):
            found[r.sku][r.valid_from].append(Component(r.component, r.qty, r.scrap_pct))
    return {sku: {day: tuple(parts) for day, parts in versions.items()} for sku, versions in found.items()}


def bom_at(versions: Mapping[date, tuple[Component, ...]], day: date) -> tuple[date, tuple[Component, ...]] | None:
    """The version in force on `day`: the latest valid_from on or before it."""
    valid = [start for start in versions if start <= day]
    return (max(valid), versions[max(valid)]) if valid else None


def item_prices(conn: Connection, skus: Iterable[str]) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """sku → (standard cost, sale price)."""
    i = schema.items
    found = {}
    for batch in queries.chunks(sorted(set(skus))):
        for r in conn.execute(select(i.c.sku, i.c.std_cost, i.c.sale_price).where(i.c.sku.in_(batch))):
            found[r.sku] = (r.std_cost, r.sale_price)
    return found
