"""Secrets: none in the source, a private key file, one key per purpose, rotation of each."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from config.settings import Settings
from connectors.sql import SqlStore
from demo import stores as ds
from dsr.core.intake.filing import Submission
from dsr.core.replies.links import make_download_token, read_download_token
from dsr.core.runtime.process import Runtime
from dsr.errors import ConfigError, InvalidInput
from dsr.identity import suppression_hash
from dsr.service import Caller, Service
from dsr.service.views import dump

ERASED = "da.xoa@example.com"
REQUEST_ID = "0" * 32


def dsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DSR_") or k == "DSR_REDIS_URL"}
    e.update(DSR_VAR_DIR=str(tmp_path / "var"), DSR_LOG_FORMAT="json")
    return e


def _settings(tmp: Path, **extra: Any) -> Settings:
    return Settings(
        var_dir=tmp / "var",
        data_dir=tmp / "data",
        export_dir=tmp / "exports",
        database_url=f"sqlite:///{tmp / 'ledger.db'}",
        **extra,
    )


def _no_enqueue(_: Iterable[Any]) -> None:
    """Nothing is sent: these tests look only at what the ledger and the stores hold."""


def _newsletter(settings: Settings) -> SqlStore:
    """The demo newsletter store (subscribers + suppression) as the runtime's connector."""
    engine = sa.create_engine(f"sqlite:///{settings.resolved_data_dir / 'newsletter.db'}")
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    ds.create_store(engine, "newsletter")
    engine.dispose()
    store = Runtime(settings).connectors["newsletter"]
    assert isinstance(store, SqlStore)
    return store


def _suppress(store: SqlStore, email: str) -> None:
    with store.engine.begin() as conn:
        store.suppress(conn, {email}, now=datetime(2026, 1, 1), reason="erased")


def _hashes(store: SqlStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.text("select email_hash from suppression")).scalars())


def test_first_start_creates_a_private_key_file_and_reuses_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Without DSR_SECRET_KEY the first command writes random keys (0600 in 0700); later ones
    reuse them."""
    assert dsr(env, "list", "--json").returncode == 0
    key_file = tmp_path / "var" / "keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    first = key_file.read_text()
    assert dsr(env, "list", "--json").returncode == 0
    assert key_file.read_text() == first
    other = _settings(tmp_path / "elsewhere").keys
    assert other.links.current != _settings(tmp_path).keys.links.current  # random, not built in


def test_a_key_file_readable_by_others_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    """A key file that other users can read is not used: one line, exit 2."""
    assert dsr(env, "list").returncode == 0
    (tmp_path / "var" / "keys.json").chmod(0o644)
    done = dsr(env, "list")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "chmod 600" in done.stderr


@pytest.mark.parametrize(
    "given, missing",
    [({}, "DSR_SECRET_KEY"), ({"DSR_SECRET_KEY": "s" * 40}, "DSR_SUPPRESSION_KEY")],
)
def test_production_without_explicit_keys_is_one_line_exit_2(
    env: dict[str, str], given: dict[str, str], missing: str
) -> None:
    """DSR_ENV=production refuses to start without its keys: one line on stderr, exit 2."""
    done = dsr({**env, "DSR_ENV": "production", **given}, "list")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0], done.stderr


def test_production_refuses_a_placeholder_secret(env: dict[str, str]) -> None:
    """A placeholder or short secret is refused in production, in one line."""
    production = {**env, "DSR_ENV": "production", "DSR_SUPPRESSION_KEY": "p" * 40}
    for weak in ("changeme", "dev-only-secret-change-me", "short"):
        done = dsr({**production, "DSR_SECRET_KEY": weak}, "list")
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert weak not in done.stderr  # the value itself is never echoed


def test_each_purpose_has_its_own_key(tmp_path: Path) -> None:
    """Sessions, download links and codes sign with different keys, none of them the master."""
    ring = _settings(tmp_path, secret_key="m" * 32).keys
    derived = {ring.sessions.current, ring.links.current, ring.codes.current}
    assert len(derived) == 3 and b"m" * 32 not in derived
    assert ring.suppression != "m" * 32


def test_a_copy_of_the_settings_derives_its_own_keys(tmp_path: Path) -> None:
    """Settings copied with another master secret sign with keys of that secret."""
    settings = _settings(tmp_path, secret_key="m" * 32)
    links = settings.keys.links.current
    copied = settings.model_copy(update={"secret_key": "n" * 32})
    assert copied.keys.links.current != links
    assert settings.model_copy(update={"smtp_port": 2525}).keys.links.current == links


def test_rotating_the_master_keeps_the_suppression_list(tmp_path: Path) -> None:
    """After DSR_SECRET_KEY changes (a leaked cookie), an erased address is still suppressed."""
    before = _settings(tmp_path, secret_key="first-master-secret-0123")
    _suppress(_newsletter(before), ERASED)
    after = _settings(
        tmp_path,
        secret_key="second-master-secret-4567",
        previous_secret_key="first-master-secret-0123",
        previous_secret_key_until=datetime.now(UTC) + timedelta(days=7),
    )
    assert _newsletter(after).is_suppressed(ERASED)


def test_the_previous_master_verifies_links_only_during_its_grace(tmp_path: Path) -> None:
    """A link signed before a rotation works until the grace ends, then it does not."""
    old = "old-master-secret-0123456"
    token = make_download_token(REQUEST_ID, _settings(tmp_path, secret_key=old))

    def rotated(until: datetime) -> Settings:
        return _settings(
            tmp_path, secret_key="new-master-secret-789012", previous_secret_key=old,
            previous_secret_key_until=until,
        )  # fmt: skip

    now = datetime.now(UTC)
    assert read_download_token(token, rotated(now + timedelta(days=1))) == REQUEST_ID
    with pytest.raises(InvalidInput):
        read_download_token(token, rotated(now - timedelta(seconds=1)))
    with pytest.raises(InvalidInput):
        read_download_token(token, _settings(tmp_path, secret_key="new-master-secret-789012"))


def _code(settings: Settings, request_id: str) -> str:
    path = settings.resolved_export_dir / request_id / "outbox" / "verification-1.eml"
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"\b(\d{6})\b", body.get_content())
    assert match
    return match.group(1)


def test_a_code_sent_before_a_rotation_works_during_the_grace(tmp_path: Path) -> None:
    """A one-time code e-mailed just before the master rotated is accepted during the grace."""
    old = "old-master-secret-0123456"
    before = _settings(tmp_path, secret_key=old)
    first = dump(
        Service(Runtime(before), _no_enqueue).submit(
            Submission("access", "a@b.vn"), by=Caller.staff("t")
        )
    )
    second = dump(
        Service(Runtime(before), _no_enqueue).submit(
            Submission("access", "c@d.vn"), by=Caller.staff("t")
        )
    )
    grace = _settings(
        tmp_path, secret_key="new-master-secret-789012", previous_secret_key=old,
        previous_secret_key_until=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    done = dump(
        Service(Runtime(grace), _no_enqueue).verify(
            first["id"], _code(before, first["id"]), by=Caller.staff("ops")
        )
    )
    assert done["status"] == "verified"
    ended = _settings(tmp_path, secret_key="new-master-secret-789012")
    with pytest.raises(InvalidInput, match="wrong verification code"):
        Service(Runtime(ended), _no_enqueue).verify(
            second["id"], _code(before, second["id"]), by=Caller.staff("ops")
        )


def test_rotating_the_suppression_key_rekeys_the_list(tmp_path: Path) -> None:
    """`rotate-suppression` wraps every hash in a new key: the address is still suppressed, the
    old key alone no longer recognises it, and a resumed rotation never wraps twice."""
    from dsr.service.keys import rotate_suppression  # here: the other tests run without it

    settings = _settings(tmp_path)
    store = _newsletter(settings)
    _suppress(store, ERASED)
    old_chain = settings.keys.suppression
    service = Service(Runtime(settings), _no_enqueue)
    result = rotate_suppression(service, by=Caller.staff("ops"))
    assert result.stores == {"newsletter": 1} and result.keys_in_chain == 2

    rotated = _settings(tmp_path)
    assert rotated.keys.suppression.startswith(old_chain + ",")
    fresh = _newsletter(rotated)
    assert fresh.is_suppressed(ERASED)
    assert suppression_hash(ERASED, old_chain) not in _hashes(fresh)
    with Service(Runtime(rotated), _no_enqueue).session():
        pass  # the ledger knows the new chain
    new_key = rotated.keys.suppression.split(",")[-1]
    hashes = _hashes(fresh)
    assert store.rekey_suppression(new_key, now=datetime.now(UTC)) == 0  # resumed: no-op
    assert _hashes(fresh) == hashes


def test_a_changed_suppression_key_is_refused_at_start(env: dict[str, str]) -> None:
    """Setting another DSR_SUPPRESSION_KEY (not through the command) stops every command."""
    first = {**env, "DSR_SUPPRESSION_KEY": "the-first-suppression-key"}
    assert dsr(first, "list").returncode == 0
    done = dsr({**env, "DSR_SUPPRESSION_KEY": "another-suppression-key"}, "list")
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1 and "rotate-suppression" in done.stderr


def test_rotating_a_configured_suppression_key_through_the_cli(
    env: dict[str, str], tmp_path: Path
) -> None:
    """With DSR_SUPPRESSION_KEY set, the command takes the new key from DSR_SUPPRESSION_KEY_NEXT
    and the chain "old,next" finds what the old key had suppressed."""
    old, nxt = "the-old-suppression-key-01", "the-next-suppression-key-02"
    configured = {**env, "DSR_DATA_DIR": str(tmp_path / "data"), "DSR_SUPPRESSION_KEY": old}
    _suppress(_newsletter(_settings(tmp_path, suppression_key=old)), ERASED)
    refused = dsr(configured, "keys", "rotate-suppression")
    assert refused.returncode == 2 and "DSR_SUPPRESSION_KEY_NEXT" in refused.stderr
    done = dsr({**configured, "DSR_SUPPRESSION_KEY_NEXT": nxt}, "keys", "rotate-suppression")
    assert done.returncode == 0, done.stderr
    assert "re-keyed (newsletter: 1)" in done.stdout and "DSR_SUPPRESSION_KEY_NEXT" in done.stdout
    assert _newsletter(_settings(tmp_path, suppression_key=f"{old},{nxt}")).is_suppressed(ERASED)
    stale = dsr(configured, "list")  # a process still configured with the old key
    assert stale.returncode == 3
    chained = {**configured, "DSR_SUPPRESSION_KEY": f"{old},{nxt}"}
    assert dsr(chained, "list").returncode == 0
    again = dsr({**chained, "DSR_SUPPRESSION_KEY_NEXT": nxt}, "keys", "rotate-suppression")
    assert again.returncode == 2 and "already in the chain" in again.stderr  # never wrapped twice


def test_the_old_suppression_key_cannot_start_after_rotation(tmp_path: Path) -> None:
    """A process configured with the pre-rotation chain is refused (ConfigError)."""
    from dsr.service.keys import rotate_suppression  # here: the other tests run without it

    settings = _settings(tmp_path)
    _newsletter(settings)
    old_chain = settings.keys.suppression
    rotate_suppression(Service(Runtime(settings), _no_enqueue), by=Caller.staff("ops"))
    with (
        pytest.raises(ConfigError, match="rotate-suppression"),
        Service(Runtime(_settings(tmp_path, suppression_key=old_chain)), _no_enqueue).session(),
    ):
        pass
