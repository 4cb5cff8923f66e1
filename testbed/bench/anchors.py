"""Anchors of the s3copy benchmark: Debian's rclone and aws-cli v2 copying flavor URLs into S3 (testbed only).

Each tool is fed the same flavor URLs as our job (fetched once, outside the timing) and writes to the same
moto, one process per object:

- rclone: `rclone copyurl URL :s3:BUCKET/KEY --s3-no-head` with an on-the-fly S3 remote given by flags;
- aws-cli: `curl -sSf URL | /usr/bin/aws s3 cp - s3://BUCKET/KEY --endpoint-url ...` (a streamed upload).

And a ceiling, not an uploader: `curl` downloads the same URLs to /dev/null (`curl -sSf -o /dev/null URL`),
what no tool that also uploads can beat on this machine; its line of counts adds the bytes downloaded.

`python -m testbed.bench.anchors --tool rclone --jobs 4 --tasks FILE --endpoint URL --bucket B` runs the
tasks of FILE (JSON lines `{"url": ..., "key": ...}`) `--jobs` at a time and prints one JSON line of counts:
measured from outside, its CPU time includes every tool process it reaped. The standard AWS variables come
from the caller's environment; `AWS_CA_BUNDLE` is removed (rclone refuses a bundle it cannot read, and moto
is plain HTTP here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

TOOLS: Final = ("rclone", "aws")  # the uploaders
CEILING: Final = "curl"  # download only: the loopback ceiling
RCLONE: Final = "/usr/bin/rclone"
AWS_CLI: Final = "/usr/bin/aws"  # Debian's aws-cli v2, not whatever `aws` is first on PATH
TASK_TIMEOUT_S: Final = 1200


def tool_path(tool: str) -> str | None:
    """The tool's executable when installed (Debian's paths; curl is needed for aws), else None."""
    if tool == "rclone":
        return RCLONE if os.access(RCLONE, os.X_OK) else None
    if tool == "aws":
        return AWS_CLI if os.access(AWS_CLI, os.X_OK) and shutil.which("curl") else None
    if tool == CEILING:
        return shutil.which("curl")
    raise ValueError(f"unknown anchor tool {tool!r}")


def tool_version(tool: str) -> str:
    """The first line of the tool's version output ('' when absent)."""
    path = tool_path(tool)
    if path is None:
        return ""
    argv = [path, "version"] if tool == "rclone" else [path, "--version"]  # curl: `--version` too
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else ""


def command(
    tool: str, url: str, key: str, *, endpoint: str, bucket: str, rclone_parts: str | None = None
) -> list[str]:
    """The argv that copies `url` to `s3://bucket/key` with `tool`.

    `rclone_parts` (an rclone size, e.g. "16M" = 16 MiB) makes rclone upload in multipart of that part size
    whatever the object size, as our job does; by default rclone sends objects under 200 MiB in one PUT.
    """
    if tool == "rclone":
        multipart = (
            [] if rclone_parts is None else ["--s3-upload-cutoff", "0", "--s3-chunk-size", rclone_parts]
        )
        return [
            RCLONE,
            "copyurl",
            url,
            f":s3:{bucket}/{key}",
            "--s3-provider",
            "Other",
            "--s3-endpoint",
            endpoint,
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "--s3-secret-access-key",
            os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "--s3-no-head",
            "--config",
            "/dev/null",  # no config file: the remote is all in these flags
            "-q",
            *multipart,
        ]
    if tool == "aws":
        script = (
            'set -o pipefail; curl -sSf "$1" | "$2" s3 cp - "s3://$3/$4" --endpoint-url "$5"'
            " --only-show-errors"
        )
        return ["/bin/bash", "-c", script, "aws-anchor", url, AWS_CLI, bucket, key, endpoint]
    if tool == CEILING:
        return ["curl", "-sSf", "-o", "/dev/null", "-w", "%{size_download}", url]
    raise ValueError(f"unknown anchor tool {tool!r}")


def anchor_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without `AWS_CA_BUNDLE` (and without AWS_ENDPOINT_URL: the endpoint is given explicitly)."""
    return {k: v for k, v in env.items() if k not in ("AWS_CA_BUNDLE", "AWS_ENDPOINT_URL")}


def run_tasks(
    tool: str,
    tasks: Sequence[tuple[str, str]],
    *,
    jobs: int,
    endpoint: str,
    bucket: str,
    rclone_parts: str | None = None,
) -> dict[str, object]:
    """Copy every (url, key) with `tool`, `jobs` processes at a time; counts and the first errors (and for
    the ceiling, `bytes` downloaded)."""
    env = anchor_env(os.environ)
    downloaded: list[int] = []

    def one(task: tuple[str, str]) -> str | None:
        url, key = task
        argv = command(tool, url, key, endpoint=endpoint, bucket=bucket, rclone_parts=rclone_parts)
        done = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TASK_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            return f"{key}: exit {done.returncode}: {done.stderr.strip()[-300:]}"
        if tool == CEILING:
            downloaded.append(int(done.stdout.strip() or 0))
        return None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        errors = [e for e in pool.map(one, tasks) if e is not None]
    counts: dict[str, object] = {
        "tool": tool,
        "jobs": jobs,
        "tasks": len(tasks),
        "ok": len(tasks) - len(errors),
        "failed": len(errors),
        "errors": errors[:5],
    }
    if tool == CEILING:
        counts["bytes"] = sum(downloaded)
    return counts


def read_tasks(path: Path) -> list[tuple[str, str]]:
    tasks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            tasks.append((str(doc["url"]), str(doc["key"])))
    return tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.bench.anchors", description=__doc__)
    parser.add_argument("--tool", choices=(*TOOLS, CEILING), required=True)
    parser.add_argument("--jobs", type=int, default=1, help="processes at once")
    parser.add_argument("--tasks", type=Path, required=True, help="JSON lines of url and key")
    parser.add_argument("--endpoint", required=True, help="S3 endpoint URL")
    parser.add_argument("--bucket", required=True)
    parser.add_argument(
        "--rclone-parts", default=None, metavar="SIZE", help="rclone: multipart of SIZE parts"
    )
    args = parser.parse_args(argv)
    if tool_path(args.tool) is None:
        print(json.dumps({"tool": args.tool, "error": "not installed"}))
        return 2
    result = run_tasks(
        args.tool,
        read_tasks(args.tasks),
        jobs=args.jobs,
        endpoint=args.endpoint,
        bucket=args.bucket,
        rclone_parts=args.rclone_parts,
    )
    print(json.dumps(result))
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
