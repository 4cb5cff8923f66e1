"""Where and how the archive store writes: bucket, prefix, storage class, parts, checksums, timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.s3 import wire
from adapters.s3.checksums import Algorithm, check_algorithm
from adapters.s3.names import bucket_problem, prefix_problem
from adapters.s3.wire import check_storage_class
from engine.retry import RetryPolicy


@dataclass(frozen=True)
class StoreConfig:
    """Where and how to archive. Memory per transfer: `parts_in_flight` times the part size (>= 8 MiB); with
    `memory_budget`, the part buffers of all uploads together (each at its real size) stay within it."""

    bucket: str
    prefix: str = ""  # put before the entry id to make the key (e.g. "archive/"); "" = bucket root
    storage_class: str = wire.DEFAULT_STORAGE_CLASS
    part_size: int | None = None  # override of the computed part size, clamped to S3's limits
    parts_in_flight: int = 4  # parts of one upload sent at once (and buffered at most)
    memory_budget: int | None = None  # bytes of part buffers of all uploads together; None: no shared bound
    checksum_algorithm: Algorithm = "CRC32C"
    endpoint_url: str | None = None  # None: AWS_ENDPOINT_URL if set (botocore reads it), else AWS
    region: str | None = None  # None: the AWS chain (AWS_REGION, profile, ...)
    verify: bool | str | None = None  # a CA bundle path for test servers; None: botocore's default
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    call_timeout_s: float = 60.0  # whole-call deadline for every call but part uploads
    max_connections: int = 32
    abort_timeout_s: float = 30.0  # the shielded abort's own deadline
    direct: bool = True  # PUTs, HEADs and parts over `adapters.s3.direct` (False: all through botocore)
    policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=5, base_s=0.25, budget_s=60.0))
    part_policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=8, base_s=0.25, max_s=10.0, budget_s=300.0)
    )

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("no bucket: set AWS_BUCKET")
        for what, value, problem in (
            ("bucket", self.bucket, bucket_problem(self.bucket)),
            ("prefix", self.prefix, prefix_problem(self.prefix)),
        ):
            if problem is not None:
                raise ValueError(f"{what} {value!r} {problem}")
        object.__setattr__(self, "storage_class", check_storage_class(self.storage_class))
        object.__setattr__(self, "checksum_algorithm", check_algorithm(self.checksum_algorithm))
        if self.parts_in_flight < 1:
            raise ValueError(f"parts in flight must be at least 1, not {self.parts_in_flight}")
        if self.memory_budget is not None and self.memory_budget < 1:
            raise ValueError(f"the memory budget must be at least 1 byte, not {self.memory_budget}")
