"""The third parties the stores share data with: the ``recipients`` section of connectors.yaml.

Each has a stable id, a name the subject is shown, a way to reach it (an e-mail address, or an
HTTPS webhook signed with a secret from ``DSR_WEBHOOK_SECRETS``, or neither), the language of
its notices and the request kinds it must hear of. Stores name the ids they share with. Anything
wrong is a ``ConfigError`` when the runtime loads it, before any request is taken.
"""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from connectors.base import Connector
from dsr import yamlconfig
from dsr.errors import ConfigError, InvalidInput
from dsr.identity import normalise_email

Channel = Literal["email", "webhook"]
NotifiedKind = Literal["rectify", "erase"]
NOTIFIED_KINDS: tuple[NotifiedKind, ...] = ("rectify", "erase")  # GDPR art. 19
_MIN_SECRET = 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Webhook(_Strict):
    """An HTTPS endpoint notices are POSTed to (plain HTTP only on this machine's loopback)."""

    url: str = Field(max_length=320)

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if not parts.hostname:
            raise ValueError("webhook url needs a host")
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
            raise ValueError("webhook url must be https (http only for a loopback address)")
        if parts.username or parts.password:
            raise ValueError("webhook url must not carry credentials (the HMAC secret signs)")
        return value


class Recipient(_Strict):
    """One third party, as the lawyer and ops configure it."""

    id: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list)
    email: str | None = Field(default=None, max_length=320)
    webhook: Webhook | None = None
    language: Literal["vi", "en"] = "vi"
    kinds: list[NotifiedKind] = Field(default_factory=lambda: list(NOTIFIED_KINDS))
    reply_within_days: PositiveInt = 5

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_email(value)
        except InvalidInput as err:
            raise ValueError(str(err)) from None

    @model_validator(mode="after")
    def _one_channel(self) -> Recipient:
        if self.email is not None and self.webhook is not None:
            raise ValueError("give email or webhook, not both (a notice goes one way)")
        return self

    @property
    def channel(self) -> Channel | None:
        """How notices reach it; None: configured without a way to reach it."""
        if self.email is not None:
            return "email"
        return "webhook" if self.webhook is not None else None

    @property
    def address(self) -> str | None:
        return self.email or (self.webhook.url if self.webhook else None)


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def unlisted(value: str) -> Recipient:
    """A recipient a store's data names but the configuration does not: it cannot be reached."""
    digest = hashlib.sha256(_key(value).encode()).hexdigest()[:10]
    return Recipient(id=f"unlisted-{digest}", name=value[:200], kinds=list(NOTIFIED_KINDS))


class RecipientBook:
    """Every configured recipient, which stores share with whom, and name resolution."""

    def __init__(self, recipients: Iterable[Recipient], stores: Mapping[str, list[str]]) -> None:
        self.by_id = {r.id: r for r in recipients}
        self.stores = {name: list(ids) for name, ids in stores.items()}
        self._names: dict[str, Recipient] = {}
        for r in self.by_id.values():
            for label in (r.id, r.name, *r.aliases):
                if self._names.setdefault(_key(label), r) is not r:
                    raise ConfigError(f"recipients: {label!r} names two recipients")

    def of_store(self, connector: str) -> list[Recipient]:
        """The recipients a store lists, in its order."""
        return [self.by_id[i] for i in self.stores.get(connector, [])]

    def resolve(self, value: str) -> Recipient:
        """The recipient a store's ``shared.column`` names (by id, name or alias)."""
        return self._names.get(_key(value)) or unlisted(value)

    def parties(
        self, kind: str, changes: Mapping[str, str], connectors: Mapping[str, Connector]
    ) -> list[Recipient]:
        """Who will have to act on a request of ``kind`` changing ``changes`` (intake)."""
        if kind not in NOTIFIED_KINDS:
            return []
        out: dict[str, Recipient] = {}
        for name, connector in connectors.items():
            if kind == "rectify" and not set(changes) & set(
                getattr(connector, "shared_fields", frozenset())
            ):
                continue
            for r in self.of_store(name):
                if kind in r.kinds:
                    out.setdefault(r.id, r)
        return list(out.values())


def _section(path: Path) -> list[Any]:
    document = yamlconfig.read(path)
    section = document.get("recipients") if isinstance(document, dict) else None
    if section is None:
        return []
    if not isinstance(section, list):
        raise ConfigError(f"{path}: 'recipients' must be a list")
    return section


def load(
    path: Path, connectors: Mapping[str, Connector], webhook_secrets: Mapping[str, str]
) -> RecipientBook:
    """The recipients of a connectors file, checked against its stores and the webhook secrets."""
    recipients: list[Recipient] = []
    for i, entry in enumerate(_section(path)):
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: recipients[{i}] is not a mapping")
        where = f"recipient {entry.get('id', i)!r}"
        recipients.append(yamlconfig.validate(Recipient, entry, where))
    ids = [r.id for r in recipients]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: a recipient id is listed twice")
    stores: dict[str, list[str]] = {}
    for name, connector in connectors.items():
        listed = list(getattr(connector, "recipients", []) or [])
        unknown = [i for i in listed if i not in ids]
        if unknown:
            raise ConfigError(
                f"connector {name!r}: unknown recipient {', '.join(map(repr, unknown))} "
                f"(the recipients section has: {', '.join(ids) or 'none'})"
            )
        stores[name] = listed
    for r in recipients:
        if r.webhook is not None and len(webhook_secrets.get(r.id, "")) < _MIN_SECRET:
            raise ConfigError(
                f"recipient {r.id!r}: a webhook needs a secret of {_MIN_SECRET}+ characters "
                "in DSR_WEBHOOK_SECRETS"
            )
    stray = sorted(set(webhook_secrets) - {r.id for r in recipients if r.webhook})
    if stray:
        raise ConfigError(f"DSR_WEBHOOK_SECRETS names no webhook recipient: {', '.join(stray)}")
    return RecipientBook(recipients, stores)
