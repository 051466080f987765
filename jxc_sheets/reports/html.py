"""Report stage: outbox/index.html — the dashboard, one self-contained page.

Works offline: inline CSS and inline SVG charts, no scripts, fonts or images
from anywhere else. Every value is autoescaped by jinja2.
"""
from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from sqlalchemy import Connection

from .. import config
from ..kinds import kind_of
from ..ledger import counts as ledger_counts
from . import data, order_data
from .batches import ExpiryPanel, expiry_panel, has_batches
from .money import money_panel
from .service import service_panel
from .counts import accuracy_rows

TEMPLATES = Path(__file__).parent / "templates"
SHORTAGE_BARS = 15
WAREHOUSE_BARS = 30
SHORTAGE_ROWS = 200
ORDER_ROWS = 20
COUNT_ROWS = 12
PROBLEM_CHARS = 300

STATUS_WORDS = {
    "posted": ("已过账", "posted"),
    "skipped": ("已跳过(重复)", "skipped"),
    "rejected": ("已退回", "rejected"),
    "failed": ("出错", "failed"),
}


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def quantity(value: Decimal) -> str:
    text = f"{value.normalize():,f}"
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Card:
    zh: str
    en: str
    value: str
    note: str = ""
    tone: str = ""  # "" | "warn" | "bad"


@dataclass(frozen=True)
class Bar:
    label: str
    title: str
    value: str
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart laid out for the SVG template."""

    bars: tuple[Bar, ...]
    width: int = 640
    label_width: int = 170
    bar_area: int = 340
    row_height: int = 28
    bar_height: int = 18
    more: int = 0  # rows left out

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * self.row_height + 8


def bar_chart(rows: list[tuple[str, Decimal, str]], limit: int) -> BarChart:
    """rows: (label, value, value as text), drawn in the order given, scaled to the largest."""
    shown = rows[:limit]
    top = max((value for _, value, _ in shown), default=Decimal(0))
    chart = BarChart(bars=())
    bars = tuple(
        Bar(label=_fit(label, chart.label_width - 12), title=label, value=text, y=4 + i * chart.row_height,
            width=round(float(value / top) * chart.bar_area, 1) if top > 0 and value > 0 else 0)
        for i, (label, value, text) in enumerate(shown)
    )
    return BarChart(bars=bars, more=len(rows) - len(shown))


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _fit(text: str, pixels: int) -> str:
    """`text` cut to about `pixels` wide at the chart's 12px font (CJK twice as wide)."""
    width = 0.0
    for i, char in enumerate(text):
        width += 12 if unicodedata.east_asian_width(char) in "WF" else 6.8
        if width > pixels:
            return text[: max(i - 1, 0)] + "…"
    return text


@dataclass(frozen=True)
class FileView:
    time: str
    file: str
    kind: str
    status: str
    status_zh: str
    status_en: str
    documents: int
    lines: int
    problems: str


def _file_view(row: data.FileRow) -> FileView:
    kind = kind_of(row.kind)
    zh, en = STATUS_WORDS.get(row.status, (row.status, ""))
    return FileView(
        time=f"{row.processed_at:%Y-%m-%d %H:%M}",
        file=row.file,
        kind=f"{kind.zh} {row.kind}" if kind else row.kind,
        status=row.status,
        status_zh=zh,
        status_en=en,
        documents=row.documents,
        lines=row.lines,
        problems=_shorten(row.first_problems or row.warnings, PROBLEM_CHARS),
    )


def _cards(overview: data.StockOverview, shortages: int, today: dict[str, int],
           transit: list[data.Transit], expiry: ExpiryPanel | None = None) -> tuple[Card, ...]:
    processed = sum(today.values())
    rejected = today.get("rejected", 0)
    failed = today.get("failed", 0)
    transfers = len({t.doc_no for t in transit})
    return (
        Card("库存总额", "Stock value", money(overview.total_value), note="含在途 incl. in transit" if transit else ""),
        Card("在途", "In transit", money(sum((t.value for t in transit), Decimal(0))),
             note=f"{transfers} 张调拨单未到货 / transfers not yet arrived" if transit else ""),
        Card("在库品种", "SKUs in stock", f"{overview.skus_in_stock:,}"),
        Card("低于安全库存", "Below safety stock", f"{shortages:,}", tone="bad" if shortages else ""),
        Card("今日处理文件", "Files processed today", f"{processed:,}",
             note=f"已过账 {today.get('posted', 0)} · 跳过 {today.get('skipped', 0)} · 出错 {failed}",
             tone="bad" if failed else ""),
        Card("今日退回", "Rejected today", f"{rejected:,}", note="见 rejected/ 文件夹 / see rejected/",
             tone="warn" if rejected else ""),
    ) + (() if expiry is None else (
        Card(f"{expiry.days}天内到期", f"Expiring in {expiry.days} days", money(expiry.expiring_value),
             note="见 batches.xlsx / see batches.xlsx", tone="warn" if expiry.expiring_value else ""),
        Card("已过期库存", "Expired stock", money(expiry.expired_value), note="请报损 / write it off",
             tone="bad" if expiry.expired_value else ""),
    ))


def render_dashboard(conn: Connection, settings: config.Settings, now: datetime) -> str:
    shortages = data.shortages(conn)
    late, backorders = order_data.orders_at_a_glance(conn, now.date())
    late.sort(key=lambda l: l.days_late, reverse=True)
    transit = data.in_transit(conn, now.date())
    by_value = sorted(data.warehouse_totals(conn, now.date()), key=lambda w: w.value, reverse=True)
    worst = sorted(shortages, key=lambda s: s.shortfall, reverse=True)
    template = _environment().get_template("index.html.j2")
    return template.render(
        company=settings.config.company.name,
        generated=f"{now:%Y-%m-%d %H:%M}",
        cards=_cards(data.stock_overview(conn), len(shortages), data.files_by_status(conn, now.date()), transit,
                     expiry_panel(conn, now.date()) if has_batches(conn) else None),
        transit=transit[:ORDER_ROWS], transit_more=max(len(transit) - ORDER_ROWS, 0),
        warehouse_chart=bar_chart(
            [(f"{w.name} ({w.warehouse})" if w.name else w.warehouse, w.value, money(w.value))
             for w in by_value], WAREHOUSE_BARS),
        shortage_chart=bar_chart(
            [(f"{s.name} ({s.sku})", s.shortfall, f"{quantity(s.shortfall)} {s.unit}") for s in worst],
            SHORTAGE_BARS),
        shortages=worst[:SHORTAGE_ROWS],
        shortages_more=max(len(worst) - SHORTAGE_ROWS, 0),
        late_orders=late[:ORDER_ROWS], late_more=max(len(late) - ORDER_ROWS, 0),
        backorders=backorders[:ORDER_ROWS], backorders_more=max(len(backorders) - ORDER_ROWS, 0),
        held=ledger_counts.count_lines(conn, only_held=True)[:ORDER_ROWS],
        accuracy=accuracy_rows(conn)[-COUNT_ROWS:][::-1],
        funds=money_panel(conn, now.date()),
        service=service_panel(conn, now.date()),
        files=[_file_view(f) for f in data.recent_files(conn, settings.config.reports.recent_files)],
        watchers=_watchers(settings),
        money=money,
        quantity=quantity,
    )


def _watchers(settings: config.Settings) -> list[dict]:
    """The watcher instances that reported into this outbox (outbox/status.json)."""
    from ..health import is_running, read_instances

    return [{**w, "running": is_running(w, settings.config.inbox.rescan_seconds)}
            for w in read_instances(settings.outbox)]


def write_dashboard(conn: Connection, path: Path, settings: config.Settings, now: datetime) -> None:
    path.write_text(render_dashboard(conn, settings, now), encoding="utf-8")


@functools.cache
def _environment() -> Environment:
    """One per process: it keeps the compiled template (and recompiles it if the file changes)."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
