"""The document kinds: one table that the forms, the reader, the validator and
the poster all read.

A kind is plain data: its header fields, its line fields and how its lines move
stock. Nothing else in the package hard-codes a field list.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .records import Document, Line

FORM_VERSION = 1


class FieldType(str, Enum):
    TEXT = "text"
    CODE = "code"  # an identifier: sku, warehouse, partner; numbers become their integer text
    DATE = "date"
    QTY = "qty"  # Decimal, up to 4 places
    MONEY = "money"  # Decimal, 2 places
    COST = "cost"  # unit cost or price, Decimal, up to 6 places
    INT = "int"
    BOOL = "bool"
    UNITS = "units"  # alternate units of an item: "箱=24; 包=6"
    MONTH = "month"  # a calendar month: 2026-12, 2026/12, 2026年12月, or any date in it
    RATE = "rate"  # a VAT rate: 13%, 13 or 0.13 (a fraction)


class Category(str, Enum):
    MASTER = "master"
    STOCK = "stock"
    ORDER = "order"  # orders and plans: posted as open lines, they move no stock
    COUNT = "count"  # stock counts and their approvals: they move the variance, if any
    MONEY = "money"  # receipts and payments of funds, opening receivables/payables: they move no stock


@dataclass(frozen=True)
class Field:
    key: str
    zh: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    ref: str | None = None  # the master kind whose codes this field must name
    hint: str = ""  # one line for the instructions sheet
    info: bool = False  # shown on the form for the reader's sake; never read back
    signed: bool = False  # an amount that may be negative (a write-down's reversal)
    also: tuple[str, ...] = ()  # older spellings of the label the reader still takes (批次 for 批号)
    options: tuple[str, ...] = ()  # a dropdown of these words (a warning, not a stop: config may add more)

    @property
    def label(self) -> str:
        return f"{self.zh} {self.key}"


@dataclass(frozen=True)
class Leg:
    """One stock movement a line makes: at the warehouse named by `warehouse_field`
    (a header field, or a line field for opening stock), in direction `sign`.
    sign 0 means the line's own qty sign decides (adjustments)."""

    warehouse_field: str
    sign: int


@dataclass(frozen=True)
class Kind:
    name: str
    zh: str
    category: Category
    header: tuple[Field, ...]
    lines: tuple[Field, ...]
    legs: tuple[Leg, ...] = ()
    key: str = ""  # master data: the identifying column
    signed_qty: bool = False  # adjustments: + gain (报溢), - loss (报损)
    qty_field: str = "qty"  # the line field holding the quantity (a count's counted_qty)
    cost_field: str | None = None  # the line field that carries the incoming unit cost (a count's is computed)
    partner_field: str | None = None
    fulfils: str | None = None  # the order kind a document of this kind fulfils through its ref_doc
    template: bool = True  # a blank form in templates/ (an approval is only ever written by jxc)
    anchor: str = "sku"  # the line field whose label the reader finds the line table by
    key_also: tuple[str, ...] = ()  # master data: more columns identifying a row (a BOM's component and version)
    lines_optional: bool = False  # a form that may have no lines (an assembly of its BOM)
    not_hashed: frozenset[str] = frozenset()  # header fields a later form may change (a repair's status)
    description: str = ""

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.header + self.lines

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @cached_property  # asked for on every priced line of a batch
    def price_field(self) -> str | None:
        """The line field of the unit price before tax: a cost for purchases, a price for sales."""
        keys = {f.key for f in self.lines}
        return "unit_cost" if "unit_cost" in keys else "unit_price" if "unit_price" in keys else None

    @property
    def taxed(self) -> bool:
        """Its lines take 含税单价, 税率, 金额, 税额 and 价税合计."""
        return any(f.key == "tax_rate" for f in self.lines)

    @property
    def is_master(self) -> bool:
        return self.category is Category.MASTER

    @property
    def is_order(self) -> bool:
        return self.category is Category.ORDER

    @property
    def is_count(self) -> bool:
        return self.category is Category.COUNT

    @property
    def is_money(self) -> bool:
        return self.category is Category.MONEY


T, C, D, Q, M, K, I, B, U, MONTH, RATE = (
    FieldType.TEXT, FieldType.CODE, FieldType.DATE, FieldType.QTY, FieldType.MONEY,
    FieldType.COST, FieldType.INT, FieldType.BOOL, FieldType.UNITS, FieldType.MONTH, FieldType.RATE,
)

# --- shared fields -----------------------------------------------------------
DOC_NO = Field("doc_no", "单号", C, True, hint="每张单据唯一 / unique per document")
DOC_DATE = Field("doc_date", "日期", D, True, hint="业务日期 / business date")
PREPARED_BY = Field("prepared_by", "制单人", T)
REMARK = Field("remark", "备注", T)
REF_DOC = Field("ref_doc", "关联单号", C, hint="如采购订单号 / e.g. the purchase order")
WAREHOUSE = Field("warehouse", "仓库", C, True, ref="warehouses")
SUPPLIER = Field("supplier", "供应商", C, True, ref="suppliers")
CUSTOMER = Field("customer", "客户", C, True, ref="customers")

SKU = Field("sku", "物料编码", C, True, ref="items")
QTY = Field("qty", "数量", Q, True, hint="大于 0 / greater than 0")
UNIT = Field("unit", "单位", T, hint="留空即基本单位 / empty means the base unit")
UNIT_PRICE = Field("unit_price", "单价", K, hint="不含税销售单价 / unit selling price before tax")
# A priced line: one of the prices, 金额 or 价税合计 is enough; the rest is worked out (check/tax.py)
PRICE_INCL = Field("price_incl", "含税单价", K, hint="与不含税单价填一个即可 / price including VAT; or the one before tax")
TAX_RATE = Field("tax_rate", "税率", RATE, hint="如 13%; 留空按往来单位或物料的税率 / e.g. 13%; empty = the partner's or item's")
AMOUNT = Field("amount", "金额", M, hint="不含税金额; 填写则以它为准 / amount before tax; when filled, it wins over qty × price")
TAX = Field("tax", "税额", M, hint="留空自动计算; 按发票填写则以它为准 / empty = worked out; typed from the invoice, it wins")
GROSS = Field("gross", "价税合计", M, hint="含税金额; 填写则以它为准 / amount including VAT; when filled, it wins")
TAXED = (PRICE_INCL, TAX_RATE, AMOUNT, TAX, GROSS)
SALE_PRICE = replace(UNIT_PRICE, hint="不含税销售单价; 留空按客户价格表、等级价格表、上次售价、物料销售单价"
                                      " / before tax; empty = the customer's price list, its grade's, the last price"
                                      " to it, the item's sale_price")
INVOICE_TYPE = Field("invoice_type", "发票类型", T,
                     hint="专票 / 普票 / 无票; 留空为专票 / special VAT invoice, ordinary, none; empty = 专票")
PARTNER_TAX_RATE = Field("tax_rate", "税率", RATE, hint="此单位单据的默认税率, 优先于物料税率 / overrides the item's rate on its documents")
BATCH = Field("batch", "批号", T, also=("批次",),
              hint="批次管理的物料必填; 出库可留空按先到期先出自动选批 (batches.auto_pick: fefo)"
                   " / required for batch-tracked items; an issue may leave it empty for first-expiry-first-out picks")
PRODUCTION_DATE = Field("production_date", "生产日期", D, hint="保质期管理的物料: 与有效期至填一个即可"
                                                            " / expiry-tracked items: this or the expiry date")
EXPIRY_DATE = Field("expiry_date", "有效期至", D, hint="留空按 生产日期 + 保质期(天) / empty = production date + shelf life")
SERIALS = Field("serials", "序列号", T, hint="序列号管理的物料: 每行一个且数量 1, 或用逗号、分号、换行分隔的清单"
                                            " / serial-tracked items: one per line with qty 1, or a list separated by , ; or new lines")
BATCH_IN = (BATCH, PRODUCTION_DATE, EXPIRY_DATE, SERIALS)  # what an incoming line says about its batch or serials
BATCH_OUT = (BATCH, SERIALS)
RETURN_REASONS = ("质量问题", "发错货", "过期", "多发", "客户原因", "其他")  # config sales.return_reasons may add more
RETURN_REASON = Field("return_reason", "退货原因", T, options=RETURN_REASONS,
                      hint="质量问题、发错货、过期、多发、客户原因、其他 (config sales.return_reasons 可增加)"
                           " / quality, wrong goods, expired, too many, the customer's reason, other")
LINE_REMARK = Field("remark", "备注", T)

CLOSE = Field("close", "关闭订单", B, hint="Y = 短结, 剩余数量不再收发 / Y = short-close: what is still open is cancelled")
CLOSE_REASON = Field("close_reason", "关闭原因", T)
NOT_HASHED = frozenset({"close", "close_reason"})
"""Header fields outside a document's content hash: an order dropped again with its
close marker set is the same order, asking to be closed."""

DOC_HEADER = (DOC_NO, DOC_DATE)
DOC_TAIL = (PREPARED_BY, REMARK)
STOCK_LINE = (SKU, QTY, UNIT)


PAYMENT_DAYS = Field("payment_days", "账期天数", I, hint="单据日期起多少天到期, 留空为 0 / days from the document date to its due date")
SALESPERSON = Field("salesperson", "业务员", T, hint="留空按客户的业务员 / empty = the customer's salesperson")
PARTNER_INVOICING = (
    Field("tax_no", "税号", T, hint="纳税人识别号, 开票用 / the taxpayer number on invoices"),
    Field("bank_account", "开户行及账号", T, hint="开票用 / for invoices"),
    Field("invoice_address", "开票地址电话", T, hint="开票用 / the address and phone on invoices"),
)


def _partners(name: str, zh: str, *extra: Field) -> Kind:
    return Kind(
        name, zh, Category.MASTER, header=(),
        lines=(
            Field("code", "编码", C, True),
            Field("name", "名称", T, True),
            Field("contact", "联系人", T),
            Field("phone", "电话", T),
            Field("address", "地址", T),
            *extra,
            *PARTNER_INVOICING,
            Field("remark", "备注", T),
        ),
        key="code",
    )


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "warehouses", "仓库", Category.MASTER, header=(),
            lines=(
                Field("code", "仓库编码", C, True),
                Field("name", "仓库名称", T, True),
                Field("site", "地点", T, hint="同一地点的仓库属于一个站点 / warehouses of one site"),
                Field("remark", "备注", T),
            ),
            key="code",
        ),
        _partners("suppliers", "供应商",
                  Field("lead_time_days", "交货提前期天数", I, hint="物料未填提前期时使用 / used when the item has none"),
                  PAYMENT_DAYS, PARTNER_TAX_RATE),
        _partners("customers", "客户", PAYMENT_DAYS,
                  Field("credit_limit", "信用额度", M, hint="应收余额上限, 留空不限 / the most this customer may owe; empty = no limit"),
                  PARTNER_TAX_RATE,
                  Field("grade", "等级", T, hint="如 A、B、经销商; 价格表可按等级定价 / e.g. A, B, dealer: price lists may price a grade"),
                  replace(SALESPERSON, hint="负责此客户的业务员, 销售单据默认带出 / who looks after this customer; the sales documents' default")),
        Kind(
            "items", "物料", Category.MASTER, header=(),
            lines=(
                Field("sku", "物料编码", C, True),
                Field("name", "名称", T, True),
                Field("spec", "规格", T),
                Field("unit", "基本单位", T, True, hint="如 个、kg / e.g. pcs, kg"),
                Field("alt_units", "辅助单位", U, hint="如 箱=24; 包=6 / e.g. box=24; pack=6"),
                Field("category", "类别", T),
                Field("safety_stock", "安全库存", Q),
                Field("reorder_qty", "订货批量", Q),
                Field("min_order_qty", "最小订货量", Q),
                Field("order_multiple", "订货倍数", Q, hint="如整箱 24 / e.g. a whole box of 24"),
                Field("lead_time_days", "采购提前期天数", I),
                Field("location", "库位", T, hint="默认存放库位, 盘点表按它排序 / the usual bin; count sheets sort by it"),
                Field("default_supplier", "默认供应商", C, ref="suppliers"),
                Field("std_cost", "标准成本", K),
                Field("sale_price", "销售单价", K, hint="不含税 / before tax"),
                Field("min_price", "最低售价", K, hint="不含税, 按基本单位; 低于它的销售按 sales.below_minimum 退回或提醒"
                                                   " / before tax, per base unit: a sale below it is refused or warned"),
                Field("tax_rate", "税率", RATE, hint="如 13%、9%、6%; 留空按 config.yaml 的 tax.default_rate / empty = the default"),
                Field("weight", "单位重量", Q, hint="每个基本单位的重量 (kg), 费用按重量分摊时用 / the weight of one base unit"
                                                 " (kg): landed cost by weight"),
                Field("active", "启用", B, hint="Y/N, 留空为 Y / empty means Y"),
                Field("batch_tracked", "批次管理", B, hint="Y = 收发都要填批号; 有库存的物料须随期初单按批号分配"
                                                         " / Y = every receipt and issue names its batch; an item with"
                                                         " stock switches only with an opening of its batches"),
                Field("expiry_tracked", "保质期管理", B, hint="Y = 批次有有效期, 过期不能出库 / Y = batches expire;"
                                                            " expired ones cannot be delivered"),
                Field("shelf_life_days", "保质期(天)", I, hint="有效期至 = 生产日期 + 这些天 / expiry = production date + these days"),
                Field("expiry_warning_days", "近效期预警(天)", I, hint="离有效期不足这些天即提醒 / warn this many days before expiry"),
                Field("serial_tracked", "序列号管理", B, hint="Y = 每一件有自己的序列号 / Y = every unit has its own serial number"),
            ),
            key="sku",
        ),
        Kind(
            "opening", "期初库存", Category.STOCK,
            header=(DOC_NO, Field("doc_date", "截至日期", D, True, hint="期初数截至日期 / as-of date"),
                    *DOC_TAIL,
                    Field("switch_tracking", "转批次管理", B,
                          hint="Y = 所列物料自本单起实行批次管理; 已有库存的物料按仓库逐批列出全部库存, 只分配批号不重复入库"
                               " / Y = the items listed become batch-tracked; of an item with stock, list all of it by"
                               " warehouse and batch: it is assigned to batches, not added again")),
            lines=(WAREHOUSE, SKU, QTY, UNIT,
                   Field("unit_cost", "单位成本", K, hint="与金额填一个即可 / or the amount"), AMOUNT, *BATCH_IN, LINE_REMARK),
            legs=(Leg("warehouse", +1),),
            cost_field="unit_cost",
            description="期初库存 / opening stock",
        ),
        Kind(
            "receipt", "采购入库", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, SUPPLIER, REF_DOC, *DOC_TAIL, INVOICE_TYPE),
            lines=(*STOCK_LINE, Field("unit_cost", "单价成本", K,
                                      hint="不含税单价; 按采购订单收货时可留空 / unit cost before tax;"
                                           " may be left empty when receiving against an order"),
                   *TAXED, *BATCH_IN,
                   Field("rejected_qty", "不合格数量", Q,
                         hint="检验不合格的数量, 包含在数量内, 进待处理仓库 (quality.quarantine_warehouse); 合格数量 = 数量 - 它"
                              " / rejected on inspection, part of qty: into the quarantine warehouse; accepted = qty - it"),
                   Field("reject_reason", "不合格原因", T, hint="如 破损、受潮、规格不符 / e.g. damaged, damp, off-spec"),
                   LINE_REMARK),
            legs=(Leg("warehouse", +1),),
            cost_field="unit_cost", partner_field="supplier", fulfils="purchase_order",
            description="采购入库 / goods received from a supplier",
        ),
        Kind(
            "delivery", "销售出库", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, CUSTOMER, REF_DOC, *DOC_TAIL, SALESPERSON),
            lines=(*STOCK_LINE, SALE_PRICE, *TAXED, *BATCH_OUT, LINE_REMARK),
            legs=(Leg("warehouse", -1),),
            partner_field="customer", fulfils="sales_order",
            description="销售出库 / goods delivered to a customer",
        ),
        Kind(
            "purchase_return", "采购退货", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, SUPPLIER, REF_DOC, *DOC_TAIL, INVOICE_TYPE),
            lines=(*STOCK_LINE, Field("unit_cost", "单价成本", K,
                                      hint="供应商退款的不含税单价; 留空按原入库单(关联单号)或当前成本"
                                           " / the unit price the supplier credits, before tax; empty = the"
                                           " receipt's (ref_doc) or the current cost"),
                   *TAXED, *BATCH_OUT, RETURN_REASON, LINE_REMARK),
            legs=(Leg("warehouse", -1),),
            cost_field="unit_cost", partner_field="supplier",
            description="采购退货 / goods returned to a supplier",
        ),
        Kind(
            "sales_return", "销售退货", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, CUSTOMER, REF_DOC, *DOC_TAIL, SALESPERSON),
            lines=(*STOCK_LINE, UNIT_PRICE, *TAXED, *BATCH_IN, RETURN_REASON, LINE_REMARK),
            legs=(Leg("warehouse", +1),),
            partner_field="customer",
            description="销售退货 / goods returned by a customer",
        ),
        Kind(
            "transfer", "调拨", Category.STOCK,
            header=(*DOC_HEADER,
                    Field("from_warehouse", "调出仓库", C, True, ref="warehouses"),
                    Field("to_warehouse", "调入仓库", C, True, ref="warehouses"),
                    Field("arrival_date", "到货日期", D,
                          hint="跨地点在途时填写; 留空即当日到货 / when goods between sites arrive; empty = the same day"),
                    *DOC_TAIL),
            lines=(*STOCK_LINE, *BATCH_IN, LINE_REMARK),
            legs=(Leg("from_warehouse", -1), Leg("to_warehouse", +1)),
            description="调拨 / transfer between warehouses",
        ),
        Kind(
            "adjustment", "其他出入库", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE,
                    Field("reason", "原因", T, True, hint="如 报损、报溢、样品 / e.g. damage, found, sample"),
                    *DOC_TAIL),
            lines=(SKU, Field("qty", "数量", Q, True, hint="正数入库(报溢), 负数出库(报损) / + in, - out"),
                   UNIT, Field("unit_cost", "单位成本", K, hint="入库时可填, 留空按当前成本 / for gains; empty = current cost"),
                   *BATCH_IN, LINE_REMARK),
            legs=(Leg("warehouse", 0),),
            signed_qty=True, cost_field="unit_cost",
            description="其他出入库 / 报损报溢 / other stock in or out",
        ),
        Kind(
            "purchase_order", "采购订单", Category.ORDER,
            header=(*DOC_HEADER, SUPPLIER,
                    Field("expected_date", "预计到货日期", D, hint="整单的预计到货日 / when the goods are due"),
                    Field("warehouse", "收货仓库", C, ref="warehouses"),
                    CLOSE, CLOSE_REASON, *DOC_TAIL, INVOICE_TYPE),
            lines=(SKU, QTY, UNIT, Field("unit_price", "单价", K, hint="不含税采购单价; 或填含税单价、金额 / purchase price before"
                                                                       " tax; or the price with tax, or the amount"),
                   *TAXED, Field("expected_date", "预计到货日期", D, hint="留空按表头 / empty means the header's"),
                   LINE_REMARK),
            partner_field="supplier",
            description="采购订单 / purchase order: moves no stock until received",
        ),
        Kind(
            "sales_order", "销售订单", Category.ORDER,
            header=(*DOC_HEADER, CUSTOMER,
                    Field("promised_date", "承诺交货日期", D, hint="答应客户的交货日 / the date promised to the customer"),
                    Field("warehouse", "发货仓库", C, ref="warehouses"),
                    CLOSE, CLOSE_REASON, *DOC_TAIL, SALESPERSON),
            lines=(SKU, QTY, UNIT, SALE_PRICE, *TAXED, LINE_REMARK),
            partner_field="customer",
            description="销售订单 / sales order: reserves stock until delivered",
        ),
        Kind(
            "sales_plan", "销售计划", Category.ORDER,
            header=(*DOC_HEADER, Field("month", "计划月份", MONTH, True, hint="如 2026-12 / e.g. 2026-12"), *DOC_TAIL),
            lines=(SKU, Field("qty", "计划数量", Q, True, hint="大于 0 / greater than 0"), UNIT,
                   Field("customer", "客户", C, ref="customers", hint="可留空 / optional"), LINE_REMARK),
            description="销售计划 / sales plan: what sales expects to sell in a month",
        ),
    )
}

KINDS.update({k.name: k for k in (
    Kind(
        "count", "盘点", Category.COUNT,
        header=(DOC_NO, Field("doc_date", "盘点日期", D, True, hint="账面数按当天日终计算 / the book is taken at the end of this day"),
                WAREHOUSE,
                Field("scope", "盘点范围", T, hint="全盘 full: 未列出的物料按 0 计; 抽盘 partial (留空): 未列出的不变"
                                                 " / full: unlisted items count as zero; partial (empty): untouched"),
                Field("counted_by", "盘点人", T), *DOC_TAIL),
        lines=(SKU, Field("location", "库位", T),
               Field("book_qty", "账面数量", Q, hint="仅供参考, 过账时按盘点日重新计算 / for reference; recomputed when posted",
                     info=True),
               Field("counted_qty", "实盘数量", Q, True, hint="实际点到的数量, 没有就填 0 / what is there; none = 0"),
               UNIT, Field("remark", "差异原因", T),
               replace(BATCH, hint="批次管理的物料按批号逐行盘点, 未列出的批号按 0 计 / batch-tracked items: a line per batch;"
                                   " a batch not listed counts as zero")),
        legs=(Leg("warehouse", 0),), signed_qty=True, qty_field="counted_qty", cost_field="unit_cost",
        description="盘点 / stock count: the variance posts as gain or loss, large ones after approval",
    ),
    Kind(
        "count_approval", "盘点审批", Category.COUNT,
        header=(Field("doc_no", "盘点单号", C, True), Field("doc_date", "盘点日期", D, True), WAREHOUSE,
                Field("approved_by", "审批人", T), REMARK),
        lines=(Field("line_no", "行号", I, True), SKU,
               *(Field(key, zh, t, info=True) for key, zh, t in (
                   ("name", "名称", T), ("location", "库位", T), ("unit", "单位", T), ("book_qty", "账面数量", Q),
                   ("counted_qty", "实盘数量", Q), ("difference", "差异数量", Q), ("unit_cost", "单位成本", K),
                   ("value_difference", "差异金额", M), ("difference_pct", "差异率%", Q), ("reason", "差异原因", T),
                   ("status", "状态", T))),
               Field("approve", "批准", B, hint="Y 过账, N 不过账, 留空以后再定 / Y posts, N closes, empty decides later"),
               Field("approve_reason", "审批意见", T)),
        legs=(Leg("warehouse", 0),), signed_qty=True, cost_field="unit_cost", template=False,
        description="盘点差异审批 / the approval of count variances beyond tolerance (outbox/variance/)",
    ),
)})

# --- the money side: funds accounts, receipts and payments of funds, opening receivables/payables
ACCOUNT = Field("account", "资金账户", C, True, ref="funds_accounts")
AMOUNT = Field("amount", "金额", M, True, hint="大于 0; 可写 1200.00 或 ￥1,200.00元 / greater than 0")
SETTLE_LINES = (
    Field("settle_doc", "核销单号", C, hint="要核销的出入库单或期初单号; 不填则按最早未结的自动核销"
                                       " / the document this settles; none = the oldest open ones first"),
    Field("settle_amount", "核销金额", M, hint="留空即该单未结金额 / empty = what is open on it"),
    LINE_REMARK,
)

KINDS.update({k.name: k for k in (
    Kind(
        "funds_accounts", "资金账户", Category.MASTER, header=(),
        lines=(Field("code", "账户编码", C, True), Field("name", "账户名称", T, True),
               Field("type", "类型", T, hint="现金 cash 或 银行 bank"),
               Field("bank_account", "银行账号", T),
               Field("opening_balance", "期初余额", M, hint="启用日的余额 / the balance on the opening date"),
               Field("opening_date", "期初日期", D, hint="期初余额的日期 / the date of the opening balance"),
               Field("remark", "备注", T)),
        key="code",
    ),
    Kind(
        "collection", "收款", Category.MONEY,
        header=(*DOC_HEADER, CUSTOMER, ACCOUNT, AMOUNT, *DOC_TAIL), lines=SETTLE_LINES,
        partner_field="customer", anchor="settle_doc",
        description="收款单 / money received from a customer: settles deliveries, the rest is an advance (预收)",
    ),
    Kind(
        "payment", "付款", Category.MONEY,
        header=(*DOC_HEADER, SUPPLIER, ACCOUNT, AMOUNT, *DOC_TAIL), lines=SETTLE_LINES,
        partner_field="supplier", anchor="settle_doc",
        description="付款单 / money paid to a supplier: settles receipts, the rest is an advance (预付)",
    ),
    Kind(
        "opening_ar_ap", "期初应收应付", Category.MONEY,
        header=(DOC_NO, Field("doc_date", "截至日期", D, True, hint="期初数截至日期 / as-of date"), *DOC_TAIL),
        lines=(Field("customer", "客户", C, ref="customers", hint="应收填客户 / a receivable: the customer"),
               Field("supplier", "供应商", C, ref="suppliers", hint="应付填供应商 / a payable: the supplier"),
               Field("ref_doc", "原单号", C, True, hint="原始单据号, 收付款可按它核销 / the original number; payments settle it by this"),
               Field("ref_date", "原单日期", D, hint="留空即截至日期 / empty = the as-of date"),
               Field("due_date", "到期日", D, hint="留空按账期天数 / empty = by the partner's payment days"),
               Field("amount", "金额", M, True, hint="大于 0 / greater than 0"),
               Field("advance", "预收预付", B, hint="Y = 这是对方预付给我们(预收)或我们预付给对方(预付)的款"
                                                  " / Y = an advance received from the customer or paid to the supplier"),
               LINE_REMARK),
        anchor="ref_doc",
        description="期初应收应付 / receivables and payables open when jxc starts, one line per document",
    ),
    Kind(
        "funds_transfer", "资金转账", Category.MONEY,
        header=(*DOC_HEADER, *DOC_TAIL),
        lines=(Field("from_account", "转出账户", C, True, ref="funds_accounts"),
               Field("to_account", "转入账户", C, True, ref="funds_accounts"),
               Field("amount", "金额", M, True, hint="大于 0 / greater than 0"), LINE_REMARK),
        anchor="from_account",
        description="资金转账 / money moved between funds accounts, e.g. cash deposited at the bank",
    ),
    Kind(
        "income_expense", "其他收支", Category.MONEY,
        header=(*DOC_HEADER, ACCOUNT, *DOC_TAIL),
        lines=(Field("category", "收支类别", T, True, hint="如 房租、利息、运费 / e.g. rent, interest, freight"),
               Field("income", "收入", M, hint="收入填这里 / money in"), Field("expense", "支出", M, hint="支出填这里 / money out"),
               LINE_REMARK),
        anchor="category",
        description="其他收支 / other income and expense of a funds account, by category",
    ),
    Kind(
        "statement_confirmation", "对账确认", Category.MONEY,
        header=(Field("doc_no", "对账单号", C, True), Field("doc_date", "对账日期", D, True),
                Field("side", "往来类型", T, True, hint="customer 客户 / supplier 供应商"),
                Field("partner", "往来单位", C, True),
                Field("month", "对账月份", MONTH, True),
                Field("opening", "期初余额", M, info=True), Field("closing", "期末余额", M, info=True),
                Field("confirmed_by", "确认人", T), REMARK),
        lines=(Field("line_no", "行号", I, True),
               *(Field(key, zh, t, info=True) for key, zh, t in (
                   ("ref_date", "日期", D), ("kind", "单据类型", T))),
               Field("ref_doc", "单号", C, True),
               *(Field(key, zh, M, info=True) for key, zh in (("debit", "增加"), ("credit", "减少"), ("balance", "余额"))),
               Field("confirm", "确认", T, hint="Y = 无误; 有异议 = 不同意, 并在右边写原因 / Y = agreed; 有异议 = disputed, with the reason"),
               Field("reason", "异议原因", T)),
        partner_field="partner", anchor="line_no", template=False,
        description="对账单 / a partner's statement of the month: the yellow 确认 column confirms or disputes each line",
    ),
)})

MONEY_KINDS = frozenset(k.name for k in KINDS.values() if k.is_money)

MASTER_ORDER = ("warehouses", "suppliers", "customers", "funds_accounts", "items", "boms", "nrv", "price_list")
"""Master data posts in this order, so items may name suppliers of the same drop."""
FINISHED_SKU = Field("finished_sku", "成品编码", C, True, ref="items")
SPLIT_BY = Field("split_by", "分摊依据", T, hint="标准成本 std_cost (留空) 或 售价 price: 成本按各产出的 数量×它 分摊"
                                                " / std_cost (empty) or price: the cost is split by each output's qty × it")

KINDS.update({k.name: k for k in (
    Kind(
        "boms", "物料清单", Category.MASTER, header=(),
        lines=(
            Field("sku", "成品编码", C, True, ref="items"),
            Field("component", "组件编码", C, True, ref="items"),
            Field("qty", "单位用量", Q, True, hint="每 1 个成品用多少, 按组件的基本单位 / per finished unit, in the component's base unit"),
            Field("scrap_pct", "损耗率%", Q, hint="如 5 即 5%, 用量按 单位用量×(1+5%) / e.g. 5: 5 % more is used"),
            Field("valid_from", "生效日期", D, hint="留空即一直有效; 改清单时填新日期, 之前的单据仍用旧版本"
                                                  " / empty: always; a new date makes a new version, earlier documents keep the old"),
            Field("remark", "备注", T),
        ),
        key="sku", key_also=("valid_from", "component"),
        description="物料清单 / bill of materials: what one finished item is made of",
    ),
    Kind(
        "assembly", "组装单", Category.STOCK,
        header=(*DOC_HEADER, WAREHOUSE, FINISHED_SKU,
                Field("finished_qty", "成品数量", Q, True, hint="按成品的基本单位 / in the finished item's base unit"),
                Field("fee", "加工费", M, hint="计入成品成本 / added to the finished goods' cost"), *DOC_TAIL),
        lines=(SKU, Field("qty", "数量", Q, True, hint="本单用量合计; 不填明细即按物料清单 / the total used; no lines: the BOM's"),
               UNIT, LINE_REMARK),
        legs=(Leg("warehouse", 0),), lines_optional=True,
        description="组装单 / assembly: components out at their cost, finished goods in at their sum plus the fee",
    ),
    Kind(
        "disassembly", "拆卸单", Category.STOCK,
        header=(*DOC_HEADER, WAREHOUSE, replace(FINISHED_SKU, zh="拆卸物料编码"),
                Field("finished_qty", "拆卸数量", Q, True, hint="按物料的基本单位 / in the item's base unit"),
                SPLIT_BY, *DOC_TAIL),
        lines=(SKU, Field("qty", "数量", Q, True, hint="拆出数量合计; 不填明细即按物料清单 / the total out; no lines: the BOM's"),
               UNIT, LINE_REMARK),
        legs=(Leg("warehouse", 0),), lines_optional=True,
        description="拆卸单 / disassembly: an item out at its cost, its parts in, the cost split over them",
    ),
    Kind(
        "landed_cost", "费用分摊单", Category.STOCK,
        header=(*DOC_HEADER, Field("supplier", "费用供应商", C, True, ref="suppliers",
                                   hint="运费、报关、保险等发票的开票方 / who invoiced the freight, duty or insurance"),
                Field("expense_amount", "费用金额", M, True, hint="不含税 / before tax"),
                Field("expense_tax", "税额", M, hint="发票上的进项税额 / the input VAT on the invoice"),
                Field("basis", "分摊方式", T, hint="金额 amount (留空即按金额) / 数量 qty / 重量 weight (物料的单位重量)"
                                               " / 手工 manual (每行填分摊金额) / by amount (empty), by qty, by weight"
                                               " (the items' unit weight), or by hand (each line's amount)"),
                INVOICE_TYPE, *DOC_TAIL),
        lines=(Field("receipt_no", "入库单号", C, True, hint="费用所属的采购入库单 / the receipt the expense belongs to"),
               Field("sku", "物料编码", C, ref="items", hint="留空即整张入库单 / empty: every line of the receipt"),
               Field("amount", "分摊金额", M, hint="手工分摊时填写, 合计等于费用金额 / by hand: the lines add up to the expense"),
               LINE_REMARK),
        legs=(Leg("warehouse", +1),), partner_field="supplier",
        description="费用分摊单 / landed cost: freight, duty or insurance added to the goods of receipts",
    ),
)})


# --- write-down (存货跌价准备, 企业会计准则): net realisable values, and the provision finance confirms
KINDS.update({k.name: k for k in (
    Kind(
        "nrv", "可变现净值", Category.MASTER, header=(),
        lines=(
            Field("sku", "物料编码", C, True, ref="items"),
            Field("warehouse", "仓库", C, ref="warehouses", hint="留空即该物料的所有仓库 / empty: every warehouse of the item"),
            Field("nrv", "可变现净值单价", K, True, hint="每个基本单位: 估计售价 − 销售费用和税金 / per base unit: the expected"
                                                       " price less the costs to sell it"),
            Field("valid_from", "日期", D, True, hint="从这天起适用, 直到下一个日期 / holds from this day until a later one"),
            Field("remark", "备注", T),
        ),
        key="sku", key_also=("warehouse", "valid_from"),
        description="可变现净值 / net realisable value: below cost at a month end, the pack proposes a write-down",
    ),
    Kind(
        "write_down", "存货跌价准备", Category.STOCK,
        header=(Field("doc_no", "计提单号", C, True), Field("doc_date", "计提日期", D, True, hint="月末 / the month end"),
                Field("confirmed_by", "确认人", T), REMARK),
        lines=(SKU, Field("warehouse", "仓库", C, True, ref="warehouses"),
               *(Field(key, zh, t, info=True) for key, zh, t in (
                   ("name", "名称", T), ("qty", "结存数量", Q), ("unit_cost", "单位成本", K), ("nrv", "可变现净值单价", K),
                   ("required", "应有准备", M), ("booked", "已提准备", M))),
               Field("amount", "本次计提", M, True, signed=True,
                     hint="正数计提, 负数转回 (最多转回已提准备) / + provides, − reverses (at most what is booked)"),
               LINE_REMARK),
        qty_field="", template=False,
        description="存货跌价准备 / inventory write-down: the month-end pack's proposal, confirmed by dropping it back",
    ),
)})

KINDS["price_list"] = Kind(
    "price_list", "价格表", Category.MASTER, header=(),
    lines=(
        Field("customer", "客户", C, ref="customers", hint="单个客户的价格; 与等级填一个 / one customer's price; or a grade"),
        Field("grade", "客户等级", T, hint="某等级客户的价格 (客户表的 等级) / the price of a customer grade (customers' grade)"),
        Field("sku", "物料编码", C, True, ref="items"),
        Field("price", "单价", K, True, hint="不含税, 按基本单位; 销售订单和出库单单价留空时使用"
                                          " / before tax, per base unit: taken where a sales order or delivery leaves the price empty"),
        Field("min_price", "最低价", K, hint="不含税, 按基本单位; 留空按物料的最低售价 / before tax, per base unit; empty = the item's min_price"),
        Field("valid_from", "生效日期", D, hint="留空即一直有效 / empty: from always"),
        Field("valid_to", "失效日期", D, hint="含当天; 留空即长期有效 / inclusive; empty: no end"),
        Field("remark", "备注", T),
    ),
    key="sku", key_also=("customer", "grade", "valid_from"),
    description="价格表 / price list: a customer's or a customer grade's price of an item, before tax, for a date range",
)


EXCHANGE_LEGS = {"退回": "return", "return": "return", "退": "return", "换出": "out", "out": "out", "出": "out",
                 "发出": "out"}
KINDS["exchange"] = Kind(
    "exchange", "换货单", Category.STOCK,
    header=(*DOC_HEADER, WAREHOUSE, CUSTOMER,
            Field("ref_doc", "原出库单号", C, hint="退回的货原来的销售出库单, 按它的成本退回 / the delivery the goods came from"),
            *DOC_TAIL, SALESPERSON),
    lines=(Field("leg", "类型", T, True, options=("退回", "换出"),
                 hint="退回 = 客户退回的货 (入库), 换出 = 换给客户的货 (出库) / return: goods back in; out: goods sent instead"),
           *STOCK_LINE, UNIT_PRICE, *TAXED, BATCH, RETURN_REASON, LINE_REMARK),
    partner_field="customer",
    description="换货单 / exchange: goods back from a customer and goods sent instead, posted together or not at all",
)

REPAIR_STATUSES = {"": "in_hand", "维修中": "in_hand", "in_hand": "in_hand", "已修好": "repaired", "修好": "repaired",
                   "repaired": "repaired", "已取回": "returned", "已归还": "returned", "取回": "returned",
                   "returned": "returned"}
KINDS["repair"] = Kind(
    "repair", "维修单", Category.STOCK,
    header=(Field("doc_no", "维修单号", C, True, hint="每台维修一个单号; 更新状态时原单再提交 / one per repair; drop it again to update"),
            Field("doc_date", "收件日期", D, True, hint="收到客户物品的日期 / when the item came in"),
            CUSTOMER,
            Field("repair_item", "维修物品", T, True, hint="物料编码或名称 / the item: its sku or name"),
            Field("serial", "序列号", T),
            Field("fault", "故障描述", T),
            Field("promised_date", "承诺完成日期", D, hint="答应客户的日期, 过期未完成即逾期 / the date promised; past it: overdue"),
            Field("warehouse", "配件仓库", C, ref="warehouses", hint="用了配件时必填: 配件从这里出库 / where the parts are issued from"),
            Field("technician", "维修人", T),
            Field("status", "状态", T, options=("维修中", "已修好", "已取回"),
                  hint="维修中 (留空) / 已修好 / 已取回; 原单改状态后再提交即更新 / drop the form again with a new status"),
            Field("returned_date", "取回日期", D, hint="客户取回的日期; 留空即处理当天 / when the customer took it back"),
            *DOC_TAIL),
    lines=(Field("sku", "配件编码", C, True, ref="items"), Field("qty", "数量", Q, True, hint="大于 0 / greater than 0"),
           UNIT, LINE_REMARK),
    legs=(Leg("warehouse", -1),), partner_field="customer", lines_optional=True,
    not_hashed=frozenset({"promised_date", "technician", "status", "returned_date", "remark"}),
    description="维修单 / repair: a customer's item in for repair; its parts are issued from stock at cost",
)

FEEDBACK_CATEGORIES = {"咨询": "咨询", "inquiry": "咨询", "投诉": "投诉", "complaint": "投诉",
                       "建议": "建议", "suggestion": "建议", "表扬": "表扬", "praise": "表扬"}
FEEDBACK_STATUSES = {"open": "open", "处理中": "open", "未解决": "open", "待处理": "open",
                     "resolved": "resolved", "已解决": "resolved", "解决": "resolved", "关闭": "resolved", "closed": "resolved"}
KINDS["feedback"] = Kind(
    "feedback", "客户反馈", Category.MASTER, header=(),
    lines=(
        Field("doc_no", "编号", C, True, hint="每条反馈一个编号; 再次提交同一编号即更新状态 / one per case; the same number again updates it"),
        Field("doc_date", "日期", D, hint="收到反馈的日期; 新编号必填 / when it came in; required for a new number"),
        Field("customer", "客户", C, ref="customers", hint="新编号必填 / required for a new number"),
        Field("channel", "渠道", T, options=("电话", "微信", "邮件", "上门", "其他"), hint="电话、微信、邮件、上门… / phone, chat, mail, visit…"),
        Field("category", "类别", T, options=("咨询", "投诉", "建议", "表扬"),
              hint="咨询、投诉、建议、表扬; 新编号必填 / inquiry, complaint, suggestion, praise"),
        Field("sku", "物料编码", C, ref="items", hint="涉及的物料, 可空 / the item concerned, if any"),
        Field("ref_doc", "关联单号", C, hint="涉及的单据, 如出库单号 / the document concerned, e.g. a delivery"),
        Field("text", "内容", T),
        Field("owner", "负责人", T, hint="谁跟进 / who follows it up"),
        Field("status", "状态", T, options=("处理中", "已解决"), hint="处理中 open (留空) / 已解决 resolved"),
        Field("resolved_date", "解决日期", D, hint="留空即处理当天 / empty = the day it is processed"),
        Field("remark", "备注", T),
    ),
    key="doc_no",
    description="客户反馈 / customer feedback: inquiries, complaints, suggestions, praise; the same number again updates it",
)
MASTER_ORDER = (*MASTER_ORDER, "feedback")


def kind_of(name: str) -> Kind | None:
    return KINDS.get(name)


def legs(doc: Document, line: Line) -> Iterable[tuple[str, Decimal, date]]:
    """(warehouse, signed qty, date) of each movement a line makes. A transfer's goods
    arrive on its arrival date (到货日期) when it has one: in transit until then. An opening
    line that only puts stock already held into batches moves nothing."""
    if line.assigns_batches:
        return
    kind = KINDS[doc.kind]
    rejected = rejected_base_qty(line) if doc.kind == "receipt" else None
    if rejected:  # inspected on receipt: the rejected part goes to the quarantine warehouse (待处理)
        if line.qty > rejected:
            yield doc.header["warehouse"], line.qty - rejected, doc.doc_date
        yield doc.header["quarantine"], rejected, doc.doc_date
        return
    for leg in kind.legs:
        warehouse = line.warehouse if leg.warehouse_field == "warehouse" and line.warehouse else doc.header[leg.warehouse_field]
        qty = -line.qty if leg.sign < 0 else line.qty  # sign 0: as signed on the line
        yield warehouse, qty, leg_date(doc, qty)


def rejected_base_qty(line: Line) -> Decimal | None:
    """A receipt line's 不合格数量 in the base unit (as entered × the unit's factor)."""
    if not line.rejected_qty:
        return None
    return (line.rejected_qty * line.factor).quantize(Decimal("0.0001"))


def leg_date(doc: Document, qty: Decimal) -> date:
    arrival = doc.header.get("arrival_date") if qty > 0 else None
    return max(arrival, doc.doc_date) if arrival else doc.doc_date
