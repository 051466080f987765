"""Stage validate: raw documents → typed documents and master rows, or problems.

Only what the file itself can tell: types, required fields, signs, repeated
codes, a batch's rows agreeing on their document's header. What needs the
ledger (known codes, units, stock, posted numbers) is `check`'s. Every problem
of the file is collected, each at its cell.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping

from . import kinds
from .kinds import Field, FieldType, Kind
from .ledger import schema
from .problems import not_a_number_fix, problem
from .records import Document, Line, LineTable, MasterRow, MoneyLine, Problem, RawDocument, Seen
from .values import (
    CellError, FormulaWithoutValue, Unparseable, as_bool, as_code, as_date, as_decimal, as_int, as_text,
    as_money, as_month, as_rate, as_units, is_blank, number_fix, places,
)

ONE = Decimal(1)
PLACES = {FieldType.QTY: schema.QTY_PLACES, FieldType.MONEY: schema.MONEY_PLACES, FieldType.COST: schema.COST_PLACES}
LARGEST = {t: schema.largest(p) for t, p in PLACES.items()}  # what the ledger's scaled integer columns hold
MAX_LENGTH = {FieldType.CODE: 60, "unit": 32, "batch": 64}  # the ledger's columns, less room for a reversal's "-R"
SERIAL_LENGTH = 64  # each serial of a 序列号 list


@dataclass(frozen=True)
class Validated:
    documents: tuple[Document, ...]
    master: tuple[MasterRow, ...]
    problems: tuple[Problem, ...]


def validate(raws: Iterable[RawDocument]) -> Validated:
    documents: list[Document] = []
    master: list[MasterRow] = []
    problems: list[Problem] = []
    raws = tuple(raws)
    for raw in raws:
        kind = kinds.KINDS[raw.kind]
        if kind.is_master:
            rows, found = validate_master(kind, raw)
            master += rows
        else:
            docs, found = validate_documents(kind, raw)
            documents += docs
        problems += found
    if not documents and not master and not problems:
        problems.append(problem("file-no-lines", raws[0].sheet if raws else ""))
    return Validated(tuple(documents), tuple(master), tuple(problems))


# --- one value -----------------------------------------------------------------

def _number(places_allowed: int, read: Callable[[object], Decimal] = as_decimal) -> Callable[[object], Decimal]:
    def parse(value: object) -> Decimal:
        number = read(value)
        if places(number) > places_allowed:
            raise Unparseable("too-many-decimals")
        return number
    return parse


PARSERS: dict[FieldType, Callable[[object], Any]] = {
    FieldType.TEXT: as_text,
    FieldType.CODE: as_code,
    FieldType.DATE: as_date,
    FieldType.QTY: _number(PLACES[FieldType.QTY]),
    FieldType.MONEY: _number(PLACES[FieldType.MONEY], as_money),
    FieldType.COST: _number(PLACES[FieldType.COST]),
    FieldType.INT: as_int,
    FieldType.BOOL: as_bool,
    FieldType.UNITS: as_units,
    FieldType.MONTH: as_month,
    FieldType.RATE: as_rate,
}


def typed(field: Field, seen: Seen | None, problems: list[Problem], where_missing: str = "") -> Any:
    """The field's typed value, or None with a problem added (or None for an empty optional field)."""
    if seen is None:
        return typed_value(field, None, lambda: where_missing, problems)
    return typed_value(field, seen.value, lambda: seen.where, problems)


def typed_cell(field: Field, table: LineTable, i: int, problems: list[Problem]) -> Any:
    """`typed` of line `i`'s cell, its reference worked out only for a problem."""
    if field.key not in table:
        return typed(field, None, problems)
    return typed_value(field, table.value(field.key, i), lambda: table.ref(field.key, i), problems)


def typed_value(field: Field, value: object, where: Callable[[], str], problems: list[Problem]) -> Any:
    # A batch repeats its codes, dates and numbers on thousands of rows: each distinct
    # value a field accepts is worked out once (the value's type is part of the key, as
    # True == 1 == 1.0 would share one otherwise). What it refuses is not kept.
    key = (field.key, field.type, field.required, field.signed, type(value), value)
    try:
        return _ACCEPTED[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value
        return _typed_value(field, value, where, problems)
    before = len(problems)
    result = _typed_value(field, value, where, problems)
    if len(problems) == before:
        if len(_ACCEPTED) >= _ACCEPTED_KEPT:
            _ACCEPTED.clear()
        _ACCEPTED[key] = result
    return result


_ACCEPTED: dict[tuple, Any] = {}
_ACCEPTED_KEPT = 200_000


def _number_fix(field: Field, value: object) -> dict[str, str]:
    """The fix a not-a-number problem names; a unit belongs in the unit column only for a quantity."""
    how, params = number_fix(value)
    if how == "unit" and field.key != "qty":
        how = "text"
    return not_a_number_fix(how, **params)


def _typed_value(field: Field, value: object, where: Callable[[], str], problems: list[Problem]) -> Any:
    if isinstance(value, FormulaWithoutValue):
        problems.append(problem("formula-no-value", where(), value.shown))
        return None
    if isinstance(value, CellError):
        problems.append(problem("cell-error", where(), value.shown, error=value.shown))
        return None
    if is_blank(value):
        if field.required:
            problems.append(problem("required", where(), "", label=field.label, key=field.key))
        return None
    try:
        result = PARSERS[field.type](value)
    except Unparseable as e:
        problems.append(problem(str(e), where(), as_text(value), label=field.label, key=field.key,
                                places=PLACES.get(field.type, 0), **_number_fix(field, value)))
        return None
    limit = MAX_LENGTH.get(field.key, MAX_LENGTH.get(field.type))
    if limit and isinstance(result, str) and len(result) > limit:
        problems.append(problem("too-long", where(), result[:80], label=field.label, key=field.key, limit=limit))
        return None
    if field.type in LARGEST and abs(result) > LARGEST[field.type]:
        problems.append(problem("number-too-large", where(), as_text(value), label=field.label, key=field.key,
                                limit=f"{LARGEST[field.type]:,}"))
        return None
    if field.type in (FieldType.MONEY, FieldType.COST, FieldType.QTY) and result < 0 and field.key != "qty" and not field.signed:
        problems.append(problem("negative", where(), as_text(value), label=field.label, key=field.key))
        return None
    return result


# --- master data ---------------------------------------------------------------

def validate_master(kind: Kind, raw: RawDocument) -> tuple[list[MasterRow], list[Problem]]:
    table = raw.lines
    missing = [f for f in kind.lines if f.required and f.key not in table]
    if len(table) and missing:
        return [], [problem("missing-column", raw.table_at or raw.sheet, label=f.label) for f in missing]
    bad: dict[int, list[Problem]] = {}
    columns = {f.key: _typed_column(f, table, bad) for f in kind.lines}
    problems: list[Problem] = []
    rows: list[MasterRow] = []
    first_seen: dict[str, str] = {}
    for i in range(len(table)):
        found = bad.pop(i, [])
        values = {key: column[i] for key, column in columns.items()}
        key = values.get(kind.key)
        where = table.refs(i)
        if key:
            identity = "|".join(str(values.get(k) or "") for k in (kind.key, *kind.key_also)).lower()
            other = first_seen.setdefault(identity, where[kind.key])
            if other != where[kind.key]:
                found.append(problem("duplicate-key", where[kind.key], key, key=key, other=other))
        problems += found
        if key:
            rows.append(MasterRow(kind.name, key, values, table.rows[i], where))
    return rows, problems


# --- stock documents -----------------------------------------------------------

def validate_documents(kind: Kind, raw: RawDocument) -> tuple[list[Document], list[Problem]]:
    batch = raw.layout == "batch"
    missing = _missing_columns((*kind.lines, *(kind.header if batch else ())), raw)
    if missing:
        return [], missing
    if batch:
        return _validate_batch(kind, raw)

    problems: list[Problem] = []
    for f in kind.header:
        if f.required and f.key not in raw.header:
            problems.append(problem("missing-field", raw.sheet, label=f.label))
    # A field whose label is missing is reported once, above, not again as empty.
    header = {f.key: typed(f, raw.header[f.key], problems) if f.key in raw.header else None for f in kind.header}
    where = {k: s.where for k, s in raw.header.items()}
    document = _document(kind, raw, header, where, raw.lines, problems)
    return ([document] if document else []), problems


def _missing_columns(fields: Iterable[Field], raw: RawDocument) -> list[Problem]:
    """A required column the table lacks, once, rather than "empty" on every line."""
    if not len(raw.lines):
        return []
    return [problem("missing-column", raw.table_at or raw.sheet, label=f.label)
            for f in fields if f.required and f.key not in raw.lines]


def _validate_batch(kind: Kind, raw: RawDocument) -> tuple[list[Document], list[Problem]]:
    """Rows with the same doc_no form one document; their header cells must agree."""
    table = raw.lines
    bad: dict[int, list[Problem]] = {}
    numbers = _typed_column(kinds.DOC_NO, table, bad)
    problems = [p for i in sorted(bad) for p in bad[i]]
    groups: dict[str, list[int]] = {}
    for i, doc_no in enumerate(numbers):
        if doc_no:
            groups.setdefault(doc_no, []).append(i)
    documents = []
    header_fields = [f for f in kind.header if f.key != "remark"]
    for doc_no, lines in groups.items():
        own = table.take(lines)
        header = {f.key: typed(f, own.seen(f.key, 0), problems, raw.sheet) for f in header_fields}
        header["remark"] = None
        problems += _disagreements(header_fields, doc_no, own)
        where = {f.key: own.ref(f.key, 0) for f in header_fields if f.key in own}
        document = _document(kind, raw, header, where, own, problems)
        if document:
            documents.append(document)
    return documents, problems


def _disagreements(fields: Iterable[Field], doc_no: str, table: LineTable) -> list[Problem]:
    """Every row's header cells are read as their type (a bad date on row 5 is `not-a-date`
    there), then compared with the document's first row."""
    found: list[Problem] = []
    for f in fields:
        if f.key not in table:
            continue
        column, first = table.columns[f.key], table.columns[f.key][0]
        meant = _comparable(f, first)
        optional = replace(f, required=False)  # a blank header cell on a later row means "as above"
        for i in range(1, len(table)):
            value = column[i]
            if value is None or value == first:
                continue
            before = len(found)
            got = typed_value(optional, value, lambda: table.ref(f.key, i), found)
            if len(found) == before and got != meant:
                found.append(problem("conflicting-header", table.ref(f.key, i), as_text(value),
                                     doc_no=doc_no, label=f.label, other=table.ref(f.key, 0)))
    return found


def _comparable(field: Field, value: object) -> object:
    """What a header cell means, so 2026/11/3 in one row agrees with a date cell in another."""
    if is_blank(value):
        return ""
    try:
        return PARSERS[field.type](value)
    except Unparseable:
        return as_text(value)


def _document(kind: Kind, raw: RawDocument, header: Mapping[str, Any], where: Mapping[str, str],
              table: LineTable, problems: list[Problem]) -> Document | None:
    before = len(problems)
    if kind.name == "transfer" and header.get("from_warehouse") and \
            header.get("from_warehouse") == header.get("to_warehouse"):
        problems.append(problem("same-warehouse", where.get("to_warehouse", raw.sheet), header["to_warehouse"]))
    arrival, doc_date = header.get("arrival_date"), header.get("doc_date")
    if arrival and doc_date and arrival < doc_date:
        problems.append(problem("arrival-before-date", where.get("arrival_date", raw.sheet), arrival.isoformat(),
                                arrival=arrival.isoformat(), doc_date=doc_date.isoformat()))
    if kind.is_money and header.get("amount") == 0:
        problems.append(problem("amount-positive", where.get("amount", raw.sheet), "0"))
    cost = _cost_required(kind, header)
    if cost is not None and len(table) and not any(key in table for key in PRICED):
        missing = problem("missing-column", raw.table_at or raw.sheet, label=cost.label)
        problems += [] if missing in problems else [missing]  # once for a batch's documents
        return None
    lines = tuple(_money_lines(kind, table, problems) if kind.is_money else _lines(kind, table, problems, cost))
    may_be_empty = kind.lines_optional or any(f.key == "amount" for f in kind.header)  # an assembly of its BOM; a payment naming no document
    if not lines and len(problems) == before and not may_be_empty:
        problems.append(problem("file-no-lines", raw.sheet))
    if header.get("doc_no") is None or header.get("doc_date") is None or \
            (not lines and (len(problems) > before or not may_be_empty)):
        return None
    # A document with bad lines is still returned with its good ones, so that the
    # ledger's checks can report their problems in the same round trip; the
    # problems already found keep it from posting.
    return Document(kind.name, header["doc_no"], header["doc_date"], dict(header), lines, raw.source, "", dict(where))


PRICED = ("unit_cost", "price_incl", "amount", "gross")  # what a receipt line's value may come from (check/tax.py)


def _cost_required(kind: Kind, header: Mapping[str, Any]) -> Field | None:
    """A receipt's unit cost (or its price with tax, its 金额 or its 价税合计) may be left
    empty only when it names the order to take it from."""
    if kind.name == "receipt" and not header.get("ref_doc"):
        return kind.field("unit_cost")
    return None


def _lines(kind: Kind, table: LineTable, problems: list[Problem], cost_required: Field | None = None) -> Iterable[Line]:
    fields = [f for f in kind.lines if not f.info]
    bad: dict[int, list[Problem]] = {}  # line index → its problems: its cells' in the fields' order, then the lines'
    columns = {f.key: _typed_column(f, table, bad) for f in fields}
    for check in (_cost_missing, _qty_sign, _amounts_too_large, _serials_too_long, _rejected_over_qty):
        for i, found in check(kind, table, columns, cost_required):
            bad.setdefault(i, []).append(found)
    problems += [p for i in sorted(bad) for p in bad[i]]
    empty = [None] * len(table)

    def column(key: str, blank: object = None) -> list:
        values = columns.get(key, empty)
        return values if blank is None else [blank if v is None else v for v in values]

    qty, texts = column(kind.qty_field), {key: column(key, "") for key in TEXT_KEYS}
    remark = [a or r for a, r in zip(column("approve_reason", ""), column("remark", ""))]  # a count approval's reason first
    for i, line in enumerate(zip(column("line_no"), column("sku"), qty, column("unit_cost"), column("unit_price"),
                                 column("warehouse"), column("expected_date"), column("approve"), column("price_incl"),
                                 column("tax_rate"), column("amount"), column("tax"), column("gross"),
                                 column("production_date"), column("expiry_date"), column("serials"),
                                 column("rejected_qty"), remark, *texts.values())):
        if i in bad:
            continue
        (line_no, sku, q, unit_cost, unit_price, warehouse, expected, approve, price_incl, tax_rate, amount, tax, gross,
         production, expiry, serials, rejected, note, unit, batch, customer, location, receipt_no, return_reason, leg,
         reject_reason) = line
        yield Line(
            line_no=line_no or i + 1, sku=sku, qty=q, unit=unit, qty_entered=q, factor=ONE, unit_cost=unit_cost,
            unit_price=unit_price, batch=batch, warehouse=warehouse, where=table.refs(i), expected_date=expected,
            partner=customer, location=location, approve=approve, remark=note, price_incl=price_incl,
            tax_rate=tax_rate, amount=amount, tax=tax, gross=gross, receipt_no=receipt_no, production_date=production,
            expiry_date=expiry, serials=split_serials(serials), return_reason=return_reason, leg=leg,
            rejected_qty=rejected, reject_reason=reject_reason,
        )


# The text fields a line carries as "" when empty, in the order _lines unpacks them.
TEXT_KEYS = ("unit", "batch", "customer", "location", "receipt_no", "return_reason", "leg", "reject_reason")

# Each check below yields (line index, problem) for whole columns, in line order; a line's
# problems come in the order _lines runs the checks, as a user reads them across the row.
Columns = Mapping[str, list]


def _cost_missing(kind: Kind, table: LineTable, columns: Columns, cost_required: Field | None) -> Iterator[tuple[int, Problem]]:
    """A receipt line with none of its value's cells filled, where no order gives its cost."""
    if cost_required is None:
        return
    priced = [table.columns[key] for key in PRICED if key in table]
    required = replace(cost_required, required=True)
    for i, cells in enumerate(zip(*priced) if priced else ((),) * len(table)):
        if cells.count(None) == len(cells):
            found: list[Problem] = []
            typed(required, None, found, table.ref(required.key, i) if required.key in table else "")
            yield from ((i, p) for p in found)


def _qty_sign(kind: Kind, table: LineTable, columns: Columns, _: Field | None) -> Iterator[tuple[int, Problem]]:
    if kind.is_count or kind.qty_field not in columns:  # a count of 0 is a count; below 0 is `negative`
        return
    for i, qty in enumerate(columns[kind.qty_field]):
        if qty is None:
            continue
        if kind.signed_qty and qty == 0:
            yield i, problem("qty-nonzero", table.ref("qty", i), as_text(table.value("qty", i)))
        elif not kind.signed_qty and qty <= 0:
            yield i, problem("qty-positive", table.ref("qty", i), as_text(table.value("qty", i)))


def _amounts_too_large(kind: Kind, table: LineTable, columns: Columns, _: Field | None) -> Iterator[tuple[int, Problem]]:
    """qty × a unit cost or price is posted as an amount: it must fit the amount's column too."""
    if kind.qty_field not in columns:
        return
    qty, largest = columns[kind.qty_field], LARGEST[FieldType.MONEY]
    prices = [(key, columns[key]) for key in ("unit_cost", "unit_price", "price_incl") if key in columns]
    for i, q in enumerate(qty):
        for key, price in prices:
            if q is not None and price[i] is not None and abs(q * price[i]) > largest:
                f = kind.field(key)
                yield i, problem("amount-too-large", table.ref(key, i), as_text(table.value(key, i)), label=f.label,
                                 key=key, amount=f"{q * price[i]:,}", limit=f"{largest:,}")


def _serials_too_long(kind: Kind, table: LineTable, columns: Columns, _: Field | None) -> Iterator[tuple[int, Problem]]:
    for i, text in enumerate(columns.get("serials", ())):
        long = [serial for serial in split_serials(text) if len(serial) > SERIAL_LENGTH][:1]
        yield from ((i, problem("too-long", table.ref("serials", i), serial[:80], label=kind.field("serials").label,
                                key="serials", limit=SERIAL_LENGTH)) for serial in long)


def _rejected_over_qty(kind: Kind, table: LineTable, columns: Columns, _: Field | None) -> Iterator[tuple[int, Problem]]:
    if "rejected_qty" not in columns or kind.qty_field not in columns:
        return
    for i, (rejected, qty) in enumerate(zip(columns["rejected_qty"], columns[kind.qty_field])):
        if rejected is not None and qty is not None and rejected > qty:
            yield i, problem("rejected-over-qty", table.ref("rejected_qty", i), as_text(table.value("rejected_qty", i)),
                             qty=as_text(table.value("qty", i)))


def _typed_column(field: Field, table: LineTable, bad: dict[int, list[Problem]]) -> list[Any]:
    """`typed_cell` of the field's cell on every line, a column at a time: each distinct
    value the field accepts is worked out once, and a cell's reference only for a problem,
    which goes to its line's list in `bad`."""
    if field.key not in table:
        scratch: list[Problem] = []
        result = typed(field, None, scratch)
        if not scratch:
            return [result] * len(table)
        for i in range(len(table)):  # required: each line says so
            bad.setdefault(i, []).extend(scratch)
        return [result] * len(table)
    key, known, out = field.key, {}, []
    for i, value in enumerate(table.columns[key]):
        memo = value if type(value) is str else (type(value), value)  # True == 1 == 1.0 would share one otherwise
        try:
            out.append(known[memo])
            continue
        except KeyError:
            pass
        except TypeError:  # an unhashable value
            memo = None
        found: list[Problem] = []
        result = typed_value(field, value, lambda: table.ref(key, i), found)
        out.append(result)
        if found:
            bad.setdefault(i, []).extend(found)
        elif memo is not None:
            known[memo] = result
    return out


def split_serials(text: str | None) -> tuple[str, ...]:
    """序列号 as typed: one, or a list separated by commas, semicolons, spaces or new lines."""
    if not text:
        return ()
    return tuple(part for part in re.split(r"[,;，；、\s]+", text) if part)


def _money_lines(kind: Kind, table: LineTable, problems: list[Problem]) -> Iterable[MoneyLine]:
    """A money document's lines: the documents a receipt or payment settles, opening
    receivables/payables, transfers, other income and expense, or a statement's answers."""
    bad: dict[int, list[Problem]] = {}
    columns = {f.key: _typed_column(f, table, bad) for f in kind.lines if not f.info}
    for i in range(len(table)):
        number = i + 1
        found = bad.pop(i, [])
        values = {key: column[i] for key, column in columns.items()}
        if not found and all(v is None for v in values.values()):
            continue  # a batch row that names no document: the payment settles the oldest ones
        where = table.refs(i)
        confirm = _confirmation(values, where, found) if kind.name == "statement_confirmation" else ""
        if confirm is None:
            continue  # a statement line nobody answered: neither agreed nor disputed
        amount = values.get("settle_amount", values.get("amount"))
        if amount == 0:
            key = "settle_amount" if "settle_amount" in values else "amount"
            found.append(problem("amount-positive", where[key] if key in where else "", "0"))
        sides = [side for side in ("customer", "supplier") if values.get(side)]
        if kind.name == "opening_ar_ap" and len(sides) != 1:
            found.append(problem("opening-partner", where["customer"] if "customer" in where else "",
                                 " / ".join(values[s] for s in sides)))
        if kind.name == "funds_transfer" and values.get("from_account") and values["from_account"] == values.get("to_account"):
            found.append(problem("same-account", where["to_account"], values["to_account"]))
        if kind.name == "income_expense":
            flows = [key for key in ("income", "expense") if values.get(key) is not None]
            if len(flows) != 1:
                found.append(problem("income-or-expense", where["income"] if "income" in where else "", ""))
            elif values.get(flows[0]) == 0:
                found.append(problem("amount-positive", where[flows[0]], "0"))
            else:
                amount = values[flows[0]] if flows[0] == "income" else -values[flows[0]]
        problems += found
        if found:
            continue
        side = sides[0] if sides else ""
        yield MoneyLine(values.get("line_no") or number, values.get("settle_doc") or values.get("ref_doc") or "", amount,
                        values.get("remark") or "", where, side, values.get(side) or "" if side else "",
                        values.get("ref_date"), values.get("due_date"), bool(values.get("advance")),
                        confirm, values.get("from_account") or "", values.get("to_account") or "",
                        values.get("category") or "")


AGREED = {"y", "yes", "是", "确认", "无误", "ok"}
DISPUTED = {"有异议", "异议", "n", "no", "否", "不同意"}


def _confirmation(values: dict, where, found: list[Problem]) -> str | None:
    """A statement line's answer: "Y", "dispute" (with its reason), or None when left empty."""
    answer = (values.get("confirm") or "").lower()
    if not answer:
        return None
    if answer in AGREED:
        return "Y"
    if answer not in DISPUTED:
        found.append(problem("confirm-value", where["confirm"], values["confirm"]))
        return ""
    if not values.get("reason"):
        found.append(problem("dispute-reason", where["reason"] if "reason" in where else where["confirm"], ""))
    values["remark"] = values.get("reason")
    return "dispute"
