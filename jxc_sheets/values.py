"""Cell values as staff really save them → typed values.

Each parser takes what a cell held (str, float, int, date, None) and returns
the typed value, or raises `Unparseable` — the validator turns that into a
Problem at the cell. Decisions (documented in the README, 表单):
- text is NFKC-normalised, so full-width digits and letters (１２, ＡＢ) read as
  their half-width forms; surrounding spaces are dropped;
- numbers may carry thousands separators (1,200 or 1 200), in groups of
  three, so a decimal comma (1,5) is refused rather than read as 15; a unit
  typed after the number (12箱) is not a number — the unit goes in its own column;
- a float from Excel is read at Excel's own 15 significant digits, so a
  formula's 0.30000000000000004 reads as 0.3;
- dates: real date cells, Excel serial numbers, and text such as 2026-11-03,
  2026/11/3, 2026.11.3, 2026年11月3日, 20261103 (as text, or as the number
  Excel saves when 20261103 is typed into a General cell);
- months (a sales plan's): 2026-12, 2026/12, 2026年12月, 202612, or any date in the month;
- amounts (money fields) may carry the currency as staff write it: ￥1,200.00元, RMB 1200,
  1200元整; anything else around the number (12万, $1200, 1.200,00) is refused, not guessed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

EXCEL_EPOCH = date(1899, 12, 30)
_NUMBER = re.compile(r"^[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$|^(\d{4})(\d{2})$")
_YES = {"y", "yes", "true", "1", "是", "启用", "有效"}
_NO = {"n", "no", "false", "0", "否", "停用", "无效"}


class Unparseable(ValueError):
    """The value cannot be read as the field's type; the message is a problem code."""


@dataclass(frozen=True)
class FormulaWithoutValue:
    """Stands in for a formula cell whose file carries no computed result."""

    formula: str = ""  # as written in the file, without "="; empty when unknown (a shared formula)

    @property
    def shown(self) -> str:
        return f"={self.formula}" if self.formula else "=…"

    def __repr__(self) -> str:
        return "<formula without value>"


FORMULA_WITHOUT_VALUE = FormulaWithoutValue()


@dataclass(frozen=True)
class CellError:
    """Stands in for a cell that shows an error (`#DIV/0!`, `#N/A`, `#VALUE!`): calamine
    reads one as empty, which would be told "must not be empty"."""

    shown: str

    def __str__(self) -> str:
        return self.shown


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def as_text(value: object) -> str:
    """A cell shown as text: integral floats lose their `.0`, dates are ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10] if not isinstance(value, datetime) or value.time() == datetime.min.time() else value.isoformat(sep=" ")
    return str(value).strip()


def as_code(value: object) -> str:
    """An identifier: normalised text; a number typed where a code belongs keeps its digits."""
    return normalise(as_text(value))


def as_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, (date, datetime)):
        raise Unparseable("not-a-number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Unparseable("not-a-number")
        return Decimal(format(value, ".15g"))
    if isinstance(value, Decimal):
        return value
    text = normalise(str(value))
    if not _NUMBER.match(text):
        raise Unparseable("not-a-number")
    try:
        return Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation as e:  # pragma: no cover - the pattern admits only valid numbers
        raise Unparseable("not-a-number") from e


_CURRENCY_BEFORE = ("¥", "RMB", "CNY", "人民币")  # NFKC reads the full-width ￥ as ¥
_CURRENCY_AFTER = ("元整", "元", "圆")


def as_money(value: object) -> Decimal:
    """An amount, its currency sign and 元 dropped when what remains is a plain number."""
    if not isinstance(value, str):
        return as_decimal(value)
    text = normalise(value)
    sign, rest = (text[0], text[1:].strip()) if text[:1] in "+-" else ("", text)
    for mark in _CURRENCY_BEFORE:
        if rest.upper().startswith(mark):
            rest = rest[len(mark):].strip()
            break
    for mark in _CURRENCY_AFTER:
        if rest.endswith(mark):
            rest = rest[:-len(mark)].strip()
            break
    try:
        return as_decimal(sign + rest)
    except Unparseable as e:
        raise Unparseable("not-an-amount") from e
_NUMBER_THEN_WORDS = re.compile(r"^([+-]?\d[\d,. ]*?)\s*([^\d\s.,+-][^\d]*)$")
_DECIMAL_COMMA = re.compile(r"^([+-]?\d+),(\d+)$")


def number_fix(value: object) -> tuple[str, dict[str, str]]:
    """Why a cell is not a number, as the fix a clerk needs (problems.NOT_A_NUMBER_FIXES):
    a unit typed after it (12箱), a decimal comma (1,5), other words, or anything else."""
    text = normalise(str(value))
    if m := _DECIMAL_COMMA.match(text):
        return "comma", {"dotted": f"{m[1]}.{m[2]}"}
    if (m := _NUMBER_THEN_WORDS.match(text)) and _NUMBER.match(m[1].strip()):
        return "unit", {"number": m[1].strip(), "unit": m[2].strip()}
    return "other", {}


def places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def as_int(value: object) -> int:
    number = as_decimal(value)
    if number != number.to_integral_value():
        raise Unparseable("not-an-integer")
    return int(number)


def as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and 19000101 <= value <= 99991231:  # 20261103 typed into a General cell
            return as_date(str(int(value)))
        if 1 <= value < 2958466:  # Excel's serial range, 1900-01-01 .. 9999-12-31
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise Unparseable("not-a-date")
    text = normalise(str(value))
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not match:
        raise Unparseable("not-a-date")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as e:
        raise Unparseable("not-a-date") from e


VAT_RATES = tuple(Decimal(n).scaleb(-2) for n in (0, 1, 3, 5, 6, 9, 13))  # 增值税税率与征收率


def as_rate(value: object) -> Decimal:
    """A VAT rate as a fraction: "13%", 13 and 0.13 are all 0.13 (a number of 1 or more is
    a percentage, below 1 a fraction); 免税 is 0. Only the rates China levies are taken."""
    text = normalise(str(value)) if isinstance(value, str) else None
    if text in ("免税", "免", "不征税", "零税率"):
        return Decimal(0)
    if text is not None and text.endswith("%"):
        rate = as_decimal(text[:-1]).scaleb(-2)
    else:
        number = as_decimal(value)
        rate = number.scaleb(-2) if number >= 1 else number
    rate = rate.normalize()
    for allowed in VAT_RATES:
        if rate == allowed:
            return allowed
    raise Unparseable("not-a-tax-rate")


def as_month(value: object) -> date:
    """A calendar month as its first day: 2026-12, 2026/12, 2026年12月, 202612, or any date in it."""
    text = normalise(as_text(value))
    match = _MONTH.match(text)
    if match:
        year, month = (match[1], match[2]) if match[1] else (match[3], match[4])
        if 1 <= int(month) <= 12:
            return date(int(year), int(month), 1)
        raise Unparseable("not-a-month")
    try:
        return as_date(value).replace(day=1)
    except Unparseable as e:
        raise Unparseable("not-a-month") from e


def as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = as_code(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise Unparseable("not-yes-no")


def as_units(value: object) -> tuple[tuple[str, Decimal], ...]:
    """`箱=24; 包=6` → (("箱", 24), ("包", 6))."""
    text = normalise(as_text(value))
    units: list[tuple[str, Decimal]] = []
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        name, sep, factor = part.partition("=")
        if not sep or not name.strip():
            raise Unparseable("bad-units")
        try:
            number = as_decimal(factor)
        except Unparseable as e:
            raise Unparseable("bad-units") from e
        if number <= 0 or name.strip() in dict(units):
            raise Unparseable("bad-units")
        units.append((name.strip(), number))
    return tuple(units)
