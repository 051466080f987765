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
from datetime import date
from pathlib import Path

from . import __version__, clock
from .config import ConfigError, Settings, load_settings
from .answers import describe, outcome_json

EXAMPLES = {
    "init": "jxc init D:\\jxc            # a new workspace in D:\\jxc",
    "templates": "jxc templates                # blank forms into templates/, dropdowns from master data",
    "watch": "jxc watch                    # watch the inbox until Ctrl-C or SIGTERM",
    "run": "jxc run                      # process the inbox once\n  jxc run --dry-run            # show what would post; change nothing",
    "report": "jxc report                   # rewrite the outbox reports",
    "status": "jxc status                   # what waits, what failed last",
    "reverse": "jxc reverse XS20261103-01    # post the reversal XS20261103-01-R",
    "close-order": "jxc close-order CG20261103-01 --reason \"供应商停产 / discontinued\"",
    "count-sheet": "jxc count-sheet WH-SH1 --blind   # outbox/count/盘点表-WH-SH1-YYYYMMDD-blind.xlsx",
    "close": "jxc close 2026-10           # lock October and write outbox/monthend/2026-10.xlsx",
    "reopen": "jxc reopen 2026-10 --reason \"补录漏单 / a missed receipt\"",
    "check": "jxc check                    # recompute balances from movements; exit 1 on differences",
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
        print(f"jxc: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jxc", description="jxc-sheets: 进销存 for teams that keep working in Excel")
    parser.add_argument("--config", type=Path, help="config.yaml (default: ./config.yaml, else the embedded default)")
    parser.add_argument("--version", action="version", version=f"jxc-sheets {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog="example:\n  " + EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("init", cmd_init, "create a new workspace: config.yaml, folders, blank forms, ledger")
    sub.add_argument("dir", type=Path)
    command("templates", cmd_templates, "(re)write the blank forms into templates/")
    command("watch", cmd_watch, "watch the inbox until stopped; processes what is already there first")
    sub = command("run", cmd_run, "process the inbox once and exit")
    sub.add_argument("--dry-run", action="store_true", help="validate and show what would post; change nothing")
    sub.add_argument("--json", action="store_true", help="one JSON object per file")
    sub.add_argument("--quiet", action="store_true", help="print only rejected and failed files")
    command("report", cmd_report, "rewrite the outbox reports")
    sub = command("status", cmd_status, "what waits in the inbox and what happened last")
    sub.add_argument("--json", action="store_true")
    sub = command("reverse", cmd_reverse, "post the reversal (红字冲销) of a posted document")
    sub.add_argument("doc_no")
    sub.add_argument("--kind", help="the document's kind, when the number exists in several kinds")
    sub.add_argument("--date", type=date.fromisoformat, help="the reversal's date (default: today)")
    sub = command("close-order", cmd_close_order, "short-close an open order: what is still open is cancelled")
    sub.add_argument("doc_no")
    sub.add_argument("--reason", required=True, help="why (shown in the order report)")
    sub.add_argument("--kind", choices=["purchase_order", "sales_order"], help="when the number is both")
    sub = command("count-sheet", cmd_count_sheet, "a pre-filled count form (盘点表) for one warehouse, into outbox/count/")
    sub.add_argument("warehouse")
    sub.add_argument("--blind", action="store_true", help="leave the book quantity out (盲盘)")
    sub.add_argument("--category", help="only this item category (a partial count)")
    sub.add_argument("--abc", choices=["A", "B", "C"], help="only this ABC class (a partial count)")
    sub.add_argument("--all-items", action="store_true", help="every active item, not only those with stock")
    sub.add_argument("--date", type=date.fromisoformat, help="the count date (default: today)")
    sub = command("close", cmd_close, "month-end close: lock the month and write the month-end pack")
    sub.add_argument("month", help="YYYY-MM")
    sub.add_argument("--force", action="store_true", help="close despite the blockers (recorded in the audit)")
    sub.add_argument("--reason", default="", help="why, when forcing")
    sub = command("reopen", cmd_reopen, "reopen the latest closed month (recorded in the audit)")
    sub.add_argument("month", help="YYYY-MM")
    sub.add_argument("--reason", required=True)
    command("check", cmd_check, "integrity check: recompute balances from the movements and compare")
    sub = command("backup", cmd_backup, "consistent online backup of the SQLite ledger, dated and rotated")
    sub.add_argument("dest", type=Path, nargs="?", help="a file or folder (default: backups/, keeping backup.keep)")
    sub = command("restore", cmd_restore, "bring a backup back as the ledger, after it passes jxc check")
    sub.add_argument("source", type=Path)
    sub = command("migrate-ledger", cmd_migrate_ledger,
                  "copy the ledger into an empty database (SQLite → PostgreSQL, or back), verified")
    sub.add_argument("--to", required=True, metavar="URL", help="the empty target, e.g. postgresql+psycopg://user@host/db")
    sub = command("demo", cmd_demo, "a demo workspace with master data and filled forms, processed end to end")
    sub.add_argument("dir", type=Path, nargs="?", default=Path("jxc-demo"))
    sub.add_argument("--date", type=date.fromisoformat, help="the demo's today (default: today)")
    return parser


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

    settings = _settings(args)
    setup_logging(settings)
    try:
        if sys.stdout.isatty():
            view = LiveConsole()
            return view.run(Watcher(settings, out=view))
        return Watcher(settings, out=lambda line: print(line, flush=True)).run()
    except SameFilesystemError as e:
        raise UsageError(str(e)) from e


def cmd_run(args) -> int:
    from .pipeline import run_inbox

    settings = _settings(args)
    outcomes = run_inbox(settings, dry_run=args.dry_run)
    for outcome in outcomes:
        if args.json:
            print(json.dumps(outcome_json(outcome), ensure_ascii=False))
        elif not args.quiet or outcome.status in ("rejected", "failed"):
            print(describe(outcome))
    if not outcomes and not args.json and not args.quiet:
        print(f"收件箱为空 / nothing waiting in {settings.inbox}")
    return 0


def cmd_report(args) -> int:
    from .ledger.db import open_ledger
    from .reports.refresh import write_reports

    settings = _settings(args)
    paths = write_reports(open_ledger(settings.ledger_url), settings, None)
    print(f"{len(paths)} 个报表 reports → {settings.outbox}")
    return 0


def cmd_status(args) -> int:
    from .workspace import status

    info = status(_settings(args))
    if args.json:
        print(json.dumps(info, ensure_ascii=False, default=str))
        return 0
    for w in info["watchers"]:
        state = "运行中 running" if w["running"] else f"未运行 not running (stopped {w.get('stopped_at') or '?'})"
        print(f"watcher {w['host']}~{w['pid']}: {state} · since {w['running_since']} · observer {w['observer']}"
              f" · last scan {w['last_scan']} · inbox {'ok' if w['inbox_available'] else 'UNAVAILABLE'}")
        if w.get("last_error"):
            print(f"    last error {w['last_error_at']}: {w['last_error']}")
    if not info["watchers"]:
        print("没有运行中的 jxc watch / no watcher has reported")
    print(f"今日 today: {json.dumps(info['today'], ensure_ascii=False)}")
    print(f"等待处理 waiting: {len(info['waiting'])}  {' '.join(info['waiting'][:10])}")
    if info["in_work"]:
        print(f"处理中 in progress: {' '.join(info['in_work'])}")
    for row in info["last"]:
        print(f"  {row['processed_at']}  {row['status']:<8} {row['name']}")
    changes = [f"{c['scope'] if c['scope'] != '*' else 'all'} → {c['method'] or 'as all'} from {c['from_month']}"
               for c in info["costing"]["ledger"]]
    print(f"成本计价 costing: {info['costing']['config']}" + (f"  ({'; '.join(changes)})" if changes else ""))
    if info["last_failed"]:
        row = info["last_failed"]
        print(f"最近退回或出错 last rejected/failed: {row['processed_at']} {row['name']}\n    {row['first_problems']}")
    return 0


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
    from .closing import close_month
    from .ledger.db import open_ledger
    from .ledger.reverse import login_name

    settings = _settings(args)
    closed = close_month(open_ledger(settings.ledger_url), settings, args.month, login_name(), args.force, args.reason)
    if closed.forced:
        print("强制结账, 已记录 / forced, recorded:\n" + "\n".join(f"  - {b}" for b in closed.blockers))
    failed = [c for c in closed.checks if c.ok != "Y"]
    print(f"已结账 closed: {closed.month}\n  {closed.pack}\n  {closed.voucher_book}\n  {closed.vouchers}")
    for check in failed:
        print(f"  检查未通过 check failed: {check.check}: {check.expected} ≠ {check.actual}")
    return 1 if failed else 0


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
    from .ledger.integrity import check_ledger

    settings = _settings(args)
    with reading(open_ledger(settings.ledger_url)) as conn:
        differences = check_ledger(conn)
    for line in differences:
        print(line)
    if differences:
        print(f"账本不一致 / the ledger has {len(differences)} differences")
        return 1
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
    done = migrate_ledger(open_ledger(settings.ledger_url), args.to)
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
