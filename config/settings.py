"""Settings read once from ``DSR_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent
DEV_SECRET = "dev-only-secret-change-me"
_PLACEHOLDERS = {DEV_SECRET, "changeme", "change-me", "secret", ""}


class Settings(BaseSettings):
    """Every knob of the system; only this module reads the environment."""

    model_config = SettingsConfigDict(env_prefix="DSR_", extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    mail_from: str = "privacy@example.com"
    ops_email: str = "ops@example.com"
    company_name: str = "Demo Company"
    # Third parties reached by webhook: recipient id -> HMAC key (JSON in DSR_WEBHOOK_SECRETS).
    webhook_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    webhook_timeout: float = 10.0

    data_dir: Path | None = None
    export_dir: Path | None = None
    connectors_file: Path = CONFIG_DIR / "connectors.yaml"
    retention_file: Path = CONFIG_DIR / "retention.yaml"
    jurisdictions_file: Path = CONFIG_DIR / "jurisdictions.yaml"
    secret_key: str = DEV_SECRET
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

    default_region: str = "VN"
    default_jurisdiction: str = "vn"
    default_language: Literal["vi", "en"] = "vi"
    attach_limit_bytes: int = 10 * 1024 * 1024
    download_link_ttl_seconds: int = 7 * 24 * 3600
    public_base_url: str = "http://127.0.0.1:8000"
    verification_ttl_seconds: int = 24 * 3600
    verification_max_attempts: int = 5
    task_max_retries: int = 5
    task_lease_seconds: int = 60
    broker_heartbeat_timeout_ms: int = 60_000
    broker_namespace: str = "dsr"
    broker_maintenance_chance: int = 1000  # per million commands: requeue of dead workers' work
    # A step idle this long is re-sent by the re-drive job (every minute by default): a lost
    # message is recovered within redrive_after_seconds + 60 s (under 2 minutes).
    redrive_after_seconds: int = 45
    # A request sitting in a non-terminal status this long without an alert gets one.
    stall_alert_seconds: int = 3600
    # A message the SMTP server keeps refusing for now (4xx, no connection) is given up after
    # this long: the request goes to needs_attention and ops are alerted.
    delivery_give_up_seconds: int = 4 * 3600
    task_min_backoff_ms: int = 1000
    task_max_backoff_ms: int = 60_000
    worker_processes: int = 1
    worker_threads: int = 4
    queue_prefetch: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and (
            self.secret_key in _PLACEHOLDERS or len(self.secret_key) < 16
        ):
            raise ValueError("DSR_SECRET_KEY must be a real secret (16+ chars) in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'dsr.db').resolve()}"

    @property
    def resolved_data_dir(self) -> Path:
        return (self.data_dir or self.var_dir / "data").resolve()

    @property
    def resolved_export_dir(self) -> Path:
        return (self.export_dir or self.var_dir / "exports").resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
