"""What part of our CPU per GB no tuning of the transfer removes, measured on this machine (benchmarks only).

- start-up: the CPU of `kaltura-archiver s3copy --help` (the interpreter and the imports every run pays);
  spread over a workload's bytes it is a per-GB figure that shrinks as runs grow;
- hashing: the CPU per GB of the proof's SHA-256 and of the CRC32C that S3 checks on every part, by the
  store's own function (`adapters.s3.multipart.digest_part`); tools that do not prove a copy do not pay it.

`decompose(cpu_s_per_gb, gb, floors)` splits a measured CPU s/GB into these and the rest (the transfer:
reading, parsing, buffering and sending).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from adapters.s3.multipart import DEFAULT_PART, PartBuffer, digest_part
from testbed.bench.measure import Measured

HASHED_BYTES = 256 << 20
STARTUP_RUNS = 3


@dataclass(frozen=True)
class Floors:
    startup_cpu_s: float  # median over STARTUP_RUNS
    hashing_s_per_gb: float

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def hashing_s_per_gb(total: int = HASHED_BYTES) -> float:
    """CPU seconds per GB of what the store computes for each part (CRC32C, and the object's SHA-256), over
    parts of the default size, in this process."""
    part = PartBuffer(DEFAULT_PART)
    part.write(os.urandom(DEFAULT_PART))
    sha = hashlib.sha256()
    started = time.process_time()
    for _ in range(total // DEFAULT_PART):
        digest_part("CRC32C", sha, part)
    elapsed = time.process_time() - started
    part.release()
    return elapsed / (total / 1e9)


def measure_floors(cli: Sequence[str], run: Callable[[Sequence[str]], Measured]) -> Floors:
    """The floors: `run` measures a command (as the benchmark measures ours)."""
    startups = [run([*cli, "s3copy", "--help"]).cpu_s for _ in range(STARTUP_RUNS)]
    return Floors(statistics.median(startups), hashing_s_per_gb())


def decompose(cpu_s_per_gb: float, gb: float, floors: Floors) -> Mapping[str, float]:
    """`cpu_s_per_gb` of a run that moved `gb` GB, split into start-up, hashing and the rest (per GB)."""
    startup = floors.startup_cpu_s / gb if gb > 0 else 0.0
    return {
        "start-up": startup,
        "hashing": floors.hashing_s_per_gb,
        "transfer": cpu_s_per_gb - startup - floors.hashing_s_per_gb,
    }
