"""The demo inbox: what a small Chinese trading company would drop in its first
weeks — master data, opening stock, a month and a half of filled forms, and two
files with mistakes that the validator must catch.

The money side rides along: funds accounts, customers' payment terms, a partial
receipt, a payment to a supplier, and a receipt larger than what the customer owes
(an advance, 预收). CUS01 pays in 15 days and has not paid last month's delivery:
overdue; it sends last month's statement back (the 对账单 form the outbox writes,
its 确认 column filled) disputing that delivery.

Everything is planned first (`plan_demo`), then written with the forms module.
Quantities are chosen against a running stock count so that every valid
document is covered by stock at its date; the random choices are seeded, so the
same `today` gives the same demo.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Mapping

from .kinds import KINDS
from .sheets.forms import write_form

CENT = Decimal("0.01")
DEFAULT_RATE = Decimal("0.13")  # config.yaml's tax.default_rate: the demo's items carry no rate of their own

WAREHOUSES = (
    # code, name, site, remark
    ("WH-SH1", "上海总仓", "上海", "浦东新区川沙路 1288 号"),
    ("WH-SH2", "上海门店仓", "上海", "徐汇区漕溪北路门店后仓"),
    ("WH-SZ", "苏州仓", "苏州", "苏州工业园区星龙街 66 号"),
)

PAYMENT_DAYS = {"CUS01": 15, "CUS02": 45, "CUS03": 60, "CUS-ONLINE": 15}
"""Customers' payment terms (账期天数); the others pay in 30 days, suppliers in 30."""
OVERDUE_CUSTOMER, ADVANCE_CUSTOMER = "CUS01", "CUS03"
DISPUTE_REASON = "数量与签收单不符, 实收少 2 件 / quantity differs from the signed delivery note: 2 short"

FUNDS_ACCOUNTS = (
    # code, name, type, bank account, opening balance
    ("BANK-ICBC", "工商银行基本户", "银行", "1001 2345 6789 0123 456", "200000.00"),
    ("CASH", "库存现金", "现金", "", "5000.00"),
)

SUPPLIERS = (
    # code, name, contact, phone, address
    ("SUP01", "上海宏文文具有限公司", "周建国", "021-5867 3321", "上海市闵行区莘松路 380 号"),
    ("SUP02", "杭州清泉饮品有限公司", "沈丽华", "0571-8692 1150", "杭州市余杭区良渚街道 88 号"),
    ("SUP03", "苏州洁美日化有限公司", "顾明", "0512-6283 4477", "苏州市吴中区木渎镇金枫路 17 号"),
    ("SUP04", "深圳联讯电子有限公司", "黄志强", "0755-2698 5502", "深圳市龙岗区坂田街道雪岗路 210 号"),
    ("SUP05", "昆山永固包装材料有限公司", "陆晓东", "0512-5778 2093", "昆山市开发区前进东路 55 号"),
    ("SUP06", "上海华纸纸业有限公司", "钱蓉", "021-6435 0918", "上海市宝山区长江西路 501 号"),
    ("SUP07", "上海迅达国际货运代理有限公司", "范文斌", "021-5046 7712", "上海市浦东新区外高桥保税区华京路 8 号"),
)

CUSTOMERS = (
    ("CUS01", "上海乐家便利店(浦东店)", "刘洋", "138 1726 4410", "上海市浦东新区张杨路 1580 号"),
    ("CUS02", "苏州星河科技有限公司", "吴婷", "0512-6767 3210", "苏州工业园区星湖街 328 号"),
    ("CUS03", "上海明德外国语学校", "孙老师", "021-6412 7788", "上海市徐汇区天钥桥路 100 号"),
    ("CUS04", "杭州悦享办公服务有限公司", "郑凯", "0571-8811 2046", "杭州市西湖区文三路 259 号"),
    ("CUS05", "上海新天地联合办公", "何静", "021-6326 9901", "上海市黄浦区马当路 222 号"),
    ("CUS06", "苏州园区邻里超市", "马超", "139 1551 0823", "苏州工业园区东沙湖路 12 号"),
    ("CUS07", "上海瑞祥餐饮管理有限公司", "林晓", "021-5108 6630", "上海市长宁区仙霞路 88 号"),
    ("CUS-ONLINE", "天猫旗舰店 网店散客", "电商部", "400-820 6688", "", ),
)


@dataclass(frozen=True)
class DemoItem:
    sku: str
    name: str
    spec: str
    unit: str
    alt_units: str
    category: str
    std_cost: str
    sale_price: str
    supplier: str
    reorder_qty: int  # base units; also sets the scale of the opening stock
    active: bool = True
    shelf_life_days: int = 0  # batch- and expiry-tracked when > 0: it comes in by its own receipt, by batch

    @property
    def factors(self) -> dict[str, Decimal]:
        units = {self.unit: Decimal(1)}
        for part in filter(None, (p.strip() for p in self.alt_units.split(";"))):
            name, factor = part.split("=")
            units[name.strip()] = Decimal(factor.strip())
        return units

    @property
    def by_weight(self) -> bool:
        return self.unit == "kg"


def _items(category: str, supplier: str, rows: str) -> tuple[DemoItem, ...]:
    made = []
    for row in rows.strip().splitlines():
        sku, name, spec, unit, alt, cost, price, reorder = (part.strip() for part in row.split("|"))
        made.append(DemoItem(sku, name, spec, unit, alt, category, cost, price, supplier, int(reorder)))
    return tuple(made)


ITEMS: tuple[DemoItem, ...] = (
    *_items("办公用品", "SUP06", """
        OFF-001 | A4 复印纸 | 70g 500张/包 | 包 | 箱=8 | 18.50 | 25.00 | 200
        OFF-002 | A3 复印纸 | 80g 500张/包 | 包 | 箱=5 | 39.00 | 52.00 | 50
    """),
    *_items("办公用品", "SUP01", """
        OFF-003 | 中性笔 黑色 | 0.5mm 子弹头 | 支 | 盒=12; 箱=240 | 1.10 | 2.50 | 480
        OFF-004 | 笔记本 | A5 80页 胶装 | 本 | 箱=50 | 3.60 | 6.50 | 200
        OFF-005 | 订书机 | 12号 可订 20页 | 个 | 箱=24 | 12.80 | 22.00 | 48
        OFF-006 | 订书钉 | 24/6 1000枚/盒 | 盒 | 箱=100 | 1.20 | 2.50 | 200
        OFF-007 | 文件夹 | A4 双强力夹 | 个 | 箱=60 | 4.50 | 8.00 | 120
        OFF-008 | 便利贴 | 76×76mm 100张 | 本 | 包=12 | 1.80 | 3.50 | 240
        OFF-009 | 白板笔 黑色 | 可擦 | 支 | 盒=10 | 2.20 | 4.00 | 200
        OFF-010 | 长尾夹 | 32mm 24只/盒 | 盒 | 箱=50 | 5.60 | 9.90 | 100
    """),
    DemoItem("OFF-011", "传真纸", "216mm×30m", "卷", "箱=24", "办公用品", "6.50", "10.00", "SUP06", 0, active=False),
    *_items("饮料", "SUP02", """
        BEV-001 | 矿泉水 | 550ml | 瓶 | 箱=24 | 0.95 | 2.00 | 960
        BEV-002 | 矿泉水 大瓶 | 1.5L | 瓶 | 箱=12 | 2.10 | 4.00 | 240
        BEV-003 | 可乐 | 330ml 罐装 | 罐 | 箱=24; 包=6 | 1.75 | 3.00 | 480
        BEV-004 | 橙汁 | 1L 纸盒装 | 盒 | 箱=12 | 6.20 | 9.90 | 120
        BEV-005 | 绿茶饮料 | 500ml | 瓶 | 箱=15 | 2.05 | 3.50 | 300
        BEV-006 | 速溶咖啡 | 20g×30条 | 盒 | 箱=24 | 28.00 | 39.00 | 48
        BEV-007 | 袋泡红茶 | 2g×100袋 | 盒 | 箱=40 | 22.50 | 32.00 | 40
        BEV-008 | 苏打水 | 350ml | 瓶 | 箱=24 | 2.40 | 4.50 | 240
        BEV-009 | 功能饮料 | 250ml 罐装 | 罐 | 箱=24; 包=6 | 3.10 | 6.00 | 240
        BEV-010 | 豆奶 | 250ml×24盒 | 箱 |  | 38.00 | 52.00 | 30
        BEV-011 | 咖啡豆 | 意式拼配 | kg | 包=0.5 | 86.00 | 128.00 | 20
    """),
    *_items("清洁用品", "SUP03", """
        CLN-001 | 洗洁精 | 1.5kg | 瓶 | 箱=12 | 9.80 | 15.00 | 120
        CLN-002 | 洗手液 | 500ml 按压瓶 | 瓶 | 箱=20 | 8.50 | 14.00 | 100
        CLN-003 | 抽纸 | 3层 130抽 | 包 | 箱=24 | 2.30 | 4.00 | 480
        CLN-004 | 卷纸 | 4层 140g | 卷 | 包=10; 箱=60 | 1.60 | 3.00 | 600
        CLN-005 | 垃圾袋 | 45×50cm 30只/卷 | 卷 | 箱=50 | 1.90 | 3.50 | 300
        CLN-006 | 消毒液 | 84型 1L | 瓶 | 箱=12 | 5.40 | 9.00 | 96
        CLN-007 | 平板拖把 | 免手洗 | 个 | 箱=10 | 32.00 | 59.00 | 20
        CLN-008 | 抹布 | 超细纤维 10片/包 | 包 | 箱=40 | 7.50 | 12.90 | 80
        CLN-009 | 玻璃清洁剂 | 500ml | 瓶 | 箱=24 | 6.80 | 11.50 | 72
        CLN-010 | 一次性手套 | PE 100只/包 | 包 | 箱=100 | 2.60 | 5.00 | 200
        CLN-011 | 洗衣粉 | 散装 | kg |  | 6.40 | 10.00 | 100
    """),
    *_items("电子配件", "SUP04", """
        ELC-001 | USB-C 数据线 | 1m 3A | 条 | 箱=100 | 6.50 | 15.00 | 200
        ELC-002 | USB-C 充电器 | 20W | 个 | 箱=50 | 24.00 | 45.00 | 100
        ELC-003 | 无线鼠标 | 2.4G 静音 | 个 | 箱=40 | 28.50 | 55.00 | 80
        ELC-004 | 有线键盘 | USB 104键 | 个 | 箱=20 | 35.00 | 69.00 | 40
        ELC-005 | 碱性电池 | 5号 AA | 粒 | 包=4; 箱=240 | 0.85 | 2.00 | 960
        ELC-006 | 移动电源 | 10000mAh | 个 | 箱=30 | 52.00 | 99.00 | 60
        ELC-007 | HDMI 线 | 2m 4K | 条 | 箱=100 | 9.80 | 25.00 | 100
        ELC-008 | U盘 | 64GB USB3.0 | 个 | 盒=10 | 22.00 | 45.00 | 100
        ELC-009 | 蓝牙耳机 | 入耳式 | 个 | 箱=50 | 45.00 | 89.00 | 50
        ELC-010 | 插线板 | 5位 1.8m | 个 | 箱=20 | 26.00 | 49.00 | 40
        ELC-011 | 网线 | 超五类 305m | 箱 |  | 320.00 | 450.00 | 5
    """),
    *_items("包装材料", "SUP05", """
        PKG-001 | 纸箱 小号 | 三层 30×20×15cm | 个 | 包=50 | 1.20 | 2.00 | 1000
        PKG-002 | 纸箱 大号 | 五层 60×40×40cm | 个 | 包=20 | 4.80 | 7.50 | 300
        PKG-003 | 封箱胶带 | 48mm×100m 透明 | 卷 | 箱=36 | 3.20 | 5.50 | 360
        PKG-004 | 气泡膜 | 50cm×50m | 卷 |  | 28.00 | 42.00 | 40
        PKG-005 | 缠绕膜 | 50cm 3kg/卷 | 卷 | 箱=6 | 36.00 | 52.00 | 36
        PKG-006 | 打包带 | PP 手工用 | kg |  | 9.50 | 14.00 | 100
        PKG-007 | 快递袋 | 28×42cm 100只/包 | 包 | 箱=20 | 12.00 | 19.90 | 100
        PKG-008 | 珍珠棉 | 1cm 厚 1m×50m | 卷 |  | 65.00 | 95.00 | 10
        PKG-009 | 标签纸 | 100×100mm 500张/卷 | 卷 | 箱=40 | 8.80 | 14.00 | 160
        PKG-010 | 填充纸 | 牛皮纸 | kg |  | 7.20 | 11.00 | 100
        PKG-011 | 自封袋 | 12号 100只/包 | 包 | 箱=50 | 4.50 | 7.90 | 200
    """),
    DemoItem("FOD-001", "鲜牛奶", "950ml 冷藏", "盒", "箱=12", "食品", "8.60", "13.50", "SUP02", 120, shelf_life_days=60),
)

GIFT_BOX = DemoItem("GFT-001", "茶歇礼盒", "速溶咖啡+红茶+橙汁2盒", "盒", "", "礼品", "70.00", "118.00", "SUP02", 0)
"""Made in-house by 组装单 from its BOM (GIFT_BOM), never bought: outside ITEMS' random plan."""
GIFT_BOM = (("BEV-006", 1), ("BEV-007", 1), ("BEV-004", 2))
WEIGHTS = {"ELC-003": "0.1", "ELC-009": "0.05"}  # kg per unit: the import's freight is spread by weight

ITEMS_BY_SKU = {item.sku: item for item in (*ITEMS, GIFT_BOX)}
LEAD_TIMES = {"SUP01": 3, "SUP02": 5, "SUP03": 4, "SUP04": 10, "SUP05": 3, "SUP06": 3}
CLERKS = ("王芳", "李强", "张伟", "陈静")
# sales: customers' grades and salespeople; grade A buys at 95 % of the list, CUS04 has its own price of OFF-001
GRADES = {"CUS01": "A", "CUS02": "A", "CUS04": "A", "CUS06": "B"}
SALESPEOPLE = {"CUS01": "赵敏", "CUS02": "钱进", "CUS03": "赵敏", "CUS04": "钱进", "CUS05": "赵敏", "CUS06": "钱进"}
LIST_SKUS = ("OFF-001", "OFF-002", "OFF-003", "BEV-001", "BEV-003", "CLN-001")
PRICE_LIST_SALE = ("CUS02", "WH-SH1")  # the demo's sale priced from the list: its lines name no price

SHORT_SKU, SHORT_WAREHOUSE, SHORT_OPENING = "BEV-001", "WH-SH2", Decimal(100)
"""The mistake of the second bad file: far more than this opening stock asked of it."""

PREFIXES = {"opening": "QC", "receipt": "CG", "delivery": "XS", "purchase_return": "CT",
            "sales_return": "XT", "transfer": "DB", "adjustment": "QT", "collection": "SK", "payment": "FK",
            "purchase_order": "PO", "sales_order": "SO", "sales_plan": "JH", "count": "PD", "assembly": "ZZ",
            "landed_cost": "FY", "repair": "WX"}


@dataclass(frozen=True)
class PlannedFile:
    name: str
    kind: str
    header: Mapping[str, Any] = field(default_factory=dict)
    lines: tuple[Mapping[str, Any], ...] = ()
    batch: bool = False
    valid: bool = True


def write_demo_inbox(inbox: Path, today: date) -> list[Path]:
    """Write the demo drop into `inbox`; returns the files written, in the order a person would drop them."""
    return [write_form(inbox / planned.name, KINDS[planned.kind], header=planned.header,
                       lines=planned.lines, batch=planned.batch)
            for planned in plan_demo(today)]


def mistake_files(today: date) -> tuple[str, ...]:
    """The names of the demo files that must be rejected."""
    return tuple(planned.name for planned in plan_demo(today) if not planned.valid)


def plan_demo(today: date) -> list[PlannedFile]:
    return _Planner(today).plan()


# --- the running stock -------------------------------------------------------

class _Stock:
    """Movements planned so far, per sku × warehouse. What a document may take on
    a day counts the stock that came in before that day and everything that went
    out up to it, so the order files of one day are posted in never matters."""

    def __init__(self):
        self.moves: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)

    def available(self, sku: str, warehouse: str, day: date) -> Decimal:
        return sum((qty for moved, qty in self.moves[sku, warehouse] if qty < 0 or moved < day), Decimal(0))

    def move(self, sku: str, warehouse: str, day: date, qty: Decimal) -> None:
        if qty < 0 and self.available(sku, warehouse, day) + qty < 0:
            raise AssertionError(f"demo plan takes {sku} in {warehouse} below zero on {day}")
        self.moves[sku, warehouse].append((day, qty))


# --- the plan ----------------------------------------------------------------

class _Planner:
    def __init__(self, today: date):
        self.today = today
        self.random = random.Random(f"jxc-demo-{today.isoformat()}")
        self.stock = _Stock()
        self.numbers: dict[tuple[str, date], int] = defaultdict(int)
        self.current_start = today.replace(day=1)
        self.previous_start = (self.current_start - timedelta(days=1)).replace(day=1)
        self.as_of = self.previous_start - timedelta(days=1)

    def plan(self) -> list[PlannedFile]:
        files = self._master_files() + [self._opening()]
        files += self._previous_month()
        files += self._current_month()
        return files

    # master data
    def _master_files(self) -> list[PlannedFile]:
        keys = ("code", "name", "contact", "phone", "address")
        accounts = tuple({"code": code, "name": name, "type": kind, "bank_account": number or None,
                          "opening_balance": Decimal(balance), "opening_date": self.as_of}
                         for code, name, kind, number, balance in FUNDS_ACCOUNTS)
        return [
            PlannedFile("00_仓库_warehouses.xlsx", "warehouses",
                        lines=tuple(dict(zip(("code", "name", "site", "remark"), w)) for w in WAREHOUSES)),
            PlannedFile("01_供应商_suppliers.xlsx", "suppliers",
                        lines=tuple({**dict(zip(keys, s)), "payment_days": 30} for s in SUPPLIERS)),
            PlannedFile("02_客户_customers.xlsx", "customers",
                        lines=tuple({**dict(zip(keys, c)), "payment_days": PAYMENT_DAYS.get(c[0], 30),
                                     "grade": GRADES.get(c[0]), "salesperson": SALESPEOPLE.get(c[0])} for c in CUSTOMERS)),
            PlannedFile("03_物料_items.xlsx", "items", lines=tuple(_item_row(item) for item in (*ITEMS, GIFT_BOX))),
            PlannedFile("04_资金账户_funds_accounts.xlsx", "funds_accounts", lines=accounts),
            PlannedFile("05_物料清单_boms.xlsx", "boms", lines=tuple(
                {"sku": GIFT_BOX.sku, "component": sku, "qty": Decimal(qty), "remark": "每盒用量"} for sku, qty in GIFT_BOM)),
            PlannedFile("06_价格表_price_list.xlsx", "price_list", lines=(
                *({"grade": "A", "sku": sku, "price": (Decimal(ITEMS_BY_SKU[sku].sale_price) * Decimal("0.95"))
                   .quantize(CENT, ROUND_HALF_UP), "valid_from": self.previous_start} for sku in LIST_SKUS),
                {"customer": "CUS04", "sku": "OFF-001", "price": (Decimal(ITEMS_BY_SKU["OFF-001"].sale_price)
                                                                   * Decimal("0.9")).quantize(CENT, ROUND_HALF_UP),
                 "remark": "年度协议价"})),
        ]

    def _opening(self) -> PlannedFile:
        shares = {"WH-SH1": (0.95, 1.0, 3.0), "WH-SH2": (0.6, 0.2, 0.6), "WH-SZ": (0.8, 0.5, 1.5)}
        lines = []
        for warehouse, (chance, low, high) in shares.items():
            for item in ITEMS:
                if not item.active or item.shelf_life_days:  # a tracked item comes in by batch (_food)
                    continue
                if (item.sku, warehouse) == (SHORT_SKU, SHORT_WAREHOUSE):
                    qty = SHORT_OPENING
                elif self.random.random() < chance:
                    qty = self._round_qty(item, item.reorder_qty * self.random.uniform(low, high), coarse=True)
                else:
                    continue
                self.stock.move(item.sku, warehouse, self.as_of, qty)
                lines.append({"warehouse": warehouse, "sku": item.sku, "qty": qty,
                              "unit_cost": Decimal(item.std_cost), "remark": "期初盘点"})
        return self._document("opening", self.as_of, {"prepared_by": "财务部", "remark": "系统上线期初库存"},
                              lines)

    # the previous month: a full month of ordinary business
    def _previous_month(self) -> list[PlannedFile]:
        day = lambda n: self.previous_start + timedelta(days=n - 1)  # noqa: E731
        delivered_to_cus01 = self._delivery(day(6), "WH-SH1", "CUS01", "OFF BEV CLN", 5)
        delivered_to_cus02 = self._delivery(day(12), "WH-SZ", "CUS02", "ELC OFF", 4)
        self.delivered_to_cus03 = self._delivery(day(20), "WH-SH1", "CUS03", "OFF CLN", 6)
        self.paper = self._receipt(day(2), "WH-SH1", "SUP06", ("OFF-001", "OFF-002"))
        return [
            self.paper,
            self._receipt(day(3), "WH-SH1", "SUP02", ("BEV-001", "BEV-003", "BEV-005", "BEV-008"), cases=True),
            delivered_to_cus01,
            # shipped two days before the month end, four days on the road: in transit at the close
            self._transfer(self.current_start - timedelta(days=2), "WH-SH1", "WH-SZ", "BEV CLN PKG", 4,
                           arrival=self.current_start + timedelta(days=2)),
            delivered_to_cus02,
            self._receipt(day(15), "WH-SZ", "SUP03", ("CLN-001", "CLN-003", "CLN-004", "CLN-011")),
            self._purchase_return(day(18), "WH-SH1", "SUP04", ("ELC-003", "ELC-006")),
            self.delivered_to_cus03,
            returned_by_cus01 := self._sales_return(day(22), "WH-SH1", "CUS01", delivered_to_cus01),
            self._loss(day(26), "WH-SH1", ("BEV-002", "CLN-001")),
            # half of CUS02's delivery paid, naming it; the rest stays open
            self._collection(day(28), "CUS02", _half(delivered_to_cus02), "BANK-ICBC", settles=delivered_to_cus02,
                             remark="部分回款"),
            self._statement_answer(OVERDUE_CUSTOMER, delivered_to_cus01, returned_by_cus01),
            *self._gift_boxes(day(8), day(9)),
            *self._import(day(10), day(12)),
            self._food(day(5), "WH-SH1"),
        ]

    # the current month up to today, then the two files with mistakes
    def _current_month(self) -> list[PlannedFile]:
        span = (self.today - self.current_start).days
        days = [self.current_start + timedelta(days=span * i // 4) for i in range(4)]
        cleaning_order = self._purchase_order(self.previous_start + timedelta(days=24), "SUP03",
                                              ("CLN-002", "CLN-005", "CLN-006"), expected=days[0])
        late_order = self._purchase_order(self.previous_start + timedelta(days=27), "SUP04",
                                          ("ELC-001", "ELC-004"), expected=self.today - timedelta(days=3))
        office_order = self._sales_order(days[1], "CUS04", "WH-SH1", ("OFF-003", "OFF-005"), SHORT_SKU)
        return [
            cleaning_order,
            late_order,
            self._receipt(days[0], "WH-SH1", "SUP05", ("PKG-001", "PKG-003", "PKG-007", "PKG-006")),
            self._receipt_against(days[0], "WH-SZ", cleaning_order, 0.6),
            self._delivery(days[1], "WH-SH1", "CUS04", "OFF ELC", 5),
            office_order,
            self._delivery_against(days[2], "WH-SH1", office_order, backorder=SHORT_SKU),
            self._delivery(days[2], "WH-SZ", "CUS06", "BEV CLN", 4),
            # CUS03 pays ahead for next term's supplies: more than it owes, the rest an advance (预收)
            self._collection(days[1], ADVANCE_CUSTOMER, _more_than(self.delivered_to_cus03), "BANK-ICBC",
                             remark="预付下学期办公用品款"),
            self._payment(days[2], "SUP06", _half(self.paper), "BANK-ICBC", remark="支付上月纸款(部分)"),
            self._online_batch(days[3], "WH-SH1"),
            self._food_delivery(days[2], "WH-SH1", "CUS07"),
            self._sales_plan(self.today, ("BEV-001", "BEV-003", "OFF-001", "CLN-001")),
            self._count(self.today, "WH-SZ"),
            self._bad_entry(self.today),
            self._too_much(self.today),
        ] + self._service(days)

    def _service(self, days: list[date]) -> list[PlannedFile]:
        """After the rest, so the other documents draw the same numbers as before: a sale
        priced from the price list, a repair using a part, and a complaint about a delivery."""
        customer, warehouse = PRICE_LIST_SALE
        skus = [sku for sku in LIST_SKUS if self.stock.available(sku, warehouse, days[3]) >= 2][:3]
        sale = self._document("delivery", days[3], {"warehouse": warehouse, "customer": customer,
                                                    "remark": "单价按价格表 / priced from the price list"},
                              [{"sku": sku, "qty": Decimal(1)} for sku in skus])
        for sku in skus:
            self.stock.move(sku, warehouse, days[3], Decimal(-1))
        part = next(item.sku for item in ITEMS if item.sku.startswith("ELC") and item.active
                    and self.stock.available(item.sku, "WH-SH1", days[2]) >= 1)
        self.stock.move(part, "WH-SH1", days[2], Decimal(-1))
        repair = self._document("repair", days[2], {
            "customer": "CUS05", "repair_item": "碎纸机 SD-9520", "serial": "SD9520-0716", "fault": "卡纸, 电机异响",
            "promised_date": days[3], "warehouse": "WH-SH1", "technician": "周师傅"}, [{"sku": part, "qty": Decimal(1)}])
        complaint = PlannedFile("06_客户反馈_feedback.xlsx", "feedback", lines=(
            {"doc_no": f"FB{days[2]:%Y%m%d}-01", "doc_date": days[2], "customer": "CUS06", "channel": "电话",
             "category": "投诉", "text": "送货晚了两天, 部分纸箱破损", "owner": "钱进"},
            {"doc_no": f"FB{days[3]:%Y%m%d}-01", "doc_date": days[3], "customer": "CUS03", "channel": "微信",
             "category": "咨询", "text": "能否开具增值税专用发票", "owner": "赵敏", "status": "已解决"}))
        return [s for s in (sale if skus else None, repair, complaint) if s is not None]

    # documents
    def _receipt(self, day: date, warehouse: str, supplier: str, skus, cases: bool = False) -> PlannedFile:
        lines = []
        for index, sku in enumerate(skus):
            item = ITEMS_BY_SKU[sku]
            cost = self._near(item.std_cost, 0.04)
            if cases and index == 0:
                case = item.factors["箱"]
                entered, unit, cost = Decimal(self.random.randint(20, 40)), "箱", (cost * case).quantize(CENT)
                qty = entered * case
            else:
                qty = entered = self._round_qty(item, item.reorder_qty * self.random.uniform(0.8, 1.5), coarse=True)
                unit = ""
            self.stock.move(sku, warehouse, day, qty)
            lines.append({"sku": sku, "qty": entered, "unit": unit or item.unit, "unit_cost": cost,
                          "batch": f"{day:%Y%m}-{index + 1:02d}"})
        return self._document("receipt", day, {"warehouse": warehouse, "supplier": supplier,
                                               "prepared_by": self._clerk(), "remark": "到货验收无误"}, lines)

    def _food(self, day: date, warehouse: str) -> PlannedFile:
        """Milk by batch (批次管理, 保质期 60 days): one batch made 50 days before it arrived, so
        expired by today (its expiry worked out from 生产日期); one expiring ten days from today
        (近效期); one good for three months."""
        item = ITEMS_BY_SKU["FOD-001"]
        batches = [(f"M{day:%Y%m%d}-A", {"production_date": day - timedelta(days=50)}, Decimal(36)),
                   (f"M{day:%Y%m%d}-B", {"expiry_date": self.today + timedelta(days=10)}, Decimal(48)),
                   (f"M{day:%Y%m%d}-C", {"expiry_date": self.today + timedelta(days=90)}, Decimal(120))]
        self.food_batches = [name for name, _dates, _qty in batches]
        lines = []
        for name, dates, qty in batches:
            self.stock.move(item.sku, warehouse, day, qty)
            lines.append({"sku": item.sku, "qty": qty, "unit": item.unit, "unit_cost": self._near(item.std_cost, 0.03),
                          "batch": name, **dates})
        return self._document("receipt", day, {"warehouse": warehouse, "supplier": item.supplier,
                                               "prepared_by": self._clerk(), "remark": "冷链到货, 按批号验收"}, lines)

    def _food_delivery(self, day: date, warehouse: str, customer: str) -> PlannedFile:
        """Milk to the restaurant, from the batch good for three months."""
        item = ITEMS_BY_SKU["FOD-001"]
        self.stock.move(item.sku, warehouse, day, Decimal(-24))
        return self._document("delivery", day, {"warehouse": warehouse, "customer": customer, "prepared_by": self._clerk()},
                              [{"sku": item.sku, "qty": Decimal(2), "unit": "箱", "unit_price": self._price(item.sku),
                                "batch": self.food_batches[2]}])

    def _delivery(self, day: date, warehouse: str, customer: str, categories: str, count: int) -> PlannedFile:
        lines = [{"sku": sku, "qty": qty, "unit": ITEMS_BY_SKU[sku].unit, "unit_price": self._price(sku)}
                 for sku, qty in self._take(day, warehouse, categories, count, (0.1, 0.35))]
        return self._document("delivery", day, {"warehouse": warehouse, "customer": customer,
                                                "prepared_by": self._clerk()}, lines)

    def _collection(self, day: date, customer: str, amount: Decimal, account: str,
                    settles: PlannedFile | None = None, remark: str = "") -> PlannedFile:
        lines = [{"settle_doc": settles.header["doc_no"]}] if settles else []
        return self._document("collection", day, {"customer": customer, "account": account, "amount": amount,
                                                  "prepared_by": "财务部", "remark": remark}, lines)

    def _payment(self, day: date, supplier: str, amount: Decimal, account: str, remark: str = "") -> PlannedFile:
        return self._document("payment", day, {"supplier": supplier, "account": account, "amount": amount,
                                               "prepared_by": "财务部", "remark": remark}, [])

    def _statement_answer(self, customer: str, delivered: PlannedFile, returned: PlannedFile) -> PlannedFile:
        """Last month's 对账单 of `customer` (its delivery, then its return) as the customer sends
        it back: the delivery disputed with a reason, the return agreed."""
        end = self.current_start - timedelta(days=1)
        month = f"{self.previous_start:%Y-%m}"
        debit, credit = _gross(delivered), _gross(returned)
        lines = (
            {"line_no": 1, "ref_date": delivered.header["doc_date"], "kind": "销售出库 delivery",
             "ref_doc": delivered.header["doc_no"], "debit": debit, "credit": Decimal(0), "balance": debit,
             "confirm": "有异议", "reason": DISPUTE_REASON},
            {"line_no": 2, "ref_date": returned.header["doc_date"], "kind": "销售退货 sales_return",
             "ref_doc": returned.header["doc_no"], "debit": Decimal(0), "credit": credit, "balance": debit - credit,
             "confirm": "Y"},
        )
        header = {"doc_no": f"DZ-{month}-customer-{customer}", "doc_date": end, "side": "customer",
                  "partner": customer, "month": month, "opening": Decimal(0), "closing": debit - credit,
                  "confirmed_by": "刘洋"}
        return PlannedFile(f"{end.isoformat()}_对账确认_{customer}_{month}.xlsx", "statement_confirmation", header,
                           lines)

    def _transfer(self, day: date, source: str, target: str, categories: str, count: int,
                  arrival: date) -> PlannedFile:
        taken = self._take(day, source, categories, count, (0.15, 0.3))
        for sku, qty in taken:
            self.stock.move(sku, target, arrival, qty)
        lines = [{"sku": sku, "qty": qty, "unit": ITEMS_BY_SKU[sku].unit, "remark": "补充苏州仓"} for sku, qty in taken]
        return self._document("transfer", day, {"from_warehouse": source, "to_warehouse": target,
                                                "arrival_date": arrival, "prepared_by": self._clerk(),
                                                "remark": "上海→苏州 月末调拨, 物流在途"}, lines)

    def _purchase_return(self, day: date, warehouse: str, supplier: str, skus) -> PlannedFile:
        lines = []
        for sku in skus:
            item = ITEMS_BY_SKU[sku]
            qty = self._portion(item, self.stock.available(sku, warehouse, day), 0.05)
            self.stock.move(sku, warehouse, day, -qty)
            lines.append({"sku": sku, "qty": qty, "unit": item.unit, "unit_cost": Decimal(item.std_cost),
                          "remark": "质量问题退回"})
        return self._document("purchase_return", day, {"warehouse": warehouse, "supplier": supplier,
                                                       "prepared_by": self._clerk(), "remark": "来料不良"}, lines)

    def _sales_return(self, day: date, warehouse: str, customer: str, delivered: PlannedFile) -> PlannedFile:
        lines = []
        for line in delivered.lines[:2]:
            item = ITEMS_BY_SKU[line["sku"]]
            qty = max(self._round_qty(item, float(line["qty"]) * 0.2), Decimal(1))
            self.stock.move(item.sku, warehouse, day, qty)
            lines.append({"sku": item.sku, "qty": qty, "unit": item.unit, "unit_price": line["unit_price"],
                          "remark": f"原销售单 {delivered.header['doc_no']}"})
        return self._document("sales_return", day, {"warehouse": warehouse, "customer": customer,
                                                    "prepared_by": self._clerk(), "remark": "包装破损 客户退回"}, lines)

    def _loss(self, day: date, warehouse: str, skus) -> PlannedFile:
        lines = []
        for sku in skus:
            item = ITEMS_BY_SKU[sku]
            qty = self._portion(item, self.stock.available(sku, warehouse, day), 0.02)
            self.stock.move(sku, warehouse, day, -qty)
            lines.append({"sku": sku, "qty": -qty, "unit": item.unit, "remark": "搬运中破损"})
        return self._document("adjustment", day, {"warehouse": warehouse, "reason": "破损",
                                                  "prepared_by": self._clerk(), "remark": "报损"}, lines)

    def _online_batch(self, day: date, warehouse: str) -> PlannedFile:
        rows = []
        for order in range(3):
            doc_no = self._doc_no("delivery", day)
            platform_order = f"TM{day:%Y%m%d}{self.random.randint(100000, 999999)}"
            for sku, qty in self._take(day, warehouse, "ELC OFF BEV", self.random.randint(1, 3), (0.01, 0.03)):
                rows.append({"doc_no": doc_no, "doc_date": day, "warehouse": warehouse, "customer": "CUS-ONLINE",
                             "prepared_by": "电商导出", "sku": sku, "qty": qty, "unit": ITEMS_BY_SKU[sku].unit,
                             "unit_price": Decimal(ITEMS_BY_SKU[sku].sale_price),
                             "remark": f"天猫订单 {platform_order}"})
        return PlannedFile(f"{day.isoformat()}_销售出库_电商导出_{day:%Y%m%d}.xlsx", "delivery",
                           lines=tuple(rows), batch=True)

    def _purchase_order(self, day: date, supplier: str, skus, expected: date) -> PlannedFile:
        lines = [{"sku": sku, "qty": Decimal(ITEMS_BY_SKU[sku].reorder_qty * 2), "unit": ITEMS_BY_SKU[sku].unit,
                  "unit_price": Decimal(ITEMS_BY_SKU[sku].std_cost)} for sku in skus]
        return self._document("purchase_order", day, {"supplier": supplier, "expected_date": expected,
                                                      "prepared_by": "采购部 " + self._clerk()}, lines)

    def _receipt_against(self, day: date, warehouse: str, order: PlannedFile, share: float) -> PlannedFile:
        """A partial receipt of `order`, its cost left empty: the order's price applies."""
        lines = []
        for line in order.lines:
            item = ITEMS_BY_SKU[line["sku"]]
            qty = self._round_qty(item, float(line["qty"]) * share)
            self.stock.move(item.sku, warehouse, day, qty)
            lines.append({"sku": item.sku, "qty": qty, "unit": item.unit, "remark": "部分到货"})
        return self._document("receipt", day, {"warehouse": warehouse, "supplier": order.header["supplier"],
                                               "ref_doc": order.header["doc_no"], "prepared_by": self._clerk(),
                                               "remark": "按采购订单收货"}, lines)

    def _sales_order(self, day: date, customer: str, warehouse: str, skus, short_sku: str) -> PlannedFile:
        """Lines the warehouse can fill, and one line beyond all stock: a backorder."""
        lines = [{"sku": sku, "qty": self._portion(ITEMS_BY_SKU[sku], self.stock.available(sku, warehouse, day), 0.2),
                  "unit": ITEMS_BY_SKU[sku].unit, "unit_price": self._price(sku)}
                 for sku in skus if self.stock.available(sku, warehouse, day) >= 2]
        lines.append({"sku": short_sku, "qty": Decimal(20000), "unit": ITEMS_BY_SKU[short_sku].unit,
                      "unit_price": self._price(short_sku), "remark": "年会用水"})
        return self._document("sales_order", day, {"customer": customer, "warehouse": warehouse,
                                                   "promised_date": day + timedelta(days=7),
                                                   "prepared_by": "销售部 " + self._clerk()}, lines)

    def _delivery_against(self, day: date, warehouse: str, order: PlannedFile, backorder: str) -> PlannedFile:
        """Delivers what stock covers of `order`, its prices left to the order; the backorder stays open."""
        lines = []
        for line in order.lines:
            qty = min(line["qty"], self.stock.available(line["sku"], warehouse, day))
            if line["sku"] != backorder and qty >= 1:
                self.stock.move(line["sku"], warehouse, day, -qty)
                lines.append({"sku": line["sku"], "qty": qty, "unit": line["unit"]})
        assert lines, "the demo's sales order must be partly deliverable"
        return self._document("delivery", day, {"warehouse": warehouse, "customer": order.header["customer"],
                                                "ref_doc": order.header["doc_no"], "prepared_by": self._clerk()}, lines)

    def _sales_plan(self, day: date, skus) -> PlannedFile:
        month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        lines = [{"sku": sku, "qty": Decimal(ITEMS_BY_SKU[sku].reorder_qty * 3), "unit": ITEMS_BY_SKU[sku].unit}
                 for sku in skus]
        return self._document("sales_plan", day, {"month": f"{month:%Y-%m}", "prepared_by": "销售部",
                                                  "remark": "下月销售计划"}, lines)

    def _count(self, day: date, warehouse: str) -> PlannedFile:
        """A partial count at the end of `day`: most lines agree with the book, one is a
        little short (posts at once), one is well short (waits for approval)."""
        after = day + timedelta(days=1)
        stocked = [item for item in ITEMS if item.active and not item.by_weight
                   and self.stock.available(item.sku, warehouse, after) >= 60]
        lines = []
        for index, item in enumerate(stocked[:6]):
            book = self.stock.available(item.sku, warehouse, after)
            counted, remark = book, ""
            if index == 1:
                counted, remark = book - 1, "包装破损 1 件"
            elif index == 3:
                counted, remark = (book * Decimal("0.8")).to_integral_value(), "疑似发错货, 待查"
            self.stock.move(item.sku, warehouse, day, counted - book) if counted < book else None
            lines.append({"sku": item.sku, "location": f"{item.sku[:3]}-{index + 1:02d}", "counted_qty": counted,
                          "unit": item.unit, "remark": remark})
        return self._document("count", day, {"warehouse": warehouse, "scope": "抽盘 partial",
                                             "counted_by": "苏州仓 " + self._clerk(), "remark": "月末抽盘"}, lines)

    def _bad_entry(self, day: date) -> PlannedFile:
        """Mistake 1: a quantity typed with its unit, and a sku nobody registered."""
        good = self._take(day, "WH-SH1", "OFF", 1, (0.05, 0.1), record=False)
        lines = [{"sku": sku, "qty": qty, "unit": ITEMS_BY_SKU[sku].unit, "unit_price": self._price(sku)}
                 for sku, qty in good]
        lines.append({"sku": "BEV-003", "qty": "12箱", "unit": "罐", "unit_price": Decimal("3.00")})
        lines.append({"sku": "X-404", "qty": Decimal(5), "unit": "个", "unit_price": Decimal("9.90")})
        return self._document("delivery", day, {"warehouse": "WH-SH1", "customer": "CUS05",
                                                "prepared_by": self._clerk(), "remark": "急单"}, lines, valid=False)

    def _too_much(self, day: date) -> PlannedFile:
        """Mistake 2: far more than the warehouse holds."""
        wanted = Decimal(5000)
        assert self.stock.available(SHORT_SKU, SHORT_WAREHOUSE, day) < wanted
        lines = [{"sku": SHORT_SKU, "qty": wanted, "unit": ITEMS_BY_SKU[SHORT_SKU].unit,
                  "unit_price": Decimal("1.60"), "remark": "活动用水"}]
        return self._document("delivery", day, {"warehouse": SHORT_WAREHOUSE, "customer": "CUS07",
                                                "prepared_by": self._clerk()}, lines, valid=False)

    def _gift_boxes(self, stocked: date, made: date) -> list[PlannedFile]:
        """The components bought in, then 40 gift boxes assembled from them by the BOM, with a fee."""
        boxes = Decimal(40)
        bought = {"BEV-006": Decimal(60), "BEV-007": Decimal(60), "BEV-004": Decimal(120)}
        lines = []
        for sku, qty in bought.items():
            self.stock.move(sku, "WH-SH1", stocked, qty)
            lines.append({"sku": sku, "qty": qty, "unit": ITEMS_BY_SKU[sku].unit,
                          "unit_cost": Decimal(ITEMS_BY_SKU[sku].std_cost)})
        receipt = self._document("receipt", stocked, {"warehouse": "WH-SH1", "supplier": "SUP02",
                                                      "prepared_by": self._clerk(), "remark": "礼盒备料"}, lines)
        for sku, per_box in GIFT_BOM:
            self.stock.move(sku, "WH-SH1", made, -boxes * per_box)
        self.stock.move(GIFT_BOX.sku, "WH-SH1", made, boxes)
        assembly = self._document("assembly", made, {"warehouse": "WH-SH1", "finished_sku": GIFT_BOX.sku,
                                                     "finished_qty": boxes, "fee": Decimal("80.00"),
                                                     "prepared_by": self._clerk(), "remark": "中秋礼盒 按物料清单组装"}, [])
        return [receipt, assembly]

    def _import(self, arrived: date, invoiced: date) -> list[PlannedFile]:
        """Imported electronics, and the forwarder's freight and customs invoice spread over them by weight."""
        bought = {"ELC-009": (Decimal(100), Decimal("45.00")), "ELC-003": (Decimal(80), Decimal("28.50"))}
        for sku, (qty, _cost) in bought.items():
            self.stock.move(sku, "WH-SH1", arrived, qty)
        receipt = self._document("receipt", arrived, {"warehouse": "WH-SH1", "supplier": "SUP04",
                                                      "prepared_by": self._clerk(), "remark": "进口到货"},
                                 [{"sku": sku, "qty": qty, "unit": ITEMS_BY_SKU[sku].unit, "unit_cost": cost}
                                  for sku, (qty, cost) in bought.items()])
        freight = self._document("landed_cost", invoiced, {
            "supplier": "SUP07", "expense_amount": Decimal("1260.00"), "expense_tax": Decimal("113.40"),
            "basis": "重量", "prepared_by": "财务部", "remark": "国际运费及报关费"},
            [{"receipt_no": receipt.header["doc_no"], "remark": "按重量分摊"}])
        return [receipt, freight]

    # helpers
    def _document(self, kind: str, day: date, header: dict, lines: list, valid: bool = True) -> PlannedFile:
        doc_no = self._doc_no(kind, day)
        return PlannedFile(f"{day.isoformat()}_{KINDS[kind].zh}_{doc_no}.xlsx", kind,
                           {"doc_no": doc_no, "doc_date": day, **header}, tuple(lines), valid=valid)

    def _doc_no(self, kind: str, day: date) -> str:
        prefix = PREFIXES[kind]
        self.numbers[prefix, day] += 1
        return f"{prefix}{day:%Y%m%d}-{self.numbers[prefix, day]:02d}"

    def _take(self, day: date, warehouse: str, categories: str, count: int, share: tuple[float, float],
              record: bool = True) -> list[tuple[str, Decimal]]:
        """Up to `count` items of the categories (by sku prefix) with stock, each
        a share of what is there; recorded as taken from the warehouse."""
        prefixes = tuple(categories.split())
        candidates = [item for item in ITEMS if item.active and item.sku.startswith(prefixes)
                      and (item.sku, warehouse) != (SHORT_SKU, SHORT_WAREHOUSE)
                      and self.stock.available(item.sku, warehouse, day) >= 2]
        taken = []
        for item in self.random.sample(candidates, min(count, len(candidates))):
            qty = self._portion(item, self.stock.available(item.sku, warehouse, day), self.random.uniform(*share))
            if record:
                self.stock.move(item.sku, warehouse, day, -qty)
            taken.append((item.sku, qty))
        return taken

    def _portion(self, item: DemoItem, available: Decimal, share: float) -> Decimal:
        """About `share` of `available`, at least one unit, never more than there is."""
        qty = max(self._round_qty(item, float(available) * share), Decimal(1))
        return min(qty, available)

    def _round_qty(self, item: DemoItem, raw: float, coarse: bool = False) -> Decimal:
        if item.by_weight:
            return Decimal(str(round(raw, 1)))
        if coarse and raw >= 50:
            return Decimal(int(raw / 10) * 10)
        return Decimal(max(int(raw), 1))

    def _near(self, amount: str, spread: float) -> Decimal:
        factor = Decimal(str(round(self.random.uniform(1 - spread, 1 + spread), 3)))
        return (Decimal(amount) * factor).quantize(CENT, ROUND_HALF_UP)

    def _price(self, sku: str) -> Decimal:
        price = Decimal(ITEMS_BY_SKU[sku].sale_price)
        return price if self.random.random() < 0.6 else (price * Decimal("0.95")).quantize(CENT, ROUND_HALF_UP)

    def _clerk(self) -> str:
        return self.random.choice(CLERKS)


def _ex_tax(document: PlannedFile) -> Decimal:
    """A delivery's (receipt's) lines at their ex-tax price: what its 价税合计 is at least."""
    return sum((Decimal(line["qty"]) * Decimal(line.get("unit_price") or line.get("unit_cost") or 0)
                for line in document.lines), Decimal(0))


def _half(document: PlannedFile) -> Decimal:
    """About half of what `document` is owed at, in hundreds: always less than it."""
    half = _ex_tax(document) / 2
    return (half // 100 * 100 if half >= 100 else half).quantize(CENT, ROUND_HALF_UP)


def _more_than(document: PlannedFile) -> Decimal:
    """Thousands more than `document` is owed at, tax included at any rate up to 20 %."""
    return (_ex_tax(document) * Decimal("1.2") // 1000 * 1000 + 5000).quantize(CENT)


def _gross(document: PlannedFile, rate: Decimal = DEFAULT_RATE) -> Decimal:
    """What a priced document is owed at, as check/tax.py makes it from typed ex-tax prices:
    per line 金额 = qty × 单价 and 税额 = 金额 × 税率, each to the cent, half up."""
    total = Decimal(0)
    for line in document.lines:
        amount = (Decimal(line["qty"]) * Decimal(line["unit_price"])).quantize(CENT, ROUND_HALF_UP)
        total += amount + (amount * rate).quantize(CENT, ROUND_HALF_UP)
    return total


def _item_row(item: DemoItem) -> dict[str, Any]:
    reorder = Decimal(item.reorder_qty)
    return {
        "sku": item.sku, "name": item.name, "spec": item.spec, "unit": item.unit,
        "alt_units": item.alt_units or None, "category": item.category,
        "safety_stock": _safety_stock(item.sku, reorder), "reorder_qty": reorder,
        "lead_time_days": LEAD_TIMES[item.supplier], "default_supplier": item.supplier,
        "std_cost": Decimal(item.std_cost), "sale_price": Decimal(item.sale_price),
        "active": "Y" if item.active else "N", "weight": Decimal(WEIGHTS[item.sku]) if item.sku in WEIGHTS else None,
        **({"batch_tracked": "Y", "expiry_tracked": "Y", "shelf_life_days": item.shelf_life_days,
            "expiry_warning_days": 30} if item.shelf_life_days else {}),
    }


def _safety_stock(sku: str, reorder: Decimal) -> Decimal:
    """Half a reorder lot; fast movers (sku ending in 7) keep four lots, so a few
    items show below safety stock on the dashboard."""
    lots = Decimal(4) if sku.endswith("7") else Decimal("0.5")
    return (reorder * lots).to_integral_value(ROUND_HALF_UP)
