"""What every section shares: the options, this run's servers, the report, the driver's broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.infra import Services
from benchmarks.report import Report


@dataclass
class Options:
    quick: bool = False
    seed: int = 7
    workers: list[int] = field(default_factory=lambda: [1, 2])
    threads: int = 4
    prefetch: int = 0
    only: list[str] = field(
        default_factory=lambda: ["peer", "full", "lookup", "stores", "purge", "memory"]
    )
    # peer workload
    peer_customers: int = 100_000
    peer_orders: int = 300_000
    peer_requests: int = 200  # per kind, submitted in a burst
    latency_requests: int = 50  # per kind, one at a time (unloaded latency)
    batch_budget: float = 120.0  # seconds a peer burst, or one-at-a-time run, may take
    # full workload
    customers: int = 100_000
    requests: int = 1000
    full_budget: float = 900.0  # long enough for the whole batch to finish
    # lookup scaling
    lookup_sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    lookup_subjects: int = 1000
    # purge
    purge_rows: int = 1_000_000
    purge_chunk: int = 5000
    # export memory
    memory_orders: int = 100_000
    memory_recordings: int = 50
    profile: bool = False
    keep: bool = False

    def quicken(self) -> None:
        """Small sizes for a smoke run (a minute or two)."""
        self.quick = True
        self.peer_customers, self.peer_orders, self.peer_requests = 10_000, 30_000, 30
        self.latency_requests = 5
        self.customers, self.requests = 5_000, 60
        self.lookup_sizes, self.lookup_subjects = [2_000, 10_000], 200
        self.purge_rows = 100_000
        self.memory_orders, self.memory_recordings = 10_000, 10


@dataclass
class Context:
    opts: Options
    services: Services
    report: Report
    broker: Any = None
    progress: Any = None  # a dsr.core.runtime.progress.Report: bars on a terminal (benchmarks.run)
    _seeded: dict[int, Path] = field(default_factory=dict)

    def settings(
        self, *, ledger_url: str, connectors_file: Path, data_dir: Path, export_dir: Path
    ) -> tuple[Any, dict[str, str]]:
        """The Settings of a pipeline run and the same as DSR_* variables for the workers."""
        from config.settings import Settings

        smtp = self.services.start_smtp()
        env = {
            "DSR_DATABASE_URL": ledger_url,
            "DSR_REDIS_URL": self.services.redis_url,
            "DSR_BROKER_NAMESPACE": self.services.namespace,
            "DSR_CONNECTORS_FILE": str(connectors_file),
            "DSR_DATA_DIR": str(data_dir),
            "DSR_EXPORT_DIR": str(export_dir),
            "DSR_VAR_DIR": str(self.services.folder("var")),
            "DSR_SMTP_HOST": "127.0.0.1",
            "DSR_SMTP_PORT": str(smtp.port),
            "DSR_VOUCH_POLICY": "single",  # staff-vouched requests run end to end
        }
        settings = Settings(
            database_url=ledger_url,
            redis_url=self.services.redis_url,
            broker_namespace=self.services.namespace,
            connectors_file=connectors_file,
            data_dir=data_dir,
            export_dir=export_dir,
            var_dir=self.services.folder("var"),
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            vouch_policy="single",
        )
        return settings, env

    @contextmanager
    def pipeline(
        self, name: str, *, connectors_file: Path, data_dir: Path, processes: int
    ) -> Iterator[Any]:
        """A fresh ledger, a worker pool of ``processes`` and a Driver over them."""
        from benchmarks.pipeline import Driver
        from benchmarks.pool import WorkerPool
        from dsr.core.ledger.db import dispose_all, migrate
        from dsr.core.runtime.process import Runtime
        from workers import runtime

        app = f"bench_{self.services.run_id}_{name}"
        ledger = f"{self.services.schema(f'ledger_{name}')}&application_name={app}"
        export_dir = self.services.folder(f"exports-{name}")
        settings, env = self.settings(
            ledger_url=ledger,
            connectors_file=connectors_file,
            data_dir=data_dir,
            export_dir=export_dir,
        )
        rt = Runtime(settings)
        migrate(rt.db_url)
        runtime.set_runtime(rt)
        _index_ahead(rt)
        clock = f"bench:{self.services.namespace}:clock:{name}"
        pool = WorkerPool(
            env,
            processes=processes,
            threads=self.opts.threads,
            prefetch=self.opts.prefetch,
            clock_key=clock,
            log=self.services.tmp / f"workers-{name}.log",
        )
        driver = None
        try:
            pool.start(self.broker)
            driver = Driver(
                rt, self.broker, pool, name=name, profile=self.opts.profile, smtp=self.services.smtp
            )
            yield driver
        finally:
            pool.stop()
            if driver is not None:
                driver.close()
            runtime.set_runtime(None)
            rt.close()
            dispose_all()
            self.services.drop_schema(ledger)

    def seeded(self, customers: int) -> Path:
        """Demo stores (``dsr.seed.seed``) with ``customers`` people; seeded once per size."""
        if customers not in self._seeded:
            from demo.seed import seed

            folder = self.services.folder(f"demo-{customers}")
            report = seed(
                folder,
                customers,
                secret_key=_secret(),
                seed=self.opts.seed,
                reset=True,
                **({"progress": self.progress} if self.progress else {}),
            )
            self.report.details.setdefault("seed", {})[str(customers)] = {
                "elapsed_s": report.elapsed_s,
                "stores": report.stores,
            }
            self._seeded[customers] = folder
        return self._seeded[customers]

    def forget_seed(self, customers: int) -> None:
        """Drop a seeded folder once no section needs it (disk and page cache)."""
        import shutil

        folder = self._seeded.pop(customers, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _secret() -> str:
    from config.settings import Settings

    return Settings().keys.suppression


def _index_ahead(rt: Any) -> None:
    """Build the stores' identifier indexes before the workers start, as an operator runs
    ``dsr connectors index`` before turning them on (a first build is not a request's cost)."""
    from connectors.base import Indexed

    for connector in rt.connectors.values():
        if isinstance(connector, Indexed):
            connector.refresh_index()
