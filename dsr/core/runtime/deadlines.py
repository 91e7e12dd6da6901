"""Reply deadlines from the jurisdiction profiles in ``config/jurisdictions.yaml``.

Periods are counted in the profile's local calendar days, starting the day after receipt; a
deadline is the end (23:59:59) of its last local day, returned in UTC. Working days skip weekends,
the profile's public holidays (the ``holidays`` package) and its ``extra_holidays``. The company's
ceiling caps every deadline at ``received_at + ceiling_days``.
"""

from __future__ import annotations

import calendar
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from dsr import yamlconfig
from dsr.core.ledger.models import OPEN_REQUEST, Request, RequestKind, RequestStatus
from dsr.errors import InvalidInput

KINDS: tuple[str, ...] = tuple(RequestKind)  # every request kind needs a deadline
_END_OF_DAY = time(23, 59, 59)
# An unverified request's clock has not started: its deadline runs from verification (GDPR
# Art. 12(6) lets the controller confirm identity first), so it is never counted overdue.
RUNNING_CLOCK: tuple[str, ...] = tuple(
    s
    for s in OPEN_REQUEST
    if s not in (RequestStatus.RECEIVED, RequestStatus.AWAITING_VERIFICATION)
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    """Exactly one of: calendar days, calendar months, working days."""

    days: PositiveInt | None = None
    months: PositiveInt | None = None
    working_days: PositiveInt | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Period:
        if sum(v is not None for v in (self.days, self.months, self.working_days)) != 1:
            raise ValueError("give exactly one of days, months, working_days")
        return self


class KindPeriod(Period):
    """A request kind's period, and a longer one when a processor or third party must act."""

    with_third_party: Period | None = None


class HolidayCalendar(_Strict):
    country: str
    subdivision: str | None = None

    @model_validator(mode="after")
    def _known(self) -> HolidayCalendar:
        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"holidays package has no country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(f"holidays package has no subdivision {self.subdivision!r}")
        return self


class Extension(_Strict):
    """What the law allows beyond the deadline; informational, nothing extends automatically."""

    times: PositiveInt = 1
    days: PositiveInt | None = None
    months: PositiveInt | None = None
    reasons_required: bool = True


class Profile(_Strict):
    """One jurisdiction's deadlines, as the lawyer wrote them."""

    name: str = ""
    label: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    holidays: HolidayCalendar | None = None
    extra_holidays: frozenset[date] = frozenset()
    acknowledge: Period | None = None
    deadlines: dict[RequestKind, KindPeriod]
    extension: Extension | None = None
    ceiling_days: PositiveInt | None = None

    @model_validator(mode="after")
    def _check(self) -> Profile:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        missing = [k for k in KINDS if k not in self.deadlines]
        if missing:
            raise ValueError(f"deadlines missing for {', '.join(missing)}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, and neither a public holiday nor an extra holiday."""
        if day.weekday() >= 5 or day in self.extra_holidays:
            return False
        if self.holidays is None:
            return True
        with _CALENDAR_LOCK:
            return day not in _calendar(self.holidays.country, self.holidays.subdivision)


class _File(_Strict):
    ceiling_days: PositiveInt | None = None
    profiles: dict[str, Profile] = Field(min_length=1)


# A calendar fills in a year on first lookup; worker threads must not see a half-filled year.
_CALENDAR_LOCK = threading.Lock()


@lru_cache(maxsize=16)
def _calendar(country: str, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)


@dataclass(frozen=True)
class Deadlines:
    """When receipt must be acknowledged (None: no such duty) and the reply is due, both UTC."""

    ack_due_at: datetime | None
    due_at: datetime


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Every profile in the YAML file by name; ConfigError naming the problem when it is wrong."""
    parsed = yamlconfig.load(_File, path)
    return {
        name: p.model_copy(
            update={"name": name, "ceiling_days": p.ceiling_days or parsed.ceiling_days}
        )
        for name, p in parsed.profiles.items()
    }


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _last_day(profile: Profile, start: date, period: Period) -> date:
    if period.days is not None:
        return start + timedelta(days=period.days)
    if period.months is not None:
        return add_months(start, period.months)
    assert period.working_days is not None
    day, left = start, period.working_days
    while left:
        day += timedelta(days=1)
        left -= profile.is_working_day(day)
    return day


def _utc(moment: datetime) -> datetime:
    # Naive datetimes are taken as UTC (what SQLite hands back for our UTC columns).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, _END_OF_DAY, tzinfo=zone).astimezone(UTC)


def compute(
    kind: str,
    jurisdiction: str,
    received_at: datetime,
    profiles: dict[str, Profile],
    *,
    third_party: bool = False,
) -> Deadlines:
    """Acknowledgement and reply deadlines (UTC) for a request of ``kind`` received then."""
    profile = profiles.get(jurisdiction)
    if profile is None:
        raise InvalidInput(
            f"unknown jurisdiction {jurisdiction!r} (known: {', '.join(sorted(profiles))})"
        )
    if kind not in KINDS:
        raise InvalidInput(f"unknown request kind {kind!r} ({', '.join(KINDS)})")
    rule = profile.deadlines[RequestKind(kind)]
    received = _utc(received_at)
    zone = profile.zone
    start = received.astimezone(zone).date()
    period = rule.with_third_party if third_party and rule.with_third_party else rule
    due = _end_of(_last_day(profile, start, period), zone)
    if profile.ceiling_days is not None:
        due = min(due, received + timedelta(days=profile.ceiling_days))
    ack = None
    if profile.acknowledge is not None:
        ack = _end_of(_last_day(profile, start, profile.acknowledge), zone)
        if ack > due:
            # The reply is due first (a 15-day complaint against 10 business days): acknowledge
            # by the last working day before it, never on a weekend the reply happens to end on.
            day = due.astimezone(zone).date()
            while day > start and not profile.is_working_day(day):
                day -= timedelta(days=1)
            ack = min(_end_of(day, zone), due)
    return Deadlines(ack_due_at=ack, due_at=due)


def overdue_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """Open, verified requests whose ``due_at`` has passed: the one definition of "overdue" in
    queries (an unverified request's clock has not started: ``RUNNING_CLOCK``)."""
    return and_(
        col(Request.status).in_(RUNNING_CLOCK), col(Request.due_at) < (now or datetime.now(UTC))
    )


def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    """The same rule as ``overdue_clause`` for one request in memory."""
    return status in RUNNING_CLOCK and due_at < now
