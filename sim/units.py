"""Durations and clock times as scenario files write them ("90s", "15m", "2h", "1d", "08:30")."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BeforeValidator

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d)?\s*$")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def duration(value: object) -> float:
    """Seconds from a number (already seconds) or a string such as "90s", "15m", "2.5h", "1d"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 90s, 15m or 2h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration such as 90s, 15m or 2h, got {value!r}")
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"a duration must be finite and not negative, got {value!r}")
    return seconds


def clock(value: object) -> float:
    """Seconds after midnight from "HH:MM" (hours up to 48, so "30:00" is 06:00 the next day), or a
    number of seconds already."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 48 * 3600:
        return float(value)
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a clock time HH:MM, got {value!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 48 or (hours == 48 and minutes):
        raise ValueError(f"not a clock time: {value!r}")
    return hours * 3600.0 + minutes * 60.0


def clock_span(value: object) -> object:
    """A span of the day from "HH:MM-HH:MM" as (start, end) seconds after midnight; end after start."""
    if not isinstance(value, str):
        return value
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError(f"expected a span of the day HH:MM-HH:MM, got {value!r}")
    begin, finish = clock(start.strip()), clock(end.strip())
    if finish <= begin:
        raise ValueError(f"span {value!r} ends before it starts; write one past midnight as e.g. 22:00-30:00")
    return (begin, finish)


def time_of_day(moment: dt.datetime) -> float:
    """Seconds since the midnight that starts ``moment``'s day."""
    return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second + moment.microsecond / 1e6


Seconds = Annotated[float, BeforeValidator(duration)]
"""A type for fields and strategy parameters given as a duration ("2m") or seconds."""
