"""The shared servers, reachable from the hosts' namespaces on the service address only.

The soak's own PostgreSQL cluster, redis-server and SMTP server (``benchmarks.soak.servers``),
each listening on 127.0.0.1 (the driver) and on ``netns.SERVICE`` (the hosts); PostgreSQL
trusts the hosts' links. They are this run's own servers on free ports: the machine's
PostgreSQL and Redis are not touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.hosts.netns import NET, SERVICE
from benchmarks.soak.servers import FaultySmtp, Postgres, RedisServer, _pg_bin


class SharedPostgres(Postgres):
    def url_at(self, database: str, host: str = SERVICE) -> str:
        return f"postgresql+psycopg://postgres@{host}:{self.port}/{database}"

    def start(self) -> None:
        if not self.data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            if self._as:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {NET}.0.0/16 trust\n")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1,{SERVICE} "
            "-c fsync=off -c max_connections=300"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.root / "log"), "-w", "start",
        )  # fmt: skip


class SharedRedis(RedisServer):
    def url_at(self, host: str = SERVICE) -> str:
        return f"redis://{host}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", SERVICE, "--save", "",
             "--appendonly", "no", "--dir", str(self.root),
             "--protected-mode", "no"],  # bound to loopback and the run's own address only
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis.from_url(self.url_at())
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()


class SharedSmtp(FaultySmtp):
    """The soak's SMTP server process, listening where both hosts reach it."""

    def __init__(self, ops: str) -> None:
        super().__init__(ops, host=SERVICE)


def prepare_root(tmp: Path) -> None:
    """The run's folder: readable by the PostgreSQL user (the cluster runs as it)."""
    tmp.chmod(0o755)
