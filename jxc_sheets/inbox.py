"""The inbox: which files are candidates, claiming one, filing it away.

A file is claimed by an atomic rename into `inbox/.work/`, under a name that
says which host and process hold it, so two runs on one share never take the
same file. Every destination name is new: a rename onto an existing name would
silently replace it, and share names are case-insensitive.
"""
from __future__ import annotations

import errno
import os
import shutil
import socket
from datetime import datetime
from pathlib import Path

WORK = ".work"
TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".download")
CLAIM_SEPARATOR = "~"


def is_candidate(path: Path) -> bool:
    """Lock files, temp files and hidden files are never claimed."""
    name = path.name
    if name.startswith(("~$", ".~lock.", ".", "~")) or name.endswith("#"):
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
    return target


def original_name(claimed: Path) -> str:
    parts = claimed.name.split(CLAIM_SEPARATOR, 2)
    return parts[2] if len(parts) == 3 else claimed.name


def recover_abandoned(inbox: Path) -> list[Path]:
    """Files left in .work by a run of this host that died are put back in the inbox.
    Posting them again is harmless: their documents are skipped as already posted."""
    work = inbox / WORK
    if not work.is_dir():
        return []
    host = socket.gethostname()
    recovered = []
    for path in work.iterdir():
        parts = path.name.split(CLAIM_SEPARATOR, 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or _alive(int(parts[1])):
            continue
        recovered.append(move_unique(path, inbox, parts[2]))
    return recovered


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
