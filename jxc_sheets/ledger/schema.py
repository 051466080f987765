"""The ledger schema (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Quantities and money are stored as scaled integers (`Scaled`), so sums in SQL
are exact on every database and floats never touch money: qty to 4 places,
money to 2, unit costs to 6.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData,
    String, Table, Text, UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 11  # migrate.py brings an older ledger up to it


class Scaled(TypeDecorator):
    """A Decimal with a fixed number of places, stored as an integer."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int):
        super().__init__()
        self.places = places

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        scaled = (value if isinstance(value, Decimal) else Decimal(value)).scaleb(self.places)
        integral = int(scaled)
        if integral != scaled:
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return integral

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value if type(value) is int else int(value)).scaleb(-self.places)


QTY_PLACES, MONEY_PLACES, COST_PLACES = 4, 2, 6
_BIGINT_MAX = 2 ** 63 - 1  # BigInteger, on SQLite and PostgreSQL alike


def largest(places: int) -> Decimal:
    """The largest value a `Scaled(places)` column holds: 922,337,203,685,477.5807 for a qty."""
    return Decimal(_BIGINT_MAX).scaleb(-places)


def Qty():
    return Scaled(QTY_PLACES)


def Money():
    return Scaled(MONEY_PLACES)


def Cost():
    return Scaled(COST_PLACES)


metadata = MetaData()

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

warehouses = Table(
    "warehouses", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("site", Text, nullable=False, default=""),
    Column("remark", Text, nullable=False, default=""),
)


def _partner_table(name: str, *extra: Column) -> Table:
    return Table(
        name, metadata,
        Column("code", String(64), primary_key=True),
        Column("name", Text, nullable=False),
        Column("contact", Text, nullable=False, default=""),
        Column("phone", Text, nullable=False, default=""),
        Column("address", Text, nullable=False, default=""),
        Column("remark", Text, nullable=False, default=""),
        *extra,
        Column("tax_no", Text), Column("bank_account", Text), Column("invoice_address", Text),  # v8: for invoices
    )


suppliers = _partner_table("suppliers", Column("lead_time_days", Integer),  # v2
                           Column("payment_days", Integer),  # v7: due date = document date + these days
                           Column("tax_rate", Cost()))  # v6: a fraction, 0.13; overrides the items'
customers = _partner_table("customers", Column("payment_days", Integer), Column("credit_limit", Money()),  # v7
                           Column("tax_rate", Cost()),  # v6
                           Column("grade", Text), Column("salesperson", Text))  # v8: price lists by grade; the sales default

items = Table(
    "items", metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("spec", Text, nullable=False, default=""),
    Column("unit", String(32), nullable=False),
    Column("category", Text, nullable=False, default=""),
    Column("safety_stock", Qty(), nullable=False, default=Decimal(0)),
    Column("reorder_qty", Qty(), nullable=False, default=Decimal(0)),
    Column("lead_time_days", Integer, nullable=False, default=0),
    Column("default_supplier", String(64), nullable=False, default=""),
    Column("std_cost", Cost()),
    Column("sale_price", Cost()),
    Column("active", Boolean, nullable=False, default=True),
    Column("min_order_qty", Qty()),  # v2
    Column("order_multiple", Qty()),  # v2
    Column("location", Text),  # v3: the usual bin, for count sheets
    Column("tax_rate", Cost()),  # v6: 税率 as a fraction, 0.13
    Column("weight", Qty()),  # v8: of one base unit, for landed cost by weight
    # v10, check/batches.py: 批次管理, 保质期管理 with 保质期(天) and 近效期预警(天), 序列号管理
    Column("batch_tracked", Boolean),
    Column("expiry_tracked", Boolean),
    Column("shelf_life_days", Integer),
    Column("expiry_warning_days", Integer),
    Column("serial_tracked", Boolean),
    Column("min_price", Cost()),  # v11: 最低售价, before tax, per base unit
)

item_units = Table(
    "item_units", metadata,
    Column("sku", String(64), ForeignKey("items.sku"), primary_key=True),
    Column("unit", String(32), primary_key=True),
    Column("factor", Qty(), nullable=False),  # base units in one of this unit
)

files = Table(
    "files", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("file_hash", String(64), nullable=False),
    Column("kind", String(32), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("documents", Integer, nullable=False, default=0),
    Column("lines", Integer, nullable=False, default=0),
    Column("problems", Integer, nullable=False, default=0),
    Column("first_problems", Text, nullable=False, default=""),
    Column("moved_to", Text, nullable=False, default=""),
    Column("processed_at", DateTime, nullable=False),
    Column("warnings", Text),  # v2: accepted, but worth a look (a price off the order, a backorder)
    Column("first_date", Date),  # v3: the earliest document date the file holds, when it could be read
    Column("notes", Text),  # v8: what jxc filled in (a price from the price list), one line each
)

rejected_documents = Table(
    "rejected_documents", metadata,  # the document numbers a rejected file held: posting one later resolves it
    Column("file_id", Integer, ForeignKey("files.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("doc_no", Text, nullable=False),
    Index("ix_rejected_documents_doc", "kind", "doc_no"),
)

documents = Table(
    "documents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("doc_no", String(64), nullable=False),
    Column("doc_date", Date, nullable=False),
    Column("warehouse", String(64), nullable=False, default=""),
    Column("to_warehouse", String(64), nullable=False, default=""),
    Column("partner", String(64), nullable=False, default=""),
    Column("ref_doc", String(64), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("prepared_by", Text, nullable=False, default=""),
    Column("remark", Text, nullable=False, default=""),
    Column("source_file", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("file_id", Integer, ForeignKey("files.id")),
    Column("posted_at", DateTime, nullable=False),
    Column("reverses", Integer, ForeignKey("documents.id")),  # the document this one reverses (红字)
    Column("chain_hash", String(64)),  # chain.py: covers this document, its movements and the one before
    Column("due_date", Date),  # v2: an order's expected (purchase) or promised (sales) date; a plan's month
    Column("invoice_type", String(8)),  # v6: a purchase's 专票 | 普票 | 无票
    Column("salesperson", Text),  # v8: a sales order's, delivery's or return's 业务员
    UniqueConstraint("kind", "doc_no", name="uq_documents_kind_doc_no"),
)

lines = Table(
    "lines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("warehouse", String(64), nullable=False, default=""),
    Column("qty", Qty(), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("qty_entered", Qty(), nullable=False),
    Column("factor", Qty(), nullable=False),
    Column("unit_cost", Cost()),
    Column("unit_price", Cost()),
    Column("batch", Text, nullable=False, default=""),
    Column("remark", Text, nullable=False, default=""),
    Column("expected_date", Date),  # v2: a purchase order line's own due date
    Column("partner", String(64)),  # v2: a sales plan line's customer
    # v6, check/tax.py: a priced line's 税率 (a fraction), 金额, 税额, 价税合计 and the 含税单价 typed
    Column("tax_rate", Cost()),
    Column("amount", Money()),
    Column("tax", Money()),
    Column("gross", Money()),
    Column("price_incl", Cost()),
    Column("production_date", Date),  # v8: an incoming batch's 生产日期 and 有效期至, as typed or derived
    Column("expiry_date", Date),
    Column("serials", Text),  # v8: a serial-tracked line's 序列号, one per line of text
    Column("price_rule", String(16)),  # v11: where an empty sale price was taken from (check/sales.py)
    Column("return_reason", Text),  # v11: a return line's 退货原因
    Column("rejected_qty", Qty()),  # v11: a receipt line's 不合格数量 as entered (part of qty_entered), to quarantine
    Column("reject_reason", Text),
    Index("ix_lines_document", "document_id"),
)

movements = Table(
    "movements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the posting sequence
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("doc_date", Date, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("qty", Qty(), nullable=False),  # signed, base unit
    Column("unit_cost", Cost(), nullable=False),
    Column("value", Money(), nullable=False),  # signed
    Column("balance_qty", Qty(), nullable=False),  # after this movement
    Column("balance_value", Money(), nullable=False),
    # v5, costing.py: what the value rests on (cost | link | issue | current), a given
    # value, the movement it follows; the balances above are in valuation order (date, id)
    Column("basis", String(8)),
    Column("given", Money()),
    Column("linked_to", Integer),
    Column("last_rate", Cost()),  # the pair's last known rate after this movement
    Column("correction", Money()),  # v6: to cost of sales; the document's amount is value + correction
    Index("ix_movements_pair_date", "sku", "warehouse", "doc_date"),
    Index("ix_movements_linked_to", "linked_to"),
    Index("ix_movements_date", "doc_date"),
    Index("ix_movements_document", "document_id"),
)

balances = Table(
    "balances", metadata,
    Column("sku", String(64), primary_key=True),
    Column("warehouse", String(64), primary_key=True),
    Column("qty", Qty(), nullable=False),
    Column("value", Money(), nullable=False),
    Column("unit_cost", Cost(), nullable=False),  # the moving average after the last movement
    Column("last_date", Date, nullable=False),
    Column("movements", Integer, nullable=False),
)

fulfilments = Table(
    "fulfilments", metadata,  # v2: what each receipt or delivery (or its reversal) did to an order line
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("order_line_no", Integer, nullable=False),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", Qty(), nullable=False),  # base unit; negative for a reversal
    Column("doc_date", Date, nullable=False),
    Index("ix_fulfilments_order", "order_id"),
    Index("ix_fulfilments_document", "document_id"),
)

order_closures = Table(
    "order_closures", metadata,  # v2: short-closed orders; what was still open is cancelled
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("documents.id"), nullable=False, unique=True),
    Column("reason", Text, nullable=False, default=""),
    Column("closed_at", DateTime, nullable=False),
    Column("closed_by", Text, nullable=False, default=""),  # the file, or "jxc close-order"
)

count_lines = Table(
    "count_lines", metadata,  # v3: each sku of a posted count, compared with the book at the count date
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("location", Text, nullable=False, default=""),
    Column("book_qty", Qty(), nullable=False),
    Column("counted_qty", Qty(), nullable=False),
    Column("difference", Qty(), nullable=False),
    Column("unit_cost", Cost(), nullable=False),  # at the count date
    Column("value_difference", Money(), nullable=False),
    Column("within_tolerance", Boolean, nullable=False),  # posted at once; otherwise held for approval
    Column("reason", Text, nullable=False, default=""),
    Column("batches", Text),  # v8: a batch-tracked item's count per batch, JSON [[batch, book, counted], …]
    Index("ix_count_lines_document", "document_id"),
)

count_decisions = Table(
    "count_decisions", metadata,  # v3: a supervisor's Y or N on a held count line; one per line
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("count_line_id", Integer, ForeignKey("count_lines.id"), nullable=False, unique=True),
    Column("approved", Boolean, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("document_id", Integer, ForeignKey("documents.id")),  # the approval that posted it (approved only)
    Column("decided_at", DateTime, nullable=False),
    Column("decided_by", Text, nullable=False, default=""),
)

periods = Table(
    "periods", metadata,  # v3: closed months; a month not here is open
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("closed_at", DateTime, nullable=False),
    Column("closed_by", Text, nullable=False, default=""),
    Column("closing_kept", Boolean),  # v4: its closing balances are in period_balances
)

period_balances = Table(
    "period_balances", metadata,  # each closed month's closing balances: the next month opens from them
    Column("month", String(7), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("warehouse", String(64), primary_key=True),
    Column("qty", Qty(), nullable=False),
    Column("value", Money(), nullable=False),
)

period_audit = Table(
    "period_audit", metadata,  # v3: every close, forced close and reopen: who, when, why
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False),
    Column("action", String(16), nullable=False),  # close | force-close | reopen
    Column("at", DateTime, nullable=False),
    Column("by", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
)

costing_methods = Table(
    "costing_methods", metadata,  # v5: the costing method from a month on, for all items ("*") or one sku
    Column("scope", String(64), primary_key=True),
    Column("from_month", String(7), primary_key=True),  # YYYY-MM; "0000-00" from the beginning
    Column("method", String(32), nullable=False),  # "" for an item: as all items
    Column("recorded_at", DateTime, nullable=False),
)

# --- v7, the money side (ledger/money.py) ------------------------------------------

funds_accounts = Table(
    "funds_accounts", metadata,  # cash and bank accounts
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False, default=""),
    Column("bank_account", Text, nullable=False, default=""),
    Column("opening_balance", Money()),
    Column("opening_date", Date),
    Column("remark", Text, nullable=False, default=""),
)

money_lines = Table(
    "money_lines", metadata,  # the lines of a money document as entered: settle_doc, or an opening item
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("ref_doc", String(64), nullable=False, default=""),
    Column("amount", Money()),
    Column("side", String(8), nullable=False, default=""),
    Column("partner", String(64), nullable=False, default=""),
    Column("ref_date", Date),
    Column("due_date", Date),
    Column("advance", Boolean, nullable=False, default=False),
    Column("remark", Text, nullable=False, default=""),  # a disputed statement line's reason
    Column("confirm", String(8), nullable=False, default=""),  # a statement line's: Y | dispute
    Column("account", String(64), nullable=False, default=""),  # a transfer's from and to accounts
    Column("to_account", String(64), nullable=False, default=""),
    Column("category", Text, nullable=False, default=""),  # other income and expense
    Index("ix_money_lines_document", "document_id"),
    Index("ix_money_lines_ref", "side", "partner", "ref_doc"),
)

money_items = Table(
    "money_items", metadata,  # what a partner owes or is owed, one row per document (or opening line)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False, default=0),  # an opening line's; 0 for a whole document
    Column("side", String(8), nullable=False),  # customer (receivable) | supplier (payable)
    Column("partner", String(64), nullable=False),
    Column("ref", String(64), nullable=False),  # the document number a payment names it by
    Column("doc_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    # signed: + raises what the customer owes us (what we owe the supplier): a delivery, a
    # receipt, an opening item; - lowers it: a receipt or payment of funds, a return, an advance
    Column("amount", Money(), nullable=False),
    # what its settlements add up to (+ on a debit, − on a credit), kept with each settlement
    # so that what is open today is amount − settled without reading the settlements
    Column("settled", Money(), default=Decimal(0)),
    Index("ix_money_items_partner", "side", "partner"),
    Index("ix_money_items_ref", "side", "ref"),
    Index("ix_money_items_document", "document_id"),
)

settlements = Table(
    "settlements", metadata,  # 核销: a credit item paying a debit item; a negative amount undoes one
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("debit_item_id", Integer, ForeignKey("money_items.id"), nullable=False),
    Column("credit_item_id", Integer, ForeignKey("money_items.id"), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("doc_date", Date, nullable=False),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),  # the posting that made it
    Index("ix_settlements_debit", "debit_item_id"),
    Index("ix_settlements_credit", "credit_item_id"),
)

fund_entries = Table(
    "fund_entries", metadata,  # money into (+) or out of (-) a funds account
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False, default=0),
    Column("account", String(64), nullable=False),
    Column("doc_date", Date, nullable=False),
    Column("amount", Money(), nullable=False),
    Column("partner", String(64), nullable=False, default=""),
    Column("category", Text, nullable=False, default=""),
    Column("remark", Text, nullable=False, default=""),
    Index("ix_fund_entries_account", "account", "doc_date"),
    Index("ix_fund_entries_document", "document_id"),
)

boms = Table(
    "boms", metadata,  # bills of materials, by version: a later valid_from keeps the old one for earlier documents
    Column("sku", String(64), primary_key=True),  # the finished item
    Column("valid_from", Date, primary_key=True),  # 0001-01-01 when the form left it empty
    Column("component", String(64), primary_key=True),
    Column("qty", Qty(), nullable=False),  # per finished unit, in the component's base unit
    Column("scrap_pct", Qty(), nullable=False, default=Decimal(0)),  # 5 for 5 %
    Column("remark", Text, nullable=False, default=""),
)

nrv = Table(
    "nrv", metadata,  # v8: 可变现净值, net realisable value per unit, by date: the latest on or before a month end holds
    Column("sku", String(64), primary_key=True),
    Column("warehouse", String(64), primary_key=True),  # "" for every warehouse of the item
    Column("valid_from", Date, primary_key=True),
    Column("nrv", Cost(), nullable=False),  # per base unit, before tax
    Column("remark", Text, nullable=False, default=""),
)

# --- v10, batches and serials (check/batches.py, ledger/batches.py) ------------------------
# Stock of a tracked item is kept per item × warehouse × batch beside the movements, which
# stay per item × warehouse with their costing unchanged: a batch is where goods came from
# and when they expire, never a cost layer.

batches = Table(
    "batches", metadata,  # one row per item and batch: its dates and where it first came from
    Column("sku", String(64), primary_key=True),
    Column("batch", String(64), primary_key=True),
    Column("production_date", Date),
    Column("expiry_date", Date),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),  # the first document bringing it in
    Column("line_no", Integer, nullable=False),
    Column("partner", String(64), nullable=False, default=""),  # that document's supplier (or customer)
    Index("ix_batches_batch", "batch"),
)

batch_movements = Table(
    "batch_movements", metadata,  # what each movement of a tracked item did to its batches
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("doc_date", Date, nullable=False),  # the leg's date: a transfer's in leg arrives on its arrival date
    Column("sku", String(64), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("batch", String(64), nullable=False),
    Column("qty", Qty(), nullable=False),  # signed, base unit
    Column("partner", String(64), nullable=False, default=""),
    Index("ix_batch_movements_key", "sku", "warehouse", "batch", "doc_date"),
    Index("ix_batch_movements_batch", "batch"),
    Index("ix_batch_movements_document", "document_id"),
)

batch_balances = Table(
    "batch_balances", metadata,  # the sum of batch_movements per item × warehouse × batch
    Column("sku", String(64), primary_key=True),
    Column("warehouse", String(64), primary_key=True),
    Column("batch", String(64), primary_key=True),
    Column("qty", Qty(), nullable=False),
)

serials = Table(
    "serials", metadata,  # one row per serial number: where it is now
    Column("sku", String(64), primary_key=True),
    Column("serial", String(64), primary_key=True),
    Column("batch", String(64), nullable=False, default=""),
    Column("warehouse", String(64), nullable=False, default=""),  # "" when it is not in stock
    Column("status", String(16), nullable=False),  # in_stock | shipped | returned (to the supplier) | out
    Column("partner", String(64), nullable=False, default=""),  # the customer it was shipped to, or the supplier
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),  # the last document moving it
    Index("ix_serials_serial", "serial"),
)

serial_movements = Table(
    "serial_movements", metadata,  # every move of every serial: its history
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("doc_date", Date, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("qty", Qty(), nullable=False),  # +1 in, -1 out
    Column("partner", String(64), nullable=False, default=""),
    Index("ix_serial_movements_serial", "sku", "serial"),
    Index("ix_serial_movements_document", "document_id"),
)

price_lists = Table(
    "price_lists", metadata,  # v11: a customer's or a grade's price of an item, before tax, per base unit
    Column("scope", String(8), primary_key=True),  # customer | grade
    Column("code", String(64), primary_key=True),  # the customer code or the grade
    Column("sku", String(64), primary_key=True),
    Column("valid_from", Date, primary_key=True),  # 0001-01-01 when the form left it empty
    Column("valid_to", Date),  # inclusive; None: no end
    Column("price", Cost(), nullable=False),
    Column("min_price", Cost()),
    Column("remark", Text, nullable=False, default=""),
    Index("ix_price_lists_sku", "sku", "scope", "code"),
)

feedback = Table(
    "feedback", metadata,  # v11: customer feedback; a later form with the same number updates its row
    Column("doc_no", String(64), primary_key=True),
    Column("doc_date", Date, nullable=False),  # when it came in
    Column("customer", String(64), nullable=False),
    Column("channel", Text, nullable=False, default=""),
    Column("category", String(8), nullable=False),  # 咨询 | 投诉 | 建议 | 表扬
    Column("sku", String(64), nullable=False, default=""),
    Column("ref_doc", String(64), nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("owner", Text, nullable=False, default=""),
    Column("status", String(8), nullable=False),  # open | resolved
    Column("resolved_date", Date),
    Column("remark", Text, nullable=False, default=""),
    Column("updated_at", DateTime, nullable=False),
)

repairs = Table(
    "repairs", metadata,  # v11: repairs in hand; the repair document (kind repair) issues its parts
    Column("doc_no", String(64), primary_key=True),
    Column("doc_date", Date, nullable=False),  # received
    Column("customer", String(64), nullable=False),
    Column("repair_item", Text, nullable=False, default=""),
    Column("serial", Text, nullable=False, default=""),
    Column("fault", Text, nullable=False, default=""),
    Column("promised_date", Date),
    Column("technician", Text, nullable=False, default=""),
    Column("status", String(8), nullable=False),  # in_hand | repaired | returned
    Column("returned_date", Date),
    Column("updated_at", DateTime, nullable=False),
)

MASTER_TABLES = {"warehouses": warehouses, "suppliers": suppliers, "customers": customers, "items": items,
                 "funds_accounts": funds_accounts}
