"""Small numeric helpers: percentiles, rates and ratios, rounded for the report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, None when either is missing or the base is zero."""
    if value is None or base is None or not base or math.isnan(value) or math.isnan(base):
        return None
    return value / base


def per_minute(count: int, seconds: float) -> float:
    return 60.0 * count / seconds if seconds > 0 else math.nan


def rounded(value: float | None, digits: int = 3) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, digits)
