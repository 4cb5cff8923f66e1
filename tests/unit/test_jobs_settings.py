"""Settings: legacy names, new knobs, precedence, one-line errors that never show a secret."""

from __future__ import annotations

import pytest

from adapters.s3 import StoreConfig
from engine.errors import ConfigError
from engine.settings import shortened
from jobs.common.context import kaltura_client
from jobs.common.settings import SETTINGS, load_settings, main


def test_legacy_environment_names_are_read() -> None:
    s = load_settings({}, {"KALTURA_PARTNERID": "123", "KALTURA_SECRET": "s3cr3t", "KALTURA_USERID": "me",
                           "N_YEARS": "4", "DOIT": "true", "AWS_BUCKET": "bkt"})  # fmt: skip
    assert (s.partner_id, s.secret, s.user_id) == (123, "s3cr3t", "me")
    assert (s.n_years, s.doit, s.aws_bucket) == (4, True, "bkt")


def test_defaults_and_the_cli_over_the_environment() -> None:
    s = load_settings({"kaltura_rps": "2.5"}, {"ARCHIVER_KALTURA_RPS": "7"})
    assert s.kaltura_rps == 2.5
    assert s.service_url == "https://www.kaltura.com"
    assert s.kaltura_in_flight == 4
    assert s.ks_ttl_s == 86400


def test_bad_number_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, {"ARCHIVER_KALTURA_IN_FLIGHT": "many"})
    assert str(caught.value).startswith("ARCHIVER_KALTURA_IN_FLIGHT='many'")
    assert "\n" not in str(caught.value)


def test_missing_secret_says_how_to_set_it() -> None:
    s = load_settings({}, {"KALTURA_PARTNERID": "1"})
    with pytest.raises(ConfigError, match="KALTURA_SECRET is not set: set KALTURA_SECRET"):
        s.require("partner_id", "secret")


def test_repr_hides_secrets() -> None:
    s = load_settings({}, {"KALTURA_SECRET": "hunter2-secret", "LDAP_PWD": "ldap-pass"})
    assert "hunter2-secret" not in repr(s)
    assert "ldap-pass" not in repr(s)


def test_service_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="KALTURA_SERVICE_URL"):
        load_settings({}, {"KALTURA_SERVICE_URL": "www.kaltura.com"})


@pytest.mark.parametrize("suffix", ["/api_v3", "/api_v3/", "/API_V3/index.php", "/api_v3/index.php/", "/"])
def test_service_url_copied_with_its_api_path_is_cut_to_the_base(suffix: str) -> None:
    s = load_settings({}, {"KALTURA_SERVICE_URL": "https://kaltura.example.edu" + suffix})
    assert s.service_url == "https://kaltura.example.edu"


def test_service_url_that_is_only_the_api_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        load_settings({}, {"KALTURA_SERVICE_URL": "https:///api_v3"})


def test_a_blank_kaltura_userid_on_the_command_line_is_refused() -> None:
    with pytest.raises(ConfigError, match="--user_id=' ' is empty: set it to the Kaltura user id"):
        load_settings({"user_id": " "}, {})


def test_kaltura_userid_is_required_to_talk_to_kaltura() -> None:
    s = load_settings({}, {"KALTURA_PARTNERID": "1", "KALTURA_SECRET": "s"})
    with pytest.raises(ConfigError, match="KALTURA_USERID is not set: set KALTURA_USERID or pass --user_id"):
        kaltura_client(s)


@pytest.mark.parametrize(
    ("bucket", "why"),
    [
        ("Bad_Bucket/../x", "'/' 'B' '_' not allowed"),
        ("Legacy_Bucket", "upper-case letters or underscores, which only old us-east-1 buckets may have"),
        ("ab", "2 characters, S3 allows 3 to 63"),
        ("a" * 64, "64 characters"),
        ("archive..old", "a dot next to a dot or hyphen"),
        ("-archive", "starts or ends with a dot or hyphen"),
        ("10.0.0.1", "IP address"),
        ("xn--archive", "S3 reserves"),
    ],
)
def test_a_bucket_name_s3_would_refuse_is_refused_at_start(bucket: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, {"AWS_BUCKET": bucket})
    message = str(caught.value)
    assert message.startswith(f"AWS_BUCKET={bucket!r} is not a usable S3 bucket name (")
    assert why in message
    assert message.endswith("use 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending "
                            "with a letter or digit")  # fmt: skip


@pytest.mark.parametrize(
    ("prefix", "why"),
    [
        ("../x/", "has a '.' or '..' segment"),
        ("archive/./2024/", "has a '.' or '..' segment"),
        ("/archive/", "starts with '/'"),
        ("archive//", "empty segment"),
        ("arch\tive/", "control character"),
        ("p" * 961, "is 961 bytes long: S3 keys (prefix + entry id) end at 1024 bytes, so give at most 960"),
        ("é" * 481, "is 962 bytes long"),
    ],
)
def test_an_s3_prefix_s3_or_urls_would_refuse_or_rewrite_is_refused(prefix: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, {"ARCHIVER_S3_PREFIX": prefix})
    assert str(caught.value).startswith(f"ARCHIVER_S3_PREFIX={shortened(prefix)} ")
    assert why in str(caught.value)


@pytest.mark.parametrize("bucket", ["archive", "my.archive-2024", "test-0123456789abcdef", "a" * 63])
@pytest.mark.parametrize("prefix", ["", "archive/", "kaltura/archive-2024/", "p" * 960, "a.b/c..d/"])
def test_usual_buckets_and_prefixes_are_taken(bucket: str, prefix: str) -> None:
    s = load_settings({}, {"AWS_BUCKET": bucket, "ARCHIVER_S3_PREFIX": prefix})
    assert (s.aws_bucket, s.s3_prefix) == (bucket, prefix)
    assert StoreConfig(bucket=bucket, prefix=prefix).prefix == prefix


def test_store_config_refuses_a_bad_bucket_or_prefix_itself() -> None:
    with pytest.raises(ValueError, match="bucket 'Bad_Bucket' is not a usable S3 bucket name"):
        StoreConfig(bucket="Bad_Bucket")
    with pytest.raises(ValueError, match=r"prefix '\.\./' has a '\.' or '\.\.' segment"):
        StoreConfig(bucket="archive", prefix="../")


def test_markdown_table_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--markdown"]) == 0
    table = capsys.readouterr().out
    for setting in SETTINGS:
        assert f"`{setting.env}`" in table
    assert "| requests/s |" in table
