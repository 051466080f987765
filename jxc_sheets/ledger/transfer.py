"""`jxc migrate-ledger --to URL`: the whole ledger copied into an empty database
(SQLite → PostgreSQL when one machine is not enough, or back), then proven equal.

The copy reads one snapshot of the source and writes the target in one
transaction: table by table in foreign-key order, in batches, ids kept. Before
that transaction commits, the target must pass `jxc check` and match the source
row for row in count and balance for balance; otherwise it is rolled back and
the target stays empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import Connection, Engine, Table, create_engine, func, inspect, select
from sqlalchemy.engine import make_url

from . import bulk, schema
from .db import open_ledger, reading
from .errors import LedgerError
from .integrity import check_ledger

BATCH = 5000


class TransferError(LedgerError):
    """The ledger could not be copied, or the copy is not equal; nothing was kept."""


@dataclass(frozen=True)
class Transferred:
    target: str  # the target's URL, password hidden
    rows: tuple[tuple[str, int], ...]  # per table, in copy order
    balances: int


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate_ledger(source: Engine, target_url: str, progress: Callable[[str], None] = lambda text: None) -> Transferred:
    """Copies the ledger behind `source` into the empty database at `target_url`, telling
    `progress` each step as it starts (a big ledger takes minutes)."""
    if make_url(target_url) == source.url:
        raise TransferError(f"目标就是当前账本 / the target is the current ledger: {shown(target_url)}")
    refuse_non_empty(target_url)
    target = open_ledger(target_url)
    try:
        with reading(source) as src, target.begin() as dst:
            progress("检查源账本 / checking the source ledger (jxc check)")
            found = check_ledger(src)
            if found:
                raise TransferError(f"源账本未通过 jxc check, 未迁移 / the source ledger fails jxc check,"
                                    f" nothing copied: {_first(found)}")
            rows = []
            for table in schema.metadata.sorted_tables:
                count = src.execute(select(func.count()).select_from(table)).scalar()
                if count >= BATCH:  # the small tables go by unannounced
                    progress(f"复制 / copying {table.name} ({count:,} 行 rows)")
                rows.append((table.name, copy_table(src, dst, table)))
            reset_sequences(dst)
            progress("核对副本 / checking the copy (jxc check, row counts, balances)")
            differences = compare(src, dst)
            if differences:  # leaving the block rolls the target back
                raise TransferError(f"副本与源账本不一致, 已回滚 / the copy differs from the source,"
                                    f" rolled back: {_first(differences)}")
            balances = dict(rows)["balances"]
            progress("提交 / committing")
        progress("更新统计信息 / updating the planner's statistics")
        analyze(target)
    finally:
        target.dispose()
    return Transferred(shown(target_url), tuple(rows), balances)


def analyze(engine: Engine) -> None:
    """The planner's statistics of the tables just filled: without them the first postings
    on a big copy read whole tables until autovacuum gets round to it. Only the ledger's
    own tables: a bare ANALYZE would read every schema of a shared database."""
    quote = engine.dialect.identifier_preparer.quote
    tables = ", ".join(quote(table.name) for table in schema.metadata.sorted_tables)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE" if engine.dialect.name == "sqlite" else f"ANALYZE {tables}")  # a file is one ledger
        conn.commit()


def _first(found: list[str]) -> str:
    return found[0] + (f" (+{len(found) - 1})" if len(found) > 1 else "")


def refuse_non_empty(target_url: str) -> None:
    """The target may lack the ledger's tables or have them empty; anything in them is refused."""
    url = make_url(target_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return  # a new file: open_ledger creates it
    probe = create_engine(target_url)
    try:
        with probe.connect() as conn:
            present = set(inspect(conn).get_table_names())
            filled = [(t.name, n) for t in schema.metadata.sorted_tables
                      if t is not schema.meta and t.name in present
                      and (n := conn.execute(select(func.count()).select_from(t)).scalar())]
    finally:
        probe.dispose()
    if filled:
        listed = ", ".join(f"{name} ({n})" for name, n in filled[:3]) + (", …" if len(filled) > 3 else "")
        raise TransferError(f"目标数据库不是空的, 未迁移: {listed} / the target database is not empty"
                            f" ({listed}); migrate into a new, empty database: {shown(target_url)}")


def copy_table(src: Connection, dst: Connection, table: Table) -> int:
    """Copies `table` in primary-key order (a reversal names an earlier document), in batches."""
    if table is schema.meta:  # the target wrote its own schema version; the source's is the same
        dst.execute(table.delete())
    query = select(table).order_by(*table.primary_key.columns)
    names = [column.name for column in table.columns]
    copied = 0
    for batch in src.execute(query, execution_options={"yield_per": BATCH}).partitions():
        bulk.insert_rows(dst, table, batch, names, chunk=BATCH)  # COPY on PostgreSQL
        copied += len(batch)
    return copied


def reset_sequences(conn: Connection, tables: Iterable[Table] = schema.metadata.sorted_tables) -> None:
    """On PostgreSQL the copied ids bypassed the id sequences: each is set to its table's
    highest id, so the next posting continues after it. SQLite needs nothing."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        column = table.autoincrement_column
        if column is not None:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{column.name}'),"
                f' coalesce(max("{column.name}"), 1), max("{column.name}") IS NOT NULL) FROM "{table.name}"')


def compare(src: Connection, dst: Connection) -> list[str]:
    """What differs between the two ledgers: jxc check on the copy, row counts, balances."""
    differences = [f"副本 copy: {d}" for d in check_ledger(dst)]
    for table in schema.metadata.sorted_tables:
        count = select(func.count()).select_from(table)
        a, b = src.execute(count).scalar(), dst.execute(count).scalar()
        if a != b:
            differences.append(f"{table.name}: 源 source {a} 行 rows ≠ 副本 copy {b}")
    # sorted here: the two databases may collate the codes differently
    if _balances(src) != _balances(dst):
        differences.append("余额不同 / the balances differ")
    return differences


def _balances(conn: Connection) -> list[tuple]:
    return sorted(tuple(r) for r in conn.execute(select(schema.balances)))
