"""The workspace: creating one, its forms, its status, its backup, the demo."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from .answers import describe
from .config import Settings, default_config_text, load_settings
from .ledger import schema
from .ledger.backup import BackupError, copy_sqlite, dated_name, rotate
from .ledger.backup import restore as restore_ledger
from .ledger.db import open_ledger, reading

FOLDERS = ("inbox", "outbox", "archive", "rejected", "templates")


def init_workspace(root: Path) -> Settings:
    """config.yaml (kept if present), the folders, the blank forms and the ledger.
    Run again after enabling departments: it adds their folders (and changes nothing else)."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yaml"
    if not config.exists():
        config.write_text(default_config_text(), encoding="utf-8")
    settings = load_settings(config)
    for name in FOLDERS:
        getattr(settings, name).mkdir(parents=True, exist_ok=True)
    for folder in department_folders(settings):
        folder.mkdir(parents=True, exist_ok=True)
    open_ledger(settings.ledger_url)
    write_workspace_templates(settings)
    return settings


def department_folders(settings: Settings) -> list[Path]:
    """inbox/, rejected/ and archive/ of each department: made up front, so IT can set
    each one's share permissions before anyone drops a file."""
    return [base / d for d in settings.departments for base in (settings.inbox, settings.rejected, settings.archive)]


def forms_in_place(settings: Settings) -> None:
    """The blank forms in templates/ on a first start (a fresh checkout ships them in
    forms/, without dropdowns): after that, each posting of master data refreshes them."""
    if not any(settings.templates.glob("*.xlsx")):
        write_workspace_templates(settings)


def write_workspace_templates(settings: Settings) -> list[Path]:
    from .sheets.forms import choices_from_ledger, refresh_templates

    return refresh_templates(settings.templates, choices_from_ledger(open_ledger(settings.ledger_url)), always=True)


def status(settings: Settings) -> dict:
    from . import inbox

    engine = open_ledger(settings.ledger_url)
    f = schema.files
    with reading(engine) as conn:
        last = [dict(r._mapping) for r in conn.execute(select(f).order_by(f.c.id.desc()).limit(10))]
        failed = conn.execute(select(f).where(f.c.status.in_(("rejected", "failed"))).order_by(f.c.id.desc()).limit(1)).first()
        costing = [dict(r._mapping) for r in conn.execute(select(schema.costing_methods).order_by(
            schema.costing_methods.c.scope, schema.costing_methods.c.from_month))]
    from .health import is_running, read_instances
    from .watch import processed_today

    work = settings.inbox / inbox.WORK
    watchers = [{**w, "running": is_running(w, settings.config.inbox.rescan_seconds)} for w in read_instances(settings.outbox)]
    return {
        "watchers": watchers,
        "today": processed_today(engine),
        "waiting": [inbox.label(inbox.department_of(p, settings.inbox), p.name)
                    for p in inbox.candidates(settings.inbox, settings.departments)],
        "in_work": sorted(p.name for p in work.iterdir()) if work.is_dir() else [],
        "last": last,
        "last_failed": dict(failed._mapping) if failed else None,
        "costing": {"config": settings.config.costing.method, "items": dict(settings.config.costing.items),
                    "ledger": costing},  # the ledger's history: from which month which method
    }


STATUS_WORDS = {"posted": "已过账 posted", "skipped": "跳过 skipped", "rejected": "退回 rejected",
                "failed": "出错 failed"}


def status_lines(info: dict) -> list[str]:
    """`jxc status` for people: local times to the second, the live watchers first."""
    lines = []
    watchers = sorted(info["watchers"], key=lambda w: (not w["running"], w.get("host", ""), w.get("pid", 0)))
    for w in watchers:
        where = f"{w['host']}~{w['pid']}"
        if w["running"]:
            inbox_state = "可用 ok" if w["inbox_available"] else "不可用 UNAVAILABLE"
            lines.append(f"● 运行中 running   {where}  since {local_time(w['running_since'])}"
                         f" · 上次扫描 last scan {local_time(w['last_scan'])} · 收件箱 inbox {inbox_state}"
                         f" · {w['observer']}")
        else:
            lines.append(f"○ 未运行 stopped   {where}  stopped {local_time(w.get('stopped_at')) or '?'}"
                         f" (last scan {local_time(w.get('last_scan')) or '?'})")
        if w.get("last_error"):
            lines.append(f"    最近错误 last error {local_time(w['last_error_at'])}: {w['last_error']}")
    if not any(w["running"] for w in watchers):
        lines.append("没有运行中的 jxc watch / no watcher is running")
    today = " · ".join(f"{STATUS_WORDS.get(k, k)} {n}" for k, n in sorted(info["today"].items())) or "—"
    lines.append(f"今日 today: {today}")
    waiting = info["waiting"]
    more = f" (+{len(waiting) - 10})" if len(waiting) > 10 else ""
    lines.append(f"等待处理 waiting: {len(waiting)}  {' '.join(waiting[:10])}{more}".rstrip())
    if info["in_work"]:
        lines.append(f"处理中 in progress: {' '.join(info['in_work'])}")
    if info["last"]:
        lines.append("最近处理 last files:")
        lines += [f"  {local_time(r['processed_at'])}  {STATUS_WORDS.get(r['status'], r['status']):<16} {r['name']}"
                  for r in info["last"]]
    changes = [f"{c['scope'] if c['scope'] != '*' else 'all'} → {c['method'] or 'as all'} from {c['from_month']}"
               for c in info["costing"]["ledger"]]
    lines.append(f"成本计价 costing: {info['costing']['config']}" + (f"  ({'; '.join(changes)})" if changes else ""))
    if info["last_failed"]:
        row = info["last_failed"]
        lines.append(f"最近退回或出错 last rejected/failed: {local_time(row['processed_at'])}  {row['name']}")
        lines += [f"    {p}" for p in (row["first_problems"] or "").splitlines()]
    return lines


def local_time(value) -> str:
    """A timestamp (a datetime or ISO text) as local time to the second; "" for none."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S")


STOCK_KEYS = ("warehouse", "sku", "name", "qty", "unit", "unit_cost", "value")


def stock_on_hand(settings: Settings, what: str | None = None) -> list[dict]:
    """Stock on hand today, one dict per sku × warehouse: all of it, one warehouse's, or
    one item's (`what` is a warehouse code or a sku; a sku whose leading zeros Excel
    dropped still finds its item)."""
    from . import clock
    from .check.master import resolve_code
    from .ledger.errors import LedgerError
    from .ledger.queries import master_data
    from .reports.data import stock_rows

    with reading(open_ledger(settings.ledger_url)) as conn:
        known = master_data(conn)
        match = lambda row: True  # noqa: E731
        if what and what in known.warehouses:
            match = lambda row: row.warehouse == what  # noqa: E731
        elif what:
            sku = resolve_code(what, known.items)
            if sku is None:
                raise LedgerError(f"{what} 既不是仓库编码也不是物料编码 / {what} is neither a warehouse nor a sku")
            match = lambda row: row.sku == sku  # noqa: E731
        return [{key: getattr(row, key) for key in STOCK_KEYS} for row in stock_rows(conn, clock.today()) if match(row)]


def _sqlite_path(settings: Settings) -> Path:
    url = settings.ledger_url
    if not url.startswith("sqlite:///"):
        raise BackupError("jxc backup/restore 只支持 SQLite 账本; PostgreSQL 请用 pg_dump / pg_restore"
                          " / only the SQLite ledger: use pg_dump and pg_restore for PostgreSQL")
    return Path(url[len("sqlite:///"):])


def backup(settings: Settings, dest: Path | None = None) -> Path:
    """A consistent copy of the ledger while it is in use: into backups/ under a dated
    name, keeping the newest `backup.keep`, or to `dest` (a file, or a folder)."""
    source = _sqlite_path(settings)
    if dest is None:
        made = copy_sqlite(source, settings.backups / dated_name())
        rotate(settings.backups, settings.config.backup.keep)
        return made
    if dest.is_dir() or not dest.suffix:
        dest = dest / dated_name()
    return copy_sqlite(source, dest)


def restore(settings: Settings, source: Path) -> Path:
    """Brings a backup back as the ledger, after it passes `jxc check`; refused while
    a watcher of this workspace runs on this machine."""
    from .health import is_running, read_instances

    running = [w for w in read_instances(settings.outbox) if is_running(w, settings.config.inbox.rescan_seconds)]
    if running:
        w = running[0]
        raise BackupError(f"请先停止 jxc watch ({w['host']}~{w['pid']}) / stop jxc watch first")
    return restore_ledger(source, _sqlite_path(settings), settings.backups)


def _close_past_months(settings: Settings, today: date) -> list[Path]:
    """The demo closes the months before the current one, as finance would."""
    from .closing import close_month
    from .ledger.db import open_ledger
    from .ledger.periods import months_with_movements

    engine = open_ledger(settings.ledger_url)
    with reading(engine) as conn:
        months = [m for m in months_with_movements(conn) if m < f"{today:%Y-%m}"]
    packs = [close_month(engine, settings, month, "jxc demo", today=today).pack for month in months]
    for month in months:
        print(f"已结账 closed: {month}")
    return packs


def run_demo(root: Path, today: date) -> int:
    from .demo import write_demo_inbox
    from .pipeline import run_inbox

    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} 不是空文件夹 / is not empty: choose a new folder (jxc demo DIR)")
    settings = init_workspace(root)
    files = write_demo_inbox(settings.inbox, today)
    print(f"演示工作区 demo workspace: {settings.root}\n已放入 {len(files)} 个表单 / dropped {len(files)} filled forms into inbox/\n")
    outcomes = run_inbox(settings)
    for outcome in outcomes:
        print(describe(outcome))
    posted = sum(o.status == "posted" for o in outcomes)
    rejected = [o for o in outcomes if o.status in ("rejected", "failed")]
    print(f"\n{posted} 个文件已过账 posted, {len(rejected)} 个被退回 rejected.")
    closed = _close_past_months(settings, today)
    print("看这里 / where to look:")
    print(f"  {settings.outbox / 'index.html'}      看板 dashboard (open in a browser)")
    print(f"  {settings.outbox / 'stock.xlsx'}      库存 stock on hand")
    print(f"  {settings.outbox / 'orders.xlsx'}     订单 open orders, backorders, suppliers, sales and margin")
    print(f"  {settings.outbox / 'reorder'}         补货建议 reorder suggestions: purchase order forms, one per supplier")
    print(f"  {settings.outbox / 'log.xlsx'}        处理记录 processing log")
    print(f"  {settings.outbox / 'service.xlsx'}    客户服务 open feedback, repairs in hand, return rates")
    print(f"  {settings.outbox / 'analysis.xlsx'}   数据分析 sales and margin by item, customer, salesperson, with charts")
    print(f"  {settings.outbox / 'variance'}        盘点差异 count variances: fill 批准 approve Y/N, drop back into inbox/")
    print(f"  {settings.outbox / 'count_plan.xlsx'} 盘点计划 what to count this week")
    print(f"  {settings.outbox / 'money.xlsx'}      往来与资金 balances, aging (逾期 overdue), advances (预收),"
          " funds journal, disputes (争议)")
    print(f"  {settings.outbox / 'statements'}      对账单 statements per partner and month: the customer fills"
          " 确认 Y / 有异议, drop it back into inbox/")
    for pack in closed:
        print(f"  {pack}  月结报表 month-end pack")
    print(f"  {settings.rejected}/*.errors.xlsx   退回文件, 红色单元格有批注 / rejected files, red cells carry comments")
    print(f"  {settings.templates}                 空白表单 blank forms (dropdowns filled)")
    print("\n自己开始 / your own start: 先放基础资料 items.xlsx、warehouses.xlsx、suppliers.xlsx、customers.xlsx,"
          " 过账后再放单据 (表单的下拉框随之更新)\n  master data first: drop the items, warehouses, suppliers and"
          " customers forms, then the documents (the forms' dropdowns follow by themselves)")
    return 0
