"""`dsr certificate verify` on the demo's erasure: exit 0 when valid, one status per refusal."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from config import certificate_keys
from dsr.core.replies import jws


def dsr(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env.update(DSR_VAR_DIR=str(var), DSR_LOG_FORMAT="json")
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=300
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`dsr demo` once; its var folder and the erasure reply saved as .eml."""
    var = tmp_path_factory.mktemp("demo") / "var"
    done = dsr(var, "demo", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    erase = next(r for r in json.loads(done.stdout)["requests"] if r["kind"] == "erase")
    (eml,) = (var / "outbox").glob(f"*{erase['id']}.reply.eml")
    return var, eml


def token_of(eml: Path) -> str:
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    (part,) = [p for p in message.iter_attachments() if p.get_filename() == "certificate.jws"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("ascii")


def test_the_demo_erasure_certificate_verifies_and_a_one_byte_change_is_refused(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """The reply (.eml) and its certificate.jws verify (exit 0, "valid, signed by"); the same
    file with one byte changed is refused (exit 4) with one line saying it was altered."""
    var, eml = demo
    done = dsr(var, "certificate", "verify", str(eml))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid, signed by Demo Company on ")
    token = token_of(eml)
    good = tmp_path / "certificate.jws"
    good.write_text(token)
    assert dsr(var, "certificate", "verify", str(good)).returncode == 0
    at = token.index(".") + 30
    bad = tmp_path / "altered.jws"
    bad.write_text(token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :])
    refused = dsr(var, "certificate", "verify", str(bad), "--json")
    assert refused.returncode == 4
    assert json.loads(refused.stdout)["reason"] == "altered"
    plain = dsr(var, "certificate", "verify", str(bad))
    assert plain.stdout.strip().startswith("refused: the signature does not match")


def test_the_ledger_check_and_each_refusal_has_its_exit_status(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """--ledger: 7 before sealing, 0 once `dsr audit verify` sealed; 6 for an event the chain
    does not hold; 5 for an unknown key (a JWK Set without ours); 3 for what is no certificate;
    2 for a file that cannot be read."""
    var, eml = demo
    token = token_of(eml)
    good = tmp_path / "certificate.jws"
    good.write_text(token)
    first = dsr(var, "certificate", "verify", str(good), "--ledger")
    assert first.returncode in (0, 7), first.stdout
    assert dsr(var, "audit", "verify").returncode == 0
    sealed = dsr(var, "certificate", "verify", str(good), "--ledger", "--json")
    assert sealed.returncode == 0, sealed.stdout
    assert json.loads(sealed.stdout)["ledger"]["position"] > 0

    keys = certificate_keys.load(var)
    claims = json.loads(certificate_keys.b64url_decode(token.split(".")[1]))
    claims["audit"]["event_seq"] = 10**9
    elsewhere = tmp_path / "elsewhere.jws"
    elsewhere.write_text(jws.sign(claims, keys.signer, keys.current.kid))
    assert dsr(var, "certificate", "verify", str(elsewhere), "--ledger").returncode == 6

    strangers = tmp_path / "keys.json"
    strangers.write_text(json.dumps({"keys": []}))
    unknown = dsr(var, "certificate", "verify", str(good), "--keys", str(strangers))
    assert unknown.returncode == 5 and "unknown key" in unknown.stdout

    junk = tmp_path / "junk.jws"
    junk.write_text("not a certificate")
    assert dsr(var, "certificate", "verify", str(junk)).returncode == 3
    missing = dsr(var, "certificate", "verify", str(tmp_path / "nope.jws"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1

    with sqlite3.connect(var / "dsr.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE position = 2")
    broken = dsr(var, "certificate", "verify", str(good), "--ledger")
    assert broken.returncode == 8 and "position 2" in broken.stdout
