"""Settings read once from ``DSR_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config import certificate_keys
from config.certificate_keys import CertificateKeys
from config.keys import KeyFileError, Keyring, load_keys

CONFIG_DIR = Path(__file__).resolve().parent
# Values seen in examples and old defaults: refused as secrets in production.
_PLACEHOLDERS = {"dev-only-secret-change-me", "changeme", "change-me", "secret", ""}
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """The settings cannot be used; the message is one line and names no secret value."""


class Settings(BaseSettings):
    """Every knob of the system; only this module reads the environment."""

    model_config = SettingsConfigDict(env_prefix="DSR_", extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = Path("var")
    # Where certificate-keys.json lives (default: var_dir). Every process that signs or
    # publishes certificates must read the same file: on several hosts, one shared secret mount.
    certificate_keys_dir: Path | None = None
    database_url: str | None = None
    # The identifier index (keyed hashes of what the stores hold, kept outside them); several
    # worker hosts share one: point it at PostgreSQL. Default: a SQLite file in var_dir.
    index_url: str | None = None
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
    # Credentials of HTTP stores (connectors.yaml ``auth.secret`` names one): name -> secret,
    # JSON in DSR_HTTP_SECRETS. Never written in the YAML.
    http_secrets: dict[str, str] = Field(default_factory=dict, repr=False)

    data_dir: Path | None = None
    export_dir: Path | None = None
    # Exports and our copies of e-mails in an S3-compatible bucket (``s3://bucket/prefix``)
    # instead of export_dir, which then holds only each host's scratch files. Credentials come
    # the AWS way (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role); never in this file.
    export_url: str | None = Field(default=None, pattern=r"^s3://[^/]+(/.*)?$")
    s3_endpoint_url: str | None = None  # a MinIO or other S3-compatible server; None: AWS
    s3_region: str | None = None
    s3_sse: Literal["", "AES256", "aws:kms"] = ""  # server-side encryption of every upload
    s3_kms_key_id: str | None = None  # with aws:kms: the key (None: the bucket's default)
    connectors_file: Path = CONFIG_DIR / "connectors.yaml"
    retention_file: Path = CONFIG_DIR / "retention.yaml"
    jurisdictions_file: Path = CONFIG_DIR / "jurisdictions.yaml"
    # Keys (config/keys.py): without them, a key file in var_dir is created once; production
    # refuses to start without explicit ones.
    secret_key: SecretStr | None = None
    previous_secret_key: SecretStr | None = None
    previous_secret_key_until: datetime | None = None
    suppression_key: SecretStr | None = None
    suppression_key_next: SecretStr | None = None
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
    # An unverified request is canceled this long after receipt (scheduler, no e-mail sent).
    verify_within_days: int = Field(default=14, ge=1)
    # Local times in exports (CSV, summary): the subject's zone, with its offset.
    timezone: str = "Asia/Ho_Chi_Minh"
    task_max_retries: int = 5
    # A running task's (and a delivery's) lease, renewed while its worker lives (every third of
    # it); a killed worker's work is re-driven once its lease expires.
    task_lease_seconds: int = Field(default=20, ge=1)
    # A worker process silent this long is dead: its fetched messages go back to the queue
    # (checked by the broker's maintenance, on this many commands per million).
    broker_heartbeat_timeout_ms: int = 15_000
    broker_namespace: str = "dsr"
    broker_maintenance_chance: int = 20_000
    # A step idle this long is re-sent by re-drive: every worker runs it every
    # worker_redrive_interval_seconds (one at a time), the scheduler every minute; a running
    # task is re-driven as soon as its lease expires.
    redrive_after_seconds: int = 30
    worker_redrive_interval_seconds: int = Field(default=10, ge=0)  # 0: only the scheduler's
    # Every worker puts its ledger's claim on the broker namespace back this often (after a
    # Redis flush the namespace's owner is its oldest ledger, never the first process to start).
    ledger_claim_interval_seconds: int = Field(default=5, ge=1)
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

    # Limits of the HTTP API and the web page (api/limits.py, api/throttle.py).
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    auth_failure_limit: int = Field(default=20, ge=1)  # per client, and per key prefix ...
    auth_failure_window_seconds: int = Field(default=300, ge=1)  # ... in this many seconds
    session_ttl_seconds: int = Field(default=8 * 3600, ge=60)  # one working day
    # Staff vouching (``verified: true``) for an access or erase (dsr/core/intake/approval.py):
    # four_eyes waits for a second staff member's approval; ops_only lets only ops vouch (and
    # needs no second person); single is one person's word (the demo, the soak, benchmarks).
    vouch_policy: Literal["four_eyes", "ops_only", "single"] = "four_eyes"
    # Proxies whose X-Forwarded-For is believed (api/clients.py): comma-separated addresses or
    # CIDRs; none by default, so the peer's address is the client.
    trusted_proxies: str = ""

    # The privacy center (api/privacy.py): how long a request's status link works, and how many
    # forms (requests filed, codes tried) one e-mail address and one client may send per window.
    status_link_ttl_seconds: int = Field(default=90 * 24 * 3600, ge=60)
    privacy_address_limit: int = Field(default=5, ge=1)
    privacy_client_limit: int = Field(default=20, ge=1)
    privacy_window_seconds: int = Field(default=3600, ge=1)
    # Per mailbox (the address with +tags and provider rules folded, dsr/mailbox.py), across
    # every request: e-mails a day to it from filings, and wrong codes a day before codes for
    # it are refused for 24 h (dsr/core/intake/mailboxes.py).
    mailbox_daily_limit: int = Field(default=10, ge=1)
    code_failure_limit: int = Field(default=10, ge=1)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Settings:
        for cidr in self.trusted_proxy_list:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"DSR_TRUSTED_PROXIES: not an address or CIDR: {cidr!r}") from None
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.previous_secret_key is not None and self.previous_secret_key_until is None:
            raise ValueError(
                "DSR_PREVIOUS_SECRET_KEY needs DSR_PREVIOUS_SECRET_KEY_UNTIL (end of the grace "
                "period)"
            )
        if self.env != "production":
            return self
        for name, value in (
            ("DSR_SECRET_KEY", self.secret_key),
            ("DSR_SUPPRESSION_KEY", self.suppression_key),
        ):
            if value is None:
                raise ValueError(f"{name} must be set when DSR_ENV=production")
            for key in value.get_secret_value().split(","):
                if key in _PLACEHOLDERS or len(key) < MIN_SECRET_LENGTH:
                    raise ValueError(
                        f"{name} must be a real secret ({MIN_SECRET_LENGTH}+ random characters)"
                    )
        return self

    @cached_property
    def keys(self) -> Keyring:
        """The process's keys (read, or created once in var_dir, on first use)."""
        try:
            return load_keys(
                var_dir=self.var_dir.resolve(),
                secret_key=_reveal(self.secret_key),
                previous_secret_key=_reveal(self.previous_secret_key),
                previous_secret_key_until=self.previous_secret_key_until,
                suppression_key=_reveal(self.suppression_key),
                suppression_key_next=_reveal(self.suppression_key_next),
            )
        except KeyFileError as err:
            raise SettingsError(str(err)) from None

    @cached_property
    def certificate_keys(self) -> CertificateKeys:
        """The certificate signing keys (read, or created once, on first use)."""
        try:
            return certificate_keys.load(self.resolved_certificate_keys_dir)
        except KeyFileError as err:
            raise SettingsError(str(err)) from None

    @property
    def resolved_certificate_keys_dir(self) -> Path:
        return (self.certificate_keys_dir or self.var_dir).resolve()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose keys follow its own settings (never the original's cached keys)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("keys", None)
        copied.__dict__.pop("certificate_keys", None)
        return copied

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'dsr.db').resolve()}"

    @property
    def resolved_index_url(self) -> str:
        return self.index_url or f"sqlite:///{(self.var_dir / 'identifier-index.db').resolve()}"

    @property
    def resolved_data_dir(self) -> Path:
        return (self.data_dir or self.var_dir / "data").resolve()

    @property
    def resolved_export_dir(self) -> Path:
        return (self.export_dir or self.var_dir / "exports").resolve()


def _reveal(value: SecretStr | str | None) -> str | None:
    # model_copy(update=...) does not validate: a key may arrive as a plain string.
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def one_line(err: ValidationError) -> str:
    """The first problem of a validation error as one line, without the offending value."""
    first = err.errors()[0] if err.errors() else {"loc": (), "msg": str(err)}
    where = ".".join(str(p) for p in first.get("loc", ()))
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"DSR_{where.upper()}: {msg}" if where else msg


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once; SettingsError when unusable."""
    try:
        return Settings()
    except ValidationError as err:
        raise SettingsError(one_line(err)) from None
