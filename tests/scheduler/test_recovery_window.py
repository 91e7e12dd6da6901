"""The default timetable recovers a lost message within two minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from config.settings import CONFIG_DIR, Settings
from dsr.core.ops.retention import DEFAULT_SCHEDULE, load_policy


def _longest_gap(cron: str, zone: str) -> timedelta:
    """The longest wait between two runs of ``cron`` over a day."""
    trigger = CronTrigger.from_crontab(cron, timezone=zone)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, start)
    gap = timedelta(0)
    while fire < start + timedelta(days=1):
        after = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        gap = max(gap, after - fire)
        fire = after
    return gap


def test_lost_message_recovered_within_two_minutes_by_default() -> None:
    """Idle threshold + the longest wait for the next re-drive run stays under 2 minutes."""
    policy = load_policy(CONFIG_DIR / "retention.yaml")
    assert policy.schedule["redrive"] == DEFAULT_SCHEDULE["redrive"]
    worst = timedelta(seconds=Settings().redrive_after_seconds) + _longest_gap(
        policy.schedule["redrive"], policy.timezone
    )
    assert worst < timedelta(minutes=2)
