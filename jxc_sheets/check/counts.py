"""Stage check, the counts part: a count against the book, and a supervisor's
decisions on the variances that were held.

- A count (盘点) compares what was counted with the book at the end of the count
  date, per sku (lines of one sku in several bins add up). With scope `full`,
  items with stock that the count does not list were counted as zero. Each
  difference is valued at the unit cost at that date (the book's value ÷ qty;
  for an empty shelf, the last movement's cost, else the standard cost).
- A variance within tolerance (both `counts.tolerance_pct` of the book and
  `counts.tolerance_value`) posts with the count as a gain or a loss; one beyond
  it is held: the variance workbook (outbox/variance/COUNT.xlsx) asks for Y or N.
- That workbook, dropped back with Y/N filled in, is a `count_approval`: approved
  lines post (as COUNT-SP1, -SP2, … dated the count date), declined ones close,
  and a line already decided is never decided again, so a second drop posts
  nothing more.
The count document is then posted with its variances as its lines (signed: + gain,
− loss); what was counted is kept in `count_lines`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Sequence

from sqlalchemy import Connection

from ..config import CountsConfig
from ..kinds import KINDS, Category, legs
from ..ledger import batches as ledger_batches
from ..ledger import counts as ledger_counts
from ..ledger.costing import money, rate
from ..ledger.counts import CountedSku, CountResult, Decision
from ..problems import problem
from ..records import Document, Item, Line, Problem
from ..values import normalise

ZERO = Decimal(0)
HUNDRED = Decimal(100)
FULL = {"full", "全盘", "全部", "all"}
PARTIAL = {"partial", "抽盘", "部分"}


@dataclass(frozen=True)
class CountCheck:
    documents: tuple[Document, ...]  # counts and approvals as they post: their variances as lines
    problems: tuple[Problem, ...]
    results: tuple[CountResult, ...]
    decisions: tuple[Decision, ...]
    notes: tuple[str, ...]


def check_counts(conn: Connection, docs: Sequence[Document], rules: CountsConfig,
                 items: Mapping[str, Item]) -> CountCheck:
    run = _Run(conn, rules, items)
    documents = [run.document(doc) for doc in docs]
    return CountCheck(tuple(d for d in documents if d is not None), tuple(run.problems), tuple(run.results),
                      tuple(run.decisions), tuple(run.notes))


class _Run:
    def __init__(self, conn: Connection, rules: CountsConfig, items: Mapping[str, Item]):
        self.conn, self.rules, self.items = conn, rules, items
        self.problems: list[Problem] = []
        self.results: list[CountResult] = []
        self.decisions: list[Decision] = []
        self.notes: list[str] = []
        self.approvals: dict[str, int] = {}

    def document(self, doc: Document) -> Document | None:
        if doc.kind == "count":
            return self.count(doc)
        if doc.kind == "count_approval":
            return self.approval(doc)
        return doc

    # --- a count ---------------------------------------------------------------------

    def count(self, doc: Document) -> Document:
        full = _is_full(doc.header.get("scope") or "")
        if full is None:
            self.problems.append(problem("count-scope", doc.where.get("scope", ""), doc.header.get("scope")))
            return doc
        warehouse, day = doc.header["warehouse"], doc.doc_date
        counted = _by_sku(doc.lines)
        book = ledger_counts.book_at(self.conn, warehouse, day, None if full else counted)
        if full:
            next_no = max((l.line_no for l in doc.lines), default=0) + 1
            for sku in sorted(s for s, (qty, _v) in book.items() if qty != 0 and s not in counted):
                counted[sku] = (next_no, "", ZERO, "未列出, 全盘按 0 计 / not listed: counted as zero", {})
                next_no += 1
        empty = [s for s in counted if book.get(s, (ZERO, ZERO))[0] <= 0]
        last_costs = ledger_counts.last_unit_costs(self.conn, warehouse, day, empty) if empty else {}
        by_batch = self.by_batch(doc, warehouse, day, counted)
        lines = tuple(replace(self.compare(sku, entry, book.get(sku, (ZERO, ZERO)), last_costs), batches=by_batch.get(sku, ()))
                      for sku, entry in counted.items())
        self.results.append(CountResult(doc.doc_no, lines))
        held = sum(1 for l in lines if l.difference and not l.within_tolerance)
        if held:
            self.notes.append(f"{doc.doc_no}: {held} 行差异超出容差, 待审批 (outbox/variance/{doc.doc_no}.xlsx)"
                              f" / {held} variances beyond tolerance await approval")
        return replace(doc, lines=tuple(_variance_line(l, self.items) for l in lines
                                        if (l.difference and l.within_tolerance) or _relabelled(l)))

    def by_batch(self, doc: Document, warehouse: str, day, counted: Mapping[str, tuple]) -> dict[str, tuple]:
        """A batch-tracked item is counted per batch: sku → ((batch, book, counted), …), a batch
        with book stock that no line names counted as zero. A line of one without 批号 is refused."""
        tracked = {sku for sku in counted if sku in self.items and self.items[sku].tracked}
        if not tracked:
            return {}
        book = ledger_batches.batch_book_at(self.conn, warehouse, day, tracked)
        seen: dict[str, dict[str, Decimal]] = {sku: {} for sku in tracked}
        for line in doc.lines:
            if line.sku not in tracked:
                continue
            if not line.batch:
                self.problems.append(problem("batch-required", line.where.get("batch", line.where.get("sku", "")), "",
                                             sku=line.sku, fix_zh="盘点表按批号逐行填写", fix="a count gives a line per batch"))
                continue
            seen[line.sku][line.batch] = seen[line.sku].get(line.batch, ZERO) + line.qty
        for (sku, batch), qty in book.items():
            seen[sku].setdefault(batch, ZERO)
        return {sku: tuple((b, book.get((sku, b), ZERO), qty) for b, qty in sorted(found.items())) for sku, found in seen.items()}

    def compare(self, sku: str, entry: tuple, book: tuple[Decimal, Decimal],
                last_costs: Mapping[str, Decimal]) -> CountedSku:
        line_no, location, counted, reason, where = entry
        book_qty, book_value = book
        if book_qty > 0:
            unit_cost = rate(book_value / book_qty)
        else:
            unit_cost = last_costs.get(sku) or (self.items[sku].std_cost if sku in self.items else None) or ZERO
        difference = counted - book_qty
        value = money(difference * unit_cost)
        return CountedSku(line_no, sku, location, book_qty, counted, difference, unit_cost, value,
                          self.within(difference, book_qty, value), reason, where)

    def within(self, difference: Decimal, book_qty: Decimal, value: Decimal) -> bool:
        if difference == 0:
            return True
        pct, limit = Decimal(str(self.rules.tolerance_pct)), Decimal(str(self.rules.tolerance_value))
        return book_qty > 0 and abs(difference) * HUNDRED <= book_qty * pct and abs(value) <= limit

    # --- an approval -------------------------------------------------------------------

    def approval(self, doc: Document) -> Document | None:
        held = {l.line_no: l for l in ledger_counts.count_lines(self.conn, doc.doc_no)}
        if not held:
            self.problems.append(problem("count-unknown", doc.where.get("doc_no", ""), doc.doc_no, doc_no=doc.doc_no))
            return None
        approved, decided_before, decisions_before = [], 0, len(self.decisions)
        number = self.next_approval(doc.doc_no)
        for line in doc.lines:
            found = held.get(line.line_no)
            if found is None or found.sku != line.sku:
                self.problems.append(problem("count-line-unknown", line.where.get("line_no", ""), line.line_no,
                                             line=line.line_no, sku=line.sku, doc_no=doc.doc_no))
                continue
            if line.approve is None:
                continue
            if found.status != ledger_counts.HELD:
                decided_before += 1
                continue
            self.decisions.append(Decision(found.id, line.approve, line.remark, number if line.approve else ""))
            if line.approve:
                approved.append(found)
        if decided_before:
            self.notes.append(f"{doc.doc_no}: {decided_before} 行此前已处理, 不再重复 / {decided_before} lines were decided before")
        if len(self.decisions) == decisions_before:
            self.notes.append(f"{doc.doc_no}: 没有新的审批 / nothing new to decide")
        if not approved:
            self.approvals[doc.doc_no] -= 1  # the number stays free: nothing posts under it
            return None
        first = approved[0]
        lines = tuple(_variance_line(l, self.items) for l in approved)
        header = {**doc.header, "doc_no": number, "warehouse": first.warehouse}
        return replace(doc, doc_no=number, doc_date=first.doc_date, header=header, lines=lines,
                       content_hash=_decision_hash(number, approved))

    def next_approval(self, count_no: str) -> str:
        if count_no not in self.approvals:
            self.approvals[count_no] = ledger_counts.approvals_of(self.conn, count_no)
        self.approvals[count_no] += 1
        return f"{count_no}-SP{self.approvals[count_no]}"


def _is_full(scope: str) -> bool | None:
    """True for a full count, False for a partial one (the default), None when unclear.
    The forms write both languages (全盘 full), so either word will do."""
    words = set(normalise(scope).lower().split())
    if words & FULL and not words & PARTIAL:
        return True
    if not words or words <= PARTIAL:
        return False
    return None


def _by_sku(lines: Sequence[Line]) -> dict[str, tuple]:
    """sku → (first line_no, bins, counted qty, reasons, cells): one sku in several bins adds up."""
    found: dict[str, tuple] = {}
    for line in lines:
        if line.sku in found:
            no, location, qty, reason, where = found[line.sku]
            found[line.sku] = (no, _join(location, line.location), qty + line.qty, _join(reason, line.remark), where)
        else:
            found[line.sku] = (line.line_no, line.location, line.qty, line.remark, line.where)
    return found


def _join(a: str, b: str) -> str:
    return "; ".join(x for x in dict.fromkeys((a, b)) if x)


def _relabelled(counted) -> bool:
    """No difference for the item, yet its batches differ: the count moves no stock, only batches."""
    return not counted.difference and any(qty != book for _b, book, qty in counted.batches)


def _variance_line(counted, items: Mapping[str, Item]) -> Line:
    """The movement a variance makes: + gain at the count's unit cost, − loss at the current cost;
    a batch-tracked item's split over its batches."""
    unit = items[counted.sku].unit if counted.sku in items else ""
    gain = counted.difference > 0
    split = tuple((b, qty - book) for b, book, qty in counted.batches if qty != book)
    return Line(counted.line_no, counted.sku, counted.difference, unit, counted.difference, Decimal(1),
                counted.unit_cost.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP) if gain else None,
                None, "", counted.reason, None, dict(getattr(counted, "where", {}) or {}), batch_split=split,
                assigns_batches=not counted.difference)


def _decision_hash(number: str, lines) -> str:
    content = [number] + [[l.line_no, l.sku, str(l.difference)] for l in lines]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def backdated_before_counts(conn: Connection, docs: Sequence[Document]) -> list[Problem]:
    """A stock document dated on or before a posted count of one of its items in that
    warehouse: posted, the book at the count date would no longer be what was counted.
    One problem per document, at its date cell, naming the count."""
    moves = {id(doc): [(line.sku, wh, day) for line in doc.lines for wh, _qty, day in legs(doc, line)]
             for doc in docs if KINDS[doc.kind].category is Category.STOCK}
    counted = ledger_counts.last_counts(conn, {(sku, wh) for legs_ in moves.values() for sku, wh, _d in legs_})
    found = []
    for doc in docs:
        hit = next(((sku, wh, counted[(sku, wh)]) for sku, wh, day in moves.get(id(doc), ())
                    if (sku, wh) in counted and day <= counted[(sku, wh)][0]), None)
        if hit:
            sku, wh, (count_date, count_no) = hit
            found.append(problem("counted-after", doc.where.get("doc_date", ""), doc.doc_date.isoformat(),
                                 doc_no=doc.doc_no, date=doc.doc_date.isoformat(), sku=sku, warehouse=wh, count=count_no, count_date=count_date.isoformat()))
    return found
