"""Tamper evidence: every posted document's chain hash covers its own content and
movements and the chain hash of the document posted before it (a journal's running
checksum). A document or movement changed or deleted behind the program's back
breaks the chain from there on, and `jxc check` says where.

Posting is serialised (SQLite's write lock, PostgreSQL's posting lock: db.py), so "the
document before" is well defined."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from itertools import groupby
from json.encoder import encode_basestring  # how json.dumps(ensure_ascii=False) quotes a string
from operator import attrgetter, call, itemgetter
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from sqlalchemy import Column, Connection, Date, bindparam, select, update

from . import queries, schema

GENESIS = "0" * 64
DOC_FIELDS = ("id", "kind", "doc_no", "doc_date", "warehouse", "to_warehouse", "partner", "ref_doc", "reason",
              "content_hash", "reverses")
# What a document moved and what its values rest on; the values themselves are derived
# (repost.py revalues them after a backdated document) and `jxc check` recomputes them.
MOVE_FIELDS = ("line_no", "sku", "warehouse", "doc_date", "qty", "basis", "given", "linked_to")
MOVE_FIELDS_V4 = ("line_no", "sku", "warehouse", "qty", "value")  # ledgers sealed before schema v5


def link(previous: str, document, movements: Iterable, move_fields: Sequence[str] = MOVE_FIELDS) -> str:
    movements = list(movements)
    content = {
        "doc": [_plain(getattr(document, f)) for f in DOC_FIELDS],
        "moves": list(zip(*(_plain_column(list(map(attrgetter(f), movements))) for f in move_fields))),
    }  # a tuple is a JSON array, as a list is
    return hashlib.sha256((previous + json.dumps(content, ensure_ascii=False)).encode()).hexdigest()


_AS_IS = {str, int, float, bool, type(None)}  # what _plain returns as it is, told apart without a failed hasattr


def _plain_column(values: list) -> list:
    """`_plain` of each of `values`, a column of one type at a time."""
    types = set(map(type, values))
    if types <= _AS_IS:
        return values
    if types == {Decimal}:
        return list(map(str, map(Decimal.normalize, values)))
    if types == {date}:
        return list(map(date.isoformat, values))
    return list(map(_plain, values))


def _plain(value) -> object:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Decimal):
        return str(value.normalize())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def reseal_all(conn: Connection) -> None:
    """Seals the whole chain again (the v5 upgrade, once the v4 chain is found intact)."""
    d, previous, hashes = schema.documents, GENESIS, []
    for document, moves in _documents_with_movements(conn):
        previous = link(previous, document, moves)
        hashes.append({"_id": document.id, "chain_hash": previous})
        if len(hashes) == 5000:
            conn.execute(update(d).where(d.c.id == bindparam("_id")).values(chain_hash=bindparam("chain_hash")), hashes)
            hashes = []
    if hashes:
        conn.execute(update(d).where(d.c.id == bindparam("_id")).values(chain_hash=bindparam("chain_hash")), hashes)


def seal(conn: Connection, document_ids: Sequence[int], documents: Sequence | None = None,
         movements: Sequence | None = None) -> None:
    """Sets the chain hash of freshly posted documents (inside the posting transaction),
    from their rows as written when the caller has them (`documents` and `movements`,
    records with an attribute per column), else as read back."""
    if not document_ids:
        return
    d = schema.documents
    first = min(document_ids)
    previous = conn.execute(select(d.c.chain_hash).where(d.c.id < first).order_by(d.c.id.desc()).limit(1)).scalar()
    if documents is None:
        posted = _documents_with_movements(conn, sorted(document_ids))
    else:
        moves: dict[int, list] = defaultdict(list)
        for move in sorted(movements or (), key=lambda move: move.id):
            moves[move.document_id].append(move)
        posted = sorted(((doc, moves[doc.id]) for doc in documents), key=lambda pair: pair[0].id)
    hashes = []
    for document, moves_of_document in posted:
        previous = link(previous or GENESIS, document, moves_of_document)
        hashes.append({"_id": document.id, "chain_hash": previous})
    conn.execute(update(d).where(d.c.id == bindparam("_id")).values(chain_hash=bindparam("chain_hash")), hashes)


def _documents_with_movements(conn: Connection, ids: Sequence[int] | None = None) -> Iterator[tuple]:
    d, m = schema.documents, schema.movements
    docs_query = select(d).order_by(d.c.id)
    moves_query = select(m).order_by(m.c.document_id, m.c.id)
    moves: dict[int, list] = defaultdict(list)
    if ids is None:
        yield from _all_documents_with_movements(conn)
        return
    for batch in queries.chunks(ids):
        for row in conn.execute(moves_query.where(m.c.document_id.in_(batch))):
            moves[row.document_id].append(row)
        for row in conn.execute(docs_query.where(d.c.id.in_(batch))):
            yield row, moves.get(row.id, [])


def _all_documents_with_movements(conn: Connection, page: int = 5000) -> Iterator[tuple]:
    """Every document in posting order with its movements, a page of documents at a time,
    so walking the chain of a ledger of millions of movements holds one page in memory."""
    d, m = schema.documents, schema.movements
    last = 0
    while True:
        docs = conn.execute(select(d).where(d.c.id > last).order_by(d.c.id).limit(page)).all()
        if not docs:
            return
        moves: dict[int, list] = defaultdict(list)
        query = select(m).where(m.c.document_id.between(docs[0].id, docs[-1].id)).order_by(m.c.document_id, m.c.id)
        for row in conn.execute(query):
            moves[row.document_id].append(row)
        for row in docs:
            yield row, moves.get(row.id, [])
        last = docs[-1].id


class Point(NamedTuple):
    """A place in the chain: a document and its chain hash."""

    document_id: int
    chain_hash: str


def broken_links(conn: Connection, move_fields: Sequence[str] = MOVE_FIELDS) -> list[str]:
    """Where the chain breaks: the first document whose stored hash no longer matches."""
    return walk(conn, move_fields=move_fields)[0]


def walk(conn: Connection, since: Point | None = None,
         move_fields: Sequence[str] = MOVE_FIELDS) -> tuple[list[str], Point | None]:
    """Verifies the chain after `since` (a point already verified; else from its start) in
    one streaming pass over the documents and their movements in chain order, each link
    computed from the raw column values as `link` computes it from the rows read back.
    Returns where it breaks (empty, or the first document that does not match) and the
    last point verified (`since` when nothing follows it). From `since`, its own document is
    walked again from the hash stored before it: an edit of the point's document is found."""
    d, m = schema.documents, schema.movements
    # also begins the caller's transaction (with its settings) before the driver's own cursors
    at_since = conn.execute(select(d.c.chain_hash).where(d.c.id == (since.document_id if since else 0))).scalar()
    if since is not None and at_since != since.chain_hash:
        return [f"核对点 verified point: 单据 document #{since.document_id} 的链哈希与上次核对时不同 (或单据已不在)"
                f" / its chain hash is no longer the one verified at the last check (or it is gone):"
                f" 请运行完整检查 run the full jxc check"], since
    after, previous, point = 0, GENESIS, None
    if since is not None:  # the point's own link too, from the hash stored before it: its content is walked again
        before = conn.execute(select(d.c.id, d.c.chain_hash).where(d.c.id < since.document_id)
                              .order_by(d.c.id.desc()).limit(1)).first()
        if before is not None:
            after, previous = before.id, before.chain_hash
            point = Point(before.id, before.chain_hash)
    doc_columns, move_columns = [d.c[f] for f in DOC_FIELDS], [m.c[f] for f in move_fields]
    doc_json, move_json = [_encoder(c, conn) for c in doc_columns], [_encoder(c, conn) for c in move_columns]
    with _stream(conn, select(*doc_columns, d.c.chain_hash).where(d.c.id > after).order_by(d.c.id), "docs") as docs, \
            _stream(conn, select(*move_columns, m.c.document_id).where(m.c.document_id > after)
                    .order_by(m.c.document_id, m.c.id), "moves") as moves:
        by_document = groupby(moves, key=itemgetter(-1))
        moved, its_moves = next(by_document, (None, ()))
        for row in docs:
            document_id, stored = row[0], row[-1]
            while moved is not None and moved < document_id:  # its document is gone: the next link breaks
                moved, its_moves = next(by_document, (None, ()))
            if moved == document_id:
                listed = ", ".join(["[" + ", ".join(map(call, move_json, move)) + "]" for move in its_moves])
                moved, its_moves = next(by_document, (None, ()))
            else:
                listed = ""
            content = '{"doc": [' + ", ".join(map(call, doc_json, row)) + '], "moves": [' + listed + "]}"
            if stored != hashlib.sha256((previous + content).encode()).hexdigest():
                return [f"{row[1]} {row[2]}: 单据或其流水在程序之外被修改或删除(本单或其前一单)"
                        f" / this document or its movements, or the one before it, were changed or deleted outside jxc"], point
            previous, point = stored, Point(document_id, stored)
    return [], point


@contextmanager
def _stream(conn: Connection, query, name: str) -> Iterator[Iterator[tuple]]:
    """The rows of `query` as the driver gives them (tuples of raw values: no Decimal, no
    date parsed per value), in the caller's transaction; on PostgreSQL through a
    server-side cursor, so that memory stays flat."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"jxc_chain_{name}")
        cursor.itersize = 20_000
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql)
        yield iter(cursor)
    finally:
        cursor.close()


def _encoder(column: Column, conn: Connection) -> Callable[[object], str]:
    """What `link`'s json.dumps writes for a raw value of `column` once its type has read it,
    each distinct value worked out once (a few thousand kept at a time)."""
    if isinstance(column.type, schema.Scaled):
        places = column.type.places
        return _Memo(lambda v: '"' + scaled_text(v if type(v) is int else int(v), places) + '"').__getitem__
    if isinstance(column.type, Date):
        read = column.type.dialect_impl(conn.dialect).result_processor(conn.dialect, None)  # SQLite keeps text
        return _Memo(lambda v: _json(read(v) if read else v)).__getitem__
    return _Memo(_json).__getitem__


class _Memo(dict):
    def __init__(self, encode: Callable[[object], str]):
        super().__init__()
        self.encode = encode

    def __missing__(self, value) -> str:
        if len(self) >= 20_000:
            self.clear()
        found = self[value] = "null" if value is None else self.encode(value)
        return found


def _json(value) -> str:
    if type(value) is str:
        return encode_basestring(value)
    if type(value) is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if isinstance(value, date):
        return '"' + value.isoformat() + '"'
    return json.dumps(_plain(value), ensure_ascii=False)


def scaled_text(n: int, places: int) -> str:
    """str(Decimal(n).scaleb(-places).normalize()): a stored amount as `link` writes it."""
    if n == 0:
        return "0"
    sign, digits = ("-", str(-n)) if n < 0 else ("", str(n))
    kept = digits.rstrip("0")
    exponent = len(digits) - len(kept) - places
    if exponent > 0:  # Decimal writes 100 normalized as 1E+2, 1500 as 1.5E+3
        mantissa = kept[0] + "." + kept[1:] if len(kept) > 1 else kept
        return f"{sign}{mantissa}E+{exponent + len(kept) - 1}"
    point = len(kept) + exponent
    if exponent == 0:
        return sign + kept
    if point > 0:
        return sign + kept[:point] + "." + kept[point:]
    return sign + "0." + "0" * -point + kept
