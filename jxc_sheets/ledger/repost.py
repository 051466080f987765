"""Reposting (重算成本): values the movements of some sku × warehouse pairs from a
point on, in valuation order (date, posting sequence), writes what changed, and
follows the value into the pairs that take it on — a transfer's in leg, a reversal,
a return at the cost it left with, an assembly's finished goods (which follow all of
its document's out legs, `Shares`) — until nothing changes.

Posting calls it for the pairs a file touched, from each pair's first new movement:
a document dated after everything of its pairs costs one step; a backdated one
revalues its pairs from its date, and only those. `jxc close` calls it for the
month-end rate of the monthly average, and `jxc check` compares its answer for the
open months with what is stored.

Where a pair starts again: moving average from the stored balance just before the
point; monthly average from the start of the point's month; fifo from the pair's
first movement (its layers are rebuilt), its layers then brought to the stored
balance before the point, so closed months are never revalued.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby
from datetime import date
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, and_, case, func, or_, select

from . import bulk, costing, methods, queries, schema
from .costing import ZERO, Holding, Move, Valued, month_of

Pair = tuple[str, str]
Key = tuple[date, int]  # (date, movement id): valuation order


@dataclass(frozen=True)
class Context:
    """What valuing needs besides the movements: the methods, the final months, costs."""

    methods: methods.Methods
    final_months: frozenset[str]
    std_costs: Mapping[str, Decimal]

    @classmethod
    def load(cls, conn: Connection, skus: Iterable[str], final_months: Iterable[str] = ()) -> "Context":
        from . import periods
        return cls(methods.load(conn), frozenset(periods.closed_months(conn)) | frozenset(final_months),
                   _std_costs(conn, set(skus)))


def revalue(conn: Connection, starts: Mapping[Pair, Key], new_ids: Iterable[int] = (),
            final_months: Iterable[str] = ()) -> None:
    """Revalues each pair from its start key (inside the caller's transaction)."""
    new = set(new_ids)
    queue = dict(starts)
    context = Context.load(conn, {sku for sku, _w in starts}, final_months)
    known: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    shares = Shares(conn, known)
    while queue:
        round_, queue = queue, {}
        changed = _revalue_round(conn, round_, context, known, new, shares)
        for pair, key in _dependents(conn, changed).items():
            if pair not in queue or key < queue[pair]:
                queue[pair] = key
        new = set()


def _revalue_round(conn: Connection, starts: Mapping[Pair, Key], context: Context,
                   known: dict[int, tuple[Decimal, Decimal, Decimal]], new: set[int],
                   shares: "Shares") -> list[tuple[Pair, int]]:
    rows_by_pair = _appended(conn, starts, context, new)
    rows_by_pair.update(_rows_sharing_a_start(conn, {p: k for p, k in starts.items() if p not in rows_by_pair}, context))
    for pair, start in starts.items():
        if pair not in rows_by_pair:
            rows_by_pair[pair] = _rows(conn, pair, start, context)
    _load_linked(conn, rows_by_pair.values(), known)
    shares.load(r.id for history, live in rows_by_pair.values() for r in (*history, *live)
                if getattr(r, "basis", None) == costing.SHARE)  # an _Opening has none
    changed, updates, balances = [], [], {}
    for pair in sorted(starts, key=lambda p: starts[p]):
        history, live = rows_by_pair[pair]
        valued, holding = value_pair(pair, history, live, context, known, shares)
        for row, v in zip(live, valued):
            known[row.id] = (row.qty, v.value, v.correction)
            if row.id in new or (v.value, v.balance_qty, v.balance_value, v.last_rate, v.correction) != \
                    (row.value, row.balance_qty, row.balance_value, row.last_rate, row.correction or ZERO):
                updates.append({"id": row.id, **_valued_columns(row.qty, v)})
            moved = (v.value, v.correction) != (row.value, row.correction or ZERO)
            if (row.id not in new and moved) or (row.id in new and row.kind in FOLLOWED_OUT_LEGS and row.qty < 0):
                changed.append((pair, row.id))  # others may follow it: a new one only a transfer's or assembly's in leg
        if live:
            balances[pair] = holding.state()
    _write(conn, updates, balances)
    return changed


def value_appended(conn: Connection, movements: Sequence, last_dates: Mapping[Pair, date],
                   held: Mapping[Pair, costing.CostState]) -> dict[Pair, costing.CostState]:
    """Values new movements (post.NewMovement) in place, before they are written, where
    that needs nothing but the pair's balance row (`held`, and its latest date in
    `last_dates`): new movements resting on no other movement, of a pair that had none
    yet, or of a moving-average pair after everything it had. Returns the state each
    such pair is left in; repost.revalue values the others once the rows are written."""
    by_pair: dict[Pair, list] = defaultdict(list)
    for row in movements:
        by_pair[row.pair].append(row)
    context = Context.load(conn, {sku for sku, _w in by_pair})
    left: dict[Pair, costing.CostState] = {}
    same: dict[Decimal, Decimal] = {}  # equal amounts recur over a batch's rows: each is held once
    for pair, rows in by_pair.items():
        first = min(row.doc_date for row in rows)
        fresh = pair not in last_dates  # nothing moved yet: any method starts from nothing
        if any(row.basis in RESTING_ON_OTHERS for row in rows) or not fresh and (
                last_dates[pair] > first or not context.methods.only_average(pair[0], month_of(first))):
            continue
        state = held.get(pair)
        rows.sort(key=lambda row: (row.doc_date, row.id))
        if _receipts_at_cost(rows, state) and context.methods.only_average(pair[0], month_of(first)):
            left[pair] = _value_receipts(rows, state or costing.CostState(), same)
            continue
        holding = costing.opening_holding(state.qty, state.value, state.unit_cost, first) if state else Holding()
        moves = [Move(row.id, row.doc_date, row.kind, row.qty, row.basis, row.given) for row in rows]
        valued = costing.value_moves(holding, moves, context.methods.method_of(pair[0]),
                                     lambda month: month in context.final_months, std_cost=context.std_costs.get(pair[0]))
        for row, v in zip(rows, valued):
            for name, value in _valued_columns(row.qty, v).items():
                setattr(row, name, same.setdefault(value, value))
        left[pair] = holding.state()
    return left


def _receipts_at_cost(rows: Sequence, state: costing.CostState | None) -> bool:
    """Every row brings stock in at the cost its document gives, onto a shelf that holds
    stock or nothing (no shortfall to settle): a batch of receipts, the common case."""
    return (state is None or state.qty > 0 or not state.qty and not state.value) and \
        all(row.qty > 0 and row.basis == costing.COST and row.given is not None for row in rows)


def _value_receipts(rows: Sequence, state: costing.CostState, same: dict[Decimal, Decimal]) -> costing.CostState:
    """What costing.value_moves makes of such rows under the moving average, in one pass
    (each adds its qty and amount to the one layer, and the rate follows), a batch file's
    100,000 receipts without a Holding and a Valued each; the state the pair is left in.
    tests/test_costing.py holds the two to the same answer."""
    qty, value, last_rate = state.qty, state.value, state.unit_cost
    held, rate = same.setdefault, costing.rate
    for row in rows:
        before = value
        qty, value = qty + row.qty, value + row.given
        last_rate = rate(value / qty)
        moved = value - before
        unit_cost, correction = rate(moved / row.qty), row.given - moved
        row.value, row.unit_cost = held(moved, moved), held(unit_cost, unit_cost)
        row.balance_qty, row.balance_value = held(qty, qty), held(value, value)
        row.last_rate, row.correction = held(last_rate, last_rate), held(correction, correction)
    return costing.CostState(qty, value, costing.rate(value / qty) if qty > 0 else last_rate)


RESTING_ON_OTHERS = (costing.LINK, costing.REVERSE, costing.SHARE, costing.LANDED)
FOLLOWED_OUT_LEGS = ("transfer", *costing.SHARED_KINDS)  # a new out leg of these has a new follower


def _valued_columns(qty: Decimal, v: Valued) -> dict:
    return {"value": v.value, "unit_cost": costing.rate(v.value / qty) if qty else ZERO,
            "balance_qty": v.balance_qty, "balance_value": v.balance_value, "last_rate": v.last_rate,
            "correction": v.correction}


def _appended(conn: Connection, starts: Mapping[Pair, Key], context: Context, new: set[int]) -> dict[Pair, tuple]:
    """The common case in bulk, a chunk of pairs per query: moving-average pairs whose
    movements from the start are all new (appended after everything they had) start
    from their row in the balances table, still as it was before this posting."""
    if not new:
        return {}
    candidates = [pair for pair, start in starts.items() if context.methods.only_average(pair[0], month_of(start[0]))]
    m = schema.movements
    found = {}
    for batch in queries.chunks(sorted(candidates)):
        since = min(starts[pair][0] for pair in batch)
        live: dict[Pair, list] = {pair: [] for pair in batch}
        query = _query().where(queries.pairs_in(m.c.sku, m.c.warehouse, batch), m.c.doc_date >= since) \
            .order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id)
        for r in conn.execute(query):
            if (r.doc_date, r.id) >= starts[(r.sku, r.warehouse)]:
                live[(r.sku, r.warehouse)].append(_Row(r))
        held = queries.cost_states(conn, batch)
        for pair in batch:
            if all(row.id in new for row in live[pair]):
                before = held.get(pair)
                found[pair] = ([_Opening(before.qty, before.value, before.unit_cost, starts[pair][0])] if before else [], live[pair])
    return found


class _Opening:
    """A balances row standing in for the movement before the start."""

    __slots__ = ("balance_qty", "balance_value", "last_rate", "unit_cost", "doc_date")
    linked_to = None

    def __init__(self, qty: Decimal, value: Decimal, unit_cost: Decimal, day: date):
        self.balance_qty, self.balance_value, self.last_rate, self.unit_cost, self.doc_date = qty, value, unit_cost, unit_cost, day


def value_pair(pair: Pair, history: Sequence, live: Sequence, context: Context,
               known: Mapping[int, tuple[Decimal, Decimal, Decimal]],
               shares: "Shares | None" = None) -> tuple[list[Valued], Holding]:
    """Values `live` (rows in valuation order) after `history` (the rows before them that
    were loaded: all of them for fifo, else the one just before)."""
    sku = pair[0]
    method_of = context.methods.method_of(sku)
    std_cost = context.std_costs.get(sku)
    holding = _opening(pair, history, context, known, method_of, std_cost, shares)
    moves = [_move(row, pair) for row in live]
    valued = costing.value_moves(holding, moves, method_of, lambda m: m in context.final_months,
                                 known.get, std_cost, shares or _no_share)
    return valued, holding


def _no_share(_move_id: int) -> None:
    return None


def _opening(pair: Pair, history: Sequence, context: Context, known, method_of, std_cost, shares=None) -> Holding:
    if not history:
        return Holding()
    before = history[-1]
    last_rate = before.last_rate if before.last_rate is not None else before.unit_cost  # None: before v5
    if len(history) > 1 or method_of(month_of(before.doc_date)) == costing.FIFO:
        holding = Holding()
        costing.value_moves(holding, [_move(r, pair) for r in history], method_of,
                            lambda m: m in context.final_months, known.get, std_cost, shares or _no_share)
        if (holding.qty, holding.value) == (before.balance_qty, before.balance_value):
            holding.last_rate = last_rate
            return holding
        # stored history valued otherwise (another method then, or before v5): start from what is stored
    return costing.opening_holding(before.balance_qty, before.balance_value, last_rate, before.doc_date)


def _move(row, pair: Pair) -> Move:
    return Move(row.id, row.doc_date, row.kind, row.qty, row.basis or costing.COST,
                row.given if row.given is not None else (row.value if not row.basis else None),
                row.linked_to, linked_here=row.linked_pair == pair if row.linked_to else False)


def _rows(conn: Connection, pair: Pair, start: Key, context: Context) -> tuple[list, list]:
    """(history, live): the rows of `pair` before and from the point valuing starts."""
    sku, warehouse = pair
    start = _restart(sku, start, context)
    m = schema.movements
    base = _query().where(m.c.sku == sku, m.c.warehouse == warehouse)
    after = _from(start)
    live = conn.execute(base.where(after).order_by(m.c.doc_date, m.c.id)).all()
    if context.methods.any_fifo(sku, month_of(start[0])):
        history = conn.execute(base.where(~after).order_by(m.c.doc_date, m.c.id)).all()
    else:
        history = conn.execute(base.where(~after).order_by(m.c.doc_date.desc(), m.c.id.desc()).limit(1)).all()
    return [_Row(r) for r in history], [_Row(r) for r in live]


def _rows_sharing_a_start(conn: Connection, starts: Mapping[Pair, Key], context: Context) -> dict[Pair, tuple]:
    """`_rows` for many pairs at once, a chunk per query: fifo pairs whatever their
    starts (their whole history is read anyway, and split at each one's own start);
    average pairs where they start at the same point (closing or reopening a month, an
    upgrade), the row before the start found by a window function."""
    by_start: dict[Key, list[Pair]] = defaultdict(list)
    fifo: dict[Pair, Key] = {}
    for pair, start in starts.items():
        start = _restart(pair[0], start, context)
        if context.methods.any_fifo(pair[0], month_of(start[0])):
            fifo[pair] = start
        else:
            by_start[start].append(pair)
    m = schema.movements
    found: dict[Pair, tuple] = {}
    for batch in queries.chunks(sorted(fifo) if len(fifo) > 1 else []):
        rows: dict[Pair, tuple[list, list]] = {pair: ([], []) for pair in batch}
        query = _query().where(queries.pairs_in(m.c.sku, m.c.warehouse, batch)).order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id)
        for r in conn.execute(query):
            pair = (r.sku, r.warehouse)
            rows[pair][(r.doc_date, r.id) >= fifo[pair]].append(_Row(r))
        found.update(rows)
    for start, pairs in by_start.items():
        if len(pairs) < 2:
            continue
        after = _from(start)
        for batch in queries.chunks(sorted(pairs)):
            among = queries.pairs_in(m.c.sku, m.c.warehouse, batch)
            rows = {pair: ([], []) for pair in batch}
            for r in conn.execute(_query().where(among, after).order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id)):
                rows[(r.sku, r.warehouse)][1].append(_Row(r))
            for r in conn.execute(_last_before(among, ~after)):
                rows[(r.sku, r.warehouse)][0].append(_Row(r))
            found.update(rows)
    return found


def _from(start: Key):
    """The movements at or after `start` in valuation order."""
    m = schema.movements
    return or_(m.c.doc_date > start[0], and_(m.c.doc_date == start[0], m.c.id >= start[1]))


def _last_before(among, before):
    """Each pair's last row among those `before` the start."""
    m = schema.movements
    numbered = _query().where(among, before).add_columns(func.row_number().over(
        partition_by=(m.c.sku, m.c.warehouse), order_by=(m.c.doc_date.desc(), m.c.id.desc())).label("n")).subquery()
    return select(numbered).where(numbered.c.n == 1)


def _restart(sku: str, start: Key, context: Context) -> Key:
    """The monthly average values a whole month at a time."""
    if context.methods.method_of(sku)(month_of(start[0])) == costing.MONTHLY:
        return (date(start[0].year, start[0].month, 1), 0)
    return start


def _query(linked_by_row: bool = False):
    """The movement rows valuing needs, with the pair of the movement each is linked to:
    by an outer join, or (`linked_by_row`) a lookup per row — for a day's or a month's
    rows, where PostgreSQL would otherwise hash every movement to join a few."""
    m = schema.movements
    linked = m.alias("linked")
    if linked_by_row:
        sku, warehouse = (select(c).where(linked.c.id == m.c.linked_to).scalar_subquery()
                          for c in (linked.c.sku, linked.c.warehouse))
    else:
        sku, warehouse = linked.c.sku, linked.c.warehouse
    query = select(m.c.id, m.c.sku, m.c.warehouse, m.c.doc_date, m.c.kind, m.c.qty, m.c.value, m.c.unit_cost,
                   m.c.balance_qty, m.c.balance_value, m.c.last_rate, m.c.basis, m.c.given, m.c.linked_to,
                   sku.label("linked_sku"), warehouse.label("linked_warehouse"), m.c.correction)
    return query if linked_by_row else query.outerjoin(linked, linked.c.id == m.c.linked_to)


class _Row:
    """A movement row, with the pair of the movement it is linked to."""

    __slots__ = ("id", "doc_date", "kind", "qty", "value", "unit_cost", "balance_qty", "balance_value",
                 "last_rate", "basis", "given", "linked_to", "linked_pair", "correction")

    def __init__(self, r):
        # by position, in _query's order: a month's revaluation makes hundreds of thousands
        (self.id, _sku, _warehouse, self.doc_date, self.kind, self.qty, self.value, self.unit_cost, self.balance_qty,
         self.balance_value, self.last_rate, self.basis, self.given, self.linked_to, linked_sku, linked_warehouse,
         self.correction) = r[:17]
        self.linked_pair = (linked_sku, linked_warehouse) if linked_sku is not None else None


def _load_linked(conn: Connection, rows_by_pair: Iterable[tuple[list, list]],
                 known: dict[int, tuple[Decimal, Decimal, Decimal]]) -> None:
    wanted = {r.linked_to for history, live in rows_by_pair for r in (*history, *live)
              if r.linked_to and r.linked_to not in known}
    m = schema.movements
    for batch in queries.chunks(sorted(wanted)):
        for r in conn.execute(select(m.c.id, m.c.qty, m.c.value, m.c.correction).where(m.c.id.in_(batch))):
            known[r.id] = (r.qty, r.value, r.correction or ZERO)


def _dependents(conn: Connection, changed: Sequence[tuple[Pair, int]]) -> dict[Pair, Key]:
    """The movements of other pairs that follow a changed value: where to go on."""
    m = schema.movements
    own = dict((i, pair) for pair, i in changed)
    found: dict[Pair, Key] = {}
    for batch in queries.chunks(sorted(own)):
        query = select(m.c.id, m.c.sku, m.c.warehouse, m.c.doc_date, m.c.linked_to).where(m.c.linked_to.in_(batch))
        for r in conn.execute(query):
            pair, key = (r.sku, r.warehouse), (r.doc_date, r.id)
            if pair != own[r.linked_to] and (pair not in found or key < found[pair]):
                found[pair] = key
        out_leg = m.alias("out_leg")
        query = select(m.c.id, m.c.sku, m.c.warehouse, m.c.doc_date, out_leg.c.id.label("out_leg")) \
            .join(out_leg, out_leg.c.document_id == m.c.document_id) \
            .where(out_leg.c.id.in_(batch), out_leg.c.qty < 0, m.c.basis == costing.SHARE)
        for r in conn.execute(query):
            pair, key = (r.sku, r.warehouse), (r.doc_date, r.id)
            if pair != own[r.out_leg] and (pair not in found or key < found[pair]):
                found[pair] = key
    return found


class Shares:
    """The amounts of assembly and disassembly in legs (basis share), worked out from
    their document's out legs as valued now (`known`, else as stored): an assembly's
    finished goods take the out legs' sum plus their fee (`given`); a disassembly's
    outputs split it by their weights (`given`), the last output taking the remainder."""

    def __init__(self, conn: Connection, known: Mapping[int, tuple[Decimal, Decimal, Decimal]]):
        self.conn, self.known = conn, known
        self.legs: dict[int, tuple] = {}  # in leg id → its document's legs, in posting order

    def load(self, ids: Iterable[int]) -> None:
        wanted = sorted(set(ids) - set(self.legs))
        m = schema.movements
        leg = m.alias("leg")
        by_share: dict[int, list] = defaultdict(list)
        for batch in queries.chunks(wanted):
            query = select(m.c.id.label("share"), leg.c.id, leg.c.kind, leg.c.qty, leg.c.value, leg.c.correction,
                           leg.c.given, leg.c.basis).join(leg, leg.c.document_id == m.c.document_id) \
                .where(m.c.id.in_(batch)).order_by(leg.c.id)
            for r in self.conn.execute(query):
                by_share[r.share].append(r)
        self.legs.update({share: tuple(rows) for share, rows in by_share.items()})

    def __call__(self, move_id: int) -> Decimal | None:
        if move_id not in self.legs:
            self.load([move_id])
        legs = self.legs.get(move_id)
        if not legs:
            return None
        out = ZERO
        for leg in legs:
            if leg.qty < 0:
                _qty, value, correction = self.known.get(leg.id) or (leg.qty, leg.value, leg.correction or ZERO)
                out -= value + correction
        ins = [leg for leg in legs if leg.qty > 0 and leg.basis == costing.SHARE]
        if legs[0].kind == "assembly":
            return out + sum((leg.given or ZERO for leg in ins if leg.id == move_id), ZERO)
        return split_by_weights(out, [(leg.id, leg.given or ZERO) for leg in ins]).get(move_id)


def split_by_weights(total: Decimal, weights: Sequence[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """`total` split over keys by their weights, to the cent; the last key takes the remainder
    (all of it equally when every weight is zero)."""
    whole = sum((w for _k, w in weights), ZERO)
    shares, left = {}, total
    for i, (key, weight) in enumerate(weights):
        if i == len(weights) - 1:
            shares[key] = left
        else:
            shares[key] = costing.money(total * weight / whole) if whole else costing.money(total / len(weights))
            left -= shares[key]
    return shares


def _write(conn: Connection, updates: list[dict], balances: Mapping[Pair, costing.CostState]) -> None:
    bulk.update_rows(conn, schema.movements, updates, VALUED_COLUMNS, ["id"])
    bulk.update_rows(conn, schema.balances, [{"sku": s, "warehouse": w, "qty": st.qty, "value": st.value,
                                              "unit_cost": st.unit_cost} for (s, w), st in balances.items()],
                     ["qty", "value", "unit_cost"], ["sku", "warehouse"])


VALUED_COLUMNS = ["value", "unit_cost", "balance_qty", "balance_value", "last_rate", "correction"]  # what valuing sets


def _std_costs(conn: Connection, skus: set[str]) -> dict[str, Decimal]:
    i = schema.items
    found = {}
    for batch in queries.chunks(sorted(skus)):
        found.update({r.sku: r.std_cost for r in conn.execute(select(i.c.sku, i.c.std_cost).where(i.c.sku.in_(batch)))})
    return found


def replay_differences(conn: Connection) -> list[str]:
    """`jxc check`: every pair valued again over the open months, from what is stored
    before them and the stored values of what it follows, must give what is stored.
    Only the open months' rows are read, with the row before them (a fifo pair's whole
    history): the closed months cost nothing but an index seek per pair."""
    from . import periods
    first_open = first_open_day(periods.closed_months(conn))
    live = _rows_from(conn, first_open)
    context = Context.load(conn, {sku for sku, _w in live})
    rows_by_pair = _history_before(conn, first_open, live, context)
    known: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    _load_linked(conn, rows_by_pair.values(), known)
    shares = Shares(conn, {})  # the out legs as stored
    shares.load(r.id for history, rows in rows_by_pair.values() for r in (*history, *rows) if r.basis == costing.SHARE)
    differences = []
    for pair, (history, rows) in sorted(rows_by_pair.items()):
        valued, _holding = value_pair(pair, history, rows, context, known, shares)
        wrong = next(((row, v) for row, v in zip(rows, valued)
                      if (v.value, v.correction) != (row.value, row.correction or ZERO)), None)
        if wrong:
            row, v = wrong
            differences.append(f"movement {row.id} {pair[0]} @ {pair[1]} {row.doc_date}: 金额 value {row.value}"
                               f" ≠ 重算 revalued {v.value}" + (f" (成本调整 correction {row.correction or ZERO}"
                               f" ≠ {v.correction})" if v.value == row.value else ""))
    return differences


def _rows_from(conn: Connection, day: date) -> dict[Pair, list]:
    """Each pair's rows dated `day` or later, in valuation order."""
    m = schema.movements
    live: dict[Pair, list] = defaultdict(list)
    query = _query(linked_by_row=True).where(m.c.doc_date >= day).order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id)
    for r in conn.execute(query, execution_options={"stream_results": True, "yield_per": 10_000}):
        live[(r.sku, r.warehouse)].append(_Row(r))
    return live


def _history_before(conn: Connection, day: date, live: Mapping[Pair, list], context: Context) -> dict[Pair, tuple]:
    """(history, live) of each pair with rows from `day` on (the first day of a month, where
    every method starts again): a fifo pair's rows before it, another's last row before it."""
    m = schema.movements
    found: dict[Pair, tuple[list, list]] = {pair: ([], rows) for pair, rows in live.items()}
    fifo = sorted(pair for pair in live if context.methods.any_fifo(pair[0], month_of(day)))
    for batch in queries.chunks(fifo):
        query = _query().where(queries.pairs_in(m.c.sku, m.c.warehouse, batch), m.c.doc_date < day) \
            .order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id)
        for r in conn.execute(query):
            found[(r.sku, r.warehouse)][0].append(_Row(r))
    pairs = select(m.c.sku, m.c.warehouse).where(m.c.doc_date >= day).distinct().subquery()
    before = m.alias("before")
    last = select(before.c.id).where(before.c.sku == pairs.c.sku, before.c.warehouse == pairs.c.warehouse,
                                     before.c.doc_date < day) \
        .order_by(before.c.doc_date.desc(), before.c.id.desc()).limit(1).scalar_subquery()  # an index seek per pair
    ids = conn.execute(select(last).select_from(pairs)).scalars()
    fifo_pairs = set(fifo)
    for batch in queries.chunks(sorted(i for i in ids if i is not None)):
        for r in conn.execute(_query(linked_by_row=True).where(m.c.id.in_(batch))):
            if (r.sku, r.warehouse) not in fifo_pairs:
                found[(r.sku, r.warehouse)][0].append(_Row(r))
    return found


def layers_at(conn: Connection, day: date, skus: Iterable[str] | None = None) -> dict[Pair, list[costing.Layer]]:
    """What each pair holds at the end of `day`, as its costing sees it: under fifo the
    receipts' layers (or its shortfalls) in order, else one layer; pairs holding nothing
    are left out. Only the pairs of `skus` when given (the month-end pack asks for its fifo
    items). Each pair's movements are valued again up to the day — from where its fifo
    began, when an average method held it before and its stock never ran out then
    (_carried_in): its history is one layer at that point, known without valuing it again."""
    m = schema.movements
    moved = set(conn.execute(select(m.c.sku).distinct()).scalars())
    skus = sorted(moved if skus is None else moved & set(skus))
    if not skus:
        return {}
    context = Context.load(conn, skus)
    linked = select(m.c.linked_to).where(m.c.linked_to.is_not(None))
    known = {r.id: (r.qty, r.value, r.correction or ZERO)
             for r in conn.execute(select(m.c.id, m.c.qty, m.c.value, m.c.correction).where(m.c.id.in_(linked)))}
    shares = Shares(conn, {})
    shares.load(conn.execute(select(m.c.id).where(m.c.basis == costing.SHARE, m.c.doc_date <= day)).scalars())
    by_start: dict[str | None, list[str]] = defaultdict(list)
    for sku in skus:
        by_start[_fifo_since(context.methods, sku, month_of(day))].append(sku)
    found: dict[Pair, list[costing.Layer]] = {}
    for since, group in by_start.items():
        whole = len(group) == len(moved)  # every sku: no IN list
        batches = [None] if whole else list(queries.chunks(group))
        carried, again = _carried_in(conn, since, batches) if since else ({}, set())
        valued = _valued_layers(conn, day, since, batches, carried, again, context, known, shares)
        for batch in queries.chunks(sorted(again)):  # their stock ran out before: their whole history
            valued.update(_valued_layers(conn, day, None, [batch], {}, set(), context, known, shares))
        found.update(valued)
    return dict(sorted(found.items()))


def _fifo_since(chosen: methods.Methods, sku: str, month: str) -> str | None:
    """The month fifo began for `sku`, in force since then up to `month`, when no fifo
    came before it; None when it is not fifo in `month`, or was so before (all of its
    history is valued again)."""
    method_of = chosen.method_of(sku)
    if method_of(month) != costing.FIFO:
        return None
    starts = sorted({s for scope in (methods.ALL, sku) for s in chosen.history.get(scope, {}) if s <= month})
    since = None
    for start in reversed(starts):
        if method_of(start) != costing.FIFO:
            break
        since = start
    if since is None or since <= methods.BEGINNING or any(method_of(s) == costing.FIFO for s in starts if s < since):
        return None
    return since


def _carried_in(conn: Connection, since: str, batches: list) -> tuple[dict[Pair, Holding], set[Pair]]:
    """What each pair brings into the month `since` from before it, valued by an average
    method (which keeps one layer): when its stock never ran out before (every balance
    above zero), that layer is its movements before the month added up, from the pair's
    first movement (each receipt after it is added into it, never starting a layer of its
    own) and dated at its last receipt, its rate their average — as valuing the history
    again would leave it. The pairs whose stock did run out are returned apart, to be
    valued from their start."""
    m, first = schema.movements, schema.movements.alias("first")
    start = date(int(since[:4]), int(since[5:]), 1)
    carried: dict[Pair, Holding] = {}
    again: set[Pair] = set()
    for batch in batches:
        ends = (select(m.c.sku, m.c.warehouse, func.min(m.c.balance_qty).label("low"),
                       func.max(case((m.c.qty > 0, m.c.doc_date))).label("last_in"),
                       func.min(m.c.doc_date).label("first_day"), func.sum(m.c.qty).label("qty"),
                       func.sum(m.c.value).label("value"))
                .where(m.c.doc_date < start, *([] if batch is None else [m.c.sku.in_(batch)]))
                .group_by(m.c.sku, m.c.warehouse).subquery())
        first_id = select(func.min(first.c.id)).where(  # the index on (sku, warehouse, doc_date) holds the id
            first.c.sku == ends.c.sku, first.c.warehouse == ends.c.warehouse, first.c.doc_date == ends.c.first_day)
        query = select(ends.c.sku, ends.c.warehouse, ends.c.low, ends.c.last_in, ends.c.qty, ends.c.value,
                       first_id.scalar_subquery().label("first_id"))
        for r in conn.execute(query):
            if r.low <= 0:
                again.add((r.sku, r.warehouse))
                continue
            layer = costing.Layer(r.first_id, r.last_in, r.qty, r.value)
            carried[(r.sku, r.warehouse)] = Holding([layer], costing.rate(r.value / r.qty))  # as settle_rate keeps it
    return carried, again


def _valued_layers(conn: Connection, day: date, since: str | None, batches: list, carried: dict[Pair, Holding],
                   again: set[Pair], context: Context, known, shares: "Shares") -> dict[Pair, list[costing.Layer]]:
    """The layers each pair of `batches` (skus, or pairs; None: every sku) holds at the end
    of `day`: its movements from `since` (from its first when None) valued from what it
    carried in; the pairs in `again` are left to the caller."""
    m = schema.movements
    where = [m.c.doc_date <= day]
    if since:
        where.append(m.c.doc_date >= date(int(since[:4]), int(since[5:]), 1))
    found = {}
    for batch in batches:
        among = [] if batch is None else [queries.pairs_in(m.c.sku, m.c.warehouse, batch)] if isinstance(batch[0], tuple) \
            else [m.c.sku.in_(batch)]
        rows = conn.execute(_query().where(*where, *among).order_by(m.c.sku, m.c.warehouse, m.c.doc_date, m.c.id),
                            execution_options={"stream_results": True, "yield_per": 10_000})
        for pair, pair_rows in groupby(rows, key=lambda r: (r.sku, r.warehouse)):
            if pair in again:
                continue
            holding = carried.pop(pair, None) or Holding()
            method_of = context.methods.method_of(pair[0])
            costing.value_moves(holding, [_move(_Row(r), pair) for r in pair_rows], method_of,
                                lambda month: month in context.final_months, known.get, context.std_costs.get(pair[0]),
                                shares)
            if holding.layers:
                found[pair] = holding.layers
    found.update({pair: holding.layers for pair, holding in carried.items() if holding.layers})  # nothing moved since
    return found


def revalue_open_months(conn: Connection, final_months: Iterable[str] = ()) -> None:
    """Every pair with movements in the open months, valued again from their start."""
    from . import periods
    first_open = first_open_day(periods.closed_months(conn) - set(final_months))
    m = schema.movements
    pairs = conn.execute(select(m.c.sku, m.c.warehouse).where(m.c.doc_date >= first_open).distinct()).all()
    revalue(conn, {(r.sku, r.warehouse): (first_open, 0) for r in pairs}, final_months=final_months)


def revalue_month(conn: Connection, month: str, final: bool) -> None:
    """The monthly average's month: at its rate once closed (`final`), provisional again
    when reopened. The months after it follow, their provisional rates with it."""
    year, number = map(int, month.split("-"))
    start = date(year, number, 1)
    m = schema.movements
    methods_now = methods.load(conn)
    pairs = conn.execute(select(m.c.sku, m.c.warehouse).where(
        m.c.doc_date >= start, m.c.doc_date < first_open_day({month})).distinct()).all()
    monthly = {(r.sku, r.warehouse): (start, 0) for r in pairs if methods_now.method_of(r.sku)(month) == costing.MONTHLY}
    if monthly:
        revalue(conn, monthly, final_months=[month] if final else [])


def first_open_day(closed: set[str]) -> date:
    if not closed:
        return date.min
    year, month = map(int, max(closed).split("-"))
    return date(year + month // 12, month % 12 + 1, 1)


__all__ = ["layers_at", "revalue", "revalue_month", "revalue_open_months", "replay_differences", "value_appended"]
