"""Start a simulator: options, building the model, and `KalturaSim`, the in-process async context manager."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from testbed import catalog as catalog_gen
from testbed.kaltura_sim.clock import SimClock
from testbed.kaltura_sim.control import SimControl
from testbed.kaltura_sim.faults import Faults
from testbed.kaltura_sim.server import DEFAULT_USER_ID, Simulator, build_app, default_secret
from testbed.kaltura_sim.state import SimState

HOST = "127.0.0.1"


def settings_env(service_url: str, partner_id: int, admin_secret: str, user_id: str) -> dict[str, str]:
    """The environment a user of kaltura-archiver sets to point it at this simulator (the legacy names)."""
    return {
        "KALTURA_SERVICE_URL": service_url,
        "KALTURA_PARTNERID": str(partner_id),
        "KALTURA_SECRET": admin_secret,
        "KALTURA_USERID": user_id,
    }


@dataclass(frozen=True)
class SimOptions:
    """Everything that shapes one simulator (the CLI flags, one to one)."""

    entries: int = 200
    seed: int = 7
    partner_id: int = 1000
    admin_secret: str | None = None  # None: derived from the seed
    user_id: str = DEFAULT_USER_ID
    size_mb: float | None = None
    max_size_mb: float | None = None
    api_latency_ms: float = 0.0
    download_first_byte_ms: float = 0.0
    download_mbps: float = 0.0
    port: int = 0

    @property
    def secret(self) -> str:
        return self.admin_secret or default_secret(self.seed)

    def argv(self) -> list[str]:
        """The `python -m testbed.kaltura_sim` arguments for these options."""
        out: list[str] = []
        for name, value in asdict(self).items():
            if value is None:
                continue
            out += [f"--{name.replace('_', '-')}", str(value)]
        return out


def parse_args(argv: list[str] | None = None) -> SimOptions:
    parser = argparse.ArgumentParser(prog="python -m testbed.kaltura_sim", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--entries", type=int, default=200, help="catalog size")
    parser.add_argument("--seed", type=int, default=7, help="catalog and secret seed")
    parser.add_argument("--partner-id", type=int, default=1000)
    parser.add_argument("--admin-secret", default=None, help="default: derived from the seed")
    parser.add_argument("--user-id", default=DEFAULT_USER_ID)
    parser.add_argument("--size-mb", type=float, default=None, help="every source flavor this size")
    parser.add_argument("--max-size-mb", type=float, default=None, help="cap source sizes")
    parser.add_argument("--api-latency-ms", type=float, default=0.0, help="added to every API request")
    parser.add_argument("--download-first-byte-ms", type=float, default=0.0)
    parser.add_argument("--download-mbps", type=float, default=0.0, help="per-stream cap, megabits/s")
    ns = parser.parse_args(argv)
    return SimOptions(
        entries=ns.entries,
        seed=ns.seed,
        partner_id=ns.partner_id,
        admin_secret=ns.admin_secret,
        user_id=ns.user_id,
        size_mb=ns.size_mb,
        max_size_mb=ns.max_size_mb,
        api_latency_ms=ns.api_latency_ms,
        download_first_byte_ms=ns.download_first_byte_ms,
        download_mbps=ns.download_mbps,
        port=ns.port,
    )


def make_simulator(options: SimOptions) -> Simulator:
    """Generate the catalog and build the model and the HTTP-side knobs for `options`."""
    catalog = catalog_gen.generate(
        options.entries,
        options.seed,
        partner_id=options.partner_id,
        size_mb=options.size_mb,
        max_size_mb=options.max_size_mb,
    )
    state = SimState(catalog, partner_id=options.partner_id, clock=SimClock())
    faults = Faults(seed=options.seed, api_latency_ms=options.api_latency_ms)
    faults.download.first_byte_ms = options.download_first_byte_ms
    faults.download.mbps = options.download_mbps
    return Simulator(state, options.secret, options.user_id, faults, catalog=catalog)


class KalturaSim:
    """An in-process simulator running in the current event loop.

    `async with KalturaSim(entries=300, seed=1) as sim:` then `sim.service_url`, `sim.partner_id`,
    `sim.admin_secret`, `sim.user_id`, `sim.state`, `sim.control`. Never use it from a test that drives
    the synchronous official client (it would block this loop): use `SimProcess` there. For the same
    reason only the async `a*` methods of `sim.control` work here (or touch `sim.state` directly).
    """

    def __init__(self, options: SimOptions | None = None, **kwargs: Any) -> None:
        self.options = options or SimOptions(**kwargs)
        self.sim: Simulator | None = None
        self._runner: web.AppRunner | None = None
        self.service_url = ""

    @property
    def simulator(self) -> Simulator:
        if self.sim is None:
            raise RuntimeError("KalturaSim is not running")
        return self.sim

    @property
    def state(self) -> SimState:
        return self.simulator.state

    @property
    def partner_id(self) -> int:
        return self.options.partner_id

    @property
    def admin_secret(self) -> str:
        return self.options.secret

    @property
    def user_id(self) -> str:
        return self.options.user_id

    @property
    def control(self) -> SimControl:
        return SimControl(self.service_url)

    def client_env(self) -> dict[str, str]:
        """KALTURA_* variables for a kaltura-archiver process using this simulator."""
        return settings_env(self.service_url, self.partner_id, self.admin_secret, self.user_id)

    def info(self) -> dict[str, Any]:
        """The start-up line the CLI prints."""
        return {
            "service_url": self.service_url,
            "partner_id": self.partner_id,
            "admin_secret": self.admin_secret,
            "user_id": self.user_id,
        }

    async def start(self) -> None:
        self.sim = make_simulator(self.options)
        self._runner = web.AppRunner(build_app(self.sim), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.options.port, reuse_address=True)
        await site.start()
        port = self._runner.addresses[0][1]
        self.service_url = f"http://{HOST}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KalturaSim:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
