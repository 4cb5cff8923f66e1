"""`python -m testbed.kaltura_sim`: serve a simulator on 127.0.0.1 until SIGTERM or SIGINT.

Prints one JSON line when ready: `{"service_url", "partner_id", "admin_secret", "user_id"}`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from testbed.kaltura_sim.runner import KalturaSim, parse_args


async def serve(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with KalturaSim(options) as sim:
        sys.stdout.write(json.dumps(sim.info()) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main() -> int:
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
