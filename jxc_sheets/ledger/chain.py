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
from decimal import Decimal
from typing import Iterable, Iterator, Sequence

from sqlalchemy import Connection, bindparam, select, update

from . import queries, schema

GENESIS = "0" * 64
DOC_FIELDS = ("id", "kind", "doc_no", "doc_date", "warehouse", "to_warehouse", "partner", "ref_doc", "reason",
              "content_hash", "reverses")
# What a document moved and what its values rest on; the values themselves are derived
# (repost.py revalues them after a backdated document) and `jxc check` recomputes them.
MOVE_FIELDS = ("line_no", "sku", "warehouse", "doc_date", "qty", "basis", "given", "linked_to")
MOVE_FIELDS_V4 = ("line_no", "sku", "warehouse", "qty", "value")  # ledgers sealed before schema v5


def link(previous: str, document, movements: Iterable, move_fields: Sequence[str] = MOVE_FIELDS) -> str:
    content = {
        "doc": [_plain(getattr(document, f)) for f in DOC_FIELDS],
        "moves": [[_plain(getattr(m, f)) for f in move_fields] for m in movements],
    }
    return hashlib.sha256((previous + json.dumps(content, ensure_ascii=False)).encode()).hexdigest()


def _plain(value) -> object:
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


def broken_links(conn: Connection, move_fields: Sequence[str] = MOVE_FIELDS) -> list[str]:
    """Where the chain breaks: the first document whose stored hash no longer matches."""
    previous = GENESIS
    for document, moves in _documents_with_movements(conn):
        expected = link(previous, document, moves, move_fields)
        if document.chain_hash != expected:
            return [f"{document.kind} {document.doc_no}: 单据或其流水在程序之外被修改或删除(本单或其前一单)"
                    f" / this document or its movements, or the one before it, were changed or deleted outside jxc"]
        previous = document.chain_hash
    return []
