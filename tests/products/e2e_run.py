"""The whole pipeline on one product's store: a fresh copy of the store (``fresh``), its
``connectors.yaml`` entry as the only connector, a PostgreSQL ledger, Redis with a dramatiq
worker, and an aiosmtpd server the replies are read from, as a subject would read them.

``Product`` files requests as staff would (``verified=True, by=...``: every identifier on the
submission is proven), waits for them to settle, reads the reply e-mail and its ZIP bundle, and
asks ``Service`` for a request's status or a staff review, as ``tests/e2e`` does.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
import yaml

from demo.smtp_sink import MailSink
from dsr.core.ledger import paths
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.runtime.process import Runtime
from dsr.service import Caller, Service
from dsr.service.views import dump
from dsr.spellings import stored_values
from tests import services
from tests.e2e.conftest import Pipeline, make_settings, until
from tests.products.fresh import fresh_store
from tests.products.people import DECOYS
from tests.products.stores import ProductStore

SETTLED = ("completed", "needs_review", "needs_attention")
STAFF = "lan.nguyen"


@dataclass
class Product:
    """One product's store behind a running pipeline."""

    store: ProductStore
    pipe: Pipeline

    @property
    def connector(self) -> str:
        name: str = self.store.entry["name"]
        return name

    @property
    def service(self) -> Service:
        from workers.actors import enqueue

        return Service(self.pipe.rt, enqueue)

    def submit(self, kind: str, email: str, **kw: Any) -> str:
        """File a request as staff who checked the subject's identity (English replies)."""
        kw.setdefault("language", "en")
        return self.pipe.submit(kind, email, verified=True, by=STAFF, **kw)

    def settle(self, request_id: str) -> dict[str, Any]:
        """The request once it is completed, or waits for staff or ops."""
        return self.pipe.wait(request_id, *SETTLED, timeout=120)

    def status(self, request_id: str) -> dict[str, Any]:
        """The request as staff see it (tasks, identifiers, candidates, audit trail)."""
        data: dict[str, Any] = dump(self.service.status(request_id, by=Caller.staff("t")))
        return data

    def review(self, request_id: str, *, include: list[str] | None = None) -> dict[str, Any]:
        """Staff include ``include`` and exclude every other candidate; the request settled."""
        self.service.review(
            request_id,
            include=include or [],
            exclude=[],
            exclude_all=True,
            by=Caller.staff(STAFF),
        )
        return self.settle(request_id)

    def reply(self, request_id: str, to: str) -> EmailMessage:
        """The one reply e-mail the request sent to ``to``."""
        found: list[EmailMessage] = until(
            lambda: [
                m
                for m in self.pipe.smtp.to(to)
                if str(m["Message-ID"]).startswith(f"<{request_id}.reply@")
            ],
            timeout=60,
        )
        assert len(found) == 1, [m["Message-ID"] for m in found]
        return found[0]

    def bundle(self, request_id: str, to: str) -> dict[str, bytes]:
        """The files of the access reply's ZIP: the attachment, or the bundle its link serves."""
        message = self.reply(request_id, to)
        data = next(
            (
                part.get_content()
                for part in message.iter_attachments()
                if str(part.get_filename() or "").endswith(".zip")
            ),
            None,
        )
        if data is None:
            assert "/exports/" in text(message)  # too big to attach: the link's bundle
            data = paths.bundle(self.pipe.rt.settings.resolved_export_dir, request_id).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            return {name: zipped.read(name) for name in zipped.namelist()}

    def exported(self, files: dict[str, bytes]) -> dict[str, list[dict[str, Any]]]:
        """The store's tables in a bundle: table -> rows, as exported."""
        prefix = f"{self.connector}/"
        return {
            name.removeprefix(prefix).removesuffix(".json"): json.loads(data)
            for name, data in files.items()
            if name.startswith(prefix) and name.endswith(".json") and "/" not in name[len(prefix) :]
        }

    def keys(self, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Counter[str]]:
        """Rows by table as their keys in text (the entry's key column), for comparing."""
        return {
            table: Counter(str(r[self.store.keys[table]]) for r in found)
            for table, found in rows.items()
            if found
        }

    def table(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table``, read raw."""
        t = sa.Table(table, sa.MetaData(), autoload_with=self.store.engine)
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(t)).mappings()]

    def rows(self, table: str, keys: list[str]) -> list[dict[str, Any]]:
        """The store's rows of ``table`` whose key is one of ``keys``, read raw."""
        t = sa.Table(table, sa.MetaData(), autoload_with=self.store.engine)
        column = t.c[self.store.keys[table]]
        with self.store.engine.connect() as conn:
            found = conn.execute(sa.select(t).where(sa.cast(column, sa.String).in_(keys)))
            return [dict(r) for r in found.mappings()]


def text(message: EmailMessage) -> str:
    """The plain-text body of an e-mail."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def spellings(
    store: ProductStore, rows: dict[str, list[dict[str, Any]]], kind: str, value: str
) -> Counter[str]:
    """How the identifier ``value`` is written in ``rows`` (table -> rows), spelling by spelling,
    in the columns the product keeps that kind in."""
    found: Counter[str] = Counter()
    for table, table_rows in rows.items():
        for column in store.identifier_columns.get(table, {}).get(kind, ()):
            for row in table_rows:
                raw = row.get(column)
                if isinstance(raw, str) and value in stored_values(kind, raw):
                    found[raw] += 1
    return found


def decoys_in(store: ProductStore, rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The decoys' identifiers (any spelling) held by ``rows``: none may reach a reply."""
    hits = []
    for decoy in DECOYS:
        for kind in ("email", "phone"):
            if spellings(store, rows, kind, decoy.value(kind)):
                hits.append(f"{decoy.handle}:{kind}")
    return hits


Launch = Callable[[str], Product]


@pytest.fixture
def launch(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Launch]:
    """Start the pipeline on a fresh copy of a product's store (one per test)."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    with ExitStack() as stack:

        def start(name: str) -> Product:
            store = stack.enter_context(fresh_store(name, tmp_path / "store"))
            config = tmp_path / "connectors.yaml"
            config.write_text(
                yaml.safe_dump({"connectors": [store.entry]}, allow_unicode=True), "utf-8"
            )
            rt = Runtime(make_settings(tmp_path, postgres_url, smtp.port, connectors_file=config))
            migrate(rt.db_url)
            runtime.set_runtime(rt)
            broker.flush_all()
            worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
            worker.start()

            def stop() -> None:
                worker.stop()
                broker.flush_all()
                runtime.set_runtime(None)
                rt.close()
                get_engine(rt.db_url).dispose()

            stack.callback(stop)
            return Product(store, Pipeline(rt, smtp, worker))

        yield start
