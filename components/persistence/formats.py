"""Go durations, cron intervals and AWS INI profiles: parsed in settings, reused in
the objects."""

from __future__ import annotations

import configparser
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


def cron_interval_hours(expr: str) -> float:
    """The typical time between two runs of a cron expression (an estimate: the
    finest restricted field decides; lists divide the period evenly)."""
    macros = {"@hourly": 1.0, "@daily": 24.0, "@midnight": 24.0, "@weekly": 168.0}
    if expr in macros:
        return macros[expr]
    if expr in ("@monthly", "@yearly", "@annually"):
        return 744.0 if expr == "@monthly" else 8760.0
    minute, hour, dom, _month, dow = expr.split()

    def every(field_: str, period: float, unit: float) -> float | None:
        if field_ == "*":
            return unit
        if field_.startswith("*/") and field_[2:].isdigit():
            return int(field_[2:]) * unit
        if "," in field_:
            return period / len(field_.split(","))
        return None

    for f, period, unit in ((minute, 1.0, 1 / 60), (hour, 24.0, 1.0)):
        step = every(f, period, unit)
        if step is not None:
            return step
    if dom == "*" and dow == "*":
        return 24.0
    if dow != "*":
        return 168.0 / len(dow.split(","))
    return 744.0 / len(dom.split(","))
