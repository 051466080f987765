"""Costing: the value each movement of one sku × warehouse carries, computed from
the movements in valuation order — (date, posting sequence) — so that a
backdated document values exactly as if it had been posted in its place.

Three methods (`costing.method`, per item `costing.items`), any of them per month:
- moving_average (移动加权平均): an issue takes the average at its moment;
- fifo (先进先出): every receipt is a layer; an issue takes the oldest layers first,
  across as many as it needs;
- monthly_weighted_average (全月一次加权平均): an issue takes a provisional rate
  (the pair's average at the start of its month) while the month is open, and the
  month's average — (opening + the month's receipts) ÷ their quantity — once it is
  closed. Transfers out keep the provisional rate, so the rates of two warehouses
  never wait on each other.

What each movement's value rests on (its basis):
- cost: a value given by the document (a receipt's cost, opening stock);
- link: another movement's amount, carried on: a transfer's in leg takes its out
  leg's, a return comes back at the cost its delivery (or receipt) left with — pro
  rata to the quantity;
- reverse: a reversal (红字冲销) takes back its original's value and correction exactly;
- issue: the method decides;
- current: a gain or a return without a known cost comes in at the current rate
  (the average, the newest layer's cost, the month's rate), else the standard cost;
- share: an assembly's (or disassembly's) in leg takes what its document's out legs
  left with: an assembly's finished goods their sum plus the given fee (加工费); a
  disassembly's outputs a split of it by their given weights, the last output taking
  the rounding remainder (repost.Shares works it out from the out legs' values);
- landed: a landed cost (费用分摊, qty 0) of the receipt it is linked to: the part of
  that receipt still on hand takes its share of the given amount as value, the rest
  goes to cost of sales as the correction. Under fifo what is on hand is the receipt's
  own layer; under an average method the pair is one pool, and as much of the receipt
  counts as on hand as the pair holds, up to the quantity received. An empty shelf
  takes nothing.

Rounding, stated once and applied only here: money is rounded half-up to the cent
(四舍五入) once per movement, and a residue never vanishes —
- moving average: an issue is qty × value ÷ qty; the last units out take all the
  value left;
- fifo: a piece of a layer is qty × the layer's value ÷ its qty; the whole layer
  takes all its value;
- monthly average: each issue is qty × the month's rate; the month's last issue takes
  the residue, so the closing value is closing qty × the rate to the cent.
An issue into empty or negative stock (when allowed) is valued at the last known rate,
else at the item's standard cost.

Amount and value. A movement's `value` is what it does to the stock. Its amount —
what the document is worth to the other side (the supplier's invoice, the return's
credit) — is `value + correction`; the correction goes to cost of sales (成本调整),
as ERPNext and Odoo book it:
- a receipt into negative stock settles the shortfall first, oldest first (under fifo
  each shortfall is a negative layer of its own): the short units take the incoming
  cost, and the difference from what they were booked at when they left is the
  correction;
- an outgoing movement with an amount of its own (a purchase return at its price, a
  return linked to its receipt, a reversal) that leaves the shelf at exactly zero
  takes all the value left: an empty shelf never holds value. Under fifo the goods
  leave at their layers' cost, and the amount's difference is the correction.
The monthly average settles nothing in a closed month: every issue is at the month's
rate there, and the closing is its quantity × that rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import repeat
from typing import Callable, Iterator, Mapping, Sequence

CENT = Decimal("0.01")
RATE = Decimal("0.000001")
ZERO = Decimal(0)

MOVING_AVERAGE, FIFO, MONTHLY = "moving_average", "fifo", "monthly_weighted_average"
METHODS = (MOVING_AVERAGE, FIFO, MONTHLY)
COST, LINK, REVERSE, ISSUE, CURRENT = "cost", "link", "reverse", "issue", "current"
SHARE, LANDED = "share", "landed"
SHARED_KINDS = ("assembly", "disassembly")  # their in legs rest on their out legs (basis share)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate(value: Decimal) -> Decimal:
    return value.quantize(RATE, rounding=ROUND_HALF_UP)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class CostState:
    """What one sku × warehouse holds."""

    qty: Decimal = ZERO
    value: Decimal = ZERO
    unit_cost: Decimal = ZERO  # the current rate; kept through zero stock as the last known


@dataclass(frozen=True, slots=True)
class Move:
    """One movement to value, in valuation order."""

    id: int
    day: date
    kind: str
    qty: Decimal  # signed, base unit
    basis: str
    given: Decimal | None = None  # basis cost: the amount
    linked_to: int | None = None  # basis link or reverse: the movement this one follows
    linked_here: bool = False  # that movement is of the same sku × warehouse


@dataclass(frozen=True, slots=True)
class Valued:
    id: int
    value: Decimal
    balance_qty: Decimal
    balance_value: Decimal
    last_rate: Decimal = ZERO  # kept on the movement: valuing can start again right after it
    correction: Decimal = ZERO  # to cost of sales: the amount is value + correction


@dataclass(slots=True)
class Layer:
    origin: int | None  # the movement that brought it in
    day: date
    qty: Decimal
    value: Decimal


@dataclass(slots=True)
class Holding:
    """A pair's stock as layers: one merged layer under an average method, one per
    receipt under fifo; `last_rate` outlives empty shelves."""

    layers: list[Layer] = field(default_factory=list)
    last_rate: Decimal = ZERO

    @property
    def qty(self) -> Decimal:
        return sum((l.qty for l in self.layers), ZERO)

    @property
    def value(self) -> Decimal:
        return sum((l.value for l in self.layers), ZERO)

    def average(self) -> Decimal:
        qty = self.qty
        return self.value / qty if qty > 0 else self.last_rate

    def state(self) -> CostState:
        return CostState(self.qty, self.value, rate(self.average()))

    def settle_rate(self) -> None:
        """With stock on hand the last known rate is its average (as the balances table keeps it)."""
        qty = self.qty
        if qty > 0:
            self.last_rate = rate(self.value / qty)

    def merged(self, day: date) -> None:
        if len(self.layers) > 1:
            self.layers = [Layer(None, day, self.qty, self.value)]

    def add(self, origin: int, day: date, qty: Decimal, amount: Decimal, separate: bool, settle: bool = True) -> Decimal:
        """Brings `qty` in worth `amount`, settling shortfalls first; returns the correction:
        what the short units cost now less what they were booked at. Not `settle` (a
        reversal, a closed month of the monthly average): nothing is re-priced, but fifo
        still fills its shortfalls, at what they were booked at."""
        correction, qty_left, amount_left = ZERO, qty, amount
        while (settle or separate) and qty_left > 0 and self.layers and self.layers[0].qty < 0:
            short = self.layers[0]  # under fifo even a reversal fills a shortfall, at what it was booked at
            piece = min(qty_left, -short.qty)
            booked = -short.value if piece == -short.qty else money(piece * short.value / short.qty)
            incoming = booked if not settle else amount_left if piece == qty_left else money(piece * amount / qty)
            correction += incoming - booked
            short.qty += piece
            short.value += booked
            if short.qty == 0:
                self.layers.pop(0)
            qty_left -= piece
            amount_left -= incoming
        if not qty_left and amount_left and self.layers:  # what is left of a reversal's value: to the next shortfall
            self.layers[0] = Layer(self.layers[0].origin, self.layers[0].day, self.layers[0].qty,
                                   self.layers[0].value + amount_left)
        elif qty_left or amount_left:
            if self.layers and not separate:
                last = self.layers[-1]  # averaging: one layer
                self.layers[-1] = Layer(last.origin, day, last.qty + qty_left, last.value + amount_left)
            else:
                self.layers.append(Layer(origin, day, qty_left, amount_left))
        self.layers = [l for l in self.layers if l.qty != 0 or l.value != 0]
        return correction

    def take(self, qty: Decimal, day: date, prefer: int | None = None, fallback: Decimal = ZERO) -> Decimal:
        """Takes `qty` (> 0) out, the preferred layer first, then the oldest; returns its value.
        What is not there becomes a shortfall, a negative layer of its own after the others,
        at the last known rate (`fallback` when none is known)."""
        layers = sorted(self.layers, key=lambda l: l.origin != prefer) if prefer else self.layers
        value, left = ZERO, qty
        for layer in layers:
            if left <= 0:
                break
            if layer.qty <= 0:
                continue
            piece = min(left, layer.qty)
            piece_value = layer.value if piece == layer.qty else money(piece * layer.value / layer.qty)
            self.last_rate = rate(layer.value / layer.qty)
            layer.qty -= piece
            layer.value -= piece_value
            value += piece_value
            left -= piece
        self.layers = [l for l in self.layers if l.qty != 0 or l.value != 0]
        if left > 0:
            short = money(left * (self.last_rate or fallback))
            value += short
            self.layers.append(Layer(None, day, -left, -short))
        return value

    def remove(self, qty: Decimal, value: Decimal, day: date, empties: bool = True) -> Decimal:
        """Takes out `qty` at a value already known (an average method's); returns the value
        taken: all there is, when the shelf is left at exactly zero (and `empties`)."""
        self.merged(day)
        if empties and self.layers and self.layers[0].qty == qty:
            value = self.layers[0].value
        if self.layers:
            self.layers[0].qty -= qty
            self.layers[0].value -= value
        else:
            self.layers.append(Layer(None, day, -qty, -value))
        self.layers = [l for l in self.layers if l.qty != 0 or l.value != 0]
        return value


class Pricing:
    """Values one pair's moves in valuation order from an opening holding."""

    def __init__(self, holding: Holding, method_of: Callable[[str], str], final: Callable[[str], bool],
                 linked: Callable[[int], tuple[Decimal, Decimal, Decimal] | None], std_cost: Decimal | None,
                 shared: Callable[[int], Decimal | None] = lambda move_id: None):
        self.holding, self.method_of, self.final = holding, method_of, final
        self.linked, self.std_cost, self.shared = linked, std_cost or ZERO, shared
        self.own: dict[int, tuple[Decimal, Decimal, Decimal]] = {}  # (qty, value, correction) valued here

    def run(self, moves: Sequence[Move]) -> list[Valued]:
        out: list[Valued] = []
        for month, month_moves in _by_month(moves):
            method = self.method_of(month)
            if method != FIFO:
                self.holding.merged(month_moves[0].day)
            if method == MONTHLY:
                out += self._monthly(month, month_moves)
            else:
                out += [self._one(m, method) for m in month_moves]
        return out

    def _one(self, move: Move, method: str, month_rate: Decimal | None = None, final: bool = False) -> Valued:
        """Values one move; `final`: a closed month of the monthly average, where every
        issue is at the month's rate and nothing is settled or swept."""
        h = self.holding
        fifo = method == FIFO
        if move.basis == LANDED:
            return self._landed(move, fifo)
        amount, preset = self._amount(move, month_rate)
        before = h.value
        if move.qty >= 0:
            incoming = preset if preset is not None else amount if amount is not None \
                else money(move.qty * self._current_rate())
            amount = incoming if amount is None else amount  # a gain is worth what it brings
            h.add(move.id, move.day, move.qty, incoming, separate=fifo, settle=not final and preset is None)
        elif fifo or (amount is None and preset is None):
            h.take(-move.qty, move.day, prefer=move.linked_to if fifo else None, fallback=self.std_cost)
        else:
            h.remove(-move.qty, -(preset if preset is not None else amount), move.day)
        if not final and h.qty == 0:
            h.layers = []  # the last units out take all the value left
        if not fifo:
            h.merged(move.day)
        h.settle_rate()
        value = h.value - before
        correction = ZERO if amount is None else amount - value
        self.own[move.id] = (move.qty, value, correction)
        return Valued(move.id, value, h.qty, h.value, h.last_rate, correction)

    def _amount(self, move: Move, month_rate: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
        """(amount, preset value): what the document says the move is worth, and what it
        must do to the stock when that is already known (a reversal, the month's rate);
        (None, None) for an issue or a gain the method values."""
        if month_rate is not None:
            at_rate = money(move.qty * month_rate)
            return (None, at_rate) if move.qty < 0 else (at_rate, None)
        if move.basis == COST and move.given is not None:
            return move.given, None
        if move.basis == SHARE:
            return self.shared(move.id), None
        if move.basis in (LINK, REVERSE):
            linked = self._linked(move)
            if linked and not linked[0] and move.basis == REVERSE:  # a landed cost's: qty 0
                return -(linked[1] + linked[2]), -linked[1]
            if linked and linked[0]:
                qty, value, correction = linked
                amount = money((value + correction) * move.qty / qty)
                return amount, money(value * move.qty / qty) if move.basis == REVERSE else None
        return None, None

    def _linked(self, move: Move) -> tuple[Decimal, Decimal, Decimal] | None:
        return (self.own.get(move.linked_to) if move.linked_here else None) or self.linked(move.linked_to)

    def _landed(self, move: Move, fifo: bool) -> Valued:
        """A landed cost: its receipt's part still on hand takes its share as value, the
        rest is the correction (cost of sales)."""
        h = self.holding
        amount = move.given or ZERO
        received = (self._linked(move) or (ZERO,))[0]
        if fifo:
            layer = next((l for l in h.layers if l.origin == move.linked_to and l.qty > 0), None)
            on_hand = layer.qty if layer else ZERO
        else:
            layer = h.layers[0] if h.layers and h.qty > 0 else None
            on_hand = min(received, h.qty) if layer else ZERO
        part = money(amount * on_hand / received) if received > 0 and on_hand > 0 else ZERO
        if part:
            layer.value += part
        h.settle_rate()
        self.own[move.id] = (move.qty, part, amount - part)
        return Valued(move.id, part, h.qty, h.value, h.last_rate, amount - part)

    def _current_rate(self) -> Decimal:
        h = self.holding
        if h.layers and h.qty > 0:
            newest = h.layers[-1]
            if newest.qty > 0:
                return newest.value / newest.qty
        return h.average() or self.std_cost

    def _monthly(self, month: str, moves: Sequence[Move]) -> list[Valued]:
        h = self.holding
        provisional = h.average()
        final = self.final(month)
        month_rate = self._month_rate(moves, provisional) if final else provisional
        out, at_rate = [], []
        for i, move in enumerate(moves):
            rate_here = None
            if self._at_rate(move):
                rate_here = provisional if move.kind == "transfer" else month_rate
                rate_here = rate_here or h.average() or self.std_cost  # nothing known yet: as it stands
                at_rate.append((i, move.qty * rate_here))
            out.append(self._one(move, MOVING_AVERAGE, rate_here, final))
        if final:
            out = self._residue_to_last_issue(moves, out, at_rate)
        return out

    def _month_rate(self, moves: Sequence[Move], provisional: Decimal) -> Decimal:
        """(opening + the month's receipts) ÷ their qty, at full precision."""
        h = self.holding
        # a landed cost's part on hand is known only as it is valued: it joins next month's rate
        fixed = [m for m in moves if not self._at_rate(m) and m.basis != LANDED]
        values = [preset if preset is not None else amount for amount, preset in map(self._amount, fixed, repeat(None))]
        qty = h.qty + sum((m.qty for m in fixed), ZERO)
        if qty <= 0 or None in values:
            return provisional
        return (h.value + sum(values, ZERO)) / qty

    def _at_rate(self, move: Move) -> bool:
        if move.basis in (ISSUE, CURRENT):
            return True
        return move.basis == LINK and move.qty > 0 and move.linked_here  # back at the rate it left with

    def _residue_to_last_issue(self, moves: Sequence[Move], out: list[Valued],
                               at_rate: list[tuple[int, Decimal]]) -> list[Valued]:
        """The month's moves at its rate, rounded one by one, may miss their exact total by
        a cent or two: the month's last issue takes the difference."""
        issues = [i for i, _exact in at_rate if moves[i].qty < 0 and moves[i].kind != "transfer"]
        if not issues:
            return out
        exact = money(sum((e for i, e in at_rate if moves[i].kind != "transfer"), ZERO))
        rounded = sum((out[i].value for i, _e in at_rate if moves[i].kind != "transfer"), ZERO)
        residue, last = exact - rounded, issues[-1]
        if residue == 0:
            return out
        self.own[moves[last].id] = (moves[last].qty, out[last].value + residue, ZERO)
        self.holding.merged(moves[-1].day)
        self.holding.layers[0].value += residue
        self.holding.settle_rate()
        return [v if i < last else Valued(v.id, v.value + residue if i == last else v.value, v.balance_qty,
                                          v.balance_value + residue, _rate_after(v.balance_qty, v.balance_value + residue, v.last_rate),
                                          v.correction)
                for i, v in enumerate(out)]


def _rate_after(qty: Decimal, value: Decimal, last_rate: Decimal) -> Decimal:
    return rate(value / qty) if qty > 0 else last_rate


def _by_month(moves: Sequence[Move]) -> Iterator[tuple[str, list[Move]]]:
    month, batch = None, []
    for move in moves:
        m = month_of(move.day)
        if m != month and batch:
            yield month, batch
            batch = []
        month = m
        batch.append(move)
    if batch:
        yield month, batch


def opening_holding(qty: Decimal, value: Decimal, last_rate: Decimal, day: date) -> Holding:
    layers = [Layer(None, day, qty, value)] if qty or value else []
    return Holding(layers, last_rate)


def value_moves(holding: Holding, moves: Sequence[Move], method_of: Callable[[str], str],
                final: Callable[[str], bool] = lambda month: False,
                linked: Callable[[int], tuple[Decimal, Decimal, Decimal] | None] = lambda i: None,
                std_cost: Decimal | None = None,
                shared: Callable[[int], Decimal | None] = lambda move_id: None) -> list[Valued]:
    """Values `moves` (one pair's, in valuation order) from `holding`, which it updates."""
    return Pricing(holding, method_of, final, linked, std_cost, shared).run(moves)


def constant(method: str) -> Callable[[str], str]:
    return lambda month: method


def methods_by_month(history: Mapping[str, str]) -> Callable[[str], str]:
    """{from_month: method} → the method of any month (moving average before the first)."""
    starts = sorted(history)

    def method_of(month: str) -> str:
        chosen = MOVING_AVERAGE
        for start in starts:
            if start <= month:
                chosen = history[start]
        return chosen
    return method_of
