"""``dsr_retention_overdue``: the retention report's flag as a Prometheus metric.

Unlike the ledger's figures, this one reads the stores (the oldest record each rule could still
take), so it is computed at most every ``ttl`` seconds and served from memory in between; a
store that cannot be read is left out of the scrape rather than called on time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dsr.errors import DsrError

log = structlog.get_logger(__name__)

TTL_SECONDS = 300.0


class RetentionCollector(Collector):
    """1 for a rule whose oldest record is past its limit by more than one sweep interval."""

    def __init__(self, flags: Callable[[], dict[str, bool]], ttl: float = TTL_SECONDS) -> None:
        self.flags = flags
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._flags: dict[str, bool] = {}

    def describe(self) -> list[Metric]:
        return []  # registering must not read the stores

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                try:
                    self._flags = self.flags()
                except DsrError as err:  # a store or the retention file unusable: no figure
                    log.warning("retention_metric_failed", error=type(err).__name__)
                    self._flags = {}
                self._at = time.monotonic()
            flags = dict(self._flags)
        gauge = GaugeMetricFamily(
            "dsr_retention_overdue",
            "1 when a retention rule's oldest record is past its limit by more than one sweep "
            "interval (dsr report retention).",
            labels=["store", "table"],
        )
        for rule, flagged in sorted(flags.items()):
            store, _, table = rule.partition(".")
            gauge.add_metric([store, table], 1.0 if flagged else 0.0)
        yield gauge
