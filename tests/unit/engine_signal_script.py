"""A small run for the shutdown tests: a pipeline under `handle_signals`, printing what happens.

Usage: python -m tests.unit.engine_signal_script HOLD_S DRAIN_S [early]. Each item is "worked" for HOLD_S
seconds. Prints `start N`, `done N`, `cancel N`, `stopping`, then `summary cancelled=…` and exits with the
shutdown's exit code. With `early`, it first catches early signals, prints `starting up` and waits for a
line on stdin (a slow start-up, held by the test) before the pipeline starts.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import anyio

from engine.logs import configure_logging
from engine.pipeline import Stage, run_pipeline
from engine.shutdown import catch_early_signals, handle_signals


def say(text: str) -> None:
    print(text, flush=True)


async def endless() -> AsyncIterator[int]:
    i = 0
    while True:
        yield i
        i += 1


async def main(hold_s: float, drain_s: float) -> int:
    configure_logging(level="warning", fmt="json", stream=sys.stderr)

    async def work(item: int) -> int:
        say(f"start {item}")
        try:
            await anyio.sleep(hold_s)
        except anyio.get_cancelled_exc_class():
            say(f"cancel {item}")
            raise
        say(f"done {item}")
        return item

    async def sink(item: int) -> None:
        pass

    async with handle_signals(drain_s=drain_s) as shutdown, anyio.create_task_group() as tg:

        async def announce() -> None:
            await shutdown.stop_intake.wait()
            say("stopping")

        tg.start_soon(announce)
        await run_pipeline(endless(), [Stage("work", 3, work)], sink, buffer=0, stop=shutdown.stop_intake)
        tg.cancel_scope.cancel()
    say(f"summary cancelled={shutdown.cancelled}")
    return shutdown.exit_code(default=0)


if __name__ == "__main__":
    if sys.argv[3:] == ["early"]:
        catch_early_signals()
        say("starting up")
        sys.stdin.readline()
    sys.exit(anyio.run(main, float(sys.argv[1]), float(sys.argv[2])))
