"""What filesystem a path lives on: the watcher polls on a network share, and the
SQLite ledger refuses to live on one."""
from __future__ import annotations

import os
import re
from pathlib import Path

_OCTAL = re.compile(r"\\([0-7]{3})")
NETWORK_FILESYSTEMS = {
    "cifs", "smb3", "smbfs", "nfs", "nfs4", "ncpfs", "afs", "9p", "davfs", "ceph",
    "glusterfs", "lustre", "gpfs", "fuse.sshfs", "fuse.rclone", "fuse.glusterfs", "fuse.smbnetfs",
}


def filesystem_type(path: Path, mounts: Path = Path("/proc/mounts")) -> str:
    """The type of the filesystem `path` lives on ("" where it cannot be told)."""
    try:
        lines = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _OCTAL.sub(lambda m: chr(int(m[1], 8)), fields[1])  # /proc/mounts writes a space as \040
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def is_network(fs_type: str) -> bool:
    return fs_type in NETWORK_FILESYSTEMS or fs_type.startswith("fuse.")
