"""The keys: one master secret, a key derived from it per purpose, and the suppression key.

Nothing secret comes from the source. ``DSR_SECRET_KEY`` is the master secret; without it (never
in production) the first start writes a random one to ``<DSR_VAR_DIR>/keys.json`` (0600, in a
0700 folder) and every later start reuses it. Each purpose signs with its own key, derived with
HKDF-SHA256 so that a leak of one purpose's products says nothing about another's:

``sessions``  the web page's session cookie and login CSRF token
``links``     the signed download links in access replies
``codes``     the keyed hashes of one-time verification codes
``privacy``   the privacy center's status links and its throttle's keyed address hashes

They rotate with the master: the previous master (``DSR_PREVIOUS_SECRET_KEY``) is still accepted
for verification until ``DSR_PREVIOUS_SECRET_KEY_UNTIL``, never for signing.

The suppression (and pseudonymisation) key is separate (``DSR_SUPPRESSION_KEY``, or its own
entry in the key file) and is never derived from the master: rotating the master must not empty
the never-re-add list. It is a *chain*, oldest key first, separated by commas: a hash on the list
cannot be recomputed without the address, so ``dsr keys rotate-suppression`` wraps every stored
hash in a new key (HMAC of the old hash) and appends that key to the chain.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dsr.files import private_dir

KEY_FILE = "keys.json"
PURPOSES = ("sessions", "links", "codes", "privacy")


class KeyFileError(ValueError):
    """The key file cannot be used (unreadable, malformed, or readable by other users)."""


@dataclass(frozen=True)
class PurposeKey:
    """One purpose's signing key and, during a grace period, the previous one."""

    current: bytes
    previous: bytes | None = None
    previous_until: datetime | None = None

    def accepted(self, now: datetime | None = None) -> list[bytes]:
        """Keys a signature may verify with, oldest first (itsdangerous signs with the last)."""
        now = now or datetime.now(UTC)
        if self.previous is None or self.previous_until is None or now >= self.previous_until:
            return [self.current]
        return [self.previous, self.current]


@dataclass(frozen=True)
class Keyring:
    """Every key a process uses; built once from the settings (``Settings.keys``)."""

    sessions: PurposeKey
    links: PurposeKey
    codes: PurposeKey
    privacy: PurposeKey
    suppression: str  # the chain "k1,k2,…", oldest first
    master_from: Literal["environment", "file"]
    suppression_from: Literal["environment", "file"]
    suppression_next: str | None = None  # a rotation under way (key file) or prepared (env)


def derive(master: str, purpose: str) -> bytes:
    """The purpose's 256-bit key, HKDF-SHA256 of the master secret."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"dsr:{purpose}".encode())
    return hkdf.derive(master.encode())


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe text: no comma, no white space)."""
    return secrets.token_urlsafe(32)


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by other users; make it private (chmod 600)")


def read_private_json(path: Path) -> Any:
    """The JSON of a private (0600) key file, or None when there is none yet; KeyFileError
    when others may read it or it cannot be read."""
    try:
        _check_private(path)
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        if isinstance(err, KeyFileError):
            raise
        raise KeyFileError(f"{path} cannot be read ({type(err).__name__})") from None


def read_key_file(var_dir: Path) -> dict[str, Any] | None:
    """The key file's entries, or None when there is none yet."""
    path = var_dir / KEY_FILE
    data = read_private_json(path)
    if data is None:
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(name), str) for name in ("secret_key", "suppression_key")
    ):
        raise KeyFileError(f"{path} is not a key file")
    try:
        _until(data.get("previous_secret_key_until"))
    except ValueError:
        raise KeyFileError(f"{path}: previous_secret_key_until is not a date") from None
    return data


def write_key_file(
    var_dir: Path, data: dict[str, Any], *, replace: bool = True, name: str = KEY_FILE
) -> bool:
    """Write the key file atomically, 0600 from creation; False when it exists and not ``replace``.

    The file appears complete or not at all: written to a private temporary file, then linked
    (first start: fails if another process got there first) or renamed into place.
    """
    private_dir(var_dir)
    path = var_dir / name
    tmp = var_dir / f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _generated(var_dir: Path) -> dict[str, Any]:
    """The key file, created with fresh random keys on the first start."""
    data = read_key_file(var_dir)
    if data is None:
        fresh = {"secret_key": new_key(), "suppression_key": new_key()}
        if not write_key_file(var_dir, fresh, replace=False):
            data = read_key_file(var_dir)  # a concurrent first start won: use its keys
        data = data or fresh
    return data


def _until(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def load_keys(
    *,
    var_dir: Path,
    secret_key: str | None,
    previous_secret_key: str | None,
    previous_secret_key_until: datetime | None,
    suppression_key: str | None,
    suppression_key_next: str | None,
) -> Keyring:
    """The keyring: configured keys where given, the key file's (created once) elsewhere."""
    file = _generated(var_dir) if secret_key is None or suppression_key is None else {}
    if secret_key is not None:
        master, previous, until = secret_key, previous_secret_key, previous_secret_key_until
    else:
        master, previous = file["secret_key"], file.get("previous_secret_key")
        until = _until(file.get("previous_secret_key_until"))
    if until is not None and until.tzinfo is None:  # a naive time in the environment is UTC
        until = until.replace(tzinfo=UTC)

    def purpose(name: str) -> PurposeKey:
        old = derive(previous, name) if previous else None
        return PurposeKey(derive(master, name), old, until)

    chain_from: Literal["environment", "file"]
    if suppression_key is not None:
        chain, chain_from, chain_next = suppression_key, "environment", suppression_key_next
    else:
        chain, chain_from = str(file["suppression_key"]), "file"
        chain_next = file.get("suppression_key_next")
    return Keyring(
        sessions=purpose("sessions"),
        links=purpose("links"),
        codes=purpose("codes"),
        privacy=purpose("privacy"),
        suppression=chain,
        master_from="environment" if secret_key is not None else "file",
        suppression_from=chain_from,
        suppression_next=chain_next if isinstance(chain_next, str) else None,
    )
