"""Check, batches: every movement of a batch-tracked item names a batch that is there.

- An incoming line (opening, receipt, sales return, adjustment in, transfer in) names
  its 批号; a new batch of an expiry-tracked item gets its 有效期至, typed or worked
  out as 生产日期 + 保质期(天).
- An issue (delivery, purchase return, transfer out, adjustment out) names a batch
  that is in that warehouse at that date with enough left, from then on; otherwise the
  problem at its cell names the batches that are there. With `batches.auto_pick: fefo`
  an empty 批号 takes the batches expiring first, never an expired one.
- A delivery of an expired batch is refused; one inside its warning window posts with
  a warning.
- An item with stock becomes batch-tracked only through an opening marked 转批次管理 that
  lists that stock by batch (its lines put it into batches and move no stock); an item
  row turning tracking on while the item holds stock is refused, and so is one turning it
  off while batches or serials are in stock.
- A count's variance of a tracked item moves the batches whose count differs (check/counts.py
  splits it).
- Serials (序列号管理): one serial per unit; a serial comes in only when not in stock, leaves
  only the warehouse it is in, comes back only from the customer it was shipped to.

The result is plain data the poster writes (ledger/batches.py): the batch and serial
movements of each document line, the batches met for the first time, the items switched.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Mapping, Sequence

from sqlalchemy import Connection

from .. import kinds
from ..config import BatchesConfig
from ..kinds import KINDS
from ..ledger import batches as ledger_batches
from ..ledger.batches import BatchMove, NewBatch, SerialMove, SerialState, serial_after
from ..ledger.queries import PairTimeline
from ..problems import problem
from ..records import Document, Item, Line, MasterRow, Problem

COUNTS = {"count", "count_approval"}  # their variance lines carry the split over batches (check/counts.py)
CARRIES_BATCHES = {"opening", "receipt", "delivery", "purchase_return", "sales_return", "transfer", "adjustment"}
FEFO_KINDS = {"delivery", "transfer", "adjustment"}  # a purchase return goes back as the supplier's own batch
NO_QTY = {"landed_cost"}  # value only: no batch moves
ZERO = Decimal(0)


@dataclass(frozen=True)
class BatchPlan:
    documents: tuple[Document, ...]
    moves: tuple[BatchMove, ...] = ()
    new_batches: tuple[NewBatch, ...] = ()
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    switched: tuple[str, ...] = ()  # items an opening turns to batch tracking
    serial_moves: tuple[SerialMove, ...] = ()
    serials_switched: tuple[str, ...] = ()  # items an opening turns to serial tracking


def effective_items(items: Mapping[str, Item], rows: Sequence[MasterRow], docs: Sequence[Document]) -> dict[str, Item]:
    """The items of this file's lines and item rows, as they are once its item rows are
    posted (master data posts first); not the whole item master."""
    skus = {line.sku for doc in docs for line in doc.lines} | {row.key for row in rows if row.kind == "items"}
    found = {sku: items[sku] for sku in skus if sku in items}
    for row in rows:
        if row.kind != "items":
            continue
        v = row.values
        old = items.get(row.key)
        base = old or Item(row.key, str(v.get("unit") or ""), True, {})
        found[row.key] = replace(base, batch_tracked=bool(v.get("batch_tracked")), expiry_tracked=bool(v.get("expiry_tracked")),
                                 shelf_life_days=v.get("shelf_life_days"), expiry_warning_days=v.get("expiry_warning_days"),
                                 serial_tracked=bool(v.get("serial_tracked")))
    return found


def _show(qty: Decimal) -> str:
    return format(qty.normalize(), "f")


def check_batches(conn: Connection, docs: Sequence[Document], rows: Sequence[MasterRow], items: Mapping[str, Item],
                  rules: BatchesConfig = BatchesConfig(), allow_negative_stock: bool = False) -> BatchPlan:
    now = effective_items(items, rows, docs)
    problems: list[Problem] = []
    _refused_switches(conn, rows, items, now, problems)
    _refused_untracking(conn, rows, items, now, problems)
    docs, switched, serials_switched = _switching(conn, docs, now, problems)
    for sku in switched:
        now[sku] = replace(now[sku], batch_tracked=True)
    for sku in serials_switched:
        now[sku] = replace(now[sku], serial_tracked=True)
    tracked = {sku for sku, item in now.items() if item.tracked}
    touched = [(doc, line) for doc in docs if doc.kind not in NO_QTY for line in doc.lines if line.sku in tracked]
    notes = tuple(f"{sku}: 自本单起实行批次管理 / batch-tracked from now on" for sku in sorted(switched)) + \
        tuple(f"{sku}: 自本单起实行序列号管理 / serial-tracked from now on" for sku in sorted(serials_switched))
    serial_moves = check_serials(conn, docs, {sku for sku, item in now.items() if item.serial_tracked}, problems)
    if not touched:
        return BatchPlan(tuple(docs), problems=tuple(problems), notes=notes, switched=tuple(sorted(switched)),
                         serial_moves=serial_moves, serials_switched=tuple(sorted(serials_switched)))
    planner = _Planner(conn, docs, touched, now, rules, allow_negative_stock, problems)
    out = []
    for doc in docs:  # in date order: an earlier document of the file feeds a later one
        lines = []
        for line in doc.lines:
            lines.append(planner.line(doc, line) if line.sku in tracked and doc.kind not in NO_QTY else line)
        out.append(replace(doc, lines=tuple(lines)))
    return BatchPlan(tuple(out), tuple(planner.moves), tuple(planner.new.values()), tuple(problems),
                     tuple(planner.warnings), notes + tuple(planner.notes), switched=tuple(sorted(switched)),
                     serial_moves=serial_moves, serials_switched=tuple(sorted(serials_switched)))


# --- switching an item with stock to batch tracking -------------------------------------

def _refused_switches(conn: Connection, rows: Sequence[MasterRow], before: Mapping[str, Item], after: Mapping[str, Item],
                      problems: list[Problem]) -> None:
    """An item row may not turn on batch or expiry tracking while the item holds stock:
    that stock would be in no batch. The opening that lists it by batch does it."""
    turning = {row.key: row for row in rows if row.kind == "items" and row.key in before
               and ((after[row.key].tracked and not before[row.key].tracked)
                    or (after[row.key].serial_tracked and not before[row.key].serial_tracked))}
    if not turning:
        return
    stock = ledger_batches.stock_of(conn, sorted(turning))
    for sku, row in turning.items():
        held = {wh: qty for (s, wh), qty in stock.items() if s == sku and qty}
        if not held:
            continue
        what = next(key for key in ("batch_tracked", "expiry_tracked", "serial_tracked") if row.values.get(key))
        zh, en = TRACKING[what]
        shown = ", ".join(f"{wh} {_show(q)}" for wh, q in sorted(held.items()))
        problems.append(problem("batch-switch-needs-opening", row.where[what] if what in row.where else "", "Y", sku=sku,
                                stock_zh=shown, stock=shown, what_zh=zh, what=en))


def _refused_untracking(conn: Connection, rows: Sequence[MasterRow], before: Mapping[str, Item],
                        after: Mapping[str, Item], problems: list[Problem]) -> None:
    """An item row may not turn tracking off while batches or serials of the item are in
    stock: its later issues would leave them behind (an old items.xlsx dropped again, with
    the column empty, would do it silently)."""
    for row in rows:
        if row.kind != "items" or row.key not in before:
            continue
        old, new = before[row.key], after[row.key]
        for key, was, now in (("batch_tracked", old.tracked, new.tracked), ("serial_tracked", old.serial_tracked,
                                                                             new.serial_tracked)):
            if not was or now:
                continue
            held = ledger_batches.tracked_stock(conn, row.key, serials=key == "serial_tracked")
            if held:
                zh, en = TRACKING[key]
                problems.append(problem("batch-switch-off", row.where[key] if key in row.where else "",
                                        row.values.get(key) or "", sku=row.key, what_zh=zh, what=en, held=_show(held)))


TRACKING = {"batch_tracked": ("批次管理", "batch-tracked"), "expiry_tracked": ("保质期管理", "expiry-tracked"),
            "serial_tracked": ("序列号管理", "serial-tracked")}


def _switching(conn: Connection, docs: Sequence[Document], items: Mapping[str, Item],
               problems: list[Problem]) -> tuple[list[Document], set[str], set[str]]:
    """An opening with 转批次管理 = Y turns the untracked items it lists to batch tracking,
    and to serial tracking those whose lines give serials (lines with serials only: serial
    tracking only). Of an item holding stock, its lines must list that stock, warehouse by
    warehouse: they put it into batches (serials) and move no stock. Of an item with none,
    they are an ordinary opening."""
    openings = [doc for doc in docs if doc.kind == "opening" and doc.header.get("switch_tracking")]
    skus = {line.sku for doc in openings for line in doc.lines
            if line.sku in items and not items[line.sku].tracked and not items[line.sku].serial_tracked}
    lines_of = [line for doc in openings for line in doc.lines if line.sku in skus]
    serial_skus = {line.sku for line in lines_of if line.serials}
    batch_skus = skus - (serial_skus - {line.sku for line in lines_of if line.batch})
    stock = ledger_batches.stock_of(conn, sorted(skus)) if skus else {}
    held_skus = {sku for (sku, _wh), qty in stock.items() if qty}
    for doc in openings:  # a line of an item holding no stock is ordinary opening stock: it needs its cost
        for line in doc.lines:
            if line.sku not in held_skus and line.unit_cost is None and line.amount is None:
                problems.append(problem("price-required", line.where.get("unit_cost", ""), "", sku=line.sku))
    if not skus:
        return list(docs), set(), set()
    listed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    first_cell: dict[str, str] = {}
    for doc in openings:
        for line in doc.lines:
            if line.sku in held_skus:
                listed[(line.sku, line.warehouse or "")] += line.qty
                first_cell.setdefault(line.sku, line.where.get("qty", ""))
    for sku in sorted(held_skus):
        held = {wh: qty for (s, wh), qty in stock.items() if s == sku and qty}
        mine = {wh: qty for (s, wh), qty in listed.items() if s == sku}
        if held != mine:
            shown = lambda by: ", ".join(f"{wh} {_show(q)}" for wh, q in sorted(by.items())) or "0"  # noqa: E731
            problems.append(problem("batch-switch-totals", first_cell.get(sku, ""), shown(mine), sku=sku,
                                    listed=shown(mine), held=shown(held)))
    out = [replace(doc, lines=tuple(replace(line, assigns_batches=True) if line.sku in held_skus else line
                                    for line in doc.lines)) if any(doc is o for o in openings) else doc for doc in docs]
    return out, batch_skus, serial_skus


# --- the lines ------------------------------------------------------------------------------

class _Planner:
    def __init__(self, conn: Connection, docs: Sequence[Document], touched, items: Mapping[str, Item],
                 rules: BatchesConfig, allow_negative_stock: bool, problems: list[Problem]):
        self.items, self.rules, self.problems = items, rules, problems
        self.negative_ok = allow_negative_stock
        pairs = set()
        for doc, line in touched:
            if doc.kind in COUNTS:
                pairs.add((line.sku, doc.header["warehouse"]))
            if line.assigns_batches:
                continue
            for wh, _qty, _day in kinds.legs(doc, line):
                pairs.add((line.sku, wh))
        since = min(doc.doc_date for doc in docs)
        self.timeline, self.known = ledger_batches.batch_stock(conn, pairs, since)
        self.by_pair: dict[tuple[str, str], set[str]] = defaultdict(set)
        for sku, wh, batch in self.timeline:
            self.by_pair[(sku, wh)].add(batch)
        named = {(line.sku, line.batch) for _doc, line in touched if line.batch} | \
            {(line.sku, batch) for _doc, line in touched for batch, _q in line.batch_split} | \
            {(sku, batch) for sku, _wh, batch in self.timeline}
        self.known.update(ledger_batches.batch_dates(conn, named - set(self.known)))
        self.fefo_order: dict[tuple[str, str], list[str]] = {}  # a pair's batches, soonest expiry first
        # (delivery doc_no, sku) → the batches it shipped, for sales returns naming it with 批号 empty
        self.shipped = ledger_batches.shipped_batches(conn, {doc.header.get("ref_doc") for doc, line in touched
                                                             if doc.kind == "sales_return" and not line.batch} - {None, ""})
        self.new: dict[tuple[str, str], NewBatch] = {}
        self.moves: list[BatchMove] = []
        self.warnings: list[Problem] = []
        self.notes: list[str] = []

    # the batch's (production, expiry), as registered or met earlier in this file
    def dates(self, sku: str, batch: str) -> tuple[date | None, date | None] | None:
        if (sku, batch) in self.known:
            return self.known[(sku, batch)]
        found = self.new.get((sku, batch))
        return (found.production_date, found.expiry_date) if found else None

    def line(self, doc: Document, line: Line) -> Line:
        kind = KINDS[doc.kind]
        where = line.where
        if doc.kind in COUNTS and (line.batch_split or line.assigns_batches):
            self._counted(doc, line)
            return line
        if doc.kind not in CARRIES_BATCHES:
            self.problems.append(problem("batch-not-supported", where.get("sku", ""), line.sku, sku=line.sku,
                                         kind=doc.kind, kind_zh=kind.zh))
            return line
        partner = (doc.header.get(kind.partner_field) if kind.partner_field else None) or ""
        if line.assigns_batches:
            return self._incoming(doc, line, line.warehouse or "", line.qty, doc.doc_date, partner, [])
        legs = list(kinds.legs(doc, line))
        picks: list[tuple[str, Decimal]] = []
        for wh, qty, day in legs:
            if qty < 0:
                picks = self._issue(doc, line, wh, -qty, day, partner)
                if picks is None:
                    return line
        for wh, qty, day in legs:
            if qty > 0:
                line = self._incoming(doc, line, wh, qty, day, partner, picks)
        return line

    def _counted(self, doc: Document, line: Line) -> None:
        """A count's variance, batch by batch: a loss from a batch that has it at the count
        date (from then on); a gain into a batch, new ones registered without dates."""
        wh, day = doc.header["warehouse"], doc.doc_date
        for batch, qty in line.batch_split:
            if qty < 0:
                timeline = self.timeline.get((line.sku, wh, batch))
                available = timeline.available(day) if timeline else ZERO
                if available < -qty and not self.negative_ok:
                    there = self._there(line.sku, wh, day)
                    shown = ", ".join(f"{b} ({_show(q)})" for b, q, _e in there)
                    self.problems.append(problem("batch-not-in-stock", line.where.get("sku", ""), batch, sku=line.sku,
                                                 batch=batch, warehouse=wh, date=day.isoformat(),
                                                 available=_show(max(available, ZERO)), needed=_show(-qty),
                                                 there_zh=shown or "无", there=shown or "none"))
                    continue
            elif self.dates(line.sku, batch) is None:
                self.new[(line.sku, batch)] = NewBatch(line.sku, batch, None, None, doc.kind, doc.doc_no, line.line_no, "")
            self._move(doc, line, day, wh, batch, qty, "")

    def _require(self, doc: Document, line: Line, fefo_hint: bool, shipped: Sequence[str] = ()) -> None:
        fix_zh, fix = ("或把配置 batches.auto_pick 设为 fefo 自动选批", "or set batches.auto_pick: fefo for automatic picks") \
            if fefo_hint else ("新批号随入库单登记", "a new batch is registered by the document bringing it in")
        if shipped:
            fix_zh, fix = f"关联的销售单发出了多个批号: {', '.join(shipped)}", f"the delivery named shipped several: {', '.join(shipped)}"
        self.problems.append(problem("batch-required", line.where.get("batch", line.where.get("sku", "")), "",
                                     sku=line.sku, fix_zh=fix_zh, fix=fix))

    def _incoming(self, doc: Document, line: Line, wh: str, qty: Decimal, day: date, partner: str,
                  picks: list[tuple[str, Decimal]]) -> Line:
        if picks:  # a transfer's in leg: the very batches its out leg took
            for batch, q in picks:
                self._move(doc, line, day, wh, batch, q, partner)
            return line
        if not line.batch:
            shipped = self.shipped.get((doc.header.get("ref_doc") or "", line.sku), ()) if doc.kind == "sales_return" else ()
            if len(shipped) != 1:
                self._require(doc, line, False, shipped)
                return line
            line = replace(line, batch=shipped[0])  # a return of the one batch its delivery (关联单号) shipped
        item = self.items[line.sku]
        known = self.dates(line.sku, line.batch)
        production, expiry = line.production_date, line.expiry_date
        if expiry is None and production is not None and item.shelf_life_days:
            expiry = production + timedelta(days=item.shelf_life_days)
        if known is not None:
            if line.expiry_date is not None and known[1] is not None and line.expiry_date != known[1]:
                self.problems.append(problem("batch-dates-differ", line.where.get("expiry_date", ""), line.expiry_date.isoformat(),
                                             batch=line.batch, known=known[1].isoformat(), given=line.expiry_date.isoformat()))
                return line
            production, expiry = known[0] or production, known[1] or expiry
        elif item.expiry_tracked and expiry is None:
            self.problems.append(problem("expiry-required", line.where.get("expiry_date", line.where.get("batch", "")), "",
                                         sku=line.sku, batch=line.batch))
            return line
        else:
            self.new[(line.sku, line.batch)] = NewBatch(line.sku, line.batch, production, expiry, doc.kind, doc.doc_no,
                                                        line.line_no, partner)
        self._move(doc, line, day, wh, line.batch, qty, partner)
        return replace(line, production_date=production, expiry_date=expiry)

    def _move(self, doc: Document, line: Line, day: date, wh: str, batch: str, qty: Decimal, partner: str) -> None:
        key = (line.sku, wh, batch)
        if key not in self.timeline:
            self.timeline[key] = PairTimeline(ZERO)
            self.by_pair[(line.sku, wh)].add(batch)
            self.fefo_order.pop((line.sku, wh), None)
        self.timeline[key].add(day, qty)
        self.moves.append(BatchMove(doc.kind, doc.doc_no, line.line_no, day, line.sku, wh, batch, qty, partner))

    def _there(self, sku: str, wh: str, day: date) -> list[tuple[str, Decimal, date | None]]:
        """The batches of `sku` in `wh` on `day` with stock: (batch, qty, expiry)."""
        found = []
        for batch in self.by_pair.get((sku, wh), ()):
            qty = self.timeline[(sku, wh, batch)].on_hand(day)
            if qty > 0:
                dates = self.dates(sku, batch)
                found.append((batch, qty, dates[1] if dates else None))
        return sorted(found, key=lambda b: (b[2] or date.max, b[0]))

    def _issue(self, doc: Document, line: Line, wh: str, need: Decimal, day: date,
               partner: str) -> list[tuple[str, Decimal]] | None:
        if line.batch:
            key = (line.sku, wh, line.batch)
            timeline = self.timeline.get(key)
            available = timeline.available(day) if timeline else ZERO
            if available < need and not (self.negative_ok and timeline is not None):
                there = self._there(line.sku, wh, day)
                shown = ", ".join(f"{b} ({_show(q)}{f', 有效期至 {e}' if e else ''})" for b, q, e in there)
                shown_en = ", ".join(f"{b} ({_show(q)}{f', expires {e}' if e else ''})" for b, q, e in there)
                self.problems.append(problem("batch-not-in-stock", line.where.get("batch", ""), line.batch, sku=line.sku,
                                             batch=line.batch, warehouse=wh, date=day.isoformat(),
                                             available=_show(max(available, ZERO)), needed=_show(need),
                                             there_zh=shown or "无", there=shown_en or "none"))
                return None
            if not self._fresh(doc, line, line.batch, day):
                return None
            picks = [(line.batch, need)]
        elif self.rules.auto_pick == "fefo" and doc.kind in FEFO_KINDS:
            picks = self._fefo(doc, line, wh, need, day)
            if picks is None:
                return None
        else:
            self._require(doc, line, doc.kind in FEFO_KINDS)
            return None
        for batch, q in picks:
            self._move(doc, line, day, wh, batch, -q, partner)
        return picks

    def _fresh(self, doc: Document, line: Line, batch: str, day: date) -> bool:
        """A delivery of an expired batch is refused; one near its expiry warned of."""
        if doc.kind != "delivery":
            return True
        dates = self.dates(line.sku, batch)
        expiry = dates[1] if dates else None
        if expiry is None:
            return True
        if expiry < day:
            self.problems.append(problem("batch-expired", line.where.get("batch", line.where.get("qty", "")), batch,
                                         batch=batch, expiry=expiry.isoformat(), date=day.isoformat()))
            return False
        warning = self._warning_days(line.sku)
        left = (expiry - day).days
        if left <= warning:
            self.warnings.append(problem("batch-near-expiry", line.where.get("batch", line.where.get("qty", "")), batch,
                                         batch=batch, expiry=expiry.isoformat(), days=left, warning=warning))
        return True

    def _expiry(self, sku: str, batch: str) -> date | None:
        dates = self.dates(sku, batch)
        return dates[1] if dates else None

    def _warning_days(self, sku: str) -> int:
        own = self.items[sku].expiry_warning_days
        return own if own is not None else self.rules.warning_days

    def _fefo(self, doc: Document, line: Line, wh: str, need: Decimal, day: date) -> list[tuple[str, Decimal]] | None:
        """First expiry, first out: the batches there at `day`, soonest expiry first (then by
        name; batches without an expiry last), never an expired one."""
        pair = (line.sku, wh)
        if pair not in self.fefo_order:
            self.fefo_order[pair] = sorted(self.by_pair.get(pair, ()), key=lambda b: (self._expiry(line.sku, b) or date.max, b))
        picks, left, expired = [], need, []
        for batch in self.fefo_order[pair]:  # only as far as the qty needs: a pair may hold hundreds of batches
            if left <= 0:
                break
            available = self.timeline[(line.sku, wh, batch)].available(day)
            if available <= 0:
                continue
            expiry = self._expiry(line.sku, batch)
            if expiry is not None and expiry < day:
                expired.append(f"{batch} ({_show(available)}, {expiry})")
                continue
            take = min(available, left)
            picks.append((batch, take))
            left -= take
        if left > 0:
            self.problems.append(problem("batch-short", line.where.get("qty", ""), _show(line.qty_entered), sku=line.sku,
                                         warehouse=wh, date=day.isoformat(), available=_show(need - left), needed=_show(need),
                                         expired_zh=", ".join(expired) or "无", expired=", ".join(expired) or "none"))
            return None
        for batch, _q in picks:
            self._fresh(doc, line, batch, day)
        shown = ", ".join(f"{b} × {_show(q)}" for b, q in picks)
        self.notes.append(f"{doc.doc_no} 第 {line.line_no} 行 {line.sku}: 先到期先出选批 {shown}"
                          f" / line {line.line_no} {line.sku}: first-expiry-first-out picked {shown}")
        return picks


# --- serials --------------------------------------------------------------------------------

def check_serials(conn: Connection, docs: Sequence[Document], tracked: set[str],
                  problems: list[Problem]) -> tuple[SerialMove, ...]:
    """A serial-tracked line names one serial per unit. A serial comes in only when it is
    not in stock; it leaves only the warehouse it is in; a customer returns only a serial
    shipped to that customer. Each serial's place is its latest, whatever the dates."""
    lines = [(doc, line) for doc in docs if doc.kind not in NO_QTY for line in doc.lines if line.sku in tracked]
    if not lines:
        return ()
    states: dict[tuple[str, str], SerialState | None] = dict(ledger_batches.serial_states(
        conn, {(line.sku, serial) for _doc, line in lines for serial in line.serials}))
    seen: dict[tuple[str, str], str] = {}
    moves: list[SerialMove] = []
    for doc, line in lines:
        kind = KINDS[doc.kind]
        where = line.where.get("serials", line.where.get("sku", ""))
        if doc.kind not in CARRIES_BATCHES:
            problems.append(problem("batch-not-supported", line.where.get("sku", ""), line.sku, sku=line.sku,
                                    kind=doc.kind, kind_zh=kind.zh))
            continue
        if not line.serials:
            problems.append(problem("serial-required", where, "", sku=line.sku))
            continue
        if len(line.serials) != abs(line.qty):
            problems.append(problem("serial-count", where, len(line.serials), count=len(line.serials), qty=_show(abs(line.qty))))
            continue
        repeated = False
        for serial in line.serials:
            other = seen.setdefault((line.sku, serial), f"{doc.doc_no} #{line.line_no}")
            if other != f"{doc.doc_no} #{line.line_no}" or line.serials.count(serial) > 1:
                problems.append(problem("serial-repeated", where, serial, serial=serial, other=other))
                repeated = True
        if repeated:
            continue
        partner = (doc.header.get(kind.partner_field) if kind.partner_field else None) or ""
        legs = list(kinds.legs(doc, line)) if not line.assigns_batches else [(line.warehouse or "", line.qty, doc.doc_date)]
        for wh, qty, day in sorted(legs, key=lambda leg: leg[1]):  # out before in
            for serial in line.serials:
                key = (line.sku, serial)
                if not _serial_may_move(doc, key, wh, qty, partner, states.get(key), where, problems):
                    break
                states[key] = serial_after(doc.kind, qty, wh, partner, doc.doc_no, line.batch)
                moves.append(SerialMove(doc.kind, doc.doc_no, line.line_no, day, line.sku, serial, wh,
                                        Decimal(1 if qty > 0 else -1), partner, line.batch))
    return tuple(moves)


def _serial_may_move(doc: Document, key: tuple[str, str], wh: str, qty: Decimal, partner: str, state: SerialState | None,
                     where: str, problems: list[Problem]) -> bool:
    serial = key[1]
    if qty > 0:
        if state is not None and state.status == "in_stock":
            problems.append(problem("serial-in-stock", where, serial, serial=serial, warehouse=state.warehouse,
                                    doc_no=state.doc_no))
            return False
        if doc.kind == "sales_return" and (state is None or state.status != "shipped" or state.partner != partner):
            zh, en = _place(state)
            problems.append(problem("serial-not-shipped-to", where, serial, serial=serial, customer=partner,
                                    place_zh=zh, place=en))
            return False
        return True
    if state is None or state.status != "in_stock" or state.warehouse != wh:
        zh, en = _place(state)
        problems.append(problem("serial-not-in-stock", where, serial, serial=serial, warehouse=wh, place_zh=zh, place=en))
        return False
    return True


def _place(state: SerialState | None) -> tuple[str, str]:
    """Where a serial is, told in a problem."""
    if state is None:
        return "从未入库", "never received"
    if state.status == "in_stock":
        return f"它在仓库 {state.warehouse} ({state.doc_no})", f"it is in {state.warehouse} ({state.doc_no})"
    if state.status == "shipped":
        return f"已由 {state.doc_no} 发给客户 {state.partner}", f"shipped to customer {state.partner} by {state.doc_no}"
    if state.status == "returned":
        return f"已由 {state.doc_no} 退回供应商 {state.partner}", f"returned to supplier {state.partner} by {state.doc_no}"
    return f"已由 {state.doc_no} 出库", f"issued by {state.doc_no}"
