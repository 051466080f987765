"""Report stage: outbox/service.xlsx — customer service and after-sales.

Sheets (English keys in every header):
- `open`: each feedback case still open, longest open first, with its days open;
- `open_by_owner`: open cases by category and owner: how many, the oldest, the average days;
- `feedback_monthly`: feedback by month, category and item (the last twelve months and this one);
- `return_rate_item`: by month and item, what was delivered and returned by customers, and the rate;
- `return_rate_reason`: the same returns by reason, with their share of the item's deliveries;
- `repairs`: repairs in hand (not yet taken back), overdue ones first, with days in hand.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Connection, select

from ..ledger import schema
from ..ledger import service as ledger_service
from .book import Book, Column

ZERO = Decimal(0)

OPEN_COLUMNS = (
    Column("doc_no", "编号", width=14),
    Column("doc_date", "日期", "date", width=12),
    Column("days_open", "已开天数", "int", width=10),
    Column("category", "类别", width=10),
    Column("owner", "负责人", width=12),
    Column("customer", "客户", width=12),
    Column("customer_name", "客户名称", width=20),
    Column("channel", "渠道", width=10),
    Column("sku", "物料编码", width=14),
    Column("ref_doc", "关联单号", width=14),
    Column("text", "内容", width=40),
)
BY_OWNER_COLUMNS = (
    Column("category", "类别", width=10),
    Column("owner", "负责人", width=12),
    Column("open", "未解决数", "int", width=10),
    Column("oldest_days", "最长天数", "int", width=10),
    Column("average_days", "平均天数", "qty", width=10),
)
MONTHLY_COLUMNS = (
    Column("month", "月份", width=10),
    Column("category", "类别", width=10),
    Column("sku", "物料编码", width=14),
    Column("count", "条数", "int", width=8),
    Column("resolved", "已解决", "int", width=8),
)
RATE_COLUMNS = (
    Column("month", "月份", width=10),
    Column("sku", "物料编码", width=14),
    Column("name", "名称", width=20),
    Column("delivered_qty", "出库数量", "qty", width=12),
    Column("returned_qty", "退货数量", "qty", width=12),
    Column("return_rate", "退货率", "cost", width=10),
)
REASON_COLUMNS = (
    Column("month", "月份", width=10),
    Column("sku", "物料编码", width=14),
    Column("reason", "退货原因", width=12),
    Column("returned_qty", "退货数量", "qty", width=12),
    Column("return_rate", "退货率", "cost", width=10),
)

REPAIR_COLUMNS = (
    Column("doc_no", "维修单号", width=14),
    Column("doc_date", "收件日期", "date", width=12),
    Column("days_in_hand", "在修天数", "int", width=10),
    Column("overdue", "逾期", width=6),
    Column("promised_date", "承诺完成日期", "date", width=14),
    Column("status", "状态", width=10),
    Column("customer", "客户", width=12),
    Column("repair_item", "维修物品", width=18),
    Column("serial", "序列号", width=14),
    Column("fault", "故障描述", width=30),
    Column("technician", "维修人", width=10),
)
REPAIR_STATUS_ZH = {"in_hand": "维修中 in_hand", "repaired": "已修好 repaired", "returned": "已取回 returned"}


@dataclass(frozen=True)
class OpenCase:
    doc_no: str
    doc_date: date
    days_open: int
    category: str
    owner: str
    customer: str
    customer_name: str
    channel: str
    sku: str
    ref_doc: str
    text: str


def months_back(today: date, months: int = 12) -> date:
    """The first day of the month `months` before today's."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def open_cases(conn: Connection, today: date) -> list[OpenCase]:
    c = schema.customers
    names = dict(conn.execute(select(c.c.code, c.c.name)).all())
    found = [OpenCase(k.doc_no, k.doc_date, (today - k.doc_date).days, k.category, k.owner, k.customer,
                      names.get(k.customer, ""), k.channel, k.sku, k.ref_doc, k.text)
             for k in ledger_service.cases(conn, open_only=True)]
    return sorted(found, key=lambda k: (-k.days_open, k.doc_no))


def rate(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if whole else None


def write_service(conn: Connection, path: Path, today: date) -> None:
    cases = open_cases(conn, today)
    by_owner: dict[tuple[str, str], list[int]] = defaultdict(list)
    for k in cases:
        by_owner[(k.category, k.owner)].append(k.days_open)
    owner_rows = [{"category": cat, "owner": owner, "open": len(days), "oldest_days": max(days),
                   "average_days": (Decimal(sum(days)) / len(days)).quantize(Decimal("0.01"))}
                  for (cat, owner), days in sorted(by_owner.items())]
    since = months_back(today)
    counted: Counter = Counter()
    resolved: Counter = Counter()
    for k in ledger_service.cases(conn, since=since):
        key = (k.doc_date.strftime("%Y-%m"), k.category, k.sku)
        counted[key] += 1
        resolved[key] += k.status == "resolved"
    monthly = [{"month": m, "category": cat, "sku": sku, "count": n, "resolved": resolved[(m, cat, sku)]}
               for (m, cat, sku), n in sorted(counted.items())]
    delivered, returned = ledger_service.sold_and_returned(conn, since)
    i = schema.items
    names = dict(conn.execute(select(i.c.sku, i.c.name)).all())
    back: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for (month, sku, _reason), qty in returned.items():
        back[(month, sku)] += qty
    rate_rows = [{"month": month, "sku": sku, "name": names.get(sku, ""), "delivered_qty": delivered.get((month, sku), ZERO),
                  "returned_qty": back.get((month, sku), ZERO), "return_rate": rate(back.get((month, sku), ZERO),
                                                                                    delivered.get((month, sku), ZERO))}
                 for month, sku in sorted(set(delivered) | set(back))]
    reason_rows = [{"month": month, "sku": sku, "reason": reason or "(未填 none)", "returned_qty": qty,
                    "return_rate": rate(qty, delivered.get((month, sku), ZERO))}
                   for (month, sku, reason), qty in sorted(returned.items())]
    with Book(path, kind="service") as book:
        book.add_table("open", OPEN_COLUMNS, cases)
        book.add_table("open_by_owner", BY_OWNER_COLUMNS, [SimpleNamespace(**r) for r in owner_rows])
        book.add_table("feedback_monthly", MONTHLY_COLUMNS, [SimpleNamespace(**r) for r in monthly])
        book.add_table("return_rate_item", RATE_COLUMNS, [SimpleNamespace(**r) for r in rate_rows])
        book.add_table("return_rate_reason", REASON_COLUMNS, [SimpleNamespace(**r) for r in reason_rows])
        book.add_table("repairs", REPAIR_COLUMNS, repairs_in_hand(conn, today))


def repairs_in_hand(conn: Connection, today: date) -> list[SimpleNamespace]:
    rows = [SimpleNamespace(doc_no=r.doc_no, doc_date=r.doc_date, days_in_hand=(today - r.doc_date).days,
                            overdue="Y" if r.promised_date and r.promised_date < today and r.status == "in_hand" else "",
                            promised_date=r.promised_date, status=REPAIR_STATUS_ZH.get(r.status, r.status),
                            customer=r.customer, repair_item=r.repair_item, serial=r.serial, fault=r.fault,
                            technician=r.technician)
            for r in ledger_service.repairs_in_hand(conn)]
    return sorted(rows, key=lambda r: (r.overdue != "Y", -r.days_in_hand, r.doc_no))



def service_panel(conn: Connection, today: date) -> SimpleNamespace:
    """The dashboard's service panel: open feedback by category (how many, the oldest)
    and the repairs in hand, overdue first."""
    by_category: dict[str, list[int]] = defaultdict(list)
    for k in open_cases(conn, today):
        by_category[k.category].append(k.days_open)
    return SimpleNamespace(open=[(cat, len(days), max(days)) for cat, days in sorted(by_category.items())],
                           repairs=repairs_in_hand(conn, today))
