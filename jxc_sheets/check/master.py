"""Check, codes and units: every code a document or master row names is known (an
item also active), and every unit is the item's own; alternate units convert to the
base unit here. A line that cannot be resolved is left out of what the later checks
see, its problem reported."""
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping

from .. import kinds
from ..problems import problem, unknown_code_fix
from ..records import Document, Item, Line, MasterData, MasterRow, Problem, evolver

ONE = Decimal(1)
QTY_STEP = Decimal("0.0001")


def resolve_code(code: str, known: Mapping[str, object] | frozenset[str]) -> str | None:
    """The known code the user meant, or None. A code of digits whose leading
    zeros Excel dropped (00123 saved as 123) still finds its one item."""
    if code in known:
        return code
    if code.isdigit():
        matches = [k for k in known if k.isdigit() and k.lstrip("0") == code.lstrip("0")]
        if len(matches) == 1:
            return matches[0]
    return None


def resolve(doc: Document, data: MasterData, problems: list[Problem]) -> Document:
    """The document with its codes and units resolved; lines that cannot be are left
    out (their problems are added), so the stock check still sees the others."""
    kind = kinds.KINDS[doc.kind]
    header = dict(doc.header)
    for f in kind.header:
        if f.ref and header.get(f.key):
            header[f.key] = _known(f.ref, header[f.key], data, doc.where.get(f.key, ""), problems)
    lines = []
    for line in doc.lines:
        before = len(problems)
        resolved = _resolve_line(line, data, problems)
        if len(problems) == before:
            lines.append(resolved)
    return replace(doc, header=header, lines=tuple(lines))


def _known(ref: str, code: str, data: MasterData, where: str, problems: list[Problem]) -> str:
    found = resolve_code(code, data.codes(ref))
    if found is None:
        problems.append(problem(f"unknown-{ref}", where, code, code=code, **unknown_code_fix(ref, not data.codes(ref))))
        return code
    return found


def _resolve_line(line: Line, data: MasterData, problems: list[Problem]) -> Line:
    where = line.where
    warehouse = line.warehouse and _known("warehouses", line.warehouse, data, where.get("warehouse", ""), problems)
    partner = line.partner and _known("customers", line.partner, data, where.get("customer", ""), problems)
    sku = resolve_code(line.sku, data.items)
    if sku is None:
        problems.append(problem("unknown-items", where.get("sku", ""), line.sku, code=line.sku,
                                **unknown_code_fix("items", not data.items)))
        return line
    item = data.items[sku]
    if not item.active:
        problems.append(problem("inactive-item", where.get("sku", ""), line.sku, code=sku))
    unit, factor = _unit(item, line.unit)
    if factor is None:
        known = "、".join((item.unit, *item.units))
        problems.append(problem("unknown-unit", where.get("unit", ""), line.unit, sku=sku, unit=line.unit, units=known))
        return line
    qty = line.qty_entered if line.qty_entered is None or factor == ONE else \
        (line.qty_entered * factor).quantize(QTY_STEP, rounding=ROUND_HALF_UP)
    # unit_cost stays per entered unit, so 1000 箱 @ 50.00 is worth exactly 50,000.00
    return _RESOLVED(line, sku, warehouse, partner, unit, factor, qty)


_RESOLVED = evolver(Line, "sku", "warehouse", "partner", "unit", "factor", "qty")


def _unit(item: Item, entered: str) -> tuple[str, Decimal | None]:
    if not entered or entered.lower() == item.unit.lower():
        return item.unit, ONE
    for name, factor in item.units.items():
        if name.lower() == entered.lower():
            return name, factor
    return entered, None


def check_master_row(row: MasterRow, data: MasterData, problems: list[Problem]) -> MasterRow:
    values = dict(row.values)
    kind = kinds.KINDS[row.kind]
    for f in kind.lines:
        if f.ref and values.get(f.key):
            values[f.key] = _known(f.ref, values[f.key], data, row.where.get(f.key, ""), problems)
    if row.kind == "price_list":
        if bool(values.get("customer")) == bool(values.get("grade")):
            problems.append(problem("price-list-scope", row.where.get("customer", ""), values.get("customer") or ""))
        start, end = values.get("valid_from"), values.get("valid_to")
        if start and end and end < start:
            problems.append(problem("price-list-dates", row.where.get("valid_to", ""), end.isoformat(),
                                    valid_to=end.isoformat(), valid_from=start.isoformat()))
    if row.kind == "items":
        old = data.items.get(row.key)
        if old and row.key in data.moved_skus and old.unit.lower() != str(values["unit"]).lower():
            problems.append(problem("unit-change", row.where.get("unit", ""), values["unit"],
                                    sku=row.key, old=old.unit, new=values["unit"]))
    return replace(row, values=values)
