"""Fault injection knobs per `service.action`, rate limits, and the simulator's counters.

A trigger fires for the next `next` calls, then with `probability`, drawn from one seedable RNG so a run is
repeatable. Action keys are lower-case `service.action` (`flavorasset.delete`); `*` applies to every action
without its own entry; `multirequest` is the key of a batch as a whole (its sub-calls use their own keys).
The JSON schema is described in `testbed.kaltura_sim.control`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

# Kinds of trigger an action can carry, in the order they are checked.
HTTP_KINDS = ("drop", "http_429", "http_503")
API_KINDS = ("internal_error", "action_blocked")
# "hold": the call waits before it runs until the faults document says `"release": true`
ACTION_KINDS = ("hold", *HTTP_KINDS, "drop_after", *API_KINDS)
DOWNLOAD_KINDS = ("drop", "http_429", "http_503", "truncate")


@dataclass
class Trigger:
    """Fires for the next `next` checks, then with `probability`."""

    probability: float = 0.0
    next: int = 0

    def fire(self, rng: random.Random) -> bool:
        if self.next > 0:
            self.next -= 1
            return True
        return self.probability > 0 and rng.random() < self.probability

    def describe(self) -> dict[str, Any]:
        return {"probability": self.probability, "next": self.next}


def _trigger(spec: Any, where: str) -> Trigger:
    if not isinstance(spec, dict) or set(spec) - {"probability", "next"}:
        raise ValueError(f"{where}: expected {{'probability': p, 'next': n}}, got {spec!r}")
    probability = float(spec.get("probability", 0.0))
    count = int(spec.get("next", 0))
    if not 0.0 <= probability <= 1.0 or count < 0:
        raise ValueError(f"{where}: probability must be in [0, 1] and next >= 0")
    return Trigger(probability, count)


@dataclass
class ActionFaults:
    """Knobs for one API action key."""

    latency_ms: float = 0.0
    triggers: dict[str, Trigger] = field(default_factory=dict)

    @classmethod
    def parse(cls, key: str, spec: Any) -> ActionFaults:
        if not isinstance(spec, dict):
            raise ValueError(f"actions.{key}: expected an object")
        unknown = set(spec) - {"latency_ms", *ACTION_KINDS}
        if unknown:
            raise ValueError(f"actions.{key}: unknown knobs {sorted(unknown)}")
        triggers = {
            kind: _trigger(spec[kind], f"actions.{key}.{kind}") for kind in ACTION_KINDS if kind in spec
        }
        return cls(float(spec.get("latency_ms", 0.0)), triggers)

    def describe(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, **{k: t.describe() for k, t in self.triggers.items()}}


@dataclass
class DownloadFaults:
    """Knobs for flavor downloads (serveFlavor)."""

    first_byte_ms: float = 0.0
    mbps: float = 0.0  # megabits per second per stream; 0 = unthrottled
    truncate_fraction: float = 0.5
    hold: bool = False  # downloads wait before their first byte until this is set back to false
    triggers: dict[str, Trigger] = field(default_factory=dict)

    def update(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise ValueError("download: expected an object")
        unknown = set(spec) - {"first_byte_ms", "mbps", "truncate_fraction", "hold", *DOWNLOAD_KINDS}
        if unknown:
            raise ValueError(f"download: unknown knobs {sorted(unknown)}")
        self.first_byte_ms = float(spec.get("first_byte_ms", self.first_byte_ms))
        self.mbps = float(spec.get("mbps", self.mbps))
        self.truncate_fraction = float(spec.get("truncate_fraction", self.truncate_fraction))
        hold = spec.get("hold", self.hold)
        if not isinstance(hold, bool):
            raise ValueError("download.hold: expected true or false")
        self.hold = hold
        if self.first_byte_ms < 0 or self.mbps < 0 or not 0.0 <= self.truncate_fraction < 1.0:
            raise ValueError("download: first_byte_ms, mbps >= 0 and truncate_fraction in [0, 1)")
        for kind in DOWNLOAD_KINDS:
            if kind in spec:
                self.triggers[kind] = _trigger(spec[kind], f"download.{kind}")

    def fired(self, kind: str, rng: random.Random) -> bool:
        trigger = self.triggers.get(kind)
        return trigger is not None and trigger.fire(rng)

    def describe(self) -> dict[str, Any]:
        return {
            "first_byte_ms": self.first_byte_ms,
            "mbps": self.mbps,
            "truncate_fraction": self.truncate_fraction,
            "hold": self.hold,
            **{k: t.describe() for k, t in self.triggers.items()},
        }


class RateLimits:
    """Calls per second allowed per action key (sliding one-second window); `*` for every action."""

    def __init__(self) -> None:
        self.limits: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        limit = self.limits.get(key, self.limits.get("*"))
        if limit is None:
            return True
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= limit:
            return False
        recent.append(now)
        return True


class Faults:
    """Every fault knob of one simulator; `configure` takes the `/__sim/faults` JSON."""

    def __init__(self, *, seed: int = 0, api_latency_ms: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.api_latency_ms = api_latency_ms
        self.actions: dict[str, ActionFaults] = {}
        self.rates = RateLimits()
        self.download = DownloadFaults()
        self._released = asyncio.Event()  # cleared while downloads are held
        self._released.set()
        self._actions_released = asyncio.Event()  # cleared while an action's `hold` trigger is armed
        self._actions_released.set()
        self.held = 0  # API calls waiting at a hold now

    async def action_gate(self, keys: list[str]) -> bool:
        """Hold the call if a `hold` trigger of one of `keys` fires, until `"release": true`; whether it was
        held."""
        if not any(self.fired(key, "hold") for key in keys):
            return False
        self.held += 1
        try:
            await self._actions_released.wait()
        finally:
            self.held -= 1
        return True

    async def download_gate(self) -> None:
        """Return once downloads are not held (at once unless `download.hold` is true)."""
        await self._released.wait()

    def configure(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Apply a faults document (all validated first: a bad one changes nothing); return `conversion`."""
        known = {
            "reset", "seed", "api_latency_ms", "actions", "rate_limits", "download", "conversion", "release",
        }  # fmt: skip
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        actions = {
            key.lower(): None if v is None else ActionFaults.parse(key, v)
            for key, v in dict(spec.get("actions") or {}).items()
        }
        rates = {
            key.lower(): None if v is None else float(v)
            for key, v in dict(spec.get("rate_limits") or {}).items()
        }
        if any(v is not None and v <= 0 for v in rates.values()):
            raise ValueError("rate_limits: calls per second must be > 0 (null removes a limit)")
        download = (
            DownloadFaults()
            if spec.get("reset")
            else replace(self.download, triggers=dict(self.download.triggers))
        )
        if "download" in spec:
            download.update(spec["download"])
        conversion = spec.get("conversion") or {}
        if not isinstance(conversion, dict) or set(conversion) - {"delay_s", "fail", "fail_rate"}:
            raise ValueError("conversion: expected {'delay_s': s, 'fail': bool, 'fail_rate': share}")
        if spec.get("reset"):
            self.api_latency_ms = 0.0
            self.actions.clear()
            self.rates = RateLimits()
        if "seed" in spec:
            self.rng.seed(int(spec["seed"]))
        self.api_latency_ms = float(spec.get("api_latency_ms", self.api_latency_ms))
        for key, action in actions.items():
            if action is None:
                self.actions.pop(key, None)
            else:
                self.actions[key] = action
        for key, rate in rates.items():
            if rate is None:
                self.rates.limits.pop(key, None)
            else:
                self.rates.limits[key] = rate
        self.download = download
        if any("hold" in action.triggers for action in actions.values() if action is not None):
            self._actions_released.clear()
        if spec.get("release"):
            self._actions_released.set()  # the held calls go on
        if download.hold:
            self._released.clear()
        else:
            self._released.set()  # the held downloads go on
        return conversion

    def for_action(self, key: str) -> ActionFaults | None:
        return self.actions.get(key) or self.actions.get("*")

    def fired(self, key: str, kind: str) -> bool:
        faults = self.for_action(key)
        trigger = faults.triggers.get(kind) if faults else None
        return trigger is not None and trigger.fire(self.rng)

    def latency_s(self, key: str) -> float:
        faults = self.for_action(key)
        return (self.api_latency_ms + (faults.latency_ms if faults else 0.0)) / 1000.0

    def describe(self) -> dict[str, Any]:
        return {
            "api_latency_ms": self.api_latency_ms,
            "actions": {key: faults.describe() for key, faults in self.actions.items()},
            "rate_limits": dict(self.rates.limits),
            "download": self.download.describe(),
            "held": self.held,
        }


class Counters:
    """Calls per action, calls in flight and their peak, peak requests per second, bytes served."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.downloads_in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero everything; calls still in flight stay counted so the gauges never go negative."""
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.peak_in_flight = self.in_flight
        self.peak_rps = 0
        self._window = 0
        self._window_count = 0
        self.downloads = 0
        self.peak_downloads_in_flight = self.downloads_in_flight
        self.bytes_served = 0
        # wall-clock (epoch) seconds: when the first download since the reset began, and when the last ended;
        # a benchmark compares them with its S3 store's times (another process on the same machine)
        self.first_download_at: float | None = None
        self.last_download_at: float | None = None

    def request_started(self) -> None:
        """One HTTP API request arrived (a multirequest counts once here, each sub-call in `calls`)."""
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        window = int(time.monotonic())
        if window != self._window:
            self._window, self._window_count = window, 0
        self._window_count += 1
        self.peak_rps = max(self.peak_rps, self._window_count)

    def request_finished(self) -> None:
        self.in_flight -= 1

    def download_started(self) -> None:
        if self.first_download_at is None:
            self.first_download_at = time.time()
        self.downloads += 1
        self.downloads_in_flight += 1
        self.peak_downloads_in_flight = max(self.peak_downloads_in_flight, self.downloads_in_flight)

    def download_finished(self) -> None:
        self.downloads_in_flight -= 1
        self.last_download_at = time.time()

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "errors": dict(self.errors),
            "faults": dict(self.faults),
            "requests": self.requests,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "peak_rps": self.peak_rps,
            "downloads": self.downloads,
            "downloads_in_flight": self.downloads_in_flight,
            "peak_downloads_in_flight": self.peak_downloads_in_flight,
            "bytes_served": self.bytes_served,
            "first_download_at": self.first_download_at,
            "last_download_at": self.last_download_at,
        }
