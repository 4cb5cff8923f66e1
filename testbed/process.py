"""Server subprocesses for the testbed: started in their own group, dying with their parent, stopped by pid.

`ServerProcess` is the life cycle shared by the S3 (moto) and LDAP (slapd) stand-ins: make a private temporary
directory, write what the server needs into it, spawn the server, poll until it answers (with a deadline), and
on stop send SIGTERM to its process group, SIGKILL after a grace period, and remove the directory. It works as
a sync and as an async context manager.

Orphans are prevented twice: the fixture or CLI stops the server on the way out, and on Linux the child asks
the kernel for SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), which also covers a SIGKILLed test run. The
kernel ties that signal to the *thread* that forked, so start servers from a long-lived thread (the main
thread or the event loop's), never from a short-lived worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05
_LOG_TAIL_CHARS = 2000


class StartError(RuntimeError):
    """A testbed server could not be started; the message names the server and quotes its log's tail."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(f"{message}\n--- server log (tail) ---\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A pre-exec hook that makes the child get SIGTERM when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = _libc()  # loaded before the fork: the hook must not do more than a system call

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    pass_fds: Sequence[int] = (),
    stdout: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (its own process group), stdout and stderr appended to `log`.

    With `stdout`, standard output goes to that file instead (a ready line the caller waits for, say).
    """
    with contextlib.ExitStack() as files:
        err = files.enter_context(log.open("ab"))
        out = err if stdout is None else files.enter_context(stdout.open("ab"))
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # only while the child is unreaped: its pid, which is also its group id, cannot have been reused
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def terminate(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> int:
    """SIGTERM the child's process group, SIGKILL it if still alive after `grace` seconds; the exit code."""
    _signal_group(proc, signal.SIGTERM)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        return proc.wait(grace)


async def _exited_within(proc: subprocess.Popen[bytes], seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    # a Popen offers no awaitable exit, so poll it
    while (code := proc.poll()) is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(_POLL_S)
    return code


async def aterminate(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> int:
    """`terminate` without blocking the event loop; if cancelled it finishes the stop synchronously."""
    try:
        _signal_group(proc, signal.SIGTERM)
        code = await _exited_within(proc, grace)
        if code is None:
            _signal_group(proc, signal.SIGKILL)
            code = await _exited_within(proc, grace)
        return proc.wait(0) if code is None else code
    except asyncio.CancelledError:
        terminate(proc, grace=1.0)  # a short blocking stop beats leaving an orphan behind
        raise


def log_tail(log: Path) -> str:
    """The last characters of a server log, for error messages."""
    try:
        return log.read_text("utf-8", "replace")[-_LOG_TAIL_CHARS:]
    except OSError:
        return ""


class ServerProcess(ABC):
    """The life cycle of one testbed server subprocess; subclasses say how to prepare, spawn and probe it."""

    name: ClassVar[str]
    start_attempts: ClassVar[int] = 1
    start_error: ClassVar[type[StartError]] = StartError
    # class defaults a subclass or an instance may change
    start_timeout: float = 30.0
    stop_grace: float = 5.0

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self.exit_code: int | None = None  # set once stopped

    # -- what subclasses provide -------------------------------------------------------------------------

    @abstractmethod
    def _prepare(self, workdir: Path) -> None:
        """Write config and data into the fresh private `workdir` (may run in a worker thread)."""

    @abstractmethod
    def _spawn(self, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
        """Start the server (always called from the thread that owns the server's life)."""

    @abstractmethod
    def _probe(self) -> bool:
        """True once the server answers; must return within a couple of seconds."""

    def _retryable(self, tail: str) -> bool:
        """True when a failed start deserves another attempt (say, the port was taken meanwhile)."""
        return False

    # -- state ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def workdir(self) -> Path:
        """The server's private temporary directory (removed on stop)."""
        if self._workdir is None:
            raise RuntimeError(f"{self.name} server is not started")
        return self._workdir

    def _log(self) -> Path:
        return self.workdir / "server.log"

    def _not_ready(self) -> StartError | None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            return None
        return self.start_error(
            f"{self.name} server exited with code {code} before it was ready", log_tail(self._log())
        )

    def _timed_out(self) -> StartError:
        return self.start_error(
            f"{self.name} server not ready within {self.start_timeout:g} s", log_tail(self._log())
        )

    # -- sync life cycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and return once it answers; if it does not, clean up and raise StartError."""
        for attempt in range(1, self.start_attempts + 1):
            self._workdir = Path(tempfile.mkdtemp(prefix=f"testbed-{self.name}-"))
            try:
                self._prepare(self._workdir)
                self._proc = self._spawn(self._workdir, self._log())
                self._wait_ready()
                return
            except StartError as exc:
                self.stop()
                if attempt == self.start_attempts or not self._retryable(exc.log_tail):
                    raise
            except BaseException:
                self.stop()
                raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if (error := self._not_ready()) is not None:
                raise error
            if self._probe():
                return
            if time.monotonic() > deadline:
                raise self._timed_out()
            time.sleep(_POLL_S)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after the grace period) and remove its directory."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                self.exit_code = terminate(proc, grace=self.stop_grace)
        finally:
            self._remove_workdir()

    def _remove_workdir(self) -> None:
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- async life cycle ----------------------------------------------------------------------------------

    async def astart(self) -> None:
        """`start` without blocking the event loop."""
        for attempt in range(1, self.start_attempts + 1):
            self._workdir = Path(tempfile.mkdtemp(prefix=f"testbed-{self.name}-"))
            try:
                await asyncio.to_thread(self._prepare, self._workdir)
                self._proc = self._spawn(self._workdir, self._log())
                await self._await_ready()
                return
            except StartError as exc:
                self.stop()
                if attempt == self.start_attempts or not self._retryable(exc.log_tail):
                    raise
            except BaseException:
                self.stop()  # blocking, but certain: cancellation must not leave the server running
                raise

    async def _await_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if (error := self._not_ready()) is not None:
                raise error
            if await asyncio.to_thread(self._probe):
                return
            if time.monotonic() > deadline:
                raise self._timed_out()
            await asyncio.sleep(_POLL_S)

    async def astop(self) -> None:
        """`stop` without blocking the event loop."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                self.exit_code = await aterminate(proc, grace=self.stop_grace)
        finally:
            self._remove_workdir()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()


def serve_until_signal(server: ServerProcess, describe: Callable[[], Mapping[str, Any]]) -> int:
    """Run `server` for a command line: print one JSON line when ready, serve until SIGTERM or SIGINT.

    Returns 0 after a requested stop, 1 if the server died on its own.
    """
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    with server:
        print(json.dumps(dict(describe())), flush=True)
        while not stopping.wait(0.2):
            if not server.running:
                return 1
    return 0
