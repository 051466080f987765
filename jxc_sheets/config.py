"""Settings from config.yaml, validated with pydantic; every key has a default,
so a workspace runs with no config at all (the embedded default: folders beside
the config, SQLite ledger on local disk)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Folders(_Section):
    inbox: str = "inbox"
    outbox: str = "outbox"
    archive: str = "archive"
    rejected: str = "rejected"
    templates: str = "templates"
    logs: str = "logs"


class InboxConfig(_Section):
    observer: Literal["auto", "native", "polling"] = "auto"
    poll_interval: float = Field(2.0, gt=0)
    stable_seconds: float = Field(3.0, ge=0)
    incomplete_grace_seconds: float = Field(120.0, ge=0)
    rescan_seconds: float = Field(60.0, gt=0)
    lease_seconds: float = Field(600.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    retry_seconds: float = Field(30.0, ge=0)
    batch_size: int = Field(50, ge=1)


class LedgerConfig(_Section):
    url: str = "sqlite:///ledger.sqlite3"


class BackupConfig(_Section):
    folder: str = "backups"
    keep: int = Field(14, ge=1)


class StockConfig(_Section):
    allow_negative_stock: bool = False


class ReportsConfig(_Section):
    html: bool = True
    log_rows: int = Field(1000, ge=10)
    recent_files: int = Field(20, ge=1)


class CompanyConfig(_Section):
    name: str = "jxc-sheets"


class Config(_Section):
    company: CompanyConfig = CompanyConfig()
    folders: Folders = Folders()
    inbox: InboxConfig = InboxConfig()
    ledger: LedgerConfig = LedgerConfig()
    backup: BackupConfig = BackupConfig()
    stock: StockConfig = StockConfig()
    reports: ReportsConfig = ReportsConfig()


class ConfigError(Exception):
    """A config.yaml that cannot be used; the message says which key and why."""


class Settings:
    """A validated Config plus the folder it is relative to."""

    def __init__(self, config: Config, root: Path):
        self.config = config
        self.root = root.resolve()

    def _folder(self, name: str) -> Path:
        return self.root / getattr(self.config.folders, name)

    @property
    def inbox(self) -> Path:
        return self._folder("inbox")

    @property
    def outbox(self) -> Path:
        return self._folder("outbox")

    @property
    def archive(self) -> Path:
        return self._folder("archive")

    @property
    def rejected(self) -> Path:
        return self._folder("rejected")

    @property
    def templates(self) -> Path:
        return self._folder("templates")

    @property
    def logs(self) -> Path:
        return self._folder("logs")

    @property
    def backups(self) -> Path:
        return self.root / self.config.backup.folder

    @property
    def ledger_url(self) -> str:
        """SQLite paths are relative to the workspace, not to wherever jxc was started."""
        url = self.config.ledger.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
            return prefix + str(self.root / url[len(prefix):])
        return url

    @property
    def allow_negative_stock(self) -> bool:
        return self.config.stock.allow_negative_stock


def load_settings(path: Path | None = None) -> Settings:
    """`path`, else ./config.yaml, else the embedded default rooted at the current folder."""
    if path is None:
        candidate = Path("config.yaml")
        if not candidate.exists():
            return Settings(Config(), Path.cwd())
        path = candidate
    if not path.exists():
        raise ConfigError(f"配置文件不存在 / config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: YAML 格式错误 / not valid YAML: {e}") from e
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        where = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"{path}: {where}") from e
    return Settings(config, path.parent)


def default_config_text() -> str:
    """The commented config.yaml that `jxc init` writes (the same as the repo's own)."""
    from importlib.resources import files

    return files("jxc_sheets").joinpath("config.default.yaml").read_text(encoding="utf-8")
