"""Costing: the value a movement carries. Moving weighted average (移动加权平均)
for now; FIFO and the monthly average come with the month-end issue, behind the
same two calls.

Rules (stated once, applied here only):
- money is rounded half-up to the cent (四舍五入) at each movement;
- an issue takes qty × the current average (value ÷ qty), except that an issue
  of the whole remaining qty takes the whole remaining value, so no rounding
  residue is ever left on an empty shelf;
- an issue into zero or negative stock (when allowed) is valued at the last
  known average.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

CENT = Decimal("0.01")
RATE = Decimal("0.000001")
ZERO = Decimal(0)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate(value: Decimal) -> Decimal:
    return value.quantize(RATE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CostState:
    """What one sku × warehouse holds."""

    qty: Decimal = ZERO
    value: Decimal = ZERO
    unit_cost: Decimal = ZERO  # the current average; kept through zero stock as the last known

    def moved(self, qty: Decimal, value: Decimal) -> "CostState":
        new_qty, new_value = self.qty + qty, self.value + value
        unit_cost = rate(new_value / new_qty) if new_qty > 0 else self.unit_cost
        return CostState(new_qty, new_value, unit_cost)


class Costing(Protocol):
    def receipt_value(self, state: CostState, qty: Decimal, unit_cost: Decimal) -> Decimal: ...

    def issue_value(self, state: CostState, qty: Decimal) -> Decimal: ...


class MovingAverage:
    def receipt_value(self, state: CostState, qty: Decimal, unit_cost: Decimal) -> Decimal:
        return money(qty * unit_cost)

    def issue_value(self, state: CostState, qty: Decimal) -> Decimal:
        if qty == state.qty:
            return state.value
        if state.qty > 0 and qty < state.qty:
            return money(qty * state.value / state.qty)
        return money(qty * state.unit_cost)
