"""The month's vouchers as a Chinese GL imports them (outbox/monthend/YYYY-MM-凭证.xlsx and the
CSV), the opening balances and the 收发存汇总表 — a worked month through real forms, closed
with the real command, the workbooks read back."""
from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
import yaml

from conftest import drop_master, jxc, make_form, run_files
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger.db import open_ledger
from test_closing import sheet

pytestmark = pytest.mark.clock
TODAY = date(2026, 11, 25)
HEADERS = ["日期", "会计期间", "凭证字", "凭证号", "摘要", "科目代码", "科目名称", "借方金额", "贷方金额",
           "供应商", "客户", "仓库", "存货", "制单人"]


def worked_month(settings, engine) -> None:
    """October, moving average, A001 at WH1 (and B002 at WH2, opening only):
    10-01 QC-1 opening  WH1 A001 100 @ 20.00 = 2,000.00; WH2 B002 50 @ 3.00 = 150.00 — 期初, no voucher
    10-03 CG-1 receipt  S01 100 @ 22.00 = 2,200.00          200 / 4,200.00 (21.00)
    10-10 XS-1 delivery C01 40 × 21 = 840.00                160 / 3,360.00
    10-12 QT-1 adjustment 样品 −10 × 21 = 210.00             150 / 3,150.00
    10-13 QT-2 adjustment 办公领用 −5 × 21 = 105.00           145 / 3,045.00
    10-14 QT-3 adjustment 报损 −2 × 21 = 42.00                143 / 3,003.00
    10-20 PD-1 count 142: −1 (0.7 % and 21.00, within tolerance)  142 / 2,982.00
    10-25 PD-2 count 132: −10 (7 %: held), approved "责任人赔偿"   132 / 2,772.00
    """
    drop_master(settings.inbox)
    inbox = settings.inbox
    make_form(inbox / "0.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 1)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 100, "unit_cost": 20},
               {"warehouse": "WH2", "sku": "B002", "qty": 50, "unit_cost": 3}])
    make_form(inbox / "1.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": date(2026, 10, 3), "warehouse": "WH1",
                                             "supplier": "S01"}, [{"sku": "A001", "qty": 100, "unit_cost": 22}])
    make_form(inbox / "2.xlsx", "delivery", {"doc_no": "XS-1", "doc_date": date(2026, 10, 10), "warehouse": "WH1",
                                              "customer": "C01"}, [{"sku": "A001", "qty": 40, "unit_price": 30}])
    for n, (day, reason, qty) in enumerate(((12, "样品", -10), (13, "办公领用", -5), (14, "报损", -2)), start=1):
        make_form(inbox / f"qt{n}.xlsx", "adjustment", {"doc_no": f"QT-{n}", "doc_date": date(2026, 10, day),
                                                         "warehouse": "WH1", "reason": reason},
                  [{"sku": "A001", "qty": qty}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}
    for n, (day, counted) in enumerate(((20, 142), (25, 132)), start=1):
        make_form(inbox / f"pd{n}.xlsx", "count", {"doc_no": f"PD-{n}", "doc_date": date(2026, 10, day),
                                                    "warehouse": "WH1"}, [{"sku": "A001", "counted_qty": counted}])
        assert run_files(settings, engine)[f"pd{n}.xlsx"].status == "posted"
    wb = openpyxl.load_workbook(settings.outbox / "variance" / "PD-2.xlsx")
    ws = wb.worksheets[0]
    approve = next(c.column for c in ws[7] if c.value == "批准 approve")
    ws.cell(8, approve, "Y")
    ws.cell(8, approve + 1, "责任人赔偿")
    wb.save(inbox / "PD-2 审批.xlsx")
    assert run_files(settings, engine)["PD-2 审批.xlsx"].status == "posted"


def workspace_with(tmp_path, finance: dict | None = None) -> tuple[Settings, object]:
    jxc("init", "ws", cwd=tmp_path)
    root = tmp_path / "ws"
    if finance is not None:
        config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
        config["finance"].update(finance)
        (root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    settings = Settings(Config.model_validate(yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))),
                        root)
    return settings, open_ledger(settings.ledger_url)


def voucher_rows(path) -> list[dict]:
    rows = list(openpyxl.load_workbook(path, read_only=True)["凭证"].iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    return [dict(zip(HEADERS, row)) for row in rows[1:]]


def booked(rows: list[dict]) -> dict[tuple[str, str], Decimal]:
    """(凭证号, 科目代码) → debit − credit, to the cent."""
    found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        found[(r["凭证号"], r["科目代码"])] += Decimal(str(r["借方金额"])) - Decimal(str(r["贷方金额"]))
    return {k: v.quantize(Decimal("0.01")) for k, v in found.items()}


def test_the_voucher_workbook_of_a_worked_month(tmp_path):
    """企业会计准则 (the default). Vouchers numbered 1… in the order purchases, cost of sales,
    other stock out, count losses, their approval:
    1 采购入库      Dr 1405 2,200.00 / Cr 2202 2,200.00 (供应商 S01)
    2 结转销售成本  Dr 6401 840.00 / Cr 1405 840.00
    3 其他出库      Dr 6601 210.00 (样品), 6602 105.00 (领用), 1901 42.00 (报损) / Cr 1405 357.00
    4 盘亏          Dr 1901 231.00 (21 + 210) / Cr 1405 231.00
    5 盘亏批准转销  Dr 6602 21.00 (no reason: 管理费用), 1221 210.00 (赔偿) / Cr 1901 231.00
    then the VAT (reports/vat.py), A001 at the default 13%:
    6 销售收入      Dr 1122 40 × 30 × 1.13 = 1,356.00 (客户 C01) / Cr 6001 1,200.00, 22210105 156.00
    7 进项税额      Dr 22210101 2,200 × 13% = 286.00 / Cr 2202 286.00 (S01): the 专票 is deductible
    8 视同销售      样品 given away, A001 has no 销售单价: 210 × 1.1 × 13% = 30.03,
                    Dr 6601 30.03 / Cr 22210105 30.03
    Debits 2,200 + 840 + 357 + 231 + 231 + 1,356 + 286 + 30.03 = 5,531.03 = credits; 1405 net
    2,200 − 840 − 357 − 231 = 772.00 = closing 2,772.00 − opening 2,000.00. The opening is no voucher."""
    settings, engine = workspace_with(tmp_path)
    worked_month(settings, engine)
    result = jxc("close", "2026-10", "--yes", "--force", "--reason", "测试", cwd=settings.root)
    book = settings.outbox / "monthend" / "2026-10-凭证.xlsx"
    assert str(book.name) in result.stdout
    rows = voucher_rows(book)
    assert booked(rows) == {
        ("1", "1405"): Decimal("2200.00"), ("1", "2202"): Decimal("-2200.00"),
        ("2", "6401"): Decimal("840.00"), ("2", "1405"): Decimal("-840.00"),
        ("3", "6601"): Decimal("210.00"), ("3", "6602"): Decimal("105.00"), ("3", "1901"): Decimal("42.00"),
        ("3", "1405"): Decimal("-357.00"),
        ("4", "1901"): Decimal("231.00"), ("4", "1405"): Decimal("-231.00"),
        ("5", "6602"): Decimal("21.00"), ("5", "1221"): Decimal("210.00"), ("5", "1901"): Decimal("-231.00"),
        ("6", "1122"): Decimal("1356.00"), ("6", "6001"): Decimal("-1200.00"), ("6", "22210105"): Decimal("-156.00"),
        ("7", "22210101"): Decimal("286.00"), ("7", "2202"): Decimal("-286.00"),
        ("8", "6601"): Decimal("30.03"), ("8", "22210105"): Decimal("-30.03")}
    by_voucher: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        by_voucher[r["凭证号"]] += Decimal(str(r["借方金额"])) - Decimal(str(r["贷方金额"]))
    assert set(by_voucher.values()) == {0}
    assert sum(Decimal(str(r["借方金额"])) for r in rows) == Decimal("5531.03")
    first = rows[0]
    assert (first["日期"].date(), first["会计期间"], first["凭证字"], first["摘要"], first["科目名称"], first["制单人"]) == (
        date(2026, 10, 31), 10, "记", "采购入库", "库存商品", "jxc")
    assert [(r["科目代码"], r["供应商"]) for r in rows if r["凭证号"] == "1"] == [("1405", None), ("2202", "S01")]

    cells = openpyxl.load_workbook(book)["凭证"]
    for row in cells.iter_rows(min_row=2):
        assert row[3].data_type == "s" and row[5].data_type == "s"  # 凭证号, 科目代码: text, never numbers or dates

    with (settings.outbox / "monthend" / "2026-10-vouchers.csv").open(encoding="utf-8-sig") as f:
        csv_rows = list(csv.DictReader(f))
    assert list(csv_rows[0]) == ["date", "period", "word", "voucher_no", "summary", "account_code", "account_name",
                                 "debit", "credit", "supplier", "customer", "warehouse", "sku", "prepared_by"]
    assert [(r["voucher_no"], r["account_code"], r["debit"], r["credit"]) for r in csv_rows] == [
        (r["凭证号"], r["科目代码"], f"{r['借方金额']:.2f}", f"{r['贷方金额']:.2f}") for r in rows]
    pack = settings.outbox / "monthend" / "2026-10.xlsx"
    assert [r["voucher_no"] for r in sheet(pack, "vouchers")] == [r["凭证号"] for r in rows]
    assert all(c["ok"] == "Y" for c in sheet(pack, "checks"))


def test_the_opening_is_the_months_opening_and_the_stock_summary_reads_as_the_erps_print_it(tmp_path):
    """The same month. Opening stock dated 10-01 is 期初, not 其他入: WH1 A001 100 / 2,000.00,
    WH2 B002 50 / 150.00; the GL's 期初余额 is 1405: 2,000.00 + 150.00 = 2,150.00.
    收发存 A001: 期初 100 @ 20.0000 = 2,000.00; 收入 100 @ 22.0000 = 2,200.00; 发出 40 + 10 + 5 + 2
    + 1 + 10 = 68 @ 21.0000 = 1,428.00; 期末 132 @ 21.0000 = 2,772.00. B002: 期初 = 期末 50 @ 3 = 150.00.
    合计: 期初 150 / 2,150.00, 收入 100 / 2,200.00, 发出 68 / 1,428.00, 期末 182 / 2,922.00."""
    settings, engine = workspace_with(tmp_path)
    worked_month(settings, engine)
    jxc("close", "2026-10", "--yes", "--force", "--reason", "测试", cwd=settings.root)
    pack = settings.outbox / "monthend" / "2026-10.xlsx"
    summary = {r["warehouse"]: r for r in sheet(pack, "summary")}
    assert (summary["WH1"]["opening_qty"], summary["WH1"]["opening_value"], summary["WH1"]["in_other_qty"]) == (
        100, 2000, 0)
    assert [(r["account_code"], r["warehouse"], r["sku"], r["qty"], r["amount"]) for r in sheet(pack, "opening_balances")] == [
        ("1405", "WH1", "A001", 100, 2000), ("1405", "WH2", "B002", 50, 150), ("1405", None, "合计 total", 150, 2150)]

    names = openpyxl.load_workbook(pack, read_only=True).sheetnames
    assert names[1:3] == ["收发存汇总 stock summary", "收发存按仓库 by warehouse"]
    keys = ("opening", "received", "issued", "closing")

    def figures(r):
        return tuple((r[f"{k}_qty"], r[f"{k}_price"], r[f"{k}_value"]) for k in keys)

    by_item = {r["sku"]: r for r in sheet(pack, "收发存汇总 stock summary")}
    assert list(by_item) == ["A001", "B002", "合计 total"]
    assert (by_item["A001"]["spec"], by_item["A001"]["unit"]) == (None, "包")
    assert figures(by_item["A001"]) == ((100, 20, 2000), (100, 22, 2200), (68, 21, 1428), (132, 21, 2772))
    assert figures(by_item["B002"]) == ((50, 3, 150), (0, None, 0), (0, None, 0), (50, 3, 150))
    assert figures(by_item["合计 total"]) == ((150, None, 2150), (100, None, 2200), (68, None, 1428),
                                              (182, None, 2922))
    by_warehouse = [(r["warehouse"], r["sku"], r["closing_value"]) for r in sheet(pack, "收发存按仓库 by warehouse")]
    assert by_warehouse == [("WH1", "A001", 2772), ("WH1", "小计 subtotal", 2772), ("WH2", "B002", 150),
                            ("WH2", "小计 subtotal", 150), (None, "合计 total", 2922)]


def test_the_small_business_chart_and_an_account_named_in_the_config(tmp_path):
    """小企业会计准则: 主营业务成本 5401, 管理费用 5602, 销售费用 5601; an approved count loss with
    no reason goes to 营业外支出 5711 (存货盘亏净损失), not 管理费用. The config names 销售费用
    560101 itself: a named account wins over the chart. Same worked month:
    2 结转销售成本 Dr 5401 840.00; 3 其他出库 Dr 560101 210.00, 5602 105.00, 1901 42.00;
    5 盘亏批准转销 Dr 5711 21.00, 1221 210.00 / Cr 1901 231.00."""
    settings, engine = workspace_with(tmp_path, {"chart": "small_business", "accounts": {"selling_expenses": "560101"},
                                                 "account_names": {"560101": "销售费用-样品"}})
    worked_month(settings, engine)
    jxc("close", "2026-10", "--yes", "--force", "--reason", "测试", cwd=settings.root)
    rows = voucher_rows(settings.outbox / "monthend" / "2026-10-凭证.xlsx")
    found = booked(rows)
    assert found[("2", "5401")] == Decimal("840.00")
    assert (found[("3", "560101")], found[("3", "5602")], found[("3", "1901")]) == (
        Decimal("210.00"), Decimal("105.00"), Decimal("42.00"))
    assert (found[("5", "5711")], found[("5", "1221")], found[("5", "1901")]) == (
        Decimal("21.00"), Decimal("210.00"), Decimal("-231.00"))
    assert {(r["科目代码"], r["科目名称"]) for r in rows} >= {("5401", "主营业务成本"), ("560101", "销售费用-样品"),
                                                      ("5711", "营业外支出"), ("5602", "管理费用")}


def test_a_cost_correction_and_vat_transferred_out_are_vouchers_and_the_payable_is_the_invoice(tmp_path):
    """October, moving average, negative stock allowed, A001 at 13%:
    10-01 QC-1 opening  10 @ 100.00 = 1,000.00 (期初, no voucher)
    10-05 XS-1 delivery C01 12 @ 200.00: the 10 (1,000.00) and 2 short at 100.00 → −1,200.00;  −2 / −200.00
    10-10 CG-1 receipt  S01 5 @ 含税 135.60: 价税合计 678.00, 金额 600.00, 税额 78.00 (120.00 each).
          It settles the 2 short (booked 200.00, now 240.00: correction 40.00), 3 @ 120 stay:
          value 560.00;                                                               3 / 360.00
    10-15 QT-1 adjustment "管理不善霉烂" −1 @ 120.00 = −120.00;                          2 / 240.00
    1 采购入库        Dr 1405 560.00 / Cr 2202 560.00 (S01)
    2 结转销售成本    Dr 6401 1,200.00 / Cr 1405 1,200.00
    3 其他出库        Dr 1901 120.00 / Cr 1405 120.00
    4 成本调整-采购   Dr 6401 40.00 / Cr 2202 40.00 (S01)
    5 销售收入        Dr 1122 12 × 200 × 1.13 = 2,712.00 / Cr 6001 2,400.00, 22210105 312.00
    6 进项税额        Dr 22210101 78.00 / Cr 2202 78.00 (S01)
    7 进项税额转出    Dr 1901 120 × 13% = 15.60 / Cr 22210107 15.60 (非正常损失)
    S01 is owed 560 + 40 + 78 = 678.00, the invoice's 价税合计; 1405 nets 560 − 1,200 − 120 = −760.00
    = closing 240.00 − opening 1,000.00."""
    settings, engine = workspace_with(tmp_path)
    config = yaml.safe_load((settings.root / "config.yaml").read_text(encoding="utf-8"))
    config["stock"]["allow_negative_stock"] = True
    (settings.root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    settings = Settings(Config.model_validate(config), settings.root)
    drop_master(settings.inbox)
    inbox = settings.inbox
    make_form(inbox / "0.xlsx", "opening", {"doc_no": "QC-1", "doc_date": date(2026, 10, 1)},
              [{"warehouse": "WH1", "sku": "A001", "qty": 10, "unit_cost": 100}])
    make_form(inbox / "1.xlsx", "delivery", {"doc_no": "XS-1", "doc_date": date(2026, 10, 5), "warehouse": "WH1",
                                              "customer": "C01"}, [{"sku": "A001", "qty": 12, "unit_price": 200}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}
    make_form(inbox / "2.xlsx", "receipt", {"doc_no": "CG-1", "doc_date": date(2026, 10, 10), "warehouse": "WH1",
                                             "supplier": "S01"}, [{"sku": "A001", "qty": 5, "price_incl": "135.60"}])
    make_form(inbox / "3.xlsx", "adjustment", {"doc_no": "QT-1", "doc_date": date(2026, 10, 15), "warehouse": "WH1",
                                                "reason": "管理不善霉烂"}, [{"sku": "A001", "qty": -1}])
    assert {o.status for o in run_files(settings, engine).values()} == {"posted"}
    engine.dispose()
    jxc("close", "2026-10", "--yes", "--force", "--reason", "测试", cwd=settings.root)
    rows = voucher_rows(settings.outbox / "monthend" / "2026-10-凭证.xlsx")
    assert booked(rows) == {
        ("1", "1405"): Decimal("560.00"), ("1", "2202"): Decimal("-560.00"),
        ("2", "6401"): Decimal("1200.00"), ("2", "1405"): Decimal("-1200.00"),
        ("3", "1901"): Decimal("120.00"), ("3", "1405"): Decimal("-120.00"),
        ("4", "6401"): Decimal("40.00"), ("4", "2202"): Decimal("-40.00"),
        ("5", "1122"): Decimal("2712.00"), ("5", "6001"): Decimal("-2400.00"), ("5", "22210105"): Decimal("-312.00"),
        ("6", "22210101"): Decimal("78.00"), ("6", "2202"): Decimal("-78.00"),
        ("7", "1901"): Decimal("15.60"), ("7", "22210107"): Decimal("-15.60")}
    assert [r["摘要"] for r in rows if r["凭证号"] == "4"] == ["成本调整-采购"] * 2
    assert {r["供应商"] for r in rows if r["科目代码"] == "2202"} == {"S01"}
    pack = settings.outbox / "monthend" / "2026-10.xlsx"
    assert all(c["ok"] == "Y" for c in sheet(pack, "checks")), [c for c in sheet(pack, "checks") if c["ok"] != "Y"]
