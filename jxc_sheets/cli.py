"""The `jxc` command: a thin layer over the library.

Exit status: 0 when the command did its work (a rejected file is normal
business); 1 when `jxc check` finds differences; 2 on bad usage or a system
error, with a one-line reason.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from . import __version__, clock
from .config import ConfigError, Settings, load_settings
from .answers import describe, outcome_json

EXAMPLES = {
    "init": "jxc init D:\\jxc            # a new workspace in D:\\jxc",
    "templates": "jxc templates                # blank forms into templates/, dropdowns from master data",
    "watch": "jxc watch                    # watch the inbox until Ctrl-C or SIGTERM",
    "run": "jxc run                      # process the inbox once\n  jxc run --dry-run            # show what would post; change nothing",
    "report": "jxc report [--all]           # rewrite the outbox reports",
    "status": "jxc status                   # the watchers (running first), what waits, what failed last",
    "stock": "jxc stock WH-SH1              # one warehouse's stock\n  jxc stock A-100 --json       # one item in every warehouse, for scripts",
    "reverse": "jxc reverse XS20261103-01    # post the reversal XS20261103-01-R",
    "trace": "jxc trace M20261101          # outbox/trace/M20261101.xlsx: where batch M20261101 came from and went",
    "close-order": "jxc close-order CG20261103-01 --reason \"供应商停产 / discontinued\"",
    "count-sheet": "jxc count-sheet WH-SH1 --blind   # outbox/count/盘点表-WH-SH1-YYYYMMDD-blind.xlsx",
    "close": "jxc close 2026-10 --dry-run  # what it would lock, and what stops it\n  jxc close 2026-10            # asks, then locks October and writes outbox/monthend/2026-10.xlsx",
    "reopen": "jxc reopen 2026-10 --reason \"补录漏单 / a missed receipt\"",
    "check": "jxc check                    # everything, the whole hash chain; exit 1 on differences\n"
             "  jxc check --since LAST       # the routine run: the chain from the last point verified on",
    "backup": "jxc backup                   # into backups/, keeping the newest backup.keep",
    "restore": "jxc restore backups/ledger-20261125-020000.sqlite3",
    "migrate-ledger": "jxc migrate-ledger --to postgresql+psycopg://jxc:PASSWORD@db.example.com/jxc",
    "demo": "jxc demo                     # a demo workspace in ./jxc-demo, processed end to end",
}


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:  # the console shows warnings; the log file shows more
        handler.setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except (ConfigError, UsageError) as e:
        print(f"jxc: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the edge: one clean line, the traceback only in the log
        from .ledger.reverse import LedgerError

        from .ledger.backup import BackupError
        from .ledger.db import LedgerLocationError
        from .ledger.migrate import SchemaTooNew

        if isinstance(e, (LedgerError, BackupError, LedgerLocationError, SchemaTooNew)):
            print(f"jxc: {e}", file=sys.stderr)
            return 2
        logging.getLogger("jxc").debug("failed", exc_info=True)
        print(f"jxc: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jxc", description="jxc-sheets: 进销存 for teams that keep working in Excel",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  jxc init D:\\jxc      # a new workspace\n  jxc watch            # run it: process"
               " every form dropped into inbox/\n\n第一次使用? 先运行 jxc demo 看一个完整的例子"
               " / new here? jxc demo builds a demo workspace and walks through it end to end.\n"
               "jxc COMMAND --help: that command's options and an example.")
    parser.add_argument("--config", type=Path, help="config.yaml (default: ./config.yaml, else the embedded default)")
    parser.add_argument("--version", action="version", version=f"jxc-sheets {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog="example:\n  " + EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("init", cmd_init, "create a new workspace: config.yaml, folders, blank forms, ledger")
    sub.add_argument("dir", type=Path, help="the workspace folder (made if missing)")
    command("templates", cmd_templates, "(re)write the blank forms into templates/")
    command("watch", cmd_watch, "watch the inbox until stopped; processes what is already there first")
    sub = command("run", cmd_run, "process the inbox once and exit")
    sub.add_argument("--dry-run", action="store_true", help="validate and show what would post; change nothing")
    sub.add_argument("--json", action="store_true", help="one JSON object per file")
    sub.add_argument("--quiet", action="store_true", help="print only rejected and failed files")
    sub = command("report", cmd_report, "rewrite the outbox reports (the months' ledger mirrors whose month changed)")
    sub.add_argument("--all", action="store_true", help="rewrite every month's ledger mirror, changed or not")
    sub = command("status", cmd_status, "is the watcher running, what waits in the inbox, what happened last")
    sub.add_argument("--json", action="store_true", help="the same as one JSON object, for scripts")
    sub = command("stock", cmd_stock, "stock on hand now: all of it, one warehouse's, or one item's")
    sub.add_argument("what", nargs="?", metavar="SKU|WAREHOUSE", help="a sku or a warehouse code (default: all stock)")
    sub.add_argument("--json", action="store_true", help="a JSON list, quantities and money as exact decimal strings")
    sub = command("reverse", cmd_reverse, "post the reversal (红字冲销) of a posted document")
    sub.add_argument("doc_no", help="the posted document's number (单号)")
    sub.add_argument("--kind", help="the document's kind, when the number exists in several kinds")
    sub.add_argument("--date", type=_date, help="the reversal's date, YYYY-MM-DD (default: today)")
    sub = command("trace", cmd_trace, "where a batch or serial came from and went (a recall sheet), into outbox/trace/")
    sub.add_argument("code", metavar="BATCH|SERIAL", help="the batch (批号) or serial number (序列号)")
    sub = command("close-order", cmd_close_order, "short-close an open order: what is still open is cancelled")
    sub.add_argument("doc_no", help="the order's number (单号)")
    sub.add_argument("--reason", required=True, help="why (shown in the order report)")
    sub.add_argument("--kind", choices=["purchase_order", "sales_order"], help="when the number is both")
    sub = command("count-sheet", cmd_count_sheet, "a pre-filled count form (盘点表) for one warehouse, into outbox/count/")
    sub.add_argument("warehouse", help="the warehouse code")
    sub.add_argument("--blind", action="store_true", help="leave the book quantity out (盲盘)")
    sub.add_argument("--category", help="only this item category (a partial count)")
    sub.add_argument("--abc", choices=["A", "B", "C"], help="only this ABC class (a partial count)")
    sub.add_argument("--all-items", action="store_true", help="every active item, not only those with stock")
    sub.add_argument("--date", type=_date, help="the count date, YYYY-MM-DD (default: today)")
    sub = command("close", cmd_close, "month-end close: lock the month and write the month-end pack")
    sub.add_argument("month", help="the month to close, YYYY-MM")
    sub.add_argument("--yes", action="store_true", help="close without asking for confirmation (for scripts)")
    sub.add_argument("--dry-run", action="store_true", help="show what would be locked and what stops it; change nothing")
    sub.add_argument("--force", action="store_true", help="close despite the blockers (recorded in the audit)")
    sub.add_argument("--reason", default="", help="why, when forcing")
    sub = command("reopen", cmd_reopen, "reopen the latest closed month (recorded in the audit)")
    sub.add_argument("month", help="the latest closed month, YYYY-MM")
    sub.add_argument("--reason", required=True, help="why (recorded in the audit)")
    sub = command("check", cmd_check, "integrity check: recompute balances from the movements and compare,"
                                      " value the open months again, walk the documents' hash chain")
    sub.add_argument("--since", choices=["LAST"], help="LAST: walk the chain from the last point a clean check verified"
                     " (recorded by each clean check), the running balances of the open months only; the rest as in"
                     " the full check. Without it: the full check")
    sub = command("backup", cmd_backup, "consistent online backup of the SQLite ledger, dated and rotated")
    sub.add_argument("dest", type=Path, nargs="?", help="a file or folder (default: backups/, keeping backup.keep)")
    sub = command("restore", cmd_restore, "bring a backup back as the ledger, after it passes jxc check")
    sub.add_argument("source", type=Path, help="the backup file (from jxc backup)")
    sub = command("migrate-ledger", cmd_migrate_ledger,
                  "copy the ledger into an empty database (SQLite → PostgreSQL, or back), verified")
    sub.add_argument("--to", required=True, metavar="URL", help="the empty target, e.g. postgresql+psycopg://user@host/db")
    sub = command("demo", cmd_demo, "a demo workspace with master data and filled forms, processed end to end")
    sub.add_argument("dir", type=Path, nargs="?", default=Path("jxc-demo"), help="a new, empty folder (default: jxc-demo)")
    sub.add_argument("--date", type=_date, help="the demo's today, YYYY-MM-DD (default: today)")
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应写成 2026-11-03 这样 / a date reads like 2026-11-03, not {text!r}") from None


def _settings(args) -> Settings:
    return load_settings(args.config)


def cmd_init(args) -> int:
    from .workspace import init_workspace

    settings = init_workspace(args.dir)
    print(f"已创建工作区 / workspace created: {settings.root}")
    print(f"  表单 forms: {settings.templates}   放入 drop files into: {settings.inbox}")
    if settings.departments:
        print(f"  部门文件夹 department folders: {', '.join(settings.departments)} (in inbox/, rejected/, archive/)")
    return 0


def cmd_templates(args) -> int:
    from .workspace import write_workspace_templates

    paths = write_workspace_templates(_settings(args))
    print(f"{len(paths)} 个表单 forms → {paths[0].parent if paths else ''}")
    return 0


def cmd_watch(args) -> int:
    from .watch import LiveConsole, SameFilesystemError, Watcher, setup_logging
    from .workspace import forms_in_place

    settings = _settings(args)
    setup_logging(settings)
    forms_in_place(settings)
    try:
        if sys.stdout.isatty():
            view = LiveConsole()
            return view.run(Watcher(settings, out=view))
        return Watcher(settings, out=lambda line: print(line, flush=True)).run()
    except SameFilesystemError as e:
        raise UsageError(str(e)) from e


def cmd_run(args) -> int:
    from .pipeline import run_inbox
    from .workspace import forms_in_place

    settings = _settings(args)
    if not args.dry_run:
        forms_in_place(settings)
    if sys.stdout.isatty() and not args.json:
        with StageProgress() as progress:
            outcomes = run_inbox(settings, dry_run=args.dry_run, stage=progress.enter)
    else:
        outcomes = run_inbox(settings, dry_run=args.dry_run)
    for outcome in outcomes:
        if args.json:
            print(json.dumps(outcome_json(outcome), ensure_ascii=False))
        elif not args.quiet or outcome.status in ("rejected", "failed"):
            print(describe(outcome))
    if not outcomes and not args.json and not args.quiet:
        print(f"收件箱为空 / nothing waiting in {settings.inbox}")
    return 0


STAGE_WORDS = {"read": "读取 reading", "validate": "校验 validating", "check": "核对账本 checking",
               "post": "过账 posting", "file away": "归档 filing away", "reports": "更新报表 writing reports"}


class StageProgress:
    """A big file's stages in the terminal (rich): each finished one with its time, the
    current one with a spinner."""

    def __init__(self):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True)
        self.task = None
        self.current = ""
        self.started = 0.0

    def __enter__(self) -> StageProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._finish()
        self.progress.stop()

    def enter(self, file: str, stage: str) -> None:
        import time

        self._finish()
        self.current, self.started = f"{STAGE_WORDS.get(stage, stage)}  {file}".rstrip(), time.monotonic()
        if self.task is None:
            self.task = self.progress.add_task(self.current, total=None)
        self.progress.update(self.task, description=self.current)

    def _finish(self) -> None:
        import time

        if self.current:
            self.progress.console.print(f"  ✔ {self.current}  {time.monotonic() - self.started:.1f} s")
            self.current = ""


def cmd_report(args) -> int:
    from .ledger.db import open_ledger
    from .reports.refresh import write_reports

    settings = _settings(args)
    paths = write_reports(open_ledger(settings.ledger_url), settings, None, rebuild=args.all)
    print(f"{len(paths)} 个报表 reports → {settings.outbox}")
    return 0


def cmd_status(args) -> int:
    from .workspace import status, status_lines

    info = status(_settings(args))
    if args.json:
        print(json.dumps(info, ensure_ascii=False, default=str))
        return 0
    print("\n".join(status_lines(info)))
    return 0


def cmd_stock(args) -> int:
    from .sheets.forms import display_width
    from .workspace import stock_on_hand

    rows = stock_on_hand(_settings(args), args.what)
    if args.json:
        print(json.dumps([{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows],
                         ensure_ascii=False))
        return 0
    if not rows:
        print(f"没有库存 / no stock{f' for {args.what}' if args.what else ''}")
        return 0
    labels = ("仓库 warehouse", "物料 sku", "名称 name", "数量 qty", "单位 unit", "单位成本 unit_cost", "金额 value")
    table = [labels] + [(r["warehouse"], r["sku"], r["name"], _number(r["qty"]), r["unit"],
                         f"{r['unit_cost']:,.4f}", f"{r['value']:,.2f}") for r in rows]
    widths = [max(display_width(str(row[i])) for row in table) for i in range(len(labels))]
    right = {3, 5, 6}
    for row in table:
        cells = [(" " * (w - display_width(str(v))) + str(v)) if i in right else str(v) + " " * (w - display_width(str(v)))
                 for i, (v, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())
    by_unit: dict[str, Decimal] = {}
    for r in rows:  # quantities add up only within one unit
        by_unit[r["unit"]] = by_unit.get(r["unit"], Decimal(0)) + r["qty"]
    qty = "; ".join(f"{_number(q)} {u}" for u, q in by_unit.items()) if len({r["sku"] for r in rows}) == 1 else ""
    value = sum((r["value"] for r in rows), Decimal(0))
    print(f"合计 total: {len(rows)} 行 rows" + (f" · {qty}" if qty else "") + f" · 金额 value {value:,.2f}")
    return 0


def _number(qty: Decimal) -> str:
    """A quantity with its thousands separated and no trailing zeros: 1,234.5"""
    text = f"{qty:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cmd_reverse(args) -> int:
    from .ledger.db import open_ledger
    from .ledger.reverse import reverse_document
    from .pipeline import sync_costing
    from .reports.refresh import write_reports

    settings = _settings(args)
    engine = open_ledger(settings.ledger_url)
    with engine.begin() as conn:
        sync_costing(conn, settings)
        new_no = reverse_document(conn, args.doc_no, args.kind, args.date, settings.allow_negative_stock)
    write_reports(engine, settings, [(args.date or clock.today()).strftime("%Y-%m")])
    print(f"已冲销 reversed: {args.doc_no} → {new_no}")
    return 0


def cmd_trace(args) -> int:
    from .ledger.db import open_ledger, reading
    from .reports.book import atomic_path
    from .reports.trace import trace, trace_path, write_trace

    settings = _settings(args)
    with reading(open_ledger(settings.ledger_url)) as conn:
        found = trace(conn, args.code)
    if not found.found:
        raise UsageError(f"没有批号或序列号 {args.code} 的记录 / no batch or serial {args.code} in the ledger")
    path = trace_path(settings.outbox, args.code)
    with atomic_path(path) as temp:
        write_trace(found, temp)
    customers = len({c.customer for c in found.customers})
    print(f"追溯 trace {args.code}: {len(found.moves)} 笔流水 movements, {customers} 个客户 customers → {path}")
    return 0


def cmd_close_order(args) -> int:
    from .ledger.db import open_ledger
    from .ledger.orders import close_order
    from .ledger.reverse import login_name
    from .reports.refresh import write_reports

    settings = _settings(args)
    engine = open_ledger(settings.ledger_url)
    with engine.begin() as conn:
        order = close_order(conn, args.doc_no, args.reason, f"jxc close-order ({login_name()})", args.kind)
    write_reports(engine, settings, [])
    print(f"已关闭 closed: {order.doc_no}")
    return 0


def cmd_count_sheet(args) -> int:
    from .ledger.db import open_ledger, reading
    from .ledger.queries import master_data
    from .reports.counts import write_count_sheet

    settings = _settings(args)
    with reading(open_ledger(settings.ledger_url)) as conn:
        if args.warehouse not in master_data(conn).warehouses:
            raise UsageError(f"仓库 {args.warehouse} 不存在 / unknown warehouse {args.warehouse}")
        path = write_count_sheet(conn, settings.outbox / "count", args.warehouse, args.date or clock.today(),
                                 blind=args.blind, category=args.category, abc=args.abc, all_items=args.all_items,
                                 rules=settings.config.counts)
    print(f"盘点表 count sheet: {path}")
    return 0


def cmd_close(args) -> int:
    from .closing import Blocked, close_month, plan_close
    from .kinds import KINDS
    from .ledger.db import open_ledger
    from .ledger.reverse import login_name

    settings = _settings(args)
    engine = open_ledger(settings.ledger_url)
    plan = plan_close(engine, settings, args.month)
    if plan.already_closed:
        raise UsageError(f"{plan.month} 已结账 / {plan.month} is already closed")
    documents = ", ".join(f"{KINDS[k].zh if k in KINDS else k} {k} {n}" for k, n in plan.documents) or "无 none"
    print(f"将结账并锁定 {plan.month} / this closes and locks {plan.month}:\n"
          f"  本月单据 documents dated in it: {documents}\n"
          f"  锁定后本月不能再过账, 只能由财务反结账 / once locked, nothing posts into it until finance reopens it\n"
          f"  月结报表 pack: {plan.pack_folder / (plan.month + '.xlsx')}, {plan.month}-vouchers.csv")
    if plan.blockers:
        print("阻止结账 blockers:\n" + "\n".join(f"  - {b}" for b in plan.blockers))
    if args.dry_run:
        print("试运行, 未结账 / dry run: nothing was closed")
        return 0
    if plan.blockers and not args.force:
        raise Blocked(plan.month, plan.blockers)
    if not args.yes and not _confirmed(f"确认结账 {plan.month}? 输入 y 确认 / close {plan.month}? type y to confirm [y/N] "):
        raise UsageError(f"未确认, 未结账; 不经询问直接结账请加 --yes / not confirmed, nothing closed: "
                         f"pass --yes to close without being asked (jxc close {plan.month} --yes)")
    closed = close_month(engine, settings, plan.month, login_name(), args.force, args.reason)
    if closed.forced:
        print("强制结账, 已记录 / forced, recorded:\n" + "\n".join(f"  - {b}" for b in closed.blockers))
    failed = [c for c in closed.checks if c.ok != "Y"]
    print(f"已结账 closed: {closed.month}\n  {closed.pack}\n  {closed.voucher_book}\n  {closed.vouchers}")
    for check in failed:
        print(f"  检查未通过 check failed: {check.check}: {check.expected} ≠ {check.actual}")
    return 1 if failed else 0


def _confirmed(question: str) -> bool:
    """Asks on the terminal; no answer (stdin closed or not a terminal at its end) is no."""
    try:
        answer = input(question)
    except (EOFError, OSError, ValueError):
        print()
        return False
    return answer.strip().lower() in ("y", "yes", "是")


def cmd_reopen(args) -> int:
    from .closing import reopen_month
    from .ledger.db import open_ledger
    from .ledger.reverse import login_name

    settings = _settings(args)
    reopen_month(open_ledger(settings.ledger_url), settings, args.month, login_name(), args.reason)
    print(f"已反结账 reopened: {args.month}")
    return 0


def cmd_check(args) -> int:
    from .ledger.db import open_ledger, reading
    from .ledger.integrity import check, last_verified, record_verified

    engine = open_ledger(_settings(args).ledger_url)
    with reading(engine) as conn:
        since = last_verified(conn) if args.since else None
        if args.since and since is None:
            print("尚无核对记录, 做完整检查 / no check recorded yet: running the full check")
        checked = check(conn, since.point if since else None)
    for line in checked.differences:
        print(line)
    if checked.differences:
        print(f"账本不一致 / the ledger has {len(checked.differences)} differences")
        return 1
    if checked.verified is not None:
        with engine.begin() as conn:
            record_verified(conn, checked.verified, clock.now())
    if since is not None:
        print(f"账本一致, 哈希链自上次核对 ({since.at:%Y-%m-%d %H:%M}, 单据 #{since.point.document_id}) 起核对"
              f" / the ledger is consistent; the hash chain verified from the last check's point on"
              f" ({since.at:%Y-%m-%d %H:%M}, document #{since.point.document_id})")
    else:
        print("账本一致 / the ledger is consistent")
    return 0


def cmd_backup(args) -> int:
    from .workspace import backup

    settings = _settings(args)
    dest = backup(settings, args.dest)
    print(f"已备份 / backed up → {dest}")
    return 0


def cmd_restore(args) -> int:
    from .workspace import restore

    kept = restore(_settings(args), args.source)
    print(f"已恢复 / restored {args.source}; 原账本另存为 / the replaced ledger is kept as {kept}")
    return 0


def cmd_migrate_ledger(args) -> int:
    from .ledger.db import open_ledger
    from .ledger.transfer import migrate_ledger, shown

    settings = _settings(args)
    started = time.monotonic()

    def progress(step: str) -> None:  # on stderr: stdout keeps the summary alone
        print(f"  [{time.monotonic() - started:5.0f} s] {step} …", file=sys.stderr, flush=True)

    done = migrate_ledger(open_ledger(settings.ledger_url), args.to, progress)
    print(f"已迁移账本 / ledger migrated: {shown(settings.ledger_url)} → {done.target}")
    for table, rows in done.rows:
        print(f"  {table:<16} {rows:>10} 行 rows")
    print(f"两边 jxc check 一致, 行数相同, {done.balances} 个余额相同"
          f" / jxc check clean on both sides, equal row counts, {done.balances} balances equal")
    print("下一步: 把各站点 config.yaml 的 ledger.url 改为目标地址, 再启动 watcher"
          " / next: point every site's config.yaml ledger.url at the target, then start the watchers")
    return 0


def cmd_demo(args) -> int:
    from .workspace import run_demo

    return run_demo(args.dir, args.date or clock.today())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
