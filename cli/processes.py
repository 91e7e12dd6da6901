"""The long-running processes: ``dsr worker``, ``dsr scheduler``, ``dsr api``.

Each imports its process's machinery only when started (a worker needs dramatiq's broker, the
API uvicorn and FastAPI, the scheduler APScheduler), so a short command pays for none of them.
"""

from __future__ import annotations

import os
import sys

import typer

from cli.app import app, service, settings
from workers import PROCESS_MODULES


def _check_ledger() -> None:
    """Refuse to run against a broker namespace that serves another ledger (ConfigError)."""
    from workers import fingerprint  # wires the broker: only the processes pay for it
    from workers.broker import broker

    s = settings()
    svc = service()
    # Decided before the ledger is touched: a refused process creates nothing (no SQLite file).
    fingerprint.refuse_early(s, broker.client, s.broker_namespace)
    with svc.session():
        pass  # the ledger's schema (and so its id) first
    fingerprint.ensure(svc.rt, broker.client, s.broker_namespace)


@app.command()
def worker(
    processes: int | None = typer.Option(None, "--processes"),
    threads: int | None = typer.Option(None, "--threads"),
) -> None:
    """Run dramatiq worker processes for the pipeline (scale by running more)."""
    s = settings()
    _check_ledger()
    if s.redis_url is None:
        # The embedded Redis belongs to one process: run the worker threads here, not forked.
        from workers.embedded import run_in_process  # see the module docstring

        run_in_process((processes or s.worker_processes) * (threads or s.worker_threads))
        return
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        *PROCESS_MODULES,
        "--queues",
        "dsr",
        "--skip-logging",
        "--processes",
        str(processes or s.worker_processes),
        "--threads",
        str(threads or s.worker_threads),
    ]
    if s.queue_prefetch:
        os.environ["dramatiq_queue_prefetch"] = str(s.queue_prefetch)  # noqa: SIM112 - dramatiq reads it lowercase
    os.execv(sys.executable, args)


@app.command("scheduler")
def scheduler_cmd() -> None:
    """Run the scheduler: sweeps, watchdog, re-drive (one leader; a second one stands by)."""
    from scheduler.app import run  # see the module docstring

    svc = service()
    _check_ledger()
    run(svc.rt)


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Serve the HTTP API and the support-staff web page."""
    import uvicorn  # see the module docstring

    from api import create_app, serve

    svc = service()
    _check_ledger()
    uvicorn.Server(serve.config(create_app(svc.rt), host=host, port=port)).run()
