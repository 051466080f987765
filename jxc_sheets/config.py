"""Settings from config.yaml, validated with pydantic; every key has a default,
so a workspace runs with no config at all (the embedded default: folders beside
the config, SQLite ledger on local disk)."""
from __future__ import annotations

from pathlib import Path
from decimal import Decimal
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import kinds
from .values import Unparseable, as_rate


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Folders(_Section):
    inbox: str = "inbox"
    outbox: str = "outbox"
    archive: str = "archive"
    rejected: str = "rejected"
    templates: str = "templates"
    logs: str = "logs"


class InboxConfig(_Section):
    observer: Literal["auto", "native", "polling"] = "auto"
    poll_interval: float = Field(2.0, gt=0)
    stable_seconds: float = Field(3.0, ge=0)
    incomplete_grace_seconds: float = Field(120.0, ge=0)
    rescan_seconds: float = Field(60.0, gt=0)
    lease_seconds: float = Field(600.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    retry_seconds: float = Field(30.0, ge=0)
    batch_size: int = Field(50, ge=1)


_NOT_IN_FOLDER_NAMES = set('\\/:*?"<>|~')


class DepartmentsConfig(_Section):
    """Sub-folders of the inbox, one per department, each posting only its kinds."""

    enabled: bool = False
    root_may_post: Literal["all"] | tuple[str, ...] = "all"
    folders: dict[str, tuple[str, ...]] = {
        "warehouse": ("receipt", "delivery", "transfer", "count", "count_approval", "adjustment"),
        "purchasing": ("purchase_order", "purchase_return"),
        "sales": ("sales_order", "sales_return", "sales_plan", "exchange", "price_list", "feedback", "repair"),
        "finance": ("opening", "warehouses", "suppliers", "customers", "items"),
    }

    @field_validator("folders")
    @classmethod
    def _plain_distinct_names(cls, folders: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        seen: set[str] = set()
        for name, kinds_named in folders.items():
            if not name.strip() or name.startswith(".") or name.endswith((" ", ".")) or _NOT_IN_FOLDER_NAMES & set(name):
                raise ValueError(f"'{name}' is not a plain folder name (no \\ / : * ? \" < > | ~, no leading dot)")
            if name.lower() in seen:  # a Windows share does not tell Sales from sales
                raise ValueError(f"'{name}' appears twice (folder names are compared ignoring case)")
            seen.add(name.lower())
            _known_kinds(kinds_named)
        return folders

    @field_validator("root_may_post")
    @classmethod
    def _known_root_kinds(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        return value if value == "all" else _known_kinds(value)


def _known_kinds(named: tuple[str, ...]) -> tuple[str, ...]:
    """A typo (`reciept`) stops jxc at start, rather than refusing that kind's every file."""
    unknown = [k for k in named if k not in kinds.KINDS]
    if unknown:
        raise ValueError(f"unknown kind {', '.join(unknown)} (known: {', '.join(sorted(kinds.KINDS))})")
    return named


class ReaderConfig(_Section):
    """Limits a dropped file is checked against before it is read: a zip bomb or a
    sheet of a billion cells is refused with the number, not choked on."""

    max_file_mb: float = Field(100, gt=0)
    max_uncompressed_mb: float = Field(1000, gt=0)  # all parts of a workbook (a zip) unpacked
    max_compression_ratio: float = Field(200, gt=1)  # ordinary sheets unpack 5 to 20 times their size
    max_rows: int = Field(1_100_000, ge=1)
    max_columns: int = Field(200, ge=1)
    # The sheet's data range, rows x columns: the reader holds about 32 bytes a
    # cell of it, so two values at A1 and XFD1048576 would ask for 550 GB.
    max_cells: int = Field(20_000_000, ge=1)


class LedgerConfig(_Section):
    url: str = "sqlite:///ledger.sqlite3"


class BackupConfig(_Section):
    folder: str = "backups"
    keep: int = Field(14, ge=1)


class StockConfig(_Section):
    allow_negative_stock: bool = False


class OrdersConfig(_Section):
    over_receipt_pct: float = Field(0, ge=0, le=100)  # how far a receipt may go beyond its purchase order
    over_delivery_pct: float = Field(0, ge=0, le=100)
    price_tolerance_pct: float = Field(5, ge=0)  # a receipt price further off its order's is a warning
    reserve_stock: bool = True  # open sales orders hold stock: available = on hand - reserved
    usage_window_days: int = Field(90, ge=7)  # average daily usage for reorder, where there is no sales plan
    supplier_window_days: int = Field(90, ge=7)  # supplier performance over this many days
    # the supplier scorecard's grade: the weighted mean of its rates (on_time, fill, quality = 100 −
    # rejection rate, returns = 100 − return rate), A from supplier_grade_a, B from supplier_grade_b, else C
    supplier_weights: dict[Literal["on_time", "fill", "quality", "returns"], float] = {
        "on_time": 0.4, "fill": 0.3, "quality": 0.2, "returns": 0.1}
    supplier_grade_a: float = Field(90, ge=0, le=100)
    supplier_grade_b: float = Field(75, ge=0, le=100)
    reorder_forms: bool = True  # write outbox/reorder/ purchase order forms


class CountsConfig(_Section):
    tolerance_pct: float = Field(2, ge=0)  # a variance within this % of the book qty …
    tolerance_value: float = Field(500, ge=0)  # … and within this value posts at once; else it waits for approval
    abc_a_pct: float = Field(80, gt=0, le=100)  # A items: the first 80 % of annual issue value
    abc_b_pct: float = Field(95, gt=0, le=100)  # B items: up to 95 %; C items: the rest
    a_days: int = Field(30, ge=1)  # count A items every 30 days, B every 91, C every 365
    b_days: int = Field(91, ge=1)
    c_days: int = Field(365, ge=1)
    plan_days: int = Field(7, ge=1)  # count_plan.xlsx proposes what falls due within this many days
    backdating: Literal["refuse", "warn"] = "refuse"  # a stock document dated on or before a posted count of its item


class AccountsConfig(_Section):
    """Account codes of the vouchers, each left empty to take the chart's (`finance.chart`).
    A code named here wins over the chart: configs written before the charts keep working."""

    inventory: str | None = None  # 库存商品
    goods_received: str | None = None  # 应付账款 (暂估)
    cost_of_sales: str | None = None  # 主营业务成本
    revenue: str | None = None  # 主营业务收入 (for the money side's vouchers)
    count_variance: str | None = None  # 待处理财产损溢: count gains and losses until approved
    other: str | None = None  # other stock in and out whose reason names no account
    admin_expenses: str | None = None  # 管理费用
    selling_expenses: str | None = None  # 销售费用
    non_operating_expenses: str | None = None  # 营业外支出
    non_operating_income: str | None = None  # 营业外收入
    other_receivables: str | None = None  # 其他应收款
    count_loss: str | None = None  # where an approved count loss goes when its reason names no account
    count_gain: str | None = None  # where an approved count gain goes
    stock_in_transit: str | None = None  # transfers on their way, with inventory_by_warehouse (default: inventory)
    inter_site: str | None = None  # only if named: transfers between sites booked as 往来 (separate books)
    goods_in_transit: str | None = None  # only with inter_site: transfers across a month end, until they arrive
    receivable: str | None = None  # 应收账款
    input_vat: str | None = None  # 应交税费—应交增值税(进项税额)
    output_vat: str | None = None  # 应交税费—应交增值税(销项税额)
    input_vat_out: str | None = None  # 应交税费—应交增值税(进项税额转出)
    vat_payable: str | None = None  # 应交税费—应交增值税: a small-scale taxpayer's only VAT account
    advance_received: str | None = None  # 预收账款
    advance_paid: str | None = None  # 预付账款
    cash: str | None = None  # 库存现金: funds accounts of type 现金
    bank: str | None = None  # 银行存款: the other funds accounts (finance.funds_accounts names sub-accounts)
    other_income: str | None = None  # 其他业务收入: other income whose category names no account
    impairment_loss: str | None = None  # 资产减值损失: write-downs of stock (企业会计准则 only)
    inventory_provision: str | None = None  # 存货跌价准备 (企业会计准则 only)


ROLE_NAMES = {  # role → the account's standard name
    "inventory": "库存商品", "goods_received": "应付账款", "cost_of_sales": "主营业务成本", "revenue": "主营业务收入",
    "count_variance": "待处理财产损溢", "other": "待处理财产损溢", "admin_expenses": "管理费用",
    "selling_expenses": "销售费用", "non_operating_expenses": "营业外支出", "non_operating_income": "营业外收入",
    "other_receivables": "其他应收款", "goods_in_transit": "在途物资", "receivable": "应收账款",
    "input_vat": "应交税费—应交增值税(进项税额)", "output_vat": "应交税费—应交增值税(销项税额)",
    "input_vat_out": "应交税费—应交增值税(进项税额转出)", "vat_payable": "应交税费—应交增值税",
    "advance_received": "预收账款", "advance_paid": "预付账款", "cash": "库存现金", "bank": "银行存款",
    "other_income": "其他业务收入", "impairment_loss": "资产减值损失", "inventory_provision": "存货跌价准备",
}

# The standards fix only the first level (2221 应交税费); the VAT sub-accounts follow the
# common 金蝶/用友 layout of 应交增值税's columns, and any of them may be renamed in config.
VAT_ACCOUNTS = {"receivable": "1122", "input_vat": "22210101", "output_vat": "22210105",
                "input_vat_out": "22210107", "vat_payable": "222101", "advance_received": "2203",
                "advance_paid": "1123", "cash": "1001", "bank": "1002"}

CHARTS: dict[str, dict[str, str]] = {
    # 企业会计准则 (财会〔2006〕18号 附录): approved count losses to 管理费用, gains reduce 管理费用
    "enterprise": {"inventory": "1405", "goods_received": "2202", "cost_of_sales": "6401", "revenue": "6001",
                   "count_variance": "1901", "other": "1901", "admin_expenses": "6602", "selling_expenses": "6601",
                   "non_operating_expenses": "6711", "non_operating_income": "6301", "other_receivables": "1221",
                   "count_loss": "6602", "count_gain": "6602", "other_income": "6051",
                   "impairment_loss": "6701", "inventory_provision": "1471", **VAT_ACCOUNTS},
    # 小企业会计准则 (财会〔2011〕17号 附录): 存货盘亏净损失 to 营业外支出, 盘盈 to 营业外收入
    "small_business": {"inventory": "1405", "goods_received": "2202", "cost_of_sales": "5401", "revenue": "5001",
                       "count_variance": "1901", "other": "1901", "admin_expenses": "5602",
                       "selling_expenses": "5601", "non_operating_expenses": "5711",
                       "non_operating_income": "5301", "other_receivables": "1221",
                       "count_loss": "5711", "count_gain": "5301", "other_income": "5051", **VAT_ACCOUNTS},
}

REASONS = {  # a word in an adjustment's or a count decision's reason → the account role (or a code) it goes to
    "样品": "selling_expenses", "赠": "selling_expenses", "促销": "selling_expenses", "维修": "selling_expenses",
    "领用": "admin_expenses", "自用": "admin_expenses", "办公": "admin_expenses",
    "赔偿": "other_receivables", "责任人": "other_receivables", "保险": "other_receivables",
    "自然灾害": "non_operating_expenses", "非常损失": "non_operating_expenses", "被盗": "non_operating_expenses",
    "报损": "count_variance", "报溢": "count_variance", "盘亏": "count_variance", "盘盈": "count_variance",
}

Auxiliary = Literal["supplier", "customer", "warehouse", "sku"]


CostingMethod = Literal["moving_average", "fifo", "monthly_weighted_average"]


class CostingConfig(_Section):
    """A change takes effect from the month after the latest month with movements
    (ledger/methods.py): a method changes only at a period boundary."""

    method: CostingMethod = "moving_average"
    items: dict[str, CostingMethod] = {}  # sku → its own method


class FinanceConfig(_Section):
    slow_days: int = Field(90, ge=1)  # no issue for this long: slow-moving stock
    dead_days: int = Field(180, ge=1)  # no issue for this long: dead stock
    chart: Literal["enterprise", "small_business"] = "enterprise"  # 企业会计准则 | 小企业会计准则
    accounts: AccountsConfig = AccountsConfig()
    account_names: dict[str, str] = {}  # code → its name in your chart, for codes the chart does not name
    reasons: dict[str, str] = REASONS  # replaces the whole map when given
    # account (a role or a code) → the 辅助核算 its voucher lines carry; 仓库 on inventory books transfers too
    auxiliaries: dict[str, tuple[Auxiliary, ...]] = {"goods_received": ("supplier",), "receivable": ("customer",),
                                                     "advance_received": ("customer",), "advance_paid": ("supplier",)}
    funds_accounts: dict[str, str] = {}  # funds account code → its GL account, e.g. BANK1: "100201"
    inventory_by_warehouse: dict[str, str] = {}  # warehouse → its 库存商品 sub-account, e.g. WH1: "140501"
    voucher_word: str = "记"  # 凭证字
    prepared_by: str = "jxc"  # 制单人


class MoneyConfig(_Section):
    # a sales order or delivery that takes a customer past its 信用额度: refused at its cell, or posted with a warning
    credit_limit: Literal["refuse", "warn"] = "refuse"


class BatchesConfig(_Section):
    """批次与保质期 (check/batches.py)."""

    # fefo: an issue of a batch-tracked item whose 批号 is empty takes the batches expiring first
    # (never an expired one), and the answer lists the picks; none: 批号 must be filled
    auto_pick: Literal["none", "fefo"] = "none"
    warning_days: int = Field(30, ge=0)  # 近效期: items with no 近效期预警(天) of their own
    slow_days: int = Field(90, ge=1)  # batches.xlsx: a batch with no issue for this long is slow


class SalesConfig(_Section):
    # a sale priced below its minimum price (price list, else the item's 最低售价), or below the
    # item's current cost: refused at its cell, or posted with a warning
    below_minimum: Literal["refuse", "warn"] = "refuse"
    below_cost: Literal["refuse", "warn"] = "warn"
    # 退货原因 besides 质量问题, 发错货, 过期, 多发, 客户原因, 其他
    more_return_reasons: tuple[str, ...] = ()


class QualityConfig(_Section):
    # where a receipt's 不合格数量 goes (a warehouse code of warehouses.xlsx, e.g. 待处理); none: rejections refused
    quarantine_warehouse: str = ""


class ReportsConfig(_Section):
    html: bool = True
    log_rows: int = Field(1000, ge=10)
    recent_files: int = Field(20, ge=1)
    processes: int = Field(0, ge=0)  # reports written at once on a big ledger; 0: one per core, at most 4
    parallel_from: int = Field(100_000, ge=0)  # movements from which a refresh writes its reports at once


class CompanyConfig(_Section):
    name: str = "jxc-sheets"


class TaxConfig(_Section):
    """增值税: who the company is for VAT, and the rates its lines take when they name none."""

    taxpayer: Literal["general", "small"] = "general"  # 一般纳税人 | 小规模纳税人
    default_rate: Decimal = Decimal("0.13")  # items with no 税率 of their own: 13%, 13 or 0.13
    small_rate: Decimal = Decimal("0.03")  # a small-scale taxpayer's 征收率 on its sales
    # an adjustment or count loss whose reason holds one of these is 非正常损失: its input VAT is transferred out
    abnormal_loss: tuple[str, ...] = ("非正常损失", "管理不善", "被盗", "丢失", "霉烂", "变质")
    # goods given away whose reason holds one of these are 视同销售: output VAT on their price
    deemed_sale: tuple[str, ...] = ("样品", "赠", "促销", "捐")

    @field_validator("default_rate", "small_rate", mode="before")
    @classmethod
    def _rate(cls, value: object) -> Decimal:
        try:
            return as_rate(value)
        except Unparseable:
            raise ValueError("must be a VAT rate: 13%, 9%, 6%, 5%, 3%, 1% or 0") from None


class Config(_Section):
    company: CompanyConfig = CompanyConfig()
    tax: TaxConfig = TaxConfig()
    folders: Folders = Folders()
    inbox: InboxConfig = InboxConfig()
    reader: ReaderConfig = ReaderConfig()
    departments: DepartmentsConfig = DepartmentsConfig()
    ledger: LedgerConfig = LedgerConfig()
    backup: BackupConfig = BackupConfig()
    stock: StockConfig = StockConfig()
    orders: OrdersConfig = OrdersConfig()
    counts: CountsConfig = CountsConfig()
    costing: CostingConfig = CostingConfig()
    finance: FinanceConfig = FinanceConfig()
    money: MoneyConfig = MoneyConfig()
    batches: BatchesConfig = BatchesConfig()
    sales: SalesConfig = SalesConfig()
    quality: QualityConfig = QualityConfig()
    reports: ReportsConfig = ReportsConfig()


class ConfigError(Exception):
    """A config.yaml that cannot be used; the message says which key and why."""


class Settings:
    """A validated Config plus the folder it is relative to."""

    def __init__(self, config: Config, root: Path):
        self.config = config
        self.root = root.resolve()

    def _folder(self, name: str) -> Path:
        return self.root / getattr(self.config.folders, name)

    @property
    def inbox(self) -> Path:
        return self._folder("inbox")

    @property
    def outbox(self) -> Path:
        return self._folder("outbox")

    @property
    def archive(self) -> Path:
        return self._folder("archive")

    @property
    def rejected(self) -> Path:
        return self._folder("rejected")

    @property
    def templates(self) -> Path:
        return self._folder("templates")

    @property
    def logs(self) -> Path:
        return self._folder("logs")

    @property
    def backups(self) -> Path:
        return self.root / self.config.backup.folder

    @property
    def ledger_url(self) -> str:
        """SQLite paths are relative to the workspace, not to wherever jxc was started."""
        url = self.config.ledger.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
            return prefix + str(self.root / url[len(prefix):])
        return url

    @property
    def departments(self) -> tuple[str, ...]:
        """The inbox sub-folders that are drop folders: none unless departments.enabled."""
        d = self.config.departments
        return tuple(d.folders) if d.enabled else ()

    @property
    def allow_negative_stock(self) -> bool:
        return self.config.stock.allow_negative_stock


def load_settings(path: Path | None = None) -> Settings:
    """`path`, else ./config.yaml, else the embedded default rooted at the current folder."""
    if path is None:
        candidate = Path("config.yaml")
        if not candidate.exists():
            return Settings(Config(), Path.cwd())
        path = candidate
    if not path.exists():
        raise ConfigError(f"配置文件不存在 / config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: YAML 格式错误 / not valid YAML: {e}") from e
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        where = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"{path}: {where}") from e
    return Settings(config, path.parent)


def default_config_text() -> str:
    """The commented config.yaml that `jxc init` writes (the same as the repo's own)."""
    from importlib.resources import files

    return files("jxc_sheets").joinpath("config.default.yaml").read_text(encoding="utf-8")
