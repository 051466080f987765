"""The document kinds: one table that the forms, the reader, the validator and
the poster all read.

A kind is plain data: its header fields, its line fields and how its lines move
stock. Nothing else in the package hard-codes a field list.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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


class Category(str, Enum):
    MASTER = "master"
    STOCK = "stock"


@dataclass(frozen=True)
class Field:
    key: str
    zh: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    ref: str | None = None  # the master kind whose codes this field must name
    hint: str = ""  # one line for the instructions sheet

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
    cost_field: str | None = None  # the line field that carries the incoming unit cost
    partner_field: str | None = None
    description: str = ""

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.header + self.lines

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def is_master(self) -> bool:
        return self.category is Category.MASTER


T, C, D, Q, M, K, I, B, U = (
    FieldType.TEXT, FieldType.CODE, FieldType.DATE, FieldType.QTY, FieldType.MONEY,
    FieldType.COST, FieldType.INT, FieldType.BOOL, FieldType.UNITS,
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
UNIT_COST = Field("unit_cost", "单价成本", K, hint="不含税单位成本 / unit cost before tax")
UNIT_PRICE = Field("unit_price", "单价", K, hint="销售单价 / unit selling price")
BATCH = Field("batch", "批次", T)
LINE_REMARK = Field("remark", "备注", T)

DOC_HEADER = (DOC_NO, DOC_DATE)
DOC_TAIL = (PREPARED_BY, REMARK)
STOCK_LINE = (SKU, QTY, UNIT)


def _partners(name: str, zh: str) -> Kind:
    return Kind(
        name, zh, Category.MASTER, header=(),
        lines=(
            Field("code", "编码", C, True),
            Field("name", "名称", T, True),
            Field("contact", "联系人", T),
            Field("phone", "电话", T),
            Field("address", "地址", T),
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
        _partners("suppliers", "供应商"),
        _partners("customers", "客户"),
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
                Field("lead_time_days", "采购提前期天数", I),
                Field("default_supplier", "默认供应商", C, ref="suppliers"),
                Field("std_cost", "标准成本", K),
                Field("sale_price", "销售单价", K),
                Field("active", "启用", B, hint="Y/N, 留空为 Y / empty means Y"),
            ),
            key="sku",
        ),
        Kind(
            "opening", "期初库存", Category.STOCK,
            header=(DOC_NO, Field("doc_date", "截至日期", D, True, hint="期初数截至日期 / as-of date"),
                    *DOC_TAIL),
            lines=(WAREHOUSE, SKU, QTY, UNIT,
                   Field("unit_cost", "单位成本", K, True), BATCH, LINE_REMARK),
            legs=(Leg("warehouse", +1),),
            cost_field="unit_cost",
            description="期初库存 / opening stock",
        ),
        Kind(
            "receipt", "采购入库", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, SUPPLIER, REF_DOC, *DOC_TAIL),
            lines=(*STOCK_LINE, Field("unit_cost", "单价成本", K, True,
                                      hint="不含税单位成本 / unit cost before tax"), BATCH, LINE_REMARK),
            legs=(Leg("warehouse", +1),),
            cost_field="unit_cost", partner_field="supplier",
            description="采购入库 / goods received from a supplier",
        ),
        Kind(
            "delivery", "销售出库", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, CUSTOMER, REF_DOC, *DOC_TAIL),
            lines=(*STOCK_LINE, UNIT_PRICE, BATCH, LINE_REMARK),
            legs=(Leg("warehouse", -1),),
            partner_field="customer",
            description="销售出库 / goods delivered to a customer",
        ),
        Kind(
            "purchase_return", "采购退货", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, SUPPLIER, REF_DOC, *DOC_TAIL),
            lines=(*STOCK_LINE, UNIT_COST, BATCH, LINE_REMARK),
            legs=(Leg("warehouse", -1),),
            partner_field="supplier",
            description="采购退货 / goods returned to a supplier",
        ),
        Kind(
            "sales_return", "销售退货", Category.STOCK,
            header=(*DOC_HEADER, WAREHOUSE, CUSTOMER, REF_DOC, *DOC_TAIL),
            lines=(*STOCK_LINE, UNIT_PRICE, BATCH, LINE_REMARK),
            legs=(Leg("warehouse", +1),),
            partner_field="customer",
            description="销售退货 / goods returned by a customer",
        ),
        Kind(
            "transfer", "调拨", Category.STOCK,
            header=(*DOC_HEADER,
                    Field("from_warehouse", "调出仓库", C, True, ref="warehouses"),
                    Field("to_warehouse", "调入仓库", C, True, ref="warehouses"),
                    *DOC_TAIL),
            lines=(*STOCK_LINE, BATCH, LINE_REMARK),
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
                   BATCH, LINE_REMARK),
            legs=(Leg("warehouse", 0),),
            signed_qty=True, cost_field="unit_cost",
            description="其他出入库 / 报损报溢 / other stock in or out",
        ),
    )
}

MASTER_ORDER = ("warehouses", "suppliers", "customers", "items")
"""Master data posts in this order, so items may name suppliers of the same drop."""


def kind_of(name: str) -> Kind | None:
    return KINDS.get(name)
