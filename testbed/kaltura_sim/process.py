"""`SimProcess`: the simulator in a subprocess, as a sync or async context manager.

It runs `python -m testbed.kaltura_sim` with the life cycle of every testbed server
(`testbed.process.ServerProcess`): ready once the process prints its JSON ready line (with a deadline),
stopped with SIGTERM, then SIGKILL if it does not stop in time. A subprocess keeps the simulator out of the
test's event loop, which is what tests driving the synchronous official client need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from testbed.kaltura_sim.control import SimControl
from testbed.kaltura_sim.runner import SimOptions, settings_env
from testbed.process import ServerProcess, StartError, spawn

_READY_FILE = "ready.json"


class SimStartError(StartError):
    """The simulator process died or did not report ready before the deadline."""


class SimProcess(ServerProcess):
    """A simulator subprocess: `service_url`, `partner_id`, `admin_secret`, `user_id`, `control`."""

    name: ClassVar[str] = "kaltura-sim"
    start_error: ClassVar[type[StartError]] = SimStartError

    def __init__(
        self,
        options: SimOptions | None = None,
        *,
        start_timeout_s: float = 120.0,
        stop_timeout_s: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.options = options or SimOptions(**kwargs)
        self.start_timeout = start_timeout_s
        self.stop_grace = stop_timeout_s
        self.service_url = ""
        self.partner_id = self.options.partner_id
        self.admin_secret = self.options.secret
        self.user_id = self.options.user_id
        self._last_pid = 0

    @property
    def pid(self) -> int:
        """The simulator's pid (of the last start; 0 before the first)."""
        return self._last_pid

    def client_env(self) -> dict[str, str]:
        """KALTURA_* variables for a kaltura-archiver process using this simulator."""
        return settings_env(self.service_url, self.partner_id, self.admin_secret, self.user_id)

    @property
    def control(self) -> SimControl:
        return SimControl(self.service_url)

    def _prepare(self, workdir: Path) -> None:
        """Nothing to write: the options are all on the command line."""

    def _spawn(self, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "testbed.kaltura_sim", *self.options.argv()]
        proc = spawn(argv, env=os.environ, log=log, stdout=workdir / _READY_FILE)
        self._last_pid = proc.pid
        return proc

    def _probe(self) -> bool:
        """True once the ready line is complete; it says where the simulator listens and who may log in."""
        line, newline, _ = (self.workdir / _READY_FILE).read_bytes().partition(b"\n")
        if not newline:
            return False
        info = json.loads(line)
        self.service_url = str(info["service_url"])
        self.partner_id = int(info["partner_id"])
        self.admin_secret = str(info["admin_secret"])
        self.user_id = str(info["user_id"])
        return True
