"""The servers a benchmark run uses: PostgreSQL schemas, a Redis namespace, an SMTP sink.

Everything is this run's own and removed at the end: schemas are ``bench_<run>_<name>`` on the
machine's PostgreSQL (``DSR_DATABASE_URL``, else the test database), queues live under the
namespace ``bench-<run>`` on the machine's Redis (``DSR_REDIS_URL``), and files under a
temporary folder. The broker is wired from the environment at import, so ``Services.open`` sets
``DSR_REDIS_URL`` / ``DSR_BROKER_NAMESPACE`` before anything imports ``workers``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (PostgreSQL ``options=-csearch_path=...``)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@dataclass
class Services:
    """This run's PostgreSQL schemas, Redis namespace, SMTP sink and scratch folder."""

    run_id: str
    pg_url: str
    redis_url: str
    namespace: str
    tmp: Path
    schemas: list[str] = field(default_factory=list)
    smtp: Any = None  # dsr.smtp_sink.MailSink
    _controller: Any = None
    _admin: sa.Engine | None = None

    @classmethod
    def open(cls) -> Services:
        run_id = uuid.uuid4().hex[:8]
        pg_url = os.environ.get("DSR_DATABASE_URL") or DEFAULT_PG
        if not pg_url.startswith("postgresql"):
            raise SystemExit("DSR_DATABASE_URL must name a PostgreSQL database for benchmarks")
        redis_url = os.environ.get("DSR_REDIS_URL") or DEFAULT_REDIS
        namespace = f"bench-{run_id}"
        # Read by workers.broker when it is first imported (the driver's own broker).
        os.environ["DSR_REDIS_URL"] = redis_url
        os.environ["DSR_BROKER_NAMESPACE"] = namespace
        tmp = Path(tempfile.mkdtemp(prefix=f"dsr-bench-{run_id}-"))
        os.environ["DSR_VAR_DIR"] = str(tmp / "var")
        services = cls(run_id, pg_url, redis_url, namespace, tmp)
        services._check()
        return services

    def _check(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        with self.admin().connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def admin(self) -> sa.Engine:
        if self._admin is None:
            self._admin = sa.create_engine(
                self.pg_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True
            )
        return self._admin

    def schema(self, name: str) -> str:
        """A new, empty schema of this run; its URL (dropped by ``close``)."""
        schema = f"bench_{self.run_id}_{name}"
        with self.admin().connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        if schema not in self.schemas:
            self.schemas.append(schema)
        return with_search_path(self.pg_url, schema)

    def drop_schema(self, url: str) -> None:
        schema = url.rsplit("%3D", 1)[1].split("&", 1)[0]
        with self.admin().connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if schema in self.schemas:
            self.schemas.remove(schema)

    def folder(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start_smtp(self) -> Any:
        """The in-process aiosmtpd sink every reply goes to (started once)."""
        if self.smtp is None:
            from demo import smtp_sink

            self._controller, self.smtp = smtp_sink.start()
        return self.smtp

    def versions(self) -> dict[str, str]:
        import redis

        out: dict[str, str] = {}
        with self.admin().connect() as conn:
            out["postgresql"] = str(conn.execute(sa.text("SHOW server_version")).scalar())
        client = redis.Redis.from_url(self.redis_url)
        try:
            out["redis"] = str(client.info("server").get("redis_version"))
        finally:
            client.close()
        return out

    def close(self, *, keep_files: bool = False) -> None:
        """Drop every schema, queue key and file of this run; stop the SMTP sink."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        for schema in list(self.schemas):
            try:
                with self.admin().connect() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            except Exception:  # noqa: BLE001 - best effort; report the rest
                pass
        self.schemas.clear()
        if self._admin is not None:
            self._admin.dispose()
        self._clear_redis()
        if not keep_files:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _clear_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            for pattern in (f"{self.namespace}*", f"bench:{self.namespace}*"):
                keys = list(client.scan_iter(match=pattern, count=1000))
                for i in range(0, len(keys), 500):
                    client.delete(*keys[i : i + 500])
        finally:
            client.close()
