"""Schema versions: a new ledger is created at the current version; an older one
is upgraded in place, step by step, the first time this release opens it.

The version lives in the `meta` table. Each step is a function of the
connection, run in the same transaction as the version bump, so a ledger is
never half-upgraded. Tables a step introduces are created by `create_all`
beforehand; steps only change tables that already existed.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from sqlalchemy import Connection, Engine, Table, bindparam, inspect, or_, select, update

from . import bulk, schema
from .costing import money


class SchemaTooNew(Exception):
    """The ledger was written by a newer release of jxc."""


def _add_columns(conn: Connection, table: Table, *names: str) -> None:
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column_type = table.c[name].type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{name}" {column_type}')


def _every_new_column(conn: Connection) -> None:
    """The columns of today's schema that the ledger's tables lack, added empty; the
    steps then fill them in."""
    existing = set(inspect(conn).get_table_names())
    for table in schema.metadata.sorted_tables:
        if table.name in existing:
            _add_columns(conn, table, *(c.name for c in table.c if c.nullable and not c.primary_key))


def _v2_orders(conn: Connection) -> None:
    _add_columns(conn, schema.documents, "due_date")
    _add_columns(conn, schema.lines, "expected_date", "partner")
    _add_columns(conn, schema.files, "warnings")
    _add_columns(conn, schema.items, "min_order_qty", "order_multiple")
    _add_columns(conn, schema.suppliers, "lead_time_days")


def _v3_counts(conn: Connection) -> None:
    _add_columns(conn, schema.items, "location")
    _add_columns(conn, schema.files, "first_date")


def _v4_snapshots(conn: Connection) -> None:
    _add_columns(conn, schema.periods, "closing_kept")  # months closed before it open from the movements


def _v5_costing(conn: Connection) -> None:
    """Movements say what their value rests on; running balances follow valuation order;
    the open months are valued again by that order; the chain is sealed over inputs."""
    from . import chain, repost
    _add_columns(conn, schema.movements, "basis", "given", "linked_to", "last_rate", "correction")  # correction: v6, valued by today's code
    intact = not chain.broken_links(conn, chain.MOVE_FIELDS_V4)
    next(i for i in schema.movements.indexes if i.name == "ix_movements_linked_to").create(conn, checkfirst=True)
    m, d = schema.movements, schema.documents
    conn.execute(update(m).where(m.c.qty < 0).values(basis="issue"))
    conn.execute(update(m).where(m.c.qty >= 0).values(basis="cost", given=m.c.value))
    out_leg = m.alias("out_leg")
    conn.execute(update(m).where(m.c.kind == "transfer", m.c.qty > 0).values(basis="link", given=None, linked_to=(
        select(out_leg.c.id).where(out_leg.c.document_id == m.c.document_id, out_leg.c.line_no == m.c.line_no,
                                   out_leg.c.qty < 0).limit(1).scalar_subquery())))
    original, reversal = m.alias("original"), d.alias("reversal")
    conn.execute(update(m).where(m.c.document_id.in_(select(d.c.id).where(d.c.reverses.is_not(None))))
                 .values(basis="link", given=None, linked_to=(
                     select(original.c.id).join(reversal, reversal.c.reverses == original.c.document_id)
                     .where(reversal.c.id == m.c.document_id, original.c.line_no == m.c.line_no,
                            original.c.sku == m.c.sku, original.c.warehouse == m.c.warehouse)
                     .limit(1).scalar_subquery())))
    _running_balances_in_valuation_order(conn)
    repost.revalue_open_months(conn)
    if intact:
        chain.reseal_all(conn)


def _v6_tax_and_corrections(conn: Connection) -> None:
    """VAT on priced lines (check/tax.py) and cost corrections (costing.py).
    Lines posted before keep their meaning: their prices were before tax and nothing
    says what tax applied, so they get 税率 0, 金额 = 价税合计 = qty × price and 税额 0.
    The open months are valued again, so that stock that went negative is settled at
    the incoming cost and no empty shelf holds value."""
    from . import repost
    _add_columns(conn, schema.movements, "correction")
    _add_columns(conn, schema.lines, "tax_rate", "amount", "tax", "gross", "price_incl")
    _add_columns(conn, schema.items, "tax_rate")
    _add_columns(conn, schema.suppliers, "tax_rate")
    _add_columns(conn, schema.customers, "tax_rate")
    _add_columns(conn, schema.documents, "invoice_type")
    l = schema.lines
    priced = conn.execute(select(l.c.id, l.c.qty_entered, l.c.unit_cost, l.c.unit_price)
                          .where(or_(l.c.unit_cost.is_not(None), l.c.unit_price.is_not(None)))).all()
    zero = Decimal(0)
    rows = [{"id": r.id, "tax_rate": zero, "amount": amount, "tax": zero, "gross": amount}
            for r in priced for amount in [money(abs(r.qty_entered) * (r.unit_cost if r.unit_cost is not None else r.unit_price))]]
    bulk.update_rows(conn, l, rows, ["tax_rate", "amount", "tax", "gross"], ["id"])
    repost.revalue_open_months(conn)


def _running_balances_in_valuation_order(conn: Connection) -> None:
    m = schema.movements
    rows = conn.execute(select(m.c.id, m.c.sku, m.c.warehouse, m.c.qty, m.c.value, m.c.balance_qty, m.c.balance_value)
                        .order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id)).all()
    fixes, pair, qty, value = [], None, 0, 0
    for r in rows:
        if (r.sku, r.warehouse) != pair:
            pair, qty, value = (r.sku, r.warehouse), 0, 0
        qty, value = qty + r.qty, value + r.value
        if (qty, value) != (r.balance_qty, r.balance_value):
            fixes.append({"_id": r.id, "balance_qty": qty, "balance_value": value})
    if fixes:
        conn.execute(update(m).where(m.c.id == bindparam("_id")).values(
            balance_qty=bindparam("balance_qty"), balance_value=bindparam("balance_value")), fixes)


def _v7_money(conn: Connection) -> None:
    """Payment terms and credit limits on partners; every delivery, receipt and return
    already posted becomes a receivable or payable (money.py), settled by nothing yet."""
    from . import money
    _add_columns(conn, schema.customers, "payment_days", "credit_limit")
    _add_columns(conn, schema.suppliers, "payment_days")
    d = schema.documents
    ids = conn.execute(select(d.c.id).where(d.c.kind.in_(money.STOCK_ITEMS)).order_by(d.c.id)).scalars().all()
    money.allocate(conn, money.record_documents(conn, ids))


def _v8_weights_and_write_downs(conn: Connection) -> None:
    """Items carry a unit weight (landed cost by weight); net realisable values (the `nrv`
    table, created empty) and write-downs (documents of their own) need nothing of the past."""
    _add_columns(conn, schema.items, "weight")


def _v9_settled(conn: Connection) -> None:
    """Each receivable's and payable's settled amount, kept on it from now on: summed once
    from the settlements so far."""
    from . import money
    money.resum_settled(conn)


def _v10_batches(conn: Connection) -> None:
    """Batches, expiry and serials: items gain their tracking flags (all off, so every item
    behaves as before), lines their dates and serials; the batch tables start empty. The
    free-text 批次 already on lines stays as typed: it was never a balance."""
    _add_columns(conn, schema.items, "batch_tracked", "expiry_tracked", "shelf_life_days", "expiry_warning_days",
                 "serial_tracked")
    _add_columns(conn, schema.lines, "production_date", "expiry_date", "serials")
    _add_columns(conn, schema.count_lines, "batches")


def _v11_sales(conn: Connection) -> None:
    """Grades, salespeople and invoicing details on partners, a minimum price on items,
    the salesperson of sales documents, where a line's price came from, a return line's
    reason, and the notes of a processed file; price lists and feedback are new tables. Nothing posted changes meaning:
    the new columns stay empty on what was posted before."""
    _add_columns(conn, schema.customers, "grade", "salesperson", "tax_no", "bank_account", "invoice_address")
    _add_columns(conn, schema.suppliers, "tax_no", "bank_account", "invoice_address")
    _add_columns(conn, schema.items, "min_price")
    _add_columns(conn, schema.documents, "salesperson")
    _add_columns(conn, schema.lines, "price_rule", "return_reason", "rejected_qty", "reject_reason")
    _add_columns(conn, schema.files, "notes")


STEPS: dict[int, Callable[[Connection], None]] = {2: _v2_orders, 3: _v3_counts, 4: _v4_snapshots, 5: _v5_costing,
                                                  6: _v6_tax_and_corrections, 7: _v7_money,
                                                  8: _v8_weights_and_write_downs, 9: _v9_settled, 10: _v10_batches,
                                                  11: _v11_sales}


def prepare(engine: Engine) -> int:
    """Creates or upgrades the schema; returns the version the ledger was at (0 when new)."""
    schema.metadata.create_all(engine)
    m = schema.meta
    with engine.begin() as conn:
        query = select(m.c.value).where(m.c.key == "schema_version")
        if engine.dialect.name == "postgresql":
            query = query.with_for_update()  # one process upgrades; the others wait and find it done
        found = conn.execute(query).scalar()
        if found is None:
            conn.execute(m.insert().values(key="schema_version", value=str(schema.SCHEMA_VERSION)))
            return 0
        version = int(found)
        if version > schema.SCHEMA_VERSION:
            raise SchemaTooNew(
                f"账本版本 {version} 比本程序({schema.SCHEMA_VERSION})新, 请升级 jxc"
                f" / the ledger is at schema version {version}, newer than this release's {schema.SCHEMA_VERSION}: upgrade jxc")
        if version < schema.SCHEMA_VERSION:
            _every_new_column(conn)  # an early step may read whole rows of a table a later one widens
        for step in range(version + 1, schema.SCHEMA_VERSION + 1):
            STEPS[step](conn)
        if version < schema.SCHEMA_VERSION:
            conn.execute(update(m).where(m.c.key == "schema_version").values(value=str(schema.SCHEMA_VERSION)))
        return version
