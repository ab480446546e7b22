"""Go durations, cron intervals and AWS INI profiles: parsed in settings, reused in
the objects."""

from __future__ import annotations

import configparser
import datetime
import functools
import itertools
import re

# Go durations as Velero parses them (no `d` unit): 720h, 90m, 1h30m.
GO_DURATION_RE = re.compile(r"(?=\d)(\d+h)?(\d+m)?(\d+s)?")


def parse_aws_ini(text: str) -> tuple[str, str] | None:
    """(access key id, secret key) from an AWS INI profile, or None if it is not one."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    for section in parser.sections():
        key = parser.get(section, "aws_access_key_id", fallback="").strip()
        secret = parser.get(section, "aws_secret_access_key", fallback="").strip()
        if key and secret:
            return key, secret
    return None


def aws_ini(access_key: str, secret_key: str) -> str:
    return f"[default]\naws_access_key_id={access_key}\naws_secret_access_key={secret_key}\n"


def go_duration_hours(value: str) -> float | None:
    """'720h' -> 720.0, '1h30m' -> 1.5; None when it is not a Go duration Velero accepts."""
    m = GO_DURATION_RE.fullmatch(value)
    if not m:
        return None
    h, mi, s = (int(g[:-1]) if g else 0 for g in m.groups())
    return h + mi / 60 + s / 3600


CRON_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_NAMES = {
    name: i
    for names in (
        ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
        ("", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    )
    for i, name in enumerate(names)
    if name
}
# Five years from a leap year: every weekday, month length and two February 29ths occur,
# so every gap of a schedule appears between two runs inside the window.
_CYCLE_START = datetime.date(2024, 1, 1)
_CYCLE_DAYS = 5 * 365 + 2


def _cron_field(text: str, low: int, high: int) -> set[int]:
    """The values a cron field matches: *, ?, n, a-b, lists, steps, month/day names."""

    def number(token: str) -> int:
        value = _NAMES[token] if token in _NAMES else int(token)
        if not low <= value <= high:
            raise ValueError(f"{token} is outside {low}-{high}")
        return value

    out: set[int] = set()
    for part in text.lower().split(","):
        span, _, step = part.partition("/")
        if span in ("*", "?"):
            first, last = low, high
        elif "-" in span:
            first, last = (number(x) for x in span.split("-", 1))
        else:
            first = number(span)
            last = high if step else first
        out |= set(range(first, last + 1, int(step) if step else 1))
    return out


@functools.lru_cache(maxsize=64)
def cron_longest_gap_hours(expr: str) -> float:
    """The longest time between two consecutive runs of a cron expression (UTC), over a
    five-year window: a weekday-only schedule waits from Friday to Monday, `0 1,2 * * *`
    23 hours. Raises ValueError for an expression that does not parse or never runs.

    Day of month and day of week: when both are restricted a day matching either runs
    (cron(8), robfig/cron's dayMatches, which Velero uses). Whether a stepped `*/n`
    counts as restricted differs between implementations, so both readings are computed
    and the longer gap is taken: safe under either."""
    fields = CRON_MACROS.get(expr, expr).split()
    if len(fields) != 5:
        raise ValueError("not a 5-field cron expression")
    minute, hour, dom, month, dow = fields
    times = sorted(h * 60 + m for h in _cron_field(hour, 0, 23) for m in _cron_field(minute, 0, 59))
    doms, months = _cron_field(dom, 1, 31), _cron_field(month, 1, 12)
    dows = {d % 7 for d in _cron_field(dow, 0, 7)}
    gaps = []
    for stepped_is_restricted in (True, False):

        def restricted(f: str, stepped: bool = stepped_is_restricted) -> bool:
            return f not in ("*", "?") if stepped else not f.startswith(("*", "?"))

        either = restricted(dom) and restricted(dow)
        days = []
        for i in range(_CYCLE_DAYS):
            day = _CYCLE_START + datetime.timedelta(days=i)
            on_dom, on_dow = day.day in doms, (day.weekday() + 1) % 7 in dows
            if day.month in months and ((on_dom or on_dow) if either else (on_dom and on_dow)):
                days.append(i)
        if len(days) < 2 or not times:
            raise ValueError("never runs")
        within = max((b - a for a, b in itertools.pairwise(times)), default=0)
        across = max((b - a) * 1440 + times[0] - times[-1] for a, b in itertools.pairwise(days))
        gaps.append(max(within, across))
    return max(gaps) / 60
