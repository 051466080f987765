"""Check, the period lock: nothing is dated in a closed month."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import Connection

from ..ledger import periods
from ..problems import problem
from ..records import Document, Problem


def check_periods(conn: Connection, docs: Sequence[Document]) -> list[Problem]:
    """A closed month takes no more documents: finance has reported its numbers. Nor
    goods arriving in it: a transfer's in leg would move its closing stock."""
    dated = [(doc, "doc_date", doc.doc_date) for doc in docs]
    dated += [(doc, "arrival_date", doc.header["arrival_date"]) for doc in docs if doc.header.get("arrival_date")]
    closed = periods.closed_among(conn, (day for _doc, _key, day in dated))
    return [problem("period-closed", doc.where.get(key, ""), day.isoformat(), month=closed[day], doc_no=doc.doc_no)
            for doc, key, day in dated if day in closed]
