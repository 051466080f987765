"""Check, assembly: an assembly (组装单) or disassembly (拆卸单) made into the lines it
posts. The components come from the BOM in force at the document's date, or from
the form's lines (an override, told as a warning with its difference from the BOM).

An assembly posts each component out (a negative line) and the finished goods in
last, carrying the fee (加工费) in its amount; a disassembly posts the item out first
and each output in, carrying its weight for the cost split (qty × standard cost, or
× sale price). The stock check then finds a short component at its cell.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence

from sqlalchemy import Connection

from ..ledger import assembly
from ..ledger.costing import SHARED_KINDS, ZERO, money
from ..problems import problem
from ..records import Document, Item, Line, Problem
from .master import QTY_STEP

HUNDRED = Decimal(100)
SPLIT_BY = {"": "std_cost", "std_cost": "std_cost", "标准成本": "std_cost", "price": "price", "售价": "price"}


def expand_assemblies(conn: Connection, docs: Sequence[Document], items: Mapping[str, Item],
                      problems: list[Problem]) -> tuple[list[Document], list[Problem]]:
    """The documents with every assembly and disassembly made into its posting lines;
    and the warnings (a BOM overridden)."""
    wanted = [doc for doc in docs if doc.kind in SHARED_KINDS and doc.header.get("finished_sku")
              and doc.header.get("finished_qty")]
    if not wanted:
        return list(docs), []
    boms = assembly.bom_versions(conn, {doc.header["finished_sku"] for doc in wanted})
    prices = assembly.item_prices(conn, {line.sku for doc in wanted for line in doc.lines}
                                  | {c.sku for versions in boms.values() for parts in versions.values() for c in parts})
    warnings: list[Problem] = []
    out = []
    for doc in docs:
        if doc in wanted:
            doc = _expand(doc, boms.get(doc.header["finished_sku"], {}), items, prices, problems, warnings)
        out.append(doc)
    return out, warnings


def _expand(doc: Document, versions, items: Mapping[str, Item], prices, problems: list[Problem],
            warnings: list[Problem]) -> Document:
    finished, qty = doc.header["finished_sku"], doc.header["finished_qty"]
    bom = assembly.bom_at(versions, doc.doc_date)
    by_bom = {c.sku: _bom_qty(c, qty, doc.kind) for c in bom[1]} if bom else {}
    if doc.lines:
        parts = [(line.sku, line.qty, line) for line in doc.lines]
        listed = {}
        for sku, part_qty, _typed in parts:
            listed[sku] = listed.get(sku, ZERO) + part_qty
        if bom and listed != by_bom:
            warnings.append(problem("bom-override", doc.where.get("finished_sku", ""), finished, sku=finished,
                                    version=_version(bom[0]), difference=_difference(listed, by_bom)))
    elif bom:
        parts = [(sku, part_qty, None) for sku, part_qty in by_bom.items()]
    else:
        problems.append(problem("bom-missing", doc.where.get("finished_sku", ""), finished, sku=finished,
                                date=doc.doc_date.isoformat()))
        return doc
    header_cells = {"sku": doc.where.get("finished_sku", ""), "qty": doc.where.get("finished_qty", "")}
    made = _line(0, finished, qty, items, header_cells)
    if doc.kind == "assembly":
        components = [_part(i, sku, -part_qty, line, items, header_cells) for i, (sku, part_qty, line) in enumerate(parts, 1)]
        finished_line = replace(made, line_no=max(line.line_no for line in components) + 1, amount=doc.header.get("fee") or ZERO)
        lines = (*components, finished_line)
    else:
        split_by = SPLIT_BY.get(str(doc.header.get("split_by") or "").strip().lower(), "std_cost")
        outputs = [_part(i, sku, part_qty, line, items, header_cells) for i, (sku, part_qty, line) in enumerate(parts, 1)]
        outputs = [replace(o, amount=_weight(o, prices.get(o.sku, (None, None)), split_by)) for o in outputs]
        lines = (replace(made, qty=-qty), *outputs)
    return replace(doc, lines=lines)


def _bom_qty(component: assembly.Component, qty: Decimal, kind: str) -> Decimal:
    """What `qty` finished units take of a component (a disassembly gives back no scrap)."""
    scrap = component.scrap_pct if kind == "assembly" else ZERO
    return (qty * component.qty * (1 + scrap / HUNDRED)).quantize(QTY_STEP, rounding=ROUND_HALF_UP)


def _line(line_no: int, sku: str, qty: Decimal, items: Mapping[str, Item], where: Mapping[str, str]) -> Line:
    unit = items[sku].unit if sku in items else ""
    return Line(line_no, sku, qty, unit, abs(qty), Decimal(1), None, None, "", "", None, where)


def _part(line_no: int, sku: str, qty: Decimal, typed: Line | None, items, header_cells) -> Line:
    if typed is None:
        return _line(line_no, sku, qty, items, header_cells)
    return replace(typed, qty=qty)


def _weight(line: Line, prices: tuple[Decimal | None, Decimal | None], split_by: str) -> Decimal:
    std_cost, price = prices
    per_unit = (price if split_by == "price" else std_cost) or ZERO
    return money(abs(line.qty) * per_unit)


def _version(day) -> str:
    return "无日期" if day == assembly.ALWAYS else day.isoformat()


def _difference(listed: Mapping[str, Decimal], by_bom: Mapping[str, Decimal]) -> str:
    shown = []
    for sku in sorted(set(listed) | set(by_bom)):
        have, want = listed.get(sku, ZERO), by_bom.get(sku, ZERO)
        if have != want:
            shown.append(f"{sku} {_show(want)}→{_show(have)}")
    return "; ".join(shown)


def _show(qty: Decimal) -> str:
    return format(qty.normalize(), "f")
