"""Report stage, write-down (存货跌价准备, 企业会计准则 only): the month-end pack's
`write_down` sheet, and the proposal finance confirms, outbox/monthend/YYYY-MM-跌价准备.xlsx.

The sheet lists each sku × warehouse whose stock at the month end is worth more than its
net realisable value (the 可变现净值 form), or that holds a provision: qty, unit cost,
value, NRV, the provision it needs (qty × (unit cost − NRV), to the cent), what is booked
and the difference. The proposal is a `write_down` form with that difference as each
line's 本次计提 (+ provides, − reverses), dated the month end: dropped back into the inbox
as it is (or edited) it books them (ledger/write_down.py, check/write_down.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, select

from .. import kinds
from ..ledger import schema, write_down
from ..sheets.forms import write_form
from .book import Column
from .month import month_bounds


@dataclass(frozen=True)
class ProvisionRow:
    sku: str
    name: str
    warehouse: str
    qty: Decimal
    unit_cost: Decimal | None
    value: Decimal
    nrv: Decimal | None
    required: Decimal
    booked: Decimal
    proposed: Decimal


PROVISION_COLUMNS = (
    Column("sku", "物料编码", width=14), Column("name", "名称", width=20), Column("warehouse", "仓库"),
    Column("qty", "结存数量", "qty"), Column("unit_cost", "单位成本", "cost"), Column("value", "结存金额", "money"),
    Column("nrv", "可变现净值单价", "cost"), Column("required", "应有准备", "money"), Column("booked", "已提准备", "money"),
    Column("proposed", "本次计提", "money"))


def provision_rows(conn: Connection, month: str) -> list[ProvisionRow]:
    """The month end's provisions, booked and still to book."""
    _start, end = month_bounds(month)
    names = dict(conn.execute(select(schema.items.c.sku, schema.items.c.name)).all())
    return [ProvisionRow(p.sku, names.get(p.sku, ""), p.warehouse, p.qty, p.unit_cost, p.value, p.nrv, p.required,
                         p.booked, p.proposed)
            for p in write_down.provisions(conn, end)]


def proposal_number(month: str) -> str:
    return f"DJ-{month}"


def pending(conn: Connection, month: str) -> list[ProvisionRow]:
    """What the month end asks to book while no write-down is dated in the month: the
    rows with something proposed (none once finance has answered for the month)."""
    if conn.execute(select(schema.nrv.c.sku).limit(1)).first() is None:
        return []  # no net realisable value ever given: nothing to ask
    start, end = month_bounds(month)
    d = schema.documents
    answered = conn.execute(select(d.c.id).where(d.c.kind == "write_down", d.c.doc_date >= start,
                                                 d.c.doc_date <= end).limit(1)).first()
    return [] if answered else [r for r in provision_rows(conn, month) if r.proposed]


def write_proposal(conn: Connection, folder: Path, month: str, rows: list[ProvisionRow] | None = None) -> Path | None:
    """outbox/monthend/MONTH-跌价准备.xlsx: the write_down form to confirm, or None when nothing is proposed."""
    rows = [r for r in (provision_rows(conn, month) if rows is None else rows) if r.proposed]
    if not rows:
        return None
    _start, end = month_bounds(month)
    folder.mkdir(parents=True, exist_ok=True)
    header = {"doc_no": proposal_number(month), "doc_date": end,
              "remark": "核对 本次计提 (正数计提, 负数转回), 保存后放入 inbox / check 本次计提 (+ provides,"
                        " − reverses), save and drop into the inbox"}
    lines = [{"sku": r.sku, "warehouse": r.warehouse, "name": r.name, "qty": r.qty, "unit_cost": r.unit_cost,
              "nrv": r.nrv, "required": r.required, "booked": r.booked, "amount": r.proposed} for r in rows]
    return write_form(folder / f"{month}-跌价准备.xlsx", kinds.KINDS["write_down"], header=header, lines=lines)
