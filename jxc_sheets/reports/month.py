"""Report stage, what the month-end reports share: a month's bounds, and the pack's
column of each movement (by its kind and sign)."""
from __future__ import annotations

from datetime import date, timedelta

OPENING = "opening"
"""Opening stock (期初库存): the month's 期初, neither a receipt nor a voucher."""


def month_bounds(month: str) -> tuple[date, date]:
    start = date(int(month[:4]), int(month[5:7]), 1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end


def movement_type(kind: str, positive: bool) -> str:
    """The pack's column of a movement: in_purchase, out_sales, … (opening stock: `opening`)."""
    fixed = {"receipt": "in_purchase", "sales_return": "in_sales_return", "delivery": "out_sales",
             "purchase_return": "out_purchase_return", OPENING: OPENING,
             "landed_cost": "in_purchase"}  # freight and duty: part of what the goods cost, owed to their supplier
    if kind in fixed:
        return fixed[kind]
    if kind == "transfer":
        return "in_transfer" if positive else "out_transfer"
    if kind in ("count", "count_approval"):
        return "in_count_gain" if positive else "out_count_loss"
    return "in_other" if positive else "out_other"  # adjustments
