"""records.evolver: the generated copy-with-changes gives the very record
dataclasses.replace gives, and refuses what it cannot set."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from jxc_sheets.records import Document, Line, evolver


def test_evolver_makes_the_record_replace_makes():
    """A line of 5 箱 resolved to 60 个 (factor 12), then priced: every other field kept."""
    line = Line(3, "A001", Decimal(5), "箱", Decimal(5), Decimal(1), Decimal("2.50"), None, "B1", "备注", None,
                {"sku": "明细!B4"}, serials=("S1",), rejected_qty=Decimal(1), reject_reason="破损")
    resolved = evolver(Line, "unit", "factor", "qty")(line, "个", Decimal(12), Decimal(60))
    assert resolved == replace(line, unit="个", factor=Decimal(12), qty=Decimal(60))
    assert evolver(Line)(line) == line and evolver(Line)(line) is not line
    assert evolver(Line, "unit", "factor", "qty") is evolver(Line, "unit", "factor", "qty")  # made once


def test_evolver_refuses_what_it_cannot_set():
    with pytest.raises(TypeError):
        evolver(Line, "no_such_field")
    with pytest.raises(TypeError):
        evolver(Document, "doc_no")  # no slots
