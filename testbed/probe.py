"""The bad-input battery: run the CLI as a careless user or a broken world would, one line per probe.

`python -m testbed.probe` (what `bin/probe` runs) starts the Kaltura simulator and moto, then runs each probe
as a subprocess and prints `ok|MISMATCH<TAB>exit<TAB>expected<TAB>probe<TAB>first line of stderr`. It
exits 1 if any probe's exit code is not the documented one, if any stderr holds a traceback, or if a secret
shows anywhere. Each probe is also a row of the README's promise: one line naming the fix, the right code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testbed.kaltura_sim import SimProcess
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server

CLI = (sys.executable, "-m", "jobs.cli")
BUCKET = "probe-archive"
UNKNOWN_ID = "0_zzzzzzzz"
TYPED_SECRET = "typed-by-hand-5ecret"
URL_PASSWORD = "pa55-in-the-url"


@dataclass(frozen=True)
class Probe:
    """One command line, the environment it changes, and the exit code the README promises for it."""

    name: str
    argv: tuple[str, ...]
    expect: int
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset the variable
    pipe_head: bool = False  # read one line of stdout, then close it (`| head -1`)
    stdout_closed: bool = False  # started with stdout closed (`>&-`)


@dataclass(frozen=True)
class World:
    """The running testbed and a scratch directory."""

    sim: SimProcess
    s3: S3Server
    scratch: Path

    def env(self, changes: dict[str, str | None]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_", "AWS_"))}
        for more in (self.sim.client_env(), self.s3.client_env(), write_placeholders(self.scratch)):
            base.update(more)
        base.update(AWS_BUCKET=BUCKET, ARCHIVER_KALTURA_RPS="200", ARCHIVER_KALTURA_RETRIES="2")
        for name, value in changes.items():
            if value is None:
                base.pop(name, None)
            else:
                base[name] = value
        return base


def probes(world: World) -> list[Probe]:
    """The battery: every finding of the hardening review, and its neighbours."""
    scratch = world.scratch
    known = world.sim.control.get_entries()[0]["id"]
    files = {
        "ids_bad_bytes.txt": f"{known}\n".encode() * 80 + b"\xff\xfe\x00garbage\n",
        "ids_binary.bin": bytes(range(256)) * 4,
        "ids_not_ids.txt": f"{known}\nhello world\n".encode(),
        "ids_commented.txt": f"{known}  # a lecture\n# a comment line\n".encode(),
    }
    for name, data in files.items():
        (scratch / name).write_bytes(data)
    existing = scratch / "already-here.mp4"
    existing.write_bytes(b"keep me")
    fifo = scratch / "ids.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    return [
        Probe("bucket that does not exist", ("s3copy", "--unplayed_for", "3"), 3,
              {"AWS_BUCKET": "nope-bucket-0000"}),
        Probe("wrong AWS secret key", ("s3copy", "--unplayed_for", "3"), 3,
              {"AWS_SECRET_ACCESS_KEY": "wrong-secret-key-000000000000000000000000"}),
        Probe("unknown AWS access key id", ("s3copy", "--unplayed_for", "3"), 3,
              {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000"}),
        Probe("no AWS credentials at all", ("s3copy", "--unplayed_for", "3"), 3,
              {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "none"),
               "AWS_CONFIG_FILE": str(scratch / "none")}),
        Probe("unreachable S3, dry run", ("s3copy", "--unplayed_for", "3"), 2, {"AWS_ENDPOINT_URL": closed}),
        Probe("unreachable S3, execute", ("s3copy", "--unplayed_for", "3", "--execute"), 2,
              {"AWS_ENDPOINT_URL": closed}),
        Probe("unreachable Kaltura", ("list", "--unplayed_for", "3"), 2, {"KALTURA_SERVICE_URL": closed}),
        Probe("wrong Kaltura secret", ("count",), 3, {"KALTURA_SECRET": "0" * 32}),
        Probe("list | head -1", ("list",), 141, pipe_head=True),
        Probe("download --tmp /proc", ("download", "--id", known, "--tmp", "/proc"), 2),
        Probe("download -o an existing file", ("download", "--id", known, "-o", str(existing)), 2),
        Probe("--idfile with undecodable bytes after good ids",
              ("s3copy", "--idfile", str(scratch / "ids_bad_bytes.txt"), "--execute"), 2),
        Probe("--idfile that is a directory", ("list", "--idfile", str(scratch)), 2),
        Probe("--idfile that is binary", ("list", "--idfile", str(scratch / "ids_binary.bin")), 2),
        Probe("--idfile with a line that is no entry id",
              ("list", "--idfile", str(scratch / "ids_not_ids.txt")), 2),
        Probe("--idfile with comments", ("count", "--idfile", str(scratch / "ids_commented.txt")), 0),
        Probe("--id that is no entry id", ("list", "--id", "../etc/passwd"), 2),
        Probe("service URL ending in /api_v3", ("count",), 0,
              {"KALTURA_SERVICE_URL": world.sim.service_url + "/api_v3"}),
        Probe("--unplayed_for 99999999999", ("list", "--unplayed_for", "99999999999"), 2),
        Probe("--created_within 99999999999", ("count", "--created_within", "99999999999"), 2),
        Probe("--created_within 2 --created_before 5",
              ("list", "--created_within", "2", "--created_before", "5"), 2),
        Probe("--played_within 1 --unplayed_for 3",
              ("count", "--played_within", "1", "--unplayed_for", "3"), 2),
        Probe("--tag X --tag '!X'", ("list", "--tag", "lecture", "--tag", "!lecture"), 2),
        Probe("a misspelt option before a secret", ("list", "--secrett", TYPED_SECRET), 2),
        Probe("bucket name with a path in it", ("s3copy", "--unplayed_for", "3"), 2,
              {"AWS_BUCKET": "Bad_Bucket/../x"}),
        Probe("ARCHIVER_S3_PREFIX climbing out", ("s3copy", "--unplayed_for", "3"), 2,
              {"ARCHIVER_S3_PREFIX": "../x/"}),
        Probe("ARCHIVER_S3_PREFIX over 1,024 bytes", ("s3copy", "--unplayed_for", "3"), 2,
              {"ARCHIVER_S3_PREFIX": "p" * 1100 + "/"}),
        Probe("count of an unknown id", ("count", "--id", UNKNOWN_ID), 1),
        Probe("list of an unknown id", ("list", "--id", UNKNOWN_ID), 1),
        Probe("KALTURA_USERID unset", ("count",), 2, {"KALTURA_USERID": None}),
        Probe("memory budget below one part per transfer", ("s3copy", "--unplayed_for", "3"), 2,
              {"ARCHIVER_MEMORY_BUDGET": "16MiB", "ARCHIVER_PART_SIZE": "64MiB", "ARCHIVER_TRANSFERS": "8"}),
        Probe("config without AWS_BUCKET", ("config",), 2, {"AWS_BUCKET": None}),
        Probe("config without the placeholder files", ("config",), 2,
              {"PLACEHOLDER_VIDEO": str(scratch / "none.mp4")}),
        Probe("s3copy --execute with no selection", ("s3copy", "--execute"), 2),
        Probe("--max-size with a unit", ("s3copy", "--unplayed_for", "3", "--max-size", "10GB"), 0),
        Probe("download -o a device, with --force",
              ("download", "--id", known, "-o", "/dev/full", "--force"), 2),
        Probe("download -o ''", ("download", "--id", known, "-o", ""), 2),
        Probe("service URL with a password in it", ("count",), 2,
              {"KALTURA_SERVICE_URL": world.sim.service_url.replace("//", f"//me:{URL_PASSWORD}@")}),
        Probe("KALTURA_SECRET of spaces", ("count",), 2, {"KALTURA_SECRET": "   "}),
        Probe("--category '' on a real run", ("s3copy", "--category", "", "--execute"), 2),
        Probe("ARCHIVER_SHARD 0/2", ("s3copy", "--unplayed_for", "3"), 2, {"ARCHIVER_SHARD": "0/2"}),
        Probe("--shard 3/2", ("count", "--shard", "3/2"), 2),
        Probe("--shard a/b", ("list", "--shard", "a/b"), 2),
        Probe("--shard with --id", ("count", "--shard", "1/2", "--id", known), 2),
        Probe("an array index without ARCHIVER_SHARDS", ("s3copy", "--unplayed_for", "3"), 2,
              {"AWS_BATCH_JOB_ARRAY_INDEX": "1"}),
        Probe("ARCHIVER_SHARDS with an array index", ("s3copy", "--unplayed_for", "3"), 0,
              {"ARCHIVER_SHARDS": "2", "AWS_BATCH_JOB_ARRAY_INDEX": "1"}),
        Probe("shards 0", ("shards", "0"), 2),
        Probe("--idfile /dev/stdin", ("count", "--idfile", "/dev/stdin"), 2),
        Probe("--idfile a named pipe", ("count", "--idfile", str(fifo)), 2),
        Probe("stdout closed", ("count", "--unplayed_for", "3"), 2, stdout_closed=True),
        Probe("AWS_ENDPOINT_URL that is no URL", ("s3copy", "--unplayed_for", "3"), 2,
              {"AWS_ENDPOINT_URL": "ftp://x"}),
        Probe("AWS_DEFAULT_REGION of spaces", ("s3copy", "--unplayed_for", "3"), 2,
              {"AWS_DEFAULT_REGION": " ", "AWS_REGION": " "}),
        Probe("replace_video --execute with no selection", ("replace_video", "--execute"), 2),
        Probe("replace_video without the placeholder thumbnail", ("replace_video", "--unplayed_for", "3"), 2,
              {"PLACEHOLDER_IMAGE": str(scratch / "none.jpeg")}),
        Probe("replace_video with a directory as its video", ("replace_video", "--unplayed_for", "3"), 2,
              {"PLACEHOLDER_VIDEO": str(scratch)}),
        Probe("replace_video dry run", ("replace_video", "--unplayed_for", "3"), 0),
    ]  # fmt: skip


@dataclass(frozen=True)
class Result:
    probe: Probe
    code: int
    stderr: str
    stdout: str

    @property
    def line(self) -> str:
        plain = [line for line in self.stderr.splitlines() if line and not line.startswith("{")]
        return plain[0] if plain else ""


def run_probe(probe: Probe, env: dict[str, str]) -> Result:
    """Run one probe's command line as a user would; its exit code and output."""
    argv = [*CLI, *probe.argv]
    if probe.stdout_closed:
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", *argv]
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=180, check=False)  # fmt: skip
        return Result(probe, done.returncode, done.stderr, "")
    if not probe.pipe_head:
        done = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, check=False
        )
        return Result(probe, done.returncode, done.stderr, done.stdout)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=180)
    return Result(probe, proc.returncode, stderr, first)


def problems(result: Result, secrets: Sequence[str]) -> list[str]:
    """What is wrong with one probe's outcome (empty: it kept the README's promise)."""
    found: list[str] = []
    if result.code != result.probe.expect:
        found.append(f"exit {result.code}, expected {result.probe.expect}")
    if "Traceback" in result.stderr:
        found.append("a traceback on stderr")
    plain = [line for line in result.stderr.splitlines() if line and not line.startswith("{")]
    if len(plain) > 1:
        found.append(f"{len(plain)} plain lines on stderr")
    for secret in secrets:
        if secret and secret in result.stderr + result.stdout:
            found.append("a secret in the output")
    return found


def run_battery(world: World, out: Callable[[str], None], only: str | None = None) -> int:
    """Run every probe (or those whose name contains `only`); the number that broke a promise."""
    wrong_key = "wrong-secret-key-000000000000000000000000"
    secrets = [world.sim.admin_secret, TYPED_SECRET, URL_PASSWORD, wrong_key]
    bad = 0
    for probe in probes(world):
        if only is not None and only not in probe.name:
            continue
        started = time.monotonic()
        result = run_probe(probe, world.env(probe.env))
        wrong = problems(result, secrets)
        bad += bool(wrong)
        verdict = "ok" if not wrong else "MISMATCH (" + "; ".join(wrong) + ")"
        seconds = time.monotonic() - started
        out(f"{verdict}\t{result.code}\t{probe.name}\t{seconds:.1f}s\t{result.line}")
    return bad


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.probe", description=__doc__)
    parser.add_argument("--only", help="run only the probes whose name contains this text")
    args = parser.parse_args(argv)
    with SimProcess(entries=1500, seed=11, max_size_mb=2) as sim, S3Server() as s3:
        s3.create_bucket(BUCKET)
        with tempfile.TemporaryDirectory(prefix="kaltura-archiver-probe-") as scratch:
            bad = run_battery(World(sim, s3, Path(scratch)), print, args.only)
    print(f"{bad} probe(s) broke a promise" if bad else "every probe kept its promise")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
