"""`kaltura-archiver config` and the run-ending errors: one line on stderr, the documented exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testbed.placeholders import write_placeholders

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess
    from testbed.s3 import S3Server

CLI = [sys.executable, "-m", "jobs.cli"]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_", "AWS_"))}
    return subprocess.run(
        [*CLI, *argv], env={**base, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def plain_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not JSON log events."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


@pytest.fixture
def placeholders(tmp_path: Path) -> dict[str, str]:
    """PLACEHOLDER_VIDEO and PLACEHOLDER_IMAGE pointing at files `config` accepts."""
    return write_placeholders(tmp_path)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def rows(stdout: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in stdout.splitlines())


def test_config_prints_partner_url_and_ks_expiry_but_no_secret(
    kaltura_sim: SimProcess, placeholders: dict[str, str]
) -> None:
    done = run(["config"], {**kaltura_sim.client_env(), **placeholders})
    found = rows(done.stdout)
    assert found["kaltura_partner_id"] == str(kaltura_sim.partner_id)
    assert found["kaltura_service_url"] == kaltura_sim.service_url
    assert found["kaltura_credentials"] == "ok"
    assert found["kaltura_ks_expires"].endswith("Z")
    assert int(found["kaltura_entries"]) == len(kaltura_sim.control.get_entries())
    for text in (done.stdout, done.stderr):
        assert kaltura_sim.admin_secret not in text
        assert "djJ8" not in text


def test_config_without_aws_bucket_says_fail_and_exits_2(
    kaltura_sim: SimProcess, placeholders: dict[str, str]
) -> None:
    done = run(["config"], {**kaltura_sim.client_env(), **placeholders})
    assert done.returncode == 2
    assert rows(done.stdout)["aws_bucket"].startswith("FAIL AWS_BUCKET is not set: set AWS_BUCKET")
    assert plain_lines(done.stderr) == [f"kaltura-archiver: {rows(done.stdout)['aws_bucket'][5:]}"]


def test_config_runs_every_check_and_names_each_failure(kaltura_sim: SimProcess, tmp_path: Path) -> None:
    """A missing placeholder, a file of the wrong kind and an unset bucket: each its own FAIL row, exit 2."""
    not_a_jpeg = tmp_path / "thumb.jpeg"
    not_a_jpeg.write_bytes(b"GIF89a")
    env = {**kaltura_sim.client_env(), "PLACEHOLDER_VIDEO": str(tmp_path / "missing.mp4"),
           "PLACEHOLDER_IMAGE": str(not_a_jpeg)}  # fmt: skip
    done = run(["config"], env)
    assert done.returncode == 2
    found = rows(done.stdout)
    assert found["kaltura_credentials"] == "ok"
    assert found["aws_bucket"].startswith("FAIL AWS_BUCKET is not set")
    assert found["placeholder_video"] == (
        f"FAIL PLACEHOLDER_VIDEO='{tmp_path}/missing.mp4' cannot be read (No such file or directory): "
        "set it to an MP4 video file"
    )
    assert found["placeholder_image"] == (
        f"FAIL PLACEHOLDER_IMAGE='{not_a_jpeg}' is not a JPEG image: set it to a JPEG image file"
    )
    assert len(plain_lines(done.stderr)) == 1


def test_config_with_kaltura_refusing_still_checks_s3_and_the_files(
    kaltura_sim: SimProcess, s3_server: S3Server, s3_bucket: str, placeholders: dict[str, str]
) -> None:
    """Exit 3 for the refused credentials, and the other checks still ran (and passed)."""
    env = {**kaltura_sim.client_env(), **s3_server.client_env(), **placeholders, "AWS_BUCKET": s3_bucket,
           "KALTURA_SECRET": "0" * 32}  # fmt: skip
    done = run(["config"], env)
    assert done.returncode == 3
    found = rows(done.stdout)
    assert found["kaltura_credentials"].startswith("FAIL ")
    assert "INVALID_KS" in found["kaltura_credentials"]
    assert found["aws_bucket"] == f"ok {s3_bucket}"
    assert found["placeholder_video"].startswith(f"ok {placeholders['PLACEHOLDER_VIDEO']} (")
    assert found["placeholder_image"].startswith(f"ok {placeholders['PLACEHOLDER_IMAGE']} (")
    assert "0" * 32 not in done.stdout + done.stderr


def test_config_without_secret_exits_2_naming_the_variable(kaltura_sim: SimProcess) -> None:
    env = kaltura_sim.client_env()
    del env["KALTURA_SECRET"]
    done = run(["config"], env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert "KALTURA_SECRET is not set" in done.stderr


def test_list_with_a_bad_number_exits_2(kaltura_sim: SimProcess) -> None:
    done = run(["list"], {**kaltura_sim.client_env(), "ARCHIVER_KALTURA_IN_FLIGHT": "lots"})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("kaltura-archiver: ARCHIVER_KALTURA_IN_FLIGHT='lots'")
    assert done.stderr.count("\n") == 1


def test_count_with_an_unknown_status_exits_2(kaltura_sim: SimProcess) -> None:
    done = run(["count", "--status", "2", "12"], kaltura_sim.client_env())
    assert done.returncode == 2
    assert done.stderr == (
        "kaltura-archiver: --status '12' is not an entry status: use some of -2 -1 0 1 2 3 4 5 6 7\n"
    )


def test_config_with_an_unreachable_service_exits_2(kaltura_sim: SimProcess) -> None:
    url = closed_port_url()
    done = run(["config"], {**kaltura_sim.client_env(), "KALTURA_SERVICE_URL": url})
    assert done.returncode == 2
    assert done.stderr == (  # one line: a refused connection is retried, but is no throttling to log
        f"kaltura-archiver: KALTURA_SERVICE_URL='{url}' does not answer: check the URL and the network\n"
    )


def test_config_with_a_wrong_secret_exits_3(kaltura_sim: SimProcess) -> None:
    wrong = "0" * 32
    done = run(["config"], {**kaltura_sim.client_env(), "KALTURA_SECRET": wrong})
    assert done.returncode == 3
    assert len(plain_lines(done.stderr)) == 1
    assert "INVALID_KS" in done.stderr
    assert "KALTURA_SECRET" in done.stderr
    assert wrong not in done.stderr
    assert "Traceback" not in done.stderr


def test_config_checks_the_bucket_and_says_ok(
    kaltura_sim: SimProcess, s3_server: S3Server, s3_bucket: str, placeholders: dict[str, str]
) -> None:
    env = {**kaltura_sim.client_env(), **s3_server.client_env(), **placeholders, "AWS_BUCKET": s3_bucket}
    done = run(["config"], env)
    assert done.returncode == 0, done.stderr
    found = rows(done.stdout)
    assert found["aws_bucket"] == f"ok {s3_bucket}"
    assert all(not value.startswith("FAIL") for value in found.values())
    assert s3_server.client_env()["AWS_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr


def test_config_with_a_missing_bucket_exits_3_naming_aws_bucket(
    kaltura_sim: SimProcess, s3_server: S3Server, s3_bucket: str
) -> None:
    env = {**kaltura_sim.client_env(), **s3_server.client_env(), "AWS_BUCKET": s3_bucket + "-missing"}
    done = run(["config"], env)
    assert done.returncode == 3  # the refusal is more pressing than the placeholder files also missing
    assert rows(done.stdout)["kaltura_credentials"] == "ok"
    refused = "s3.head_bucket: the bucket does not exist: check AWS_BUCKET"
    assert rows(done.stdout)["aws_bucket"] == f"FAIL {refused}"
    assert plain_lines(done.stderr) == [
        "kaltura-archiver: s3.head_bucket: the bucket does not exist: check AWS_BUCKET"
    ]


def test_config_with_an_s3_endpoint_that_does_not_answer_exits_2(
    kaltura_sim: SimProcess, s3_server: S3Server
) -> None:
    url = closed_port_url()
    env = {**kaltura_sim.client_env(), **s3_server.client_env()}
    env.update(AWS_ENDPOINT_URL=url, AWS_BUCKET="archive")
    done = run(["config"], env)
    assert done.returncode == 2
    assert rows(done.stdout)["aws_bucket"].startswith("FAIL AWS_BUCKET='archive': the S3 endpoint does not")
    (line,) = plain_lines(done.stderr)
    assert line.startswith("kaltura-archiver: AWS_BUCKET='archive': the S3 endpoint does not answer")
    assert "AWS_ENDPOINT_URL" in line


def test_config_with_a_wrong_aws_secret_exits_3_naming_the_secret_key_every_time(
    kaltura_sim: SimProcess, s3_server: S3Server, s3_bucket: str
) -> None:
    # the bucket check's HEAD is refused without a body: one run in four once read a refusal's stray body
    # as a broken connection ("the S3 endpoint does not answer")
    wrong = "not-the-secret-key"
    env = {**kaltura_sim.client_env(), **s3_server.client_env(), "AWS_BUCKET": s3_bucket}
    env["AWS_SECRET_ACCESS_KEY"] = wrong
    refused = "s3.head_bucket: S3 rejected the request signature: check the AWS secret key"
    for _ in range(5):
        done = run(["config"], env)
        assert done.returncode == 3
        assert rows(done.stdout)["aws_bucket"] == f"FAIL {refused}"
        assert plain_lines(done.stderr) == [f"kaltura-archiver: {refused}"]
        assert wrong not in done.stderr + done.stdout


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_config_with_an_unknown_access_key_id_exits_3_naming_aws_access_key_id(
    request: pytest.FixtureRequest, kaltura_sim: SimProcess, scheme: str
) -> None:
    server: S3Server = request.getfixturevalue("s3_server" if scheme == "http" else "s3_server_https")
    server.reset()
    server.create_bucket("config-keys")
    unknown = "AKIAEXAMPLEUNKNOWN42"
    env = {**kaltura_sim.client_env(), **server.client_env(), "AWS_BUCKET": "config-keys"}
    env["AWS_ACCESS_KEY_ID"] = unknown
    done = run(["config"], env)
    refused = "s3.head_bucket: S3 does not know this access key id: check AWS_ACCESS_KEY_ID or the task role"
    assert done.returncode == 3
    assert rows(done.stdout)["aws_bucket"] == f"FAIL {refused}"
    assert plain_lines(done.stderr) == [f"kaltura-archiver: {refused}"]
    assert unknown not in done.stderr + done.stdout
    assert env["AWS_SECRET_ACCESS_KEY"] not in done.stderr
    assert "Traceback" not in done.stderr
