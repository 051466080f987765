"""Report stage: outbox/kits.xlsx — for each BOM in force today, how many of its
finished item each warehouse could assemble now from its stock, and which
component limits it.

Sheets: `kits` (one row per finished item × warehouse holding any of its
components: buildable, limited_by) and `components` (each component's need per
unit, scrap included, what is on hand and how many it alone would allow).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from sqlalchemy import Connection, select

from .. import clock
from ..ledger import assembly, schema
from .book import Book, Column

ZERO, HUNDRED = Decimal(0), Decimal(100)

KIT_COLUMNS = (
    Column("sku", "成品编码", width=16),
    Column("name", "名称", width=24),
    Column("warehouse", "仓库", width=12),
    Column("buildable", "可组装数量", "qty", width=14),
    Column("limited_by", "限制组件", width=16),
    Column("valid_from", "清单生效日期", width=14),
)

COMPONENT_COLUMNS = (
    Column("sku", "成品编码", width=16),
    Column("warehouse", "仓库", width=12),
    Column("component", "组件编码", width=16),
    Column("name", "组件名称", width=24),
    Column("per_unit", "单位用量(含损耗)", "qty", width=16),
    Column("on_hand", "现有数量", "qty", width=14),
    Column("buildable", "可组装数量", "qty", width=14),
)


@dataclass(frozen=True)
class KitRow:
    sku: str
    name: str
    warehouse: str
    buildable: Decimal
    limited_by: str
    valid_from: str


@dataclass(frozen=True)
class ComponentRow:
    sku: str
    warehouse: str
    component: str
    name: str
    per_unit: Decimal
    on_hand: Decimal
    buildable: Decimal


def kit_rows(conn: Connection, today: date) -> tuple[list[KitRow], list[ComponentRow]]:
    boms = {sku: found for sku, versions in assembly.bom_versions(conn).items()
            if (found := assembly.bom_at(versions, today))}
    if not boms:
        return [], []  # no need to read every balance (200,000 of them at a million movements)
    names = dict(conn.execute(select(schema.items.c.sku, schema.items.c.name)).all())
    b = schema.balances
    on_hand: dict[tuple[str, str], Decimal] = {(r.sku, r.warehouse): r.qty
                                               for r in conn.execute(select(b.c.sku, b.c.warehouse, b.c.qty))}
    warehouses = sorted({w for _s, w in on_hand})
    kits, parts = [], []
    for sku in sorted(boms):
        valid_from, components = boms[sku]
        for warehouse in warehouses:
            if not any(on_hand.get((c.sku, warehouse), ZERO) > 0 for c in components):
                continue
            allowed = []
            for c in components:
                need = c.qty * (1 + c.scrap_pct / HUNDRED)
                have = on_hand.get((c.sku, warehouse), ZERO)
                alone = (max(have, ZERO) / need).to_integral_value(ROUND_FLOOR) if need > 0 else ZERO
                allowed.append((alone, c.sku))
                parts.append(ComponentRow(sku, warehouse, c.sku, names.get(c.sku, ""), need, have, alone))
            buildable, limit = min(allowed)
            kits.append(KitRow(sku, names.get(sku, ""), warehouse, buildable, limit,
                               "" if valid_from == assembly.ALWAYS else valid_from.isoformat()))
    return kits, parts


def write_kits(conn: Connection, path: Path, today: date | None = None) -> None:
    kits, parts = kit_rows(conn, today or clock.today())
    with Book(path, kind="kits") as book:
        book.add_table("kits", KIT_COLUMNS, kits)
        book.add_table("components", COMPONENT_COLUMNS, parts)
