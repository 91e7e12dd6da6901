"""Deadlines from the jurisdiction profiles (config/jurisdictions.yaml)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import CONFIG_DIR
from dsr.core.runtime.deadlines import KINDS, Profile, add_months, compute, load_profiles
from dsr.errors import ConfigError, InvalidInput

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PROFILES = load_profiles(CONFIG_DIR / "jurisdictions.yaml")


def hcm(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=HCM)


def local_day(moment: datetime, profile: str = "vn") -> date:
    return moment.astimezone(PROFILES[profile].zone).date()


def test_shipped_file_has_the_four_profiles_with_the_policy_ceiling() -> None:
    """The shipped YAML loads into vn, gdpr, ccpa and policy30, each capped at 30 days."""
    assert set(PROFILES) == {"vn", "gdpr", "ccpa", "policy30"}
    assert all(p.ceiling_days == 30 and p.name == name for name, p in PROFILES.items())


@pytest.mark.parametrize(
    "day", [date(2026, 2, d) for d in range(16, 21)] + [date(2027, 2, d) for d in range(4, 11)]
)
def test_holidays_package_knows_tet(day: date) -> None:
    """The holidays package's VN calendar has the Tết break of 2026 and 2027 (no extras needed)."""
    assert not PROFILES["vn"].is_working_day(day)


def test_tet_pushes_the_acknowledgement_later_than_in_march() -> None:
    """A request received just before Tết 2027 is acknowledged after the break, not in 2 days."""
    before_tet = compute("access", "vn", hcm(2027, 2, 4), PROFILES)
    march = compute("access", "vn", hcm(2027, 3, 3), PROFILES)
    assert before_tet.ack_due_at and march.ack_due_at
    assert local_day(march.ack_due_at) == date(2027, 3, 5)
    assert local_day(before_tet.ack_due_at) == date(2027, 2, 12)
    assert before_tet.ack_due_at - hcm(2027, 2, 4) > march.ack_due_at - hcm(2027, 3, 3)


def test_vn_access_is_10_days_and_erase_20() -> None:
    """Under vn, access is due 10 calendar days after receipt and erasure 20."""
    received = hcm(2027, 3, 3)
    assert local_day(compute("access", "vn", received, PROFILES).due_at) == date(2027, 3, 13)
    assert local_day(compute("rectify", "vn", received, PROFILES).due_at) == date(2027, 3, 13)
    assert local_day(compute("erase", "vn", received, PROFILES).due_at) == date(2027, 3, 23)


def test_third_party_gets_the_longer_vn_period_but_not_past_the_ceiling() -> None:
    """With a processor involved access gets 15 days; erase's 30 days is capped at received + 30."""
    received = hcm(2027, 3, 3)
    access = compute("access", "vn", received, PROFILES, third_party=True)
    erase = compute("erase", "vn", received, PROFILES, third_party=True)
    assert local_day(access.due_at) == date(2027, 3, 18)
    assert erase.due_at == received + timedelta(days=30)


def test_due_is_the_end_of_the_local_day_in_utc() -> None:
    """A deadline is 23:59:59 Vietnam time on its last day, returned as an aware UTC datetime."""
    due = compute("access", "vn", hcm(2027, 3, 3), PROFILES).due_at
    assert due.tzinfo == UTC
    assert due.astimezone(HCM).time() == time(23, 59, 59)


def test_days_are_counted_in_the_vietnam_local_day() -> None:
    """18:00 UTC on 2 March is already 3 March in Ho Chi Minh City, so counting starts there."""
    received = datetime(2027, 3, 2, 18, tzinfo=UTC)
    assert local_day(compute("access", "vn", received, PROFILES).due_at) == date(2027, 3, 13)


def test_naive_received_at_is_taken_as_utc() -> None:
    """A naive datetime (as SQLite returns) gives the same deadlines as the aware UTC one."""
    aware = datetime(2027, 3, 3, 3, tzinfo=UTC)
    naive = aware.replace(tzinfo=None)
    assert compute("erase", "vn", naive, PROFILES) == compute("erase", "vn", aware, PROFILES)


def test_ceiling_caps_ccpa_45_days_at_30() -> None:
    """CCPA allows 45 days but the policy's promise caps due_at at received_at + 30 days."""
    received = datetime(2027, 3, 3, 18, tzinfo=UTC)
    deadlines = compute("erase", "ccpa", received, PROFILES)
    assert deadlines.due_at == received + timedelta(days=30)
    assert deadlines.ack_due_at is not None and deadlines.ack_due_at < deadlines.due_at


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2027, 1, 31), date(2027, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2027, 2, 15), date(2027, 3, 15)),
    ],
)
def test_gdpr_is_one_calendar_month_clamped_to_month_end(received: date, due: date) -> None:
    """GDPR's one month ends on the same date next month, or that month's last day if shorter."""
    moment = datetime.combine(received, time(10), tzinfo=PROFILES["gdpr"].zone)
    deadlines = compute("access", "gdpr", moment, PROFILES)
    assert deadlines.ack_due_at is None
    assert local_day(deadlines.due_at, "gdpr") == due


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
    ],
)
def test_add_months_clamps(start: date, months: int, end: date) -> None:
    """Month addition rolls the year over and clamps to the target month's last day."""
    assert add_months(start, months) == end


def test_unknown_jurisdiction_is_invalid_input() -> None:
    """An unknown jurisdiction names itself and the known ones."""
    with pytest.raises(InvalidInput, match=r"unknown jurisdiction 'mars'.*vn"):
        compute("access", "mars", hcm(2027, 3, 3), PROFILES)


def test_unknown_kind_is_invalid_input() -> None:
    """An unknown request kind is refused with a clear message."""
    with pytest.raises(InvalidInput, match="unknown request kind 'delete'"):
        compute("delete", "vn", hcm(2027, 3, 3), PROFILES)


MINIMAL = """
ceiling_days: 30
profiles:
  x:
    timezone: Asia/Ho_Chi_Minh
    holidays: {country: VN}
    extra_holidays: [2027-03-04]
    acknowledge: {working_days: 2}
    deadlines:
      access: {days: 10}
      rectify: {days: 10}
      erase: {days: 20}
      complaint: {days: 15}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jurisdictions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_holidays_from_yaml_count_as_days_off(tmp_path: Path) -> None:
    """A day listed in extra_holidays is skipped like a public holiday."""
    profiles = load_profiles(write(tmp_path, MINIMAL))
    ack = compute("access", "x", hcm(2027, 3, 3), profiles).ack_due_at
    assert ack is not None and local_day(ack) == date(2027, 3, 8)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("      erase: {days: 20}\n", "", "erase"),
        ("{days: 20}", "{days: 20, months: 1}", "exactly one"),
        ("{country: VN}", "{country: XX}", "XX"),
        ("Asia/Ho_Chi_Minh", "Asia/Atlantis", "Atlantis"),
        ("{days: 10}", "{days: -1}", "greater than 0"),
        ("ceiling_days: 30", "ceiling_days: 30\nsurprise: 1", "surprise"),
        ("profiles:", "profiles: [", "not valid YAML"),
    ],
)
def test_bad_file_is_config_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    """A malformed profile file is a ConfigError naming what is wrong."""
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        load_profiles(path)


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    """A jurisdictions file that does not exist is a ConfigError, not a crash."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_profiles(tmp_path / "nope.yaml")


received_ats = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(
    received=received_ats,
    kind=st.sampled_from(KINDS),
    jurisdiction=st.sampled_from(sorted(PROFILES)),
    third_party=st.booleans(),
)
def test_deadline_invariants(
    received: datetime, kind: str, jurisdiction: str, third_party: bool
) -> None:
    """For any receipt time: received <= ack <= due <= received + ceiling, and ack is a work day."""
    profile: Profile = PROFILES[jurisdiction]
    deadlines = compute(kind, jurisdiction, received, PROFILES, third_party=third_party)
    assert deadlines.due_at.tzinfo == UTC
    assert received <= deadlines.due_at
    assert profile.ceiling_days is not None
    assert deadlines.due_at - received <= timedelta(days=profile.ceiling_days)
    if profile.acknowledge is None:
        assert deadlines.ack_due_at is None
    else:
        assert deadlines.ack_due_at is not None
        assert received <= deadlines.ack_due_at <= deadlines.due_at
        assert profile.is_working_day(deadlines.ack_due_at.astimezone(profile.zone).date())


def test_an_acknowledgement_due_after_the_reply_moves_to_the_last_working_day_before_it() -> None:
    """A CCPA complaint (15 days) received Friday 28 Aug 2026: 10 business days would end on
    14 Sep (Labor Day in between), after the reply's Saturday 12 Sep; the acknowledgement is due
    on Friday 11 Sep instead."""
    la = ZoneInfo("America/Los_Angeles")
    received = datetime(2026, 8, 28, 10, 0, tzinfo=la).astimezone(UTC)
    d = compute("complaint", "ccpa", received, PROFILES)
    assert d.due_at.astimezone(la).date() == date(2026, 9, 12)
    assert d.ack_due_at is not None
    assert d.ack_due_at.astimezone(la).date() == date(2026, 9, 11)
