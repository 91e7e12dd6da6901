"""The company's stores for the two-host run: the demo stores copied into the shared PostgreSQL,
the call recordings moved into the bucket, and a connectors file pointing at both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from config.settings import CONFIG_DIR
from demo.seed import seed, store_paths
from demo.stores import STORES

SQL = ("crm", "newsletter", "orders", "recordings")


def copy_stores(data_dir: Path, url: str) -> None:
    """The four seeded SQLite stores, copied into the database at ``url``."""
    target = sa.create_engine(url)
    try:
        for store in SQL:
            source = sa.create_engine(f"sqlite:///{store_paths(data_dir)[store]}")
            STORES[store].create_all(target)
            with source.connect() as src, target.begin() as dst:
                for table in STORES[store].sorted_tables:
                    rows = [dict(r) for r in src.execute(sa.select(table)).mappings()]
                    if rows:
                        dst.execute(table.insert(), rows)
            source.dispose()
    finally:
        target.dispose()


def upload_recordings(data_dir: Path, client: Any, bucket: str) -> int:
    monitor = store_paths(data_dir)["monitor"]
    sent = 0
    for path in sorted(monitor.rglob("*.wav")):
        client.upload_file(str(path), bucket, f"recordings/{path.relative_to(monitor).as_posix()}")
        sent += 1
    return sent


def connectors_file(folder: Path, store_url: str, archive: str) -> Path:
    """The shipped connectors.yaml, its SQL stores at ``store_url``, file roots at ``archive``."""
    document = yaml.safe_load((CONFIG_DIR / "connectors.yaml").read_text("utf-8"))
    for entry in document["connectors"]:
        if entry["kind"] == "sql":
            entry["url"] = store_url
        for table in entry.get("tables", []):
            if isinstance(table, dict) and isinstance(table.get("file"), dict):
                table["file"]["root"] = archive
    path = folder / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return path


def seed_shared(seed_dir: Path, customers: int, secret: str) -> None:
    seed(seed_dir, customers, secret_key=secret, reset=True)
