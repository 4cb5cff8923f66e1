"""restore_from_s3 --via: upload (the default) or url; anything else is a usage error in one line (exit 2);
the presigned URL's life comes from ARCHIVER_RESTORE_URL_TTL."""

from __future__ import annotations

import argparse
import io

import pytest

from engine.errors import ConfigError
from jobs.cli import run
from jobs.common.settings import load_settings
from jobs.restore_from_s3 import add_arguments, restore_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_via_defaults_to_upload_and_takes_url() -> None:
    assert parse("--all").via == "upload"
    assert parse("--via", "url", "--all").via == "url"
    assert parse("--via", "upload", "--all").via == "upload"


def test_a_bad_via_is_one_line_exit_2_naming_the_choices() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["restore_from_s3", "--via", "ftp", "--all"], env={}, stdout=out, stderr=err)
    assert code == 2
    assert out.getvalue() == ""
    assert err.getvalue().count("\n") == 1
    for named in ("--via", "'upload'", "'url'"):
        assert named in err.getvalue()


def test_the_url_lives_6_hours_by_default_and_as_set() -> None:
    assert restore_config(load_settings({}, {}), "url").url_ttl_s == 6 * 3600
    config = restore_config(load_settings({}, {"ARCHIVER_RESTORE_URL_TTL": "90m"}), "url")
    assert (config.via, config.url_ttl_s) == ("url", 5400)


@pytest.mark.parametrize("value", ["30", "8d", "soon"])
def test_a_url_life_sigv4_cannot_sign_is_one_line_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, {"ARCHIVER_RESTORE_URL_TTL": value})
    assert str(caught.value).startswith("ARCHIVER_RESTORE_URL_TTL")
    assert "\n" not in str(caught.value)
