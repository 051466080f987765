"""Check, quality on receipt: a receipt line's 不合格数量 goes to the quarantine
warehouse (待处理, `quality.quarantine_warehouse`), which must be a registered
warehouse other than the receipt's; only accepted goods are for sale, so a sales
order or delivery may not name the quarantine warehouse. Rejected goods leave it by
a purchase return to the supplier (关联单号 = the receipt: back at its cost), or by a
transfer once they are accepted after all."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from ..config import QualityConfig
from ..problems import problem
from ..records import Document, Problem


def check_quality(docs: Sequence[Document], rules: QualityConfig, warehouses: frozenset[str],
                  problems: list[Problem]) -> list[Document]:
    quarantine = rules.quarantine_warehouse
    out = []
    for doc in docs:
        if doc.kind == "receipt":
            rejected = [line for line in doc.lines if line.rejected_qty]
            if rejected:
                if not quarantine or quarantine not in warehouses or quarantine == doc.header.get("warehouse"):
                    problems.append(problem("quarantine-warehouse", rejected[0].where.get("rejected_qty", ""),
                                            rejected[0].rejected_qty, warehouse=quarantine or "-"))
                doc = replace(doc, header={**doc.header, "quarantine": quarantine})
        elif doc.kind in ("delivery", "sales_order") and quarantine and doc.header.get("warehouse") == quarantine:
            problems.append(problem("quarantine-sale", doc.where.get("warehouse", ""), quarantine, warehouse=quarantine))
        out.append(doc)
    return out
