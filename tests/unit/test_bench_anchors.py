"""The anchors' command lines: rclone and aws-cli copy a URL into the bucket the way the benchmark says, curl
downloads it (the ceiling)."""

from __future__ import annotations

from testbed.bench.anchors import AWS_CLI, CEILING, RCLONE, anchor_env, command

URL = "http://127.0.0.1:9/p/1000/serveFlavor/entryId/0_a/flavorId/0_b/v/1"
ENDPOINT = "http://127.0.0.1:8"


def test_rclone_copies_the_url_to_an_on_the_fly_s3_remote_without_a_head() -> None:
    argv = command("rclone", URL, "0_a", endpoint=ENDPOINT, bucket="bench-b")
    assert argv[:4] == [RCLONE, "copyurl", URL, ":s3:bench-b/0_a"]
    assert "--s3-no-head" in argv
    assert argv[argv.index("--s3-endpoint") + 1] == ENDPOINT
    assert "--s3-upload-cutoff" not in argv  # rclone's own choice: one PUT under 200 MiB


def test_rclone_can_be_made_to_upload_in_multipart_of_a_given_part_size() -> None:
    argv = command("rclone", URL, "0_a", endpoint=ENDPOINT, bucket="bench-b", rclone_parts="16M")
    assert argv[argv.index("--s3-upload-cutoff") + 1] == "0"
    assert argv[argv.index("--s3-chunk-size") + 1] == "16M"


def test_aws_cli_streams_curl_output_into_debians_aws_and_fails_when_curl_fails() -> None:
    argv = command("aws", URL, "0_a", endpoint=ENDPOINT, bucket="bench-b")
    assert argv[:2] == ["/bin/bash", "-c"]
    script, args = argv[2], argv[4:]
    assert script.startswith("set -o pipefail;")
    assert 'curl -sSf "$1" | "$2" s3 cp - "s3://$3/$4"' in script
    assert args == [URL, AWS_CLI, "bench-b", "0_a", ENDPOINT]


def test_the_curl_ceiling_downloads_to_dev_null_and_prints_the_bytes_it_got() -> None:
    argv = command(CEILING, URL, "0_a", endpoint=ENDPOINT, bucket="bench-b")
    assert argv == ["curl", "-sSf", "-o", "/dev/null", "-w", "%{size_download}", URL]


def test_anchors_run_without_a_ca_bundle_or_endpoint_from_the_environment() -> None:
    env = anchor_env(
        {"AWS_CA_BUNDLE": "/ca.pem", "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ACCESS_KEY_ID": "testing"}
    )
    assert env == {"AWS_ACCESS_KEY_ID": "testing"}
