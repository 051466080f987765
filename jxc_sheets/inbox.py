"""The inbox: which files are candidates, claiming one, filing it away.

A file is claimed by an atomic rename into `inbox/.work/`, under a name that
says which host and process hold it, so two runs on one share never take the
same file. Every destination name is new: a rename onto an existing name would
silently replace it, and share names are case-insensitive.

With department folders (config `departments`), files also arrive in configured
sub-folders of the inbox; a claim remembers which (`HOST~PID~~DEPT~NAME`), so a
file given back returns to the folder it came from.
"""
from __future__ import annotations

import errno
import glob
import hashlib
import logging
import os
import re
import shutil
import socket
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from .filesystems import filesystem_type, is_network

log = logging.getLogger("jxc")
WORK = ".work"
NAMES = ".names"  # in .work: the user's name of a file claimed under a shortened one
NAME_MAX = 255  # bytes of one name on ext4, NTFS (in UTF-16 units there), SMB, NFS
TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".download")
CLAIM_SEPARATOR = "~"


_EXCEL_SAVE_TEMP = re.compile(r"^[0-9A-F]{8}$")  # Excel saves into such a file, then renames it


def is_candidate(path: Path) -> bool:
    """Lock files, temp files and hidden files are never claimed. A symbolic link is, to be
    answered (whatever it points to, or nothing): never read through, never filed away."""
    name = path.name
    if name.startswith(("~$", ".~lock.", ".", "~")) or name.endswith("#") or _EXCEL_SAVE_TEMP.match(name):
        return False
    if name.lower().endswith(TEMP_SUFFIXES):
        return False
    return path.is_symlink() or path.is_file()


_ERRORS_COPY = re.compile(r"\.errors(?=\.[^.]*$)", re.IGNORECASE)


def answer_name(name: str) -> str:
    """The name a file is filed under in rejected/: its own, but for a red-marked copy
    (`x.errors.xlsx`) dropped again, the original's (`x.xlsx`), so that its answer is
    `x (2).errors.xlsx`, not `x.errors.errors.xlsx`."""
    return _ERRORS_COPY.sub("", name, count=1)


def candidates(inbox: Path, departments: Sequence[str] = ()) -> list[Path]:
    """The files waiting in the inbox and in its department folders."""
    try:
        entries = listing(inbox, departments)
    except OSError:
        return []
    found = [Path(e.path) for e in entries if is_candidate(Path(e.path))]
    return sorted(found, key=lambda p: (p.name, p.parent.name))


# --- department folders ----------------------------------------------------------

def drop_folders(inbox: Path, departments: Sequence[str]) -> list[Path]:
    """The inbox and the sub-folders files are taken from (see `subfolders`)."""
    try:
        with os.scandir(inbox) as scan:
            return [inbox, *(inbox / d for d in subfolders(list(scan), departments))]
    except OSError:
        return [inbox, *(inbox / d for d in departments)]


def subfolders(entries: Sequence[os.DirEntry], departments: Sequence[str]) -> list[str]:
    """The department folders when there are departments. Without, every folder someone
    made in the inbox (`inbox/11月/`): its files are taken like the inbox's own, and answered
    in a folder of the same name in rejected/ and archive/. Hidden folders, links and names
    with `~` (the claim's separator) are not."""
    if departments:
        return list(departments)
    return sorted(e.name for e in entries if _plain_folder(e))


def _plain_folder(entry: os.DirEntry) -> bool:
    try:
        return (entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
                and CLAIM_SEPARATOR not in entry.name)
    except OSError:
        return False


def department_of(path: Path, inbox: Path) -> str:
    """The department sub-folder a dropped file is in; "" for the inbox itself."""
    return path.parent.name if path.parent != inbox and path.parent.parent == inbox else ""


def department_folder(base: Path, department: str) -> Path:
    """`base`, or its sub-folder of `department`: inbox/, rejected/ and archive/ alike."""
    return base / department if department else base


def label(department: str, name: str) -> str:
    """A dropped file as people name it: `warehouse/r.xlsx`, or `r.xlsx` in the inbox itself."""
    return f"{department}/{name}" if department else name


_said: set[str] = set()  # what this process has already warned about: a watcher scans every few seconds


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _said:
        _said.add(key)
        log.warning(message, *args)


# --- claims ----------------------------------------------------------------------

@dataclass(frozen=True)
class ClaimName:
    """What a claimed file's name in .work says: who holds it, and where it came from."""

    host: str
    pid: int
    department: str
    name: str


def parse_claim(filename: str) -> ClaimName | None:
    parts = filename.split(CLAIM_SEPARATOR, 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    host, pid, rest = parts
    department = ""
    if rest.startswith(CLAIM_SEPARATOR):  # a dropped name never starts with "~" (is_candidate)
        department, _, rest = rest[1:].partition(CLAIM_SEPARATOR)
        if not department or department.startswith(".") or not rest:
            return None
    return ClaimName(host, int(pid), department, rest)


def _owner() -> str:
    return f"{socket.gethostname()}{CLAIM_SEPARATOR}{os.getpid()}"


def claim_name(department: str, name: str, limit: int = NAME_MAX) -> str:
    """`HOST~PID~NAME` (`HOST~PID~~DEPT~NAME`); a name too long to carry that prefix is
    cut, with a hash of the whole name so that two long names never meet in .work."""
    where = f"{CLAIM_SEPARATOR}{department}{CLAIM_SEPARATOR}" if department else ""
    prefix = f"{_owner()}{CLAIM_SEPARATOR}{where}"
    if _bytes(prefix + name) <= limit:
        return prefix + name
    stem, ext = _split(name)
    tag = f"…{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}{ext}"
    return prefix + _cut(stem, limit - _bytes(prefix + tag)) + tag


def claim(path: Path, inbox: Path) -> Path | None:
    """The claimed path inside inbox/.work, or None when another process took it first.
    A claim under a shortened name keeps the user's name beside it (.work/.names/), so a
    file taken back after a crash returns under its own name."""
    work = inbox / WORK
    names = work / NAMES
    work.mkdir(exist_ok=True)
    target = work / claim_name(department_of(path, inbox), path.name, name_max(work))
    if parse_claim(target.name).name != path.name:
        names.mkdir(exist_ok=True)
        (names / target.name).write_text(path.name, encoding="utf-8", errors="surrogateescape")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        (names / target.name).unlink(missing_ok=True)
        return None
    except OSError as e:  # still held open by its user (a sharing violation on a Windows share): later
        (names / target.name).unlink(missing_ok=True)
        if e.errno == errno.ENAMETOOLONG:  # a name never gets shorter by waiting: say so, loudly, once
            _warn_once(f"long {path}", "%s not claimed, its name is too long even cut short: %s", path, e)
        else:
            log.info("not claimed yet, %s is in use: %s", path.name, e)
        return None
    return target


def original_name(claimed: Path) -> str:
    """The name the user gave a claimed file."""
    try:
        return (claimed.parent / NAMES / claimed.name).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        parsed = parse_claim(claimed.name)
        return parsed.name if parsed else claimed.name


def release(claimed: Path) -> None:
    """The claim is over (the file was filed away or given back): forget its long name."""
    (claimed.parent / NAMES / claimed.name).unlink(missing_ok=True)


# --- names that fit --------------------------------------------------------------

def name_max(folder: Path) -> int:
    try:
        return min(NAME_MAX, os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # Windows has no pathconf
        return NAME_MAX


def fitting(name: str, limit: int = NAME_MAX) -> str:
    """`name`, its stem cut short (at a character, never in one) when it is longer than
    `limit` bytes: Chinese names take 3 bytes a character."""
    if _bytes(name) <= limit:
        return name
    stem, ext = _split(name)
    return _cut(stem, limit - _bytes(ext) - _bytes("…")) + "…" + ext


def _split(name: str) -> tuple[str, str]:
    """(stem, extension); `.errors.xlsx` counts as the extension of an answer."""
    stem, dot, ext = name.rpartition(".")
    if not stem or len(ext) > 16:
        return name, ""
    if stem.lower().endswith(".errors"):
        return stem[:-7], stem[-7:] + dot + ext
    return stem, dot + ext


def _cut(text: str, limit: int) -> str:
    cut = text.encode("utf-8", "surrogateescape")[:max(0, limit)]
    return cut.decode("utf-8", "ignore")


def _bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def recover_abandoned(inbox: Path, *, include_own: bool = False, lease_seconds: float | None = None,
                      filed_in: Sequence[Path] = ()) -> list[Path]:
    """Files left in .work by a run that is gone are put back where they were dropped
    (the inbox, or their department folder); posting them again is harmless (their
    documents are skipped as already posted). A file the run had already linked into
    its destination — the inbox, or one of `filed_in` (archive/, rejected/) — when it
    died is not put back: its move is finished.

    Gone: a process of this host that no longer runs; this very process when
    `include_own` (a watcher between batches holds nothing); a process of another
    host whose claimed file has not been touched for `lease_seconds`."""
    work = inbox / WORK
    if not work.is_dir():
        return []
    host, now = socket.gethostname(), time.time()
    recovered = []
    for path in work.iterdir():
        held = parse_claim(path.name)
        if held is None:
            continue
        if held.host == host:
            gone = (include_own and held.pid == os.getpid()) or not _alive(held.pid)
        else:
            gone = lease_seconds is not None and now - _mtime(path) > lease_seconds
        if gone:
            home, name = department_folder(inbox, held.department), original_name(path)
            if _moved_already(path, name, (home, *filed_in)):
                path.unlink(missing_ok=True)
                release(path)
                continue
            try:
                recovered.append(move_unique(path, home, name))
            except FileNotFoundError:  # another instance took it back first
                continue
            release(path)
    _forget_orphan_names(work)
    return recovered


def _forget_orphan_names(work: Path, older_than: float = 60) -> None:
    """Long names whose claim is gone (filed away by a run killed before it forgot the name)."""
    names = work / NAMES
    for kept in names.iterdir() if names.is_dir() else ():
        if not (work / kept.name).exists() and time.time() - _mtime(kept) > older_than:
            kept.unlink(missing_ok=True)


def _moved_already(claimed: Path, name: str, folders: Sequence[Path]) -> bool:
    """move_unique links, then unlinks: a run killed in between leaves the claim with a
    twin (the same file, under `name` or `name (2)`…) in or below one of `folders`."""
    try:
        if claimed.stat().st_nlink < 2:
            return False
    except OSError:
        return False
    stem = name.rpartition(".")[0] or name
    for folder in folders:
        for twin in folder.rglob(f"{glob.escape(stem)}*"):
            try:
                if twin != claimed and os.path.samefile(twin, claimed):
                    return True
            except OSError:
                continue
    return False


def own_claims(inbox: Path) -> list[Path]:
    work = inbox / WORK
    prefix = _owner() + CLAIM_SEPARATOR
    return [p for p in work.iterdir() if p.name.startswith(prefix)] if work.is_dir() else []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unique_name(folder: Path, name: str) -> str:
    """`name`, or `stem (2).ext`, … — whichever no file in `folder` has, ignoring case,
    cut short where it would not fit (see `fitting`)."""
    taken = {p.name.lower() for p in folder.iterdir()} if folder.is_dir() else set()
    limit = name_max(folder) if folder.is_dir() else NAME_MAX
    stem, ext = _split(name)
    candidate, n = fitting(name, limit), 1
    while candidate.lower() in taken:
        n += 1
        candidate = fitting(f"{stem}{ext}", limit - _bytes(f" ({n})"))
        fitted_stem, fitted_ext = _split(candidate)
        candidate = f"{fitted_stem} ({n}){fitted_ext}"
    return candidate


def move_unique(source: Path, folder: Path, name: str) -> Path:
    """Moves `source` into `folder` under a name no file there has; never replaces a file."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        target = folder / unique_name(folder, name)
        try:
            os.link(source, target)  # fails if the name was taken meanwhile: never overwrites
        except FileExistsError:
            continue
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            return _copy_then_remove(source, target)
        source.unlink()
        return target


def _copy_then_remove(source: Path, target: Path) -> Path:
    """Across filesystems (or where hard links are not allowed): copy, flush, then remove."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        shutil.copyfileobj(src, dst)
        dst.flush()
        os.fsync(dst.fileno())
    source.unlink()
    return target


RESOLVED = "resolved"  # in rejected/ (and rejected/DEPT/): rejected files a later posting put right


def is_resolved(moved_to: str) -> bool:
    return Path(moved_to).parent.name == RESOLVED


def file_resolved(original: Path) -> Path:
    """Moves a rejected original, and its `.errors.xlsx` beside it, into resolved/ there."""
    folder = original.parent / RESOLVED
    errors = original.with_name(f"{original.name.rpartition('.')[0] or original.name}.errors.xlsx")
    if errors != original and errors.exists():
        move_unique(errors, folder, errors.name)
    return move_unique(original, folder, original.name)


def archive_folder(archive: Path, when: datetime) -> Path:
    return archive / when.strftime("%Y-%m")


# --- only finished files ---------------------------------------------------------

ZIP_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".ods")


def listing(inbox: Path, departments: Sequence[str] = ()) -> list[os.DirEntry]:
    """Every entry of the inbox and of its department folders. Raises OSError when the
    inbox (a share) is not there: an unreachable share is not an empty one. A missing
    or unreadable department folder, or a sub-folder that is none, is logged once."""
    with os.scandir(inbox) as scan:
        entries = list(scan)
    if departments:
        _warn_about_other_folders(inbox, entries, departments)
    for department in subfolders(entries, departments):
        try:
            with os.scandir(inbox / department) as scan:
                inside = list(scan)
        except OSError as e:
            _warn_once(f"missing {inbox / department}", "department folder %s not read (jxc init creates it): %s",
                       inbox / department, e)
            continue
        entries += inside
        if not departments:
            _warn_about_folders_in(inbox / department, inside)
    return entries


def _warn_about_folders_in(folder: Path, entries: list[os.DirEntry]) -> None:
    for entry in entries:
        if _plain_folder(entry):
            _warn_once(f"nested {entry.path}", "%s is a folder in a folder of the inbox: files in it are not taken;"
                       " move them into %s", entry.path, folder)


def _warn_about_other_folders(inbox: Path, entries: list[os.DirEntry], departments: Sequence[str]) -> None:
    for entry in entries:
        if entry.name not in departments and not entry.name.startswith((".", "~")) and _plain_folder(entry):
            _warn_once(f"other {inbox / entry.name}", "%s is no department folder (departments.folders: %s);"
                       " files in it are not taken", inbox / entry.name, ", ".join(departments))


def lock_names(name: str) -> set[str]:
    """The owner files Excel, WPS and LibreOffice keep beside a workbook they have open.
    Excel shortens long names by their first characters (~$ook1.xlsx for Book1.xlsx)."""
    return {f"~${name}", f"~${name[1:]}", f"~${name[2:]}", f".~lock.{name}#", f".~{name}"}


def is_complete(path: Path) -> bool:
    """A zip-based workbook is complete when its end-of-central-directory record reads;
    other files only have to stop changing."""
    if not path.name.lower().endswith(ZIP_SUFFIXES):
        return True
    try:
        with zipfile.ZipFile(path):
            return True
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def can_open(path: Path) -> bool:
    """False while another program holds the file (a sharing violation on a Windows share)."""
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False


@dataclass
class _Observed:
    size: int
    mtime_ns: int
    since: float  # monotonic time it was first seen as it is now
    complete: bool | None = None  # is_complete, once asked: it cannot change while size and mtime do not


class Settling:
    """Which inbox files have finished arriving: unchanged in size and mtime for
    `stable_seconds`, no owner lock file beside them, readable, and — for
    workbooks — a complete zip. A stable file that still is not a complete
    workbook after `grace_seconds` is let through, to be answered as unreadable."""

    def __init__(self, stable_seconds: float, grace_seconds: float):
        self.stable_seconds = stable_seconds
        self.grace_seconds = grace_seconds
        self._seen: dict[Path, _Observed] = {}

    def ready(self, entries: list[os.DirEntry], now: float | None = None) -> tuple[list[Path], int]:
        """The finished files, and how many others are still settling."""
        now = time.monotonic() if now is None else now
        present = {Path(e.path) for e in entries}  # by path: department folders may hold the same name
        ready, settling, current = [], 0, {}
        for entry in entries:
            path = Path(entry.path)
            if not is_candidate(path):
                continue
            if entry.is_symlink():  # nothing to wait for, and never opened to find out
                ready.append(path)
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            observed = self._seen.get(path)
            if observed is None or (observed.size, observed.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                observed = _Observed(stat.st_size, stat.st_mtime_ns, now)
            current[path] = observed
            if self._finished(path, observed, now, present):
                ready.append(path)
            else:
                settling += 1
        self._seen = current
        return ready, settling

    def _finished(self, path: Path, observed: _Observed, now: float, present: set[Path]) -> bool:
        quiet = now - observed.since
        locked = any(path.parent / lock in present for lock in lock_names(path.name))
        if quiet < self.stable_seconds or locked or not can_open(path):
            return False
        if observed.complete is None:
            observed.complete = is_complete(path)
        return quiet >= self.grace_seconds or observed.complete


# --- which observer --------------------------------------------------------------

def choose_observer(setting: str, inbox: Path) -> tuple[str, str]:
    """("native" | "polling", why): events from other machines never reach inotify
    on a network mount, so there only polling sees new files."""
    if setting != "auto":
        return setting, f"inbox.observer: {setting}"
    if str(inbox).startswith("\\\\"):
        return "polling", "UNC path"
    fs = filesystem_type(inbox)
    if is_network(fs):
        return "polling", f"network filesystem {fs}"
    return "native", f"local filesystem {fs or 'unknown'}"
