"""Scale mode from the shell: a product's tables filled with many customers, and how fast.

    python -m tests.products.scale woocommerce --customers 100000
    python -m tests.products.scale asterisk --customers 1000000 --url sqlite:////tmp/cdr.db
    python -m tests.products.scale asterisk --customers 10000 --root /tmp/monitor --files

The tables are created anew in the ``products`` database of the test servers (or ``--url``),
filled (the known subjects and decoys too), counted, and dropped unless ``--keep``. One line of
JSON: rows per table, seconds (tables created, rows written, indexes built), rows per second,
customers per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tests import services
from tests.products import asterisk, listmonk, odoo, woocommerce
from tests.products.bulk import count_rows, local_engine
from tests.products.people import Seeded
from tests.products.stores import products_url

MODULES = {"woocommerce": woocommerce, "listmonk": listmonk, "odoo": odoo, "asterisk": asterisk}
_SERVER = {
    "woocommerce": "mariadb",
    "listmonk": "postgres",
    "odoo": "postgres",
    "asterisk": "mariadb",
}


def default_url(product: str) -> str:
    if _SERVER[product] == "postgres":
        return products_url(services.POSTGRES_URL)
    return products_url(services.MARIADB_URL, charset="utf8mb4")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.products.scale")
    parser.add_argument("product", choices=sorted(MODULES))
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--url", help="SQLAlchemy URL (default: the products database)")
    parser.add_argument("--root", type=Path, help="asterisk: the recordings' monitor folder")
    parser.add_argument("--files", action="store_true", help="asterisk: write the WAV files")
    parser.add_argument("--keep", action="store_true", help="leave the tables filled")
    args = parser.parse_args(argv)
    if not 1 <= args.customers <= 1_000_000:
        parser.error("--customers: 1 to 1,000,000")
    engine = local_engine(args.url or default_url(args.product))
    module = MODULES[args.product]
    try:
        seeded: Seeded
        started = time.perf_counter()
        if module is asterisk:
            seeded = asterisk.scale(engine, args.customers, root=args.root, files=args.files)
        else:
            seeded = module.scale(engine, args.customers)
        seconds = time.perf_counter() - started  # rows written and indexes built
        counted = count_rows(engine, module.TABLES)
        if +counted != +seeded.counts:
            print(f"counts differ: {dict(counted)} != {dict(seeded.counts)}", file=sys.stderr)
            return 1
        print(
            json.dumps(
                {
                    "product": args.product,
                    "dialect": engine.dialect.name,
                    "customers": args.customers,
                    "rows": dict(seeded.counts),
                    "total_rows": seeded.rows,
                    "seconds": round(seconds, 2),
                    "rows_per_second": round(seeded.rows / seconds),
                    "customers_per_second": round(args.customers / seconds),
                    "files": len(seeded.files),
                }
            )
        )
        if not args.keep:
            module.drop_tables(engine)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
