"""The one place where the stages are composed:
claim → read → validate → check → post → file away → report.

`process_batch` is the unit of work; `run_inbox` (jxc run) and the watcher
(jxc watch) both call it. A bug on one file never stops the batch: it is reported as `failed`,
which is not the same as a file with data problems (`rejected`).
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import time
import logging
import traceback
from dataclasses import dataclass
from functools import partial
from datetime import date
from pathlib import Path
from typing import Callable, Protocol, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from . import clock, inbox, kinds
from .check import Checked, check
from .departments import misplaced
from .config import ReaderConfig, Settings
from .ledger import batches as ledger_batches
from .ledger import counts as ledger_counts
from .ledger import orders as ledger_orders
from .ledger import post as ledger_post
from .ledger import methods as ledger_methods
from .ledger import money as ledger_money
from .ledger import service as ledger_service
from .ledger.db import open_ledger
from .problems import problem
from .records import Outcome, Problem, RawDocument
from .sheets.annotate import problems_only, write_errors_copy
from .sheets.forms import save_atomically
from .sheets.read import reader_warnings, read_workbook
from .validate import validate
from .values import Unparseable, as_code, as_date

log = logging.getLogger("jxc")
FIRST_PROBLEMS = 5
BIG_FILE_LINES = 5000  # a file this long reports each stage it enters (jxc run in a terminal)
BIG_FILE_BYTES = 1 << 20  # … and a file this big its reading, before its lines are known

Stage = Callable[[str, str], None]
"""Told (file, stage) as a big file enters each stage: read, validate, check, post, file away, reports."""


def no_stage(file: str, stage: str) -> None:
    pass


@dataclass(frozen=True)
class Loaded:
    """A claimed file, read."""

    path: Path  # where it is now (inbox/.work/… or, for a dry run, the inbox)
    name: str  # the name the user gave it
    file_hash: str
    raws: tuple[RawDocument, ...]
    problems: tuple[Problem, ...]
    local: Path | None = None  # the local copy that was read, when the inbox is a share
    department: str = ""  # the department folder it was dropped into; "" for the inbox itself
    is_link: bool = False  # a symbolic link: answered, never read through, never filed away

    @property
    def kind(self) -> str:
        return ",".join(sorted({r.kind for r in self.raws}))

    @property
    def label(self) -> str:
        """`warehouse/r.xlsx`: the file as named in answers and in the processing log."""
        return inbox.label(self.department, self.name)


class Retries(Protocol):
    """How a file that failed for a system reason is retried (the watcher's policy)."""

    def again(self, name: str, file_hash: str) -> bool: ...


def run_inbox(settings: Settings, *, dry_run: bool = False, engine: Engine | None = None,
              stage: Stage = no_stage) -> list[Outcome]:
    """Processes every file waiting in the inbox once, in a sensible order, then rewrites the reports."""
    engine = engine or open_ledger(settings.ledger_url)
    if not dry_run:
        clear_leftovers(settings)
        inbox.recover_abandoned(settings.inbox, filed_in=(settings.archive, settings.rejected))
    return process_batch(inbox.candidates(settings.inbox, settings.departments), settings, engine, dry_run=dry_run,
                         stage=stage)


LOCAL_COPIES = "jxc-"  # the temporary folder of one batch's local copies
LEFTOVER_SECONDS = 24 * 3600


def clear_leftovers(settings: Settings) -> None:
    """What a killed run leaves behind: half-written annotated copies in rejected/, and
    the local copies of the files it had claimed (copies of users' files) in the temp folder."""
    from .reports.book import remove_stale_temps

    remove_stale_temps(settings.rejected)
    cutoff = time.time() - LEFTOVER_SECONDS
    for folder in Path(tempfile.gettempdir()).glob(f"{LOCAL_COPIES}*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # another run's, gone meanwhile


def process_batch(paths: Sequence[Path], settings: Settings, engine: Engine, *, dry_run: bool = False,
                  retries: Retries | None = None, should_stop: Callable[[], bool] = lambda: False,
                  on_outcome: Callable[[Outcome], None] = lambda outcome: None,
                  refresh: Callable[[Sequence[Outcome]], object] | None = None,
                  stage: Stage = no_stage) -> list[Outcome]:
    """Claims `paths`, reads local copies of them, processes them in a sensible order,
    and rewrites the reports once — or hands the outcomes to `refresh` (the watcher's
    background refresher). Stopping leaves unprocessed files in the inbox."""
    claimed = []
    for path in paths:
        taken = path if dry_run else inbox.claim(path, settings.inbox)
        if taken is not None:
            claimed.append((taken, path.name, inbox.department_of(path, settings.inbox)))
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix=LOCAL_COPIES) as local:
        loaded = receipts_first(sorted(_load_all(claimed, Path(local), settings.config.reader, stage), key=order))
        for i, item in enumerate(loaded):
            if should_stop() and not dry_run:
                for rest in loaded[i:]:
                    inbox.move_unique(rest.path, inbox.department_folder(settings.inbox, rest.department), rest.name)
                    inbox.release(rest.path)
                break
            outcomes.append(process_loaded(item, settings, engine, dry_run=dry_run, retries=retries,
                                           stage=stage if _is_big(item) else no_stage))
            if not dry_run and not item.path.exists():
                inbox.release(item.path)
            on_outcome(outcomes[-1])
    if any(o.status in ("posted", "skipped", "rejected", "failed") for o in outcomes) and not dry_run:
        if any(_is_big(item) for item in loaded):
            stage("", "reports")
        (refresh or partial(refresh_reports, engine, settings))(outcomes)
    return outcomes


def _is_big(item: Loaded) -> bool:
    return sum(len(r.lines) for r in item.raws) > BIG_FILE_LINES


def _load_all(claimed: list[tuple[Path, str, str]], local: Path, limits: ReaderConfig,
              stage: Stage = no_stage) -> list[Loaded]:
    loaded = []
    for taken, name, department in claimed:
        try:
            if taken.lstat().st_size > BIG_FILE_BYTES:  # lstat: a link is answered unread, even a dangling one
                stage(inbox.label(department, name), "read")
            loaded.append(load(taken, name, local, department, limits))
        except OSError:  # the share went away mid-copy: the claim is taken back later
            log.exception("could not copy %s from the inbox", name)
    return loaded


def process_file(path: Path, settings: Settings, engine: Engine, *, dry_run: bool = False) -> Outcome:
    """Claims, processes and files away one file of the inbox."""
    outcomes = process_batch([path], settings, engine, dry_run=dry_run)
    return outcomes[0] if outcomes else Outcome(path.name, "gone")


def load(path: Path, name: str, local_folder: Path | None = None, department: str = "",
         limits: ReaderConfig = ReaderConfig()) -> Loaded:
    """Reads the claimed file — from a local copy when `local_folder` is given, so a
    slow or flaky share is touched once, by one sequential copy."""
    if path.is_symlink():
        target = os.readlink(path)
        refused = problem("file-is-link", value=target, target=target)
        return Loaded(path, name, hashlib.sha256(os.fsencode(target)).hexdigest(), (), (refused,), None, department,
                      is_link=True)
    local = None
    source = path
    # A file over the size limit is refused unread: not worth a copy.
    if local_folder is not None and path.stat().st_size <= limits.max_file_mb * 1024 * 1024:
        local = local_folder / inbox.fitting(f"{len(list(local_folder.iterdir()))}-{name}")
        shutil.copyfile(path, local)
        source = local
    with open(source, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    try:
        raws, problems = read_workbook(source, name, limits)
    except Exception as e:  # the reader's own bug: answered like any other failure
        log.exception("reading %s failed", name)
        raws, problems = [], [problem("internal-error", reason=f"{type(e).__name__}: {e}")]
    return Loaded(path, name, digest, tuple(raws), tuple(problems), local, department)


def order(item: Loaded) -> tuple:
    """Master data first (warehouses, suppliers, customers, items), then opening stock,
    then documents by their earliest date — on one date, orders before the receipts
    and deliveries that may name them, and counts after them (a count takes the book
    at the end of its day); unreadable files last."""
    if item.problems or not item.raws:
        return (3, date.max, 1, item.name)
    names = [r.kind for r in item.raws]
    if all(kinds.KINDS[n].is_master for n in names):
        return (0, min(kinds.MASTER_ORDER.index(n) for n in names), 1, item.name)
    rank = 1 if "opening" in names else 2
    within_day = 0 if all(kinds.KINDS[n].is_order for n in names) else \
        2 if any(kinds.KINDS[n].is_count or kinds.KINDS[n].is_money for n in names) else 1
    return (rank, _earliest_date(item.raws), within_day, item.name)


def receipts_first(loaded: list[Loaded]) -> list[Loaded]:
    """The batch in `order`, except that a file of landed costs comes after every file of
    the batch holding a receipt it names: the expense and its goods dropped together
    post, whatever their dates and names (a landed cost follows posted receipts only)."""
    result = list(loaded)
    for item in [i for i in loaded if any(r.kind == "landed_cost" for r in i.raws)]:
        named = {_text(value) for r in item.raws if r.kind == "landed_cost" for value in r.lines.columns.get("receipt_no", ())}
        holding = [j for j, other in enumerate(result) if other is not item and named & _receipt_numbers(other)]
        if holding and max(holding) > result.index(item):
            result.remove(item)
            result.insert(max(holding), item)  # just after the last of them, which moved up by one
    return result


def _receipt_numbers(item: Loaded) -> set[str]:
    numbers = set()
    for r in item.raws:
        if r.kind == "receipt":
            numbers.add(_text(r.header["doc_no"].value) if "doc_no" in r.header else "")
            numbers |= {_text(value) for value in r.lines.columns.get("doc_no", ())}
    return numbers - {""}


def _text(value) -> str:
    try:
        return as_code(value) if value is not None else ""
    except Unparseable:
        return ""


def _first_date(item: Loaded) -> date | None:
    """The earliest date a rejected file holds, so the month-end close knows whose month it is."""
    earliest = _earliest_date(item.raws)
    return None if earliest == date.max else earliest


def _earliest_date(raws: Sequence[RawDocument]) -> date:
    values = [s.value for r in raws if (s := r.header.get("doc_date")) is not None]
    values += [value for r in raws for value in r.lines.columns.get("doc_date", ())[:1000]]
    dates = []
    for value in values:
        if value is not None:
            try:
                dates.append(as_date(value))
            except Unparseable:
                pass
    return min(dates, default=date.max)


def process_loaded(item: Loaded, settings: Settings, engine: Engine, *, dry_run: bool = False,
                   retries: Retries | None = None, stage: Stage = no_stage) -> Outcome:
    try:
        outcome = _process(item, settings, engine, dry_run, partial(stage, item.label))
    except Exception as e:
        log.exception("processing %s failed", item.name)
        too_long = isinstance(e, OSError) and e.errno == errno.ENAMETOOLONG
        # a name is no passing trouble of the share: retrying cannot help, the user can
        failure = problem("file-name-too-long", value=item.name, size=len(item.name.encode()),
                          limit=inbox.NAME_MAX // 2, limit_zh=inbox.NAME_MAX // 6) if too_long else \
            problem("internal-error", reason=f"{type(e).__name__}: {e}")
        notes = (traceback.format_exc(limit=3),)
        if dry_run or not item.path.exists():
            return Outcome(item.label, "failed", item.kind, problems=(failure,), notes=notes)
        if not too_long and retries is not None and system_failure(e) and retries.again(item.label, item.file_hash):
            return _give_back(item, settings, failure, notes)
        try:
            outcome = _reject(item, settings, engine, (failure,), status="rejected" if too_long else "failed",
                              notes=() if too_long else notes,
                              filed_as=inbox.fitting(item.name, inbox.NAME_MAX // 2) if too_long else "")
        except Exception:  # even filing it away failed: leave it in .work for the next run
            log.exception("could not file away %s", item.name)
            return Outcome(item.label, "failed", item.kind, problems=(failure,), notes=notes)
    return outcome


def system_failure(error: Exception) -> bool:
    """A failure of what the file travels through — the share, the disk, the database —
    which may pass, so the file is worth another try. Anything else is a bug met on this
    file: it would fail the same way every time, so it is answered once, as `failed`."""
    return isinstance(error, (OSError, MemoryError, DBAPIError))


def _process(item: Loaded, settings: Settings, engine: Engine, dry_run: bool,
             stage: Callable[[str], None] = lambda name: None) -> Outcome:
    unread = item.problems or tuple(misplaced(item.raws, item.department, settings, item.local or item.path))
    if unread:  # unreadable, or of a kind its folder may not post: answered before any validation
        return _dry(item, unread) if dry_run else _reject(item, settings, engine, unread)
    stage("validate")
    validated = validate(item.raws)
    with engine.begin() as conn:
        stage("check")
        checked = check(conn, validated.documents, validated.master, settings.allow_negative_stock,
                        settings.config.orders, settings.config.counts, tax_rules=settings.config.tax,
                        money_rules=settings.config.money, chart=settings.config.finance.chart,
                        batch_rules=settings.config.batches, sales_rules=settings.config.sales,
                        quality_rules=settings.config.quality)
        problems = validated.problems + checked.problems
        if problems or dry_run:
            conn.rollback()
        else:
            warnings = (*reader_warnings(item.raws), *checked.warnings)
            resolving = _rejections_resolved(conn, item, checked, settings)
            stage("post")
            status, file_id = _post(conn, item, checked, settings, warnings, tuple(_resolved_note(r) for r in resolving))
    if problems:
        return _dry(item, problems) if dry_run else _reject(item, settings, engine, problems)
    notes = (tuple(f"{d.doc_no}: 已过账, 跳过 / already posted, skipped" for d in checked.already_posted)
             + checked.notes + tuple(w.render() for w in checked.warnings))
    if not dry_run:
        notes += tuple(_resolved_note(r) for r in resolving)
    lines = _lines(checked)
    if dry_run:
        would = tuple(f"{d.kind} {d.doc_no} {d.doc_date} · {len(d.lines)} 行 lines" for d in checked.posting)
        return Outcome(item.label, "dry-run", item.kind, len(checked.posting), lines, notes=would + notes)
    notes += tuple(w.render() for w in reader_warnings(item.raws))
    stage("file away")
    moved_to = _archive(item, settings, engine, file_id)
    _file_resolved(resolving, settings, engine)
    return Outcome(item.label, status, item.kind, len(checked.posting), lines,
                   notes=notes, moved_to=moved_to, file_hash=item.file_hash,
                   doc_dates=tuple(sorted({d.doc_date for d in checked.posting})))


# --- rejected files resolved by a later posting ---------------------------------------

def _doc_numbers(raws: Sequence[RawDocument]) -> list[tuple[str, str]]:
    """(kind, doc_no) of every document a file holds, as written (header, or each batch row)."""
    values = [(r.kind, s.value) for r in raws if (s := r.header.get("doc_no")) is not None]
    values += [(r.kind, value) for r in raws if r.layout == "batch" for value in r.lines.columns.get("doc_no", ())]
    return sorted({(kind, as_code(value)) for kind, value in values if value is not None and as_code(value)})


def _rejections_resolved(conn, item: Loaded, checked: Checked, settings: Settings) -> list:
    """The files in rejected/ that this posting resolves: dropped under the same name (or as
    its red-marked copy), or holding a document number (of the same kind) it posts or had posted."""
    keys = [(d.kind, d.doc_no) for d in (*checked.to_post, *checked.already_posted)]
    same_name = inbox.answer_name(item.label).lower()
    stem, dot, ext = same_name.rpartition(".")
    names = [same_name, f"{stem}.errors{dot}{ext}" if dot else f"{same_name}.errors"]
    return [r for r in ledger_post.rejected_files_matching(conn, names, keys)
            if not inbox.is_resolved(r.moved_to) and (settings.root / r.moved_to).exists()]


def _resolved_note(row) -> str:
    return f"已解决退回文件 {row.name}, 移至 resolved/ / resolves the rejected file {row.name}: moved to resolved/"


def _file_resolved(rows: Sequence, settings: Settings, engine: Engine) -> None:
    """Each resolved original, and its red-marked copy, into resolved/ beside them."""
    for row in rows:
        try:
            moved = inbox.file_resolved(settings.root / row.moved_to)
            with engine.begin() as conn:
                ledger_post.set_moved_to(conn, row.id, _relative(moved, settings))
        except OSError:  # the rejected file is merely left where it was
            log.exception("could not move %s into resolved/", row.moved_to)


def _lines(checked: Checked) -> int:
    """Lines as the user wrote them: a count's are the skus counted, not the variances it posts."""
    posted = sum(len(d.lines) for d in checked.to_post if d.kind != "count") + sum(len(d.lines) or 1 for d in checked.money)
    return posted + sum(len(r.lines) for r in checked.counts) + len(checked.master)


def _post(conn, item: Loaded, checked: Checked, settings: Settings, warnings: Sequence[Problem],
          resolved: tuple[str, ...] = ()) -> tuple[str, int]:
    """Writes one checked file into the ledger, inside the caller's transaction; `resolved`:
    the rejected files it resolves, told in the processing log."""
    docs = checked.to_post
    sync_costing(conn, settings)
    status = "posted" if docs or checked.money or checked.master or checked.closures or checked.decisions \
        or checked.repairs else "skipped"
    file_id = ledger_post.record_file(conn, ledger_post.FileRecord(
        item.label, item.file_hash, item.kind, status,
        documents=len(checked.posting) + len(checked.already_posted),
        lines=_lines(checked),
        warnings="\n".join((*(w.render() for w in warnings), *_picks(checked), *resolved)) or None,
        notes="\n".join(checked.notes) or None))
    ledger_post.upsert_master(conn, checked.master)
    ids = dict(zip(((d.kind, d.doc_no) for d in docs), ledger_post.post_documents(conn, docs, file_id)))
    if checked.batches is not None:
        ledger_batches.record_batches(conn, checked.batches.new_batches, checked.batches.moves, ids,
                                      checked.batches.switched, checked.batches.serials_switched)
        ledger_batches.record_serials(conn, checked.batches.serial_moves, ids)
    ledger_orders.record_fulfilments(conn, checked.fulfilments, ids)
    ledger_orders.record_closures(conn, checked.closures, closed_by=item.label)
    ledger_counts.record_counts(conn, checked.counts, ids)
    ledger_counts.record_decisions(conn, checked.decisions, ids, decided_by=item.label)
    partners = ledger_money.record_documents(conn, ids.values()) | ledger_money.post_money(conn, checked.money, file_id)
    ledger_money.allocate(conn, partners)
    ledger_service.record_repairs(conn, checked.repairs)
    return status, file_id


def _picks(checked: Checked) -> tuple[str, ...]:
    """The batches first-expiry-first-out picked, kept in the processing log with the file."""
    return checked.batches.notes if checked.batches is not None else ()


def _archive(item: Loaded, settings: Settings, engine: Engine, file_id: int) -> str:
    """After the commit nothing may turn a posted file into a rejected one: if the move
    fails, the file stays in .work and the next run puts it back, to be skipped."""
    try:
        archive = inbox.department_folder(settings.archive, item.department)
        moved = inbox.move_unique(item.path, inbox.archive_folder(archive, clock.now()), item.name)
        with engine.begin() as conn:
            ledger_post.set_moved_to(conn, file_id, _relative(moved, settings))
    except OSError:
        log.exception("posted %s but could not archive it; it stays in %s", item.name, item.path.parent)
        return _relative(item.path, settings)
    return _relative(moved, settings)


def _give_back(item: Loaded, settings: Settings, failure: Problem, notes: tuple[str, ...]) -> Outcome:
    """A system failure (the ledger unreachable, a full disk…) is no fault of the file:
    it goes back to the folder it was dropped into, to be tried again later."""
    try:
        inbox.move_unique(item.path, inbox.department_folder(settings.inbox, item.department), item.name)
    except OSError:
        log.exception("could not give %s back; it stays in %s", item.name, item.path.parent)
    return Outcome(item.label, "retry", item.kind, problems=(failure,), notes=notes)


def _dry(item: Loaded, problems: Sequence[Problem]) -> Outcome:
    return Outcome(item.label, "rejected", item.kind, problems=tuple(problems))


def _reject(item: Loaded, settings: Settings, engine: Engine, problems: Sequence[Problem],
            status: str = "rejected", notes: tuple[str, ...] = (), filed_as: str = "") -> Outcome:
    """The original goes to rejected/ (rejected/DEPARTMENT/ for a department's file)
    untouched, with NAME.errors.xlsx beside it — named from the original's name when it
    was a red-marked copy dropped again, never `x.errors (2).errors.xlsx`. A link goes
    nowhere: it is removed, and only its answer is written (nothing is read through it)."""
    folder = inbox.department_folder(settings.rejected, item.department)
    name = inbox.answer_name(filed_as or item.name)
    # The annotated copy first, so no original ever sits in rejected/ without its reasons
    # (a run killed in between leaves a spare copy instead); never over an existing file.
    stem = inbox.unique_name(folder, name).rsplit(".", 1)[0]
    errors = folder / inbox.unique_name(folder, f"{stem}.errors.xlsx")
    if item.is_link:
        errors = save_atomically(problems_only(problems, item.name), errors)
        item.path.unlink()
        moved = errors
    else:
        errors = write_errors_copy(item.local or item.path, errors, problems, item.name)
        moved = inbox.move_unique(item.path, folder, name)
    first = "\n".join(p.render() for p in problems[:FIRST_PROBLEMS])
    with engine.begin() as conn:
        file_id = ledger_post.record_file(conn, ledger_post.FileRecord(
            item.label, item.file_hash, item.kind, status, problems=len(problems),
            first_problems=first, moved_to=_relative(moved, settings), first_date=_first_date(item)))
        ledger_post.record_rejected_documents(conn, file_id, _doc_numbers(item.raws))
    return Outcome(item.label, status, item.kind, problems=tuple(problems), notes=notes,
                   moved_to=_relative(errors, settings), file_hash=item.file_hash)


def _relative(path: Path, settings: Settings) -> str:
    try:
        return path.relative_to(settings.root).as_posix()
    except ValueError:
        return str(path)


def sync_costing(conn, settings: Settings) -> None:
    costing = settings.config.costing
    for note in ledger_methods.sync(conn, costing.method, costing.items):
        log.warning(note)


def refresh_reports(engine: Engine, settings: Settings, outcomes: Sequence[Outcome]) -> list[Path]:
    from .reports.refresh import write_reports

    return write_reports(engine, settings, sorted(months_touched(outcomes)), posted_any(outcomes))


def posted_any(outcomes: Sequence[Outcome]) -> bool:
    """Whether the outcomes changed the ledger; rejected, failed and skipped files add only a line to the log."""
    return any(o.status == "posted" for o in outcomes)


def months_touched(outcomes: Sequence[Outcome]) -> set[str]:
    """The months whose ledger mirror the outcomes changed."""
    return {d.strftime("%Y-%m") for o in outcomes for d in o.doc_dates}
