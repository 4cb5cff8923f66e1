"""Declarative settings: each knob says where it comes from, how to parse it and what it means.

`jobs/` declares the concrete `Setting`s; `resolve` turns CLI values, the environment and defaults into one
mapping (CLI over environment over default) or raises a one-line `ConfigError` that names the setting, the bad
value (never a secret) and the fix. No environment is read here: the caller passes `os.environ` in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

from engine.errors import ConfigError

T = TypeVar("T")

Parse = Callable[[str], Any]
Check = Callable[[Any], "str | None"]

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class Setting:
    """One knob.

    A parser or check that rejects a value raises `ValueError` (or returns a reason) whose text completes the
    sentence "<FLAG or ENV>=<value> …", e.g. "is not a whole number: set it to an integer from 1 to 64".
    """

    name: str
    env: str | None
    default: Any
    parse: Parse
    help: str
    unit: str = ""
    secret: bool = False
    check: Check | None = None
    flag: str | None = None  # CLI spelling for messages; "--<name>" when not given
    show: Callable[[Any], str] | None = None  # how the default reads in the README table
    own_flag: bool = True  # False: no "--<name>" of its own; `flag` names the option that sets it, if any

    @property
    def cli_flag(self) -> str:
        return self.flag or f"--{self.name}"

    @property
    def option(self) -> str | None:
        """The command-line option that sets this setting, or None when only its environment variable does."""
        return self.flag or (f"--{self.name}" if self.own_flag else None)

    def shown(self, value: Any) -> str:
        """`value` as a user reads it, hidden when the setting is secret."""
        if self.secret:
            return REDACTED
        if value is None:
            return "—"
        if self.show is not None and not isinstance(value, str):  # a string default reads as written
            return self.show(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def resolve(settings: Sequence[Setting], cli: Mapping[str, Any], env: Mapping[str, str]) -> Mapping[str, Any]:
    """Values by setting name: CLI value (not None) over environment (not empty) over default, checked.

    CLI strings are parsed like environment strings; other CLI values (argparse already typed them) and
    non-string defaults are taken as they are. A default of None stays None: the caller decides whether the
    setting is required for the job at hand (see `require`).
    """
    values: dict[str, Any] = {}
    for setting in settings:
        values[setting.name] = _resolve_one(setting, cli.get(setting.name), env)
    return MappingProxyType(values)


def _resolve_one(setting: Setting, cli_value: Any, env: Mapping[str, str]) -> Any:
    if cli_value is not None:
        where, raw = setting.option or setting.cli_flag, cli_value
    elif setting.env is not None and env.get(setting.env, "") != "":
        where, raw = setting.env, env[setting.env]
    else:
        where, raw = f"the default of {setting.name}", setting.default
    if raw is None:
        return None
    value = raw
    if isinstance(raw, str):
        try:
            value = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(_sentence(setting, where, raw, str(exc))) from None
    if setting.check is not None:
        reason = setting.check(value)
        if reason:
            raise ConfigError(_sentence(setting, where, raw, reason))
    return value


def _sentence(setting: Setting, where: str, raw: Any, reason: str) -> str:
    if setting.secret:
        # a parser's own message may quote the value: cut it out before it can reach a terminal or a log
        text = str(raw).strip()
        if text:  # (blank: nothing to hide, and replacing spaces would shred the sentence)
            reason = reason.replace(text, REDACTED)
        return f"{where} (value hidden) {reason}"
    return f"{where}={shortened(raw)} {reason}"


def shortened(value: Any, limit: int = 80) -> str:
    """`value`'s repr, its middle cut out when longer than `limit` characters, so a message stays one short
    line whatever was typed."""
    text = repr(value)
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]}...{text[-half:]} ({len(str(value))} characters)"


def require(settings: Sequence[Setting], values: Mapping[str, Any], *names: str) -> None:
    """Raise `ConfigError` for the first of `names` whose value is None, saying how to set it."""
    by_name = {s.name: s for s in settings}
    for name in names:
        if values.get(name) is not None:
            continue
        setting = by_name[name]
        ways = [
            f"set {setting.env}" if setting.env else "",
            f"pass {setting.option}" if setting.option else "",
        ]
        how = " or ".join(way for way in ways if way)
        raise ConfigError(f"{setting.env or setting.option} is not set: {how} ({setting.help})")


def secret_values(settings: Iterable[Setting], values: Mapping[str, Any]) -> list[str]:
    """The resolved values of secret settings, for the log redactor."""
    return [str(values[s.name]) for s in settings if s.secret and values.get(s.name) not in (None, "")]


def help_line(setting: Setting) -> str:
    """The `--help` text of one setting: meaning, environment variable and default."""
    parts = [setting.help]
    if setting.env:
        parts.append(f"env {setting.env}")
    if setting.default is not None:
        shown = setting.shown(setting.default)
        # a default that carries its own unit (24h, 8MiB) reads wrong with the unit again ("24h s")
        unit = f" {setting.unit}" if setting.unit and _NUMBER.fullmatch(shown) else ""
        parts.append(f"default {shown}{unit}")
    return "; ".join(parts)


def markdown_table(settings: Iterable[Setting]) -> str:
    """The README table: name (environment variable, and the option that sets it), default, unit, meaning."""
    rows = ["| name | default | unit | meaning |", "|---|---|---|---|"]
    for s in settings:
        names = " / ".join(f"`{n}`" for n in (s.env, s.option) if n)
        default = s.shown(s.default) if s.default is not None else "—"
        cells = [names, default, s.unit, s.help]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


# -- parsers -------------------------------------------------------------------------------------------------


class _Parser(Generic[T]):
    """A parser usable both ways: `parse=boolean` and `parse=boolean()` mean the same."""

    def __init__(self, fn: Callable[[str], T], doc: str) -> None:
        self._fn = fn
        self.__doc__ = doc

    @overload
    def __call__(self) -> Callable[[str], T]: ...
    @overload
    def __call__(self, text: str) -> T: ...
    def __call__(self, text: str | None = None) -> T | Callable[[str], T]:
        return self._fn if text is None else self._fn(text)


def positive_int(lo: int = 1, hi: int | None = None) -> Callable[[str], int]:
    """A parser of whole numbers from `lo` to `hi` (inclusive; no upper bound when `hi` is None)."""
    span = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"is not a whole number: set it to an integer {span}") from None
        if value < lo or (hi is not None and value > hi):
            raise ValueError(f"is out of range: set it to an integer {span}")
        return value

    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("is not a number: set it to a number of at least 0, e.g. 2.5") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("is out of range: set it to a finite number of at least 0")
    return value


non_negative_float = _Parser(_non_negative_float, "A parser of finite numbers ≥ 0.")

_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("is not a yes/no value: set it to true or false (1/0, yes/no and on/off work too)")


boolean = _Parser(_boolean, "A parser of true/false, 1/0, yes/no, on/off (any case), as in DOIT=true.")


def choice(*values: str) -> Callable[[str], str]:
    """A parser accepting one of `values` in any case and returning it as declared."""
    by_folded = {v.casefold(): v for v in values}
    listed = ", ".join(values)

    def parse(text: str) -> str:
        found = by_folded.get(text.strip().casefold())
        if found is None:
            raise ValueError(f"is not a known value: set it to one of {listed}")
        return found

    return parse


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)\s*(?:ms|min|s|m|h|d)\s*)+", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d)", re.IGNORECASE)


def _duration_s(text: str) -> float:
    body = text.strip()
    if _NUMBER.fullmatch(body):
        return float(body)
    if not _DURATION.fullmatch(body):
        # a bare number after a unit ("1h30") is refused: minutes or seconds would be a guess
        raise ValueError("is not a duration: set it to seconds or a number with a unit: 30s, 5m, 2h, 1h30m")
    return sum(float(n) * _DURATION_UNITS[u.lower()] for n, u in _DURATION_PART.findall(body))


duration_s = _Parser(_duration_s, "A parser of durations in seconds: 30, 30s, 500ms, 5m, 2h, 1d, 1h30m.")

# SI prefixes are decimal, IEC ones binary; a bare K/M/G/T is binary, as in rclone ("8M" = 8 MiB)
_BYTE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
}  # fmt: skip
_BYTE_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)", re.IGNORECASE)


def _byte_size(text: str) -> int:
    match = _BYTE_SIZE.fullmatch(text.strip())
    factor = _BYTE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or factor is None:
        raise ValueError("is not a size: set it to bytes or a number with a unit, e.g. 8MiB, 100MB, 5GiB")
    return int(float(match.group(1)) * factor)


byte_size = _Parser(_byte_size, "A parser of byte sizes: 1048576, 8MiB, 100MB (decimal), 8M (binary).")


def format_bytes(n: float) -> str:
    """`n` bytes in the largest binary unit that keeps it readable: 8MiB, 1.5GiB, 512B."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= factor:
            return f"{n / factor:.4g}{unit}"
    return f"{n:.0f}B"


# -- checks (the `check` field): bounds for values whose parser does not carry them --------------------------


def in_range(lo: float | None = None, hi: float | None = None, *, show: Callable[[Any], str] = str) -> Check:
    """A check that the value lies in [lo, hi]; either bound may be None."""
    if lo is not None and hi is not None:
        span = f"between {show(lo)} and {show(hi)}"
    elif lo is not None:
        span = f"to at least {show(lo)}"
    else:
        span = f"to at most {show(hi)}"

    def check(value: Any) -> str | None:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"is out of range: set it {span}"
        return None

    return check
