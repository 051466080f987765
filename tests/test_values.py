"""The value parsers: cell values as staff really save them → typed values, or
`Unparseable` carrying the problem code."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from jxc_sheets.values import (
    Unparseable, as_bool, as_code, as_date, as_decimal, as_int, as_text, as_units, is_blank, places,
)

FULL_WIDTH = str.maketrans("0123456789,.-+", "０１２３４５６７８９，．－＋")


def code_of(parse, value) -> str:
    with pytest.raises(Unparseable) as raised:
        parse(value)
    return str(raised.value)


# --- numbers -------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("1,200", Decimal("1200")),
    ("１２", Decimal("12")),
    (" 5 ", Decimal("5")),
    ("+3", Decimal("3")),
    ("1,234.50", Decimal("1234.50")),
    ("-1,234,567.8", Decimal("-1234567.8")),
    ("1 200", Decimal("1200")),
    ("１，２００．５", Decimal("1200.5")),
    ("\u00a012\u00a0", Decimal("12")),  # a non-breaking space pasted from a web page
    (".5", Decimal("0.5")),
    ("7.", Decimal("7")),
    ("0", Decimal("0")),
    (12, Decimal("12")),
    (12.0, Decimal("12")),
    (0.1 + 0.2, Decimal("0.3")),  # a formula's float read at Excel's 15 digits
    (1.23456, Decimal("1.23456")),
    (Decimal("2.50"), Decimal("2.50")),
])
def test_as_decimal_reads_numbers_as_saved(value, expected):
    result = as_decimal(value)
    assert result == expected
    assert isinstance(result, Decimal)


@pytest.mark.parametrize("value", [
    "12箱", "箱12", "", "  ", "abc", "1.2.3", "1e5", "NaN", "inf", "--1", "+-1", "1-", "(5)",
    "1,5",  # a European decimal comma: not silently read as 15
    "12,00", "1,2345", ",100", "100,", "1,,000", "1 2",
    float("nan"), float("inf"), True, date(2026, 11, 3), datetime(2026, 11, 3, 8, 0), time(10, 30),
])
def test_as_decimal_refuses_what_is_not_a_number(value):
    assert code_of(as_decimal, value) == "not-a-number"


@given(st.integers(min_value=-10**15, max_value=10**15), st.integers(min_value=0, max_value=4))
def test_any_decimal_with_thousands_separators_parses_back_exactly(unscaled, decimals):
    number = Decimal(unscaled).scaleb(-decimals)
    text = f"{number:,f}"
    assert as_decimal(text) == number
    assert as_decimal(text).as_tuple() == number.as_tuple()
    assert as_decimal(text.translate(FULL_WIDTH)) == number
    assert as_decimal(f" {text} ") == number


@pytest.mark.parametrize("number, expected", [
    (Decimal("1.2300"), 2), (Decimal("100"), 0), (Decimal("1E+2"), 0), (Decimal("0.0001"), 4),
    (Decimal("1.23456"), 5),
])
def test_places_counts_significant_decimals(number, expected):
    assert places(number) == expected


def test_as_int():
    assert as_int("1,000") == 1000
    assert as_int(7.0) == 7
    assert code_of(as_int, "7.5") == "not-an-integer"
    assert code_of(as_int, "七") == "not-a-number"


# --- dates ---------------------------------------------------------------------

D = date(2026, 11, 3)


@pytest.mark.parametrize("value", [
    D, datetime(2026, 11, 3, 14, 30), 46329, 46329.0, 46329.75,
    "2026/11/3", "2026-11-03", "2026.11.3", "2026年11月3日", "2026 年 11 月 3 日", "20261103",
    "2026-11-03 14:30", "2026-11-03T14:30:05", "２０２６－１１－０３", " 2026/11/03 ",
    20261103, 20261103.0,  # 20261103 typed into a General cell is saved as a number
])
def test_as_date_reads_dates_as_saved(value):
    assert as_date(value) == D


@pytest.mark.parametrize("value", [
    "2026-13-01", "2026-02-30", "明天", "", "11/3/2026", "3.11.2026", "2026-11", "202611031", "46329",
    0, -1, 2958466, 20261399, 99999999.0, float("nan"), float("inf"), True, time(10, 30),
])
def test_as_date_refuses_what_is_not_a_date(value):
    assert code_of(as_date, value) == "not-a-date"


# --- codes, text, yes/no, units ------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (123.0, "123"), (123, "123"), ("00123", "00123"), (" ＡＢ－１ ", "AB-1"), (1.5, "1.5"),
    ("A001\u3000", "A001"),  # an ideographic space typed after the code
    (None, ""),
])
def test_as_code(value, expected):
    assert as_code(value) == expected


def test_as_text():
    assert as_text(None) == ""
    assert as_text(12.0) == "12"
    assert as_text(0.1 + 0.2) == "0.3"
    assert as_text(D) == "2026-11-03"
    assert as_text(datetime(2026, 11, 3)) == "2026-11-03"
    assert as_text(datetime(2026, 11, 3, 14, 30)) == "2026-11-03 14:30:00"
    assert as_text(True) == "Y"
    assert as_text("  备注 ") == "备注"


def test_is_blank():
    assert is_blank(None) and is_blank("") and is_blank(" \t")
    assert not is_blank(0) and not is_blank(0.0) and not is_blank(False) and not is_blank("0")


@pytest.mark.parametrize("value", ["Y", "y", "Yes", "TRUE", "是", "启用", 1, 1.0, True, " Ｙ "])
def test_as_bool_yes(value):
    assert as_bool(value) is True


@pytest.mark.parametrize("value", ["N", "n", "no", "False", "否", "停用", 0, 0.0, False])
def test_as_bool_no(value):
    assert as_bool(value) is False


@pytest.mark.parametrize("value", ["maybe", "", "2", "有"])
def test_as_bool_refuses_other_answers(value):
    assert code_of(as_bool, value) == "not-yes-no"


@pytest.mark.parametrize("value, expected", [
    ("箱=24; 包=6", (("箱", Decimal(24)), ("包", Decimal(6)))),
    ("箱＝24；包＝6", (("箱", Decimal(24)), ("包", Decimal(6)))),
    ("box = 12 , pack=0.5;", (("box", Decimal(12)), ("pack", Decimal("0.5")))),
    ("", ()),
])
def test_as_units(value, expected):
    assert as_units(value) == expected


@pytest.mark.parametrize("value", ["箱=abc", "箱", "=24", "箱=0", "箱=-1", "箱=24; 箱=12", "箱:24", 24.0])
def test_as_units_refuses_what_does_not_read_like_box_24(value):
    assert code_of(as_units, value) == "bad-units"
