"""A single-process worker for the embedded Redis (a newcomer's laptop: nothing installed)."""

from __future__ import annotations

import signal
import threading

import dramatiq

from workers import actors, keeper, maintenance, runtime
from workers.broker import broker, shutdown_embedded

ACTOR_MODULES = (actors, maintenance)  # importing them declares the actors on the broker


def run_in_process(threads: int) -> None:
    """Consume until SIGINT/SIGTERM, then stop cleanly and let go of the embedded server."""
    runtime.get()  # migrate the ledger before the first message
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    keeper.start(broker)
    try:
        stop.wait()
    finally:
        worker.stop()
        shutdown_embedded()
