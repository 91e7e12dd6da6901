"""A real Mailman 3 for tests: its REST API on a free port, a SQLite database in a temp folder.

Mailman is installed once, from the package registry, into its own virtual environment (it pins
libraries of its own) under ``~/.cache/dsr-tests`` (``DSR_TEST_MAILMAN_VENV`` to move it); a
fresh machine pays the install once (a few minutes, bounded by ``INSTALL_TIMEOUT``). Only its
REST runner is started — the process ``mailman start`` runs for the API — with ``NullMTA``: no
mail leaves. Like every server here it skips on a laptop without it and fails under
``DSR_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from demo.smtp_sink import free_port

VERSION = "3.3.10"
REQUIREMENTS = [f"mailman=={VERSION}", "sqlalchemy<2.1"]
INSTALL_TIMEOUT = 900  # seconds: the whole install on a slow, shared machine
START_TIMEOUT = 90  # seconds until the REST API answers
USER = "restadmin"
DOMAIN = "example.com"


def venv_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dsr-tests"
    return Path(os.environ.get("DSR_TEST_MAILMAN_VENV", default / f"mailman-{VERSION}"))


def mailman_installed() -> bool:
    """Whether the venv is ready (the first test needing it will not have to install it)."""
    return (venv_dir() / ".installed").exists()


def install() -> Path:
    """The venv holding Mailman, created once (under a lock: parallel runs wait for one)."""
    venv = venv_dir()
    marker = venv / ".installed"
    if marker.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted run
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", *REQUIREMENTS],
            check=True,
            timeout=INSTALL_TIMEOUT,
            stdout=subprocess.DEVNULL,
        )
        marker.write_text(VERSION)
    return venv


CONFIG = """\
[mailman]
layout: here
site_owner: ops@{domain}

[paths.here]
var_dir: {var}

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///{var}/mailman.db

[mta]
incoming: mailman.mta.null.NullMTA
lmtp_port: {lmtp}
smtp_port: {smtp}

[webservice]
hostname: 127.0.0.1
port: {port}
admin_user: {user}
admin_pass: {password}

[logging.root]
level: warning
"""


@dataclass
class Mailman:
    """One running Mailman REST API, and an admin client for the tests' own set-up."""

    folder: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3.1/"

    @property
    def config(self) -> Path:
        return self.folder / "mailman.cfg"

    def start(self) -> None:
        """Start the REST runner and wait until it answers (the data survive a restart)."""
        venv = install()
        var = self.folder / "var"
        var.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            CONFIG.format(
                domain=DOMAIN,
                var=var,
                lmtp=free_port(),
                smtp=free_port(),
                port=self.port,
                user=USER,
                password=self.password,
            )
        )
        log = (self.folder / "rest.log").open("ab")
        self.process = subprocess.Popen(
            [str(venv / "bin" / "runner"), "-C", str(self.config), "--runner=rest:0:1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Mailman exited: {(self.folder / 'rest.log').read_text()[-2000:]}"
                )
            try:
                if self.get("system/versions").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("Mailman's REST API did not answer in time")

    def stop(self) -> None:
        """Stop it for good (SIGKILL: a crash, not a clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    # -- the tests' admin view -----------------------------------------------------------------

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, self.base_url + path, auth=(USER, self.password), timeout=30, **kw
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        return self._call("GET", path, params=params)

    def entries(self, path: str, **params: str) -> list[dict[str, Any]]:
        response = self.get(path, **params)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return list(response.json().get("entries", []))

    def post(self, path: str, data: dict[str, Any]) -> httpx.Response:
        response = self._call("POST", path, json=data)
        response.raise_for_status()
        return response

    def delete(self, path: str) -> None:
        self._call("DELETE", path)

    def reset(self) -> None:
        """Nothing in it but the domain: every list (their members and bans), user, address."""
        if not self.get(f"domains/{DOMAIN}").is_success:
            self.post("domains", {"mail_host": DOMAIN})
        for mlist in self.entries("lists"):
            self.delete(f"lists/{mlist['list_id']}")
        for user in self.entries("users"):
            self.delete(f"users/{user['user_id']}")
        for address in self.entries("addresses"):
            self.delete(f"addresses/{address['email']}")
        for ban in self.entries("bans"):
            self.delete(f"bans/{ban['email']}")

    def add_list(self, name: str) -> str:
        self.post("lists", {"fqdn_listname": f"{name}@{DOMAIN}"})
        return f"{name}.{DOMAIN}"

    def subscribe(self, list_id: str, email: str, name: str | None = None) -> None:
        data = {
            "list_id": list_id,
            "subscriber": email,
            "pre_verified": True,
            "pre_confirmed": True,
            "pre_approved": True,
        }
        if name:
            data["display_name"] = name
        self.post("members", data)

    def add_address(self, owner: str, email: str) -> None:
        """Another address of the user owning ``owner``, verified."""
        self.post(f"users/{owner}/addresses", {"email": email})
        self.post(f"addresses/{email}/verify", {})

    def members(self, email: str) -> list[dict[str, Any]]:
        """Memberships of exactly this address (members/find reads patterns)."""
        found = self.entries("members/find", subscriber=email)
        return [m for m in found if m["email"] == email.lower()]

    def banned(self, list_id: str) -> list[str]:
        return [b["email"] for b in self.entries(f"lists/{list_id}/bans")]
