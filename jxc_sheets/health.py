"""The watcher's health, where staff can see it: outbox/status.json (one entry per
watcher instance; several may share an outbox), read by the dashboard and by
`jxc status`."""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

STATUS_FILE = "status.json"
STATUS_FOLDER = ".status"


@dataclass
class Health:
    """What the watcher shows of itself: outbox/status.json, the dashboard, jxc status."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    running_since: str = field(default_factory=lambda: _now())
    observer: str = ""
    observer_reason: str = ""
    inbox: str = ""
    inbox_available: bool = True
    last_scan: str = ""
    waiting: int = 0
    settling: int = 0
    processed_today: dict = field(default_factory=dict)
    last_error: str = ""
    last_error_at: str = ""
    stopped_at: str = ""


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def write_status(outbox: Path, health: Health) -> Path:
    """This instance's own file under outbox/.status/, and outbox/status.json with every
    instance that reported in the last day (several watchers may share one outbox)."""
    folder = outbox / STATUS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / f"{health.host}~{health.pid}.json", health.__dict__)
    instances = read_instances(outbox)
    return _write_json(outbox / STATUS_FILE, {"updated": _now(), "instances": instances})


def read_instances(outbox: Path, max_age_seconds: float = 86400) -> list[dict]:
    folder = outbox / STATUS_FOLDER
    found = []
    now = time.time()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            if now - path.stat().st_mtime > max_age_seconds:
                path.unlink(missing_ok=True)
                continue
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return found


def is_running(instance: dict, rescan_seconds: float) -> bool:
    """Alive: on this host, its process exists; elsewhere, it scanned lately."""
    if instance.get("stopped_at"):
        return False
    if instance.get("host") == socket.gethostname():
        try:
            os.kill(int(instance["pid"]), 0)
            return True
        except (ProcessLookupError, ValueError, KeyError):
            return False
        except PermissionError:
            return True
    try:
        age = (datetime.now() - datetime.fromisoformat(instance["last_scan"])).total_seconds()
    except (KeyError, ValueError):
        return False
    return age < 3 * rescan_seconds


def _write_json(path: Path, data: dict) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path
