"""Hosts as Linux network namespaces: each has its own network stack, reaches the servers
only over its veth link, and dies whole (every process in it SIGKILLed).

The servers listen on one service address (``SERVICE``, a /32 on the root namespace's
loopback for the run) that each namespace reaches through its veth pair's host side; nothing
of the machine's own servers on 127.0.0.1 is touched. Needs root and ``ip netns``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# Per run (two runs at once on one machine must not share addresses): 10.200.0.0 to 10.249.0.0.
NET = f"10.{200 + os.getpid() % 50}"
SERVICE = f"{NET}.0.1"


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no ip command"
    probe = f"dsrprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode(errors='replace').strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def _ip(*args: str, netns: str | None = None) -> None:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def add_service_address() -> None:
    _ip("addr", "add", f"{SERVICE}/32", "dev", "lo")


def remove_service_address() -> None:
    subprocess.run(["ip", "addr", "del", f"{SERVICE}/32", "dev", "lo"], capture_output=True)


@dataclass
class Host:
    """One worker host: a namespace ``name`` with address ``address`` on its veth link."""

    index: int
    root: Path  # this host's own folder (var, exports): no other host sees it

    @property
    def name(self) -> str:
        return f"dsrh{self.index}-{os.getpid()}"

    @property
    def _veth(self) -> tuple[str, str]:
        tag = f"{self.index}{os.getpid() % 100000}"
        return f"dh{tag}", f"dn{tag}"

    @property
    def address(self) -> str:
        return f"{NET}.{self.index}.2"

    def create(self) -> None:
        outer, inner = self._veth
        _ip("netns", "add", self.name)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", self.name)
        _ip("addr", "add", f"{NET}.{self.index}.1/30", "dev", outer)
        _ip("link", "set", outer, "up")
        _ip("addr", "add", f"{self.address}/30", "dev", inner, netns=self.name)
        _ip("link", "set", inner, "up", netns=self.name)
        _ip("link", "set", "lo", "up", netns=self.name)
        _ip("route", "add", "default", "via", f"{NET}.{self.index}.1", netns=self.name)

    def popen(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start ``args`` inside this host."""
        out = log.open("ab")
        try:
            return subprocess.Popen(
                ["ip", "netns", "exec", self.name, *args],
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        finally:
            out.close()

    def pids(self) -> list[int]:
        found = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        )
        return [int(p) for p in found.stdout.split()]

    def kill(self) -> int:
        """SIGKILL every process in the host, as a power cut would; how many there were."""
        killed: set[int] = set()
        for _ in range(5):  # a dying parent may still fork
            pids = set(self.pids()) - killed
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        return len(killed)

    def destroy(self) -> None:
        self.kill()
        subprocess.run(["ip", "link", "del", self._veth[0]], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
