"""`SimProcess`: the simulator in a subprocess, as a sync or async context manager.

It runs `python -m testbed.kaltura_sim`, waits (with a deadline) for the JSON ready line, and on exit sends
SIGTERM, then SIGKILL if the process does not stop in time. A subprocess keeps the simulator out of the test's
event loop, which is what tests driving the synchronous official client need.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Any

from testbed.kaltura_sim.control import SimControl
from testbed.kaltura_sim.runner import SimOptions, settings_env
from testbed.process import die_with_parent, terminate


class SimStartError(RuntimeError):
    """The simulator process died or did not report ready before the deadline."""


class SimProcess:
    """A simulator subprocess: `service_url`, `partner_id`, `admin_secret`, `user_id`, `control`."""

    def __init__(
        self,
        options: SimOptions | None = None,
        *,
        start_timeout_s: float = 120.0,
        stop_timeout_s: float = 10.0,
        **kwargs: Any,
    ) -> None:
        self.options = options or SimOptions(**kwargs)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.service_url = ""
        self.partner_id = self.options.partner_id
        self.admin_secret = self.options.secret
        self.user_id = self.options.user_id
        self.pid = 0
        self.exit_code: int | None = None  # set once stopped
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def client_env(self) -> dict[str, str]:
        """KALTURA_* variables for a kaltura-archiver process using this simulator."""
        return settings_env(self.service_url, self.partner_id, self.admin_secret, self.user_id)

    @property
    def control(self) -> SimControl:
        return SimControl(self.service_url)

    def start(self) -> None:
        # Kept open for the life of the process (its stderr), closed in stop().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "testbed.kaltura_sim", *self.options.argv()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            # its own process group, and SIGTERM when this process dies: a killed test run leaves no simulator
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
        self.pid = self._proc.pid
        try:
            info = json.loads(self._ready_line())
        except BaseException:
            self.stop()
            raise
        self.service_url = str(info["service_url"])
        self.partner_id = int(info["partner_id"])
        self.admin_secret = str(info["admin_secret"])
        self.user_id = str(info["user_id"])

    def _ready_line(self) -> bytes:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.start_timeout_s
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SimStartError(
                    f"simulator not ready after {self.start_timeout_s:.0f} s{self._stderr_tail()}"
                )
            readable, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise SimStartError(f"simulator exited with {self._proc.wait()}{self._stderr_tail()}")
                buffer += chunk
        return buffer.partition(b"\n")[0]

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace")
        return f"; stderr:\n{tail}" if tail else ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self.exit_code = terminate(proc, grace=self.stop_timeout_s)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> SimProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SimProcess:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
