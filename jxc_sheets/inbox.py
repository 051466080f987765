"""The inbox: which files are candidates, claiming one, filing it away.

A file is claimed by an atomic rename into `inbox/.work/`, under a name that
says which host and process hold it, so two runs on one share never take the
same file. Every destination name is new: a rename onto an existing name would
silently replace it, and share names are case-insensitive.
"""
from __future__ import annotations

import errno
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

from .filesystems import filesystem_type, is_network

log = logging.getLogger("jxc")
WORK = ".work"
TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".download")
CLAIM_SEPARATOR = "~"


_EXCEL_SAVE_TEMP = re.compile(r"^[0-9A-F]{8}$")  # Excel saves into such a file, then renames it


def is_candidate(path: Path) -> bool:
    """Lock files, temp files and hidden files are never claimed."""
    name = path.name
    if name.startswith(("~$", ".~lock.", ".", "~")) or name.endswith("#") or _EXCEL_SAVE_TEMP.match(name):
        return False
    if name.lower().endswith(TEMP_SUFFIXES):
        return False
    return path.is_file()


def candidates(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        return []
    return sorted((p for p in inbox.iterdir() if is_candidate(p)), key=lambda p: p.name)


def _owner() -> str:
    return f"{socket.gethostname()}{CLAIM_SEPARATOR}{os.getpid()}"


def claim(path: Path, inbox: Path) -> Path | None:
    """The claimed path inside inbox/.work, or None when another process took it first."""
    work = inbox / WORK
    work.mkdir(exist_ok=True)
    target = work / f"{_owner()}{CLAIM_SEPARATOR}{path.name}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    except OSError as e:  # still held open by its user (a sharing violation on a Windows share): later
        log.info("not claimed yet, %s is in use: %s", path.name, e)
        return None
    return target


def original_name(claimed: Path) -> str:
    parts = claimed.name.split(CLAIM_SEPARATOR, 2)
    return parts[2] if len(parts) == 3 else claimed.name


def recover_abandoned(inbox: Path, *, include_own: bool = False, lease_seconds: float | None = None) -> list[Path]:
    """Files left in .work by a run that is gone are put back in the inbox; posting
    them again is harmless (their documents are skipped as already posted).

    Gone: a process of this host that no longer runs; this very process when
    `include_own` (a watcher between batches holds nothing); a process of another
    host whose claimed file has not been touched for `lease_seconds`."""
    work = inbox / WORK
    if not work.is_dir():
        return []
    host, now = socket.gethostname(), time.time()
    recovered = []
    for path in work.iterdir():
        parts = path.name.split(CLAIM_SEPARATOR, 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        owner_host, pid, name = parts[0], int(parts[1]), parts[2]
        if owner_host == host:
            gone = (include_own and pid == os.getpid()) or not _alive(pid)
        else:
            gone = lease_seconds is not None and now - _mtime(path) > lease_seconds
        if gone:
            try:
                recovered.append(move_unique(path, inbox, name))
            except FileNotFoundError:  # another instance took it back first
                continue
    return recovered


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
    """`name`, or `stem (2).ext`, … — whichever no file in `folder` has, ignoring case."""
    taken = {p.name.lower() for p in folder.iterdir()} if folder.is_dir() else set()
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
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


def archive_folder(archive: Path, when: datetime) -> Path:
    return archive / when.strftime("%Y-%m")


# --- only finished files ---------------------------------------------------------

ZIP_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".ods")


def listing(inbox: Path) -> list[os.DirEntry]:
    """Every entry of the inbox. Raises OSError when the folder (a share) is not there:
    an unreachable share is not an empty one."""
    with os.scandir(inbox) as entries:
        return list(entries)


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


class Settling:
    """Which inbox files have finished arriving: unchanged in size and mtime for
    `stable_seconds`, no owner lock file beside them, readable, and — for
    workbooks — a complete zip. A stable file that still is not a complete
    workbook after `grace_seconds` is let through, to be answered as unreadable."""

    def __init__(self, stable_seconds: float, grace_seconds: float):
        self.stable_seconds = stable_seconds
        self.grace_seconds = grace_seconds
        self._seen: dict[str, _Observed] = {}

    def ready(self, entries: list[os.DirEntry], now: float | None = None) -> tuple[list[Path], int]:
        """The finished files, and how many others are still settling."""
        now = time.monotonic() if now is None else now
        names = {e.name for e in entries}
        ready, settling, current = [], 0, {}
        for entry in entries:
            path = Path(entry.path)
            if not is_candidate(path):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            observed = self._seen.get(entry.name)
            if observed is None or (observed.size, observed.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                observed = _Observed(stat.st_size, stat.st_mtime_ns, now)
            current[entry.name] = observed
            if self._finished(path, observed, now, names):
                ready.append(path)
            else:
                settling += 1
        self._seen = current
        return ready, settling

    def _finished(self, path: Path, observed: _Observed, now: float, names: set[str]) -> bool:
        quiet = now - observed.since
        if quiet < self.stable_seconds or lock_names(path.name) & names or not can_open(path):
            return False
        return quiet >= self.grace_seconds or is_complete(path)


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
