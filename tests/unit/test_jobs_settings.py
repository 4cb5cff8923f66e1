"""Settings: legacy names, new knobs, precedence, one-line errors that never show a secret."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from jobs.settings import SETTINGS, load_settings, main


def test_legacy_environment_names_are_read() -> None:
    s = load_settings({}, {"KALTURA_PARTNERID": "123", "KALTURA_SECRET": "s3cr3t", "KALTURA_USERID": "me",
                           "N_YEARS": "4", "DOIT": "true", "AWS_BUCKET": "b"})  # fmt: skip
    assert (s.partner_id, s.secret, s.user_id) == (123, "s3cr3t", "me")
    assert (s.n_years, s.doit, s.aws_bucket) == (4, True, "b")


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


def test_markdown_table_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--markdown"]) == 0
    table = capsys.readouterr().out
    for setting in SETTINGS:
        assert f"`{setting.env}`" in table
    assert "| requests/s |" in table
