"""Check, document numbers: a number is new, or names a document already posted
with the very same content (then it is skipped, not posted twice)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection

from .. import kinds
from ..ledger import queries
from ..problems import problem
from ..records import Document, Line, Problem


def with_hash(doc: Document) -> Document:
    """The content hash: kind, header and lines as posted (units already resolved)."""
    content = {
        "kind": doc.kind,
        "header": {k: _plain(v) for k, v in sorted(doc.header.items())
                   if k not in kinds.NOT_HASHED and k not in kinds.KINDS[doc.kind].not_hashed
                   and not (v is None and k in _ADDED_LATER)},
        "lines": [_line_content(l) for l in doc.lines],
    }
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return replace(doc, content_hash=digest)


def _line_content(line: Line) -> list:
    content = [line.sku, line.warehouse, _plain(line.qty), line.unit, _plain(line.unit_cost),
               _plain(line.unit_price), line.batch, line.remark]
    if line.expected_date or line.partner:  # only orders and plans have these: older hashes stay as they were
        content += [_plain(line.expected_date), line.partner]
    taxed = [line.price_incl, line.tax_rate, line.amount, line.tax, line.gross]
    if taxed != NOT_TAXED:  # as typed; a line without them hashes as before they existed
        content += [_plain(v) for v in taxed]
    if line.return_reason:
        content.append(line.return_reason)
    if line.rejected_qty:
        content += [_plain(line.rejected_qty), line.reject_reason]
    return content


NOT_TAXED = [None] * 5
_ADDED_LATER = {"invoice_type", "salesperson"}  # header fields that, left empty, leave older documents' hashes as they were


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, date):
        return value.isoformat()
    return value


def split_posted(conn: Connection, docs: list[Document], problems: list[Problem]) -> tuple[list[Document], list[Document]]:
    posted = queries.posted_hashes(conn, {(d.kind, d.doc_no) for d in docs})
    new, same, seen = [], [], {}
    for doc in docs:
        key = (doc.kind, doc.doc_no)
        where = doc.where.get("doc_no", "")
        if key in seen:
            if seen[key] != doc.content_hash:
                problems.append(problem("doc-no-repeated", where, doc.doc_no, doc_no=doc.doc_no))
            continue
        seen[key] = doc.content_hash
        if key not in posted:
            new.append(doc)
        elif posted[key] == doc.content_hash:
            same.append(doc)
        else:
            problems.append(problem("doc-no-conflict", where, doc.doc_no, doc_no=doc.doc_no))
    return new, same
