"""engine.logs and engine.redact: configured once, events as dicts, no secret in any rendered line."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from typing import Any

import pytest
import structlog

from engine.errors import ConfigError
from engine.logs import (
    add_secret,
    bind_run,
    configure_logging,
    get_logger,
    set_status_line,
)
from engine.redact import REDACTED, is_secret_key, redact_event, redact_text

# unique to this module, so registering them cannot blank out anyone else's test output
ADMIN_SECRET = "0123456789abcdef-logs-test-admin-secret"
KS_V2 = "djJ8MTAwfHVubG9nZ2VkLWtzLXYyLWZvci10ZXN0c19fX19fX19fX19f"
AWS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLOGSTESTKY"


def ks_v1() -> str:
    info = "100;100;1999999999;2;4242;admin;disableentitlement"
    signature = hashlib.sha1(b"logs-test" + info.encode()).hexdigest()
    return base64.b64encode(f"{signature}|{info}".encode()).decode()


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def json_events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_events_are_json_lines_with_fixed_keys_when_not_a_terminal() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    bind_run("run-1", "s3copy")
    get_logger("jobs.s3copy").info("entry.archived", entry_id="0_abc", bytes=10)
    [event] = json_events(out)
    assert event["event"] == "entry.archived"
    assert event["level"] == "info"
    assert event["logger"] == "jobs.s3copy"
    assert (event["run_id"], event["job"]) == ("run-1", "s3copy")
    assert (event["entry_id"], event["bytes"]) == ("0_abc", 10)
    assert event["timestamp"].endswith("Z")
    assert list(event)[:3] == ["timestamp", "level", "event"]


def test_console_renderer_on_a_terminal() -> None:
    out = FakeTty()
    configure_logging(stream=out)
    get_logger("x").info("entry.archived", entry_id="0_abc")
    line = out.getvalue()
    assert "entry.archived" in line
    assert "entry_id" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_format_json_forced_on_a_terminal() -> None:
    out = FakeTty()
    configure_logging(stream=out, fmt="json")
    get_logger("x").info("hello")
    assert json_events(out)[0]["event"] == "hello"


def test_level_filters_lower_events() -> None:
    out = io.StringIO()
    configure_logging(stream=out, level="WARNING")
    log = get_logger("x")
    log.info("quiet")
    log.warning("loud")
    assert [e["event"] for e in json_events(out)] == ["loud"]


def test_unknown_level_or_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="set it to debug, info, warning or error"):
        configure_logging(level="chatty", stream=io.StringIO())
    with pytest.raises(ConfigError, match="set it to json or console"):
        configure_logging(fmt="xml", stream=io.StringIO())


def test_logger_made_before_configuration_follows_it() -> None:
    early = get_logger("early")
    out = io.StringIO()
    configure_logging(stream=out)
    early.info("late")
    assert json_events(out)[0]["logger"] == "early"


def test_configure_twice_keeps_one_stdlib_handler() -> None:
    def ours() -> list[logging.Handler]:
        # other tests (and pytest) may have configured logging already: count only the engine's handler
        return [h for h in logging.getLogger().handlers if type(h).__module__ == "engine.logs"]

    configure_logging(stream=io.StringIO())
    configure_logging(stream=io.StringIO())
    assert len(ours()) == 1


def test_registered_secret_redacted_in_values_nested_and_event_names() -> None:
    out = io.StringIO()
    configure_logging(stream=out, secrets=[ADMIN_SECRET])
    get_logger("x").info(
        f"connect with {ADMIN_SECRET}",
        url=f"https://example/?secret={ADMIN_SECRET}",
        nested={"list": [ADMIN_SECRET, {"deeper": (ADMIN_SECRET,)}]},
        obj=ValueError(f"bad {ADMIN_SECRET}"),
    )
    text = out.getvalue()
    assert ADMIN_SECRET not in text
    [event] = json_events(out)
    assert event["event"] == f"connect with {REDACTED}"
    assert event["nested"] == {"list": [REDACTED, {"deeper": [REDACTED]}]}
    assert REDACTED in event["obj"]


def test_exception_text_is_redacted() -> None:
    out = io.StringIO()
    configure_logging(stream=out, secrets=[ADMIN_SECRET])
    try:
        raise RuntimeError(f"session.start failed for {ADMIN_SECRET} with {KS_V2}")
    except RuntimeError:
        get_logger("x").exception("entry.failed")
    [event] = json_events(out)
    assert "RuntimeError: session.start failed for [REDACTED] with [REDACTED]" in event["exception"]
    assert ADMIN_SECRET not in out.getvalue()
    assert KS_V2 not in out.getvalue()


def test_secret_named_keys_are_redacted_whatever_their_value() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    get_logger("x").info(
        "call",
        adminSecret="plain-value-1",
        ks="plain-value-2",
        LDAP_PWD="plain-value-3",
        aws_secret_access_key="plain-value-4",
        headers={"Authorization": "plain-value-5", "X-Amz-Security-Token": "plain-value-6"},
        tasks=3,
        flavor_id="0_keep",
    )
    [event] = json_events(out)
    assert "plain-value" not in out.getvalue()
    assert event["headers"] == {"Authorization": REDACTED, "X-Amz-Security-Token": REDACTED}
    assert (event["tasks"], event["flavor_id"]) == (3, "0_keep")


@pytest.mark.parametrize(
    ("key", "secret"),
    [("admin_secret", True), ("adminSecret", True), ("ks", True), ("partner_ks", True), ("password", True),
     ("ldap_pwd", True), ("session_token", True), ("Authorization", True), ("api_key", True),
     ("tasks", False), ("tokens_per_s", False), ("entry_id", False), ("keys", False), ("kind", False)],
)  # fmt: skip
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_kaltura_ks_patterns_redacted_anywhere() -> None:
    v1 = ks_v1()
    text = (
        f"GET /p/100/sp/10000/serveFlavor/entryId/0_a/ks/{v1}/x.mp4 then ?ks=opaque-session-token-123456 "
        f"then {KS_V2} and bare {v1}"
    )
    cleaned = redact_text(text)
    for secret in (v1, KS_V2, "opaque-session-token-123456"):
        assert secret not in cleaned
    assert "/serveFlavor/entryId/0_a/ks/" in cleaned


def test_plain_urls_and_ids_are_left_alone() -> None:
    text = "/p/100/sp/10000/serveFlavor/entryId/0_abcdefgh/v/2/flavorId/0_zzzzzzzz/fileName/lecture_2019.mp4"
    assert redact_text(text) == text
    assert redact_text("tasks=abcdefghijklmnopqrstuvwxyz") == "tasks=abcdefghijklmnopqrstuvwxyz"


def test_aws_secret_after_its_name_is_redacted() -> None:
    for text in (f"aws_secret_access_key = {AWS_KEY}", f'"SecretAccessKey": "{AWS_KEY}"'):
        cleaned = redact_text(text)
        assert AWS_KEY not in cleaned
        assert REDACTED in cleaned


def test_secret_added_at_runtime_is_redacted_from_then_on() -> None:
    renewed = "renewed-ks-for-logs-test-XYZ123"
    out = io.StringIO()
    configure_logging(stream=out)
    log = get_logger("x")
    add_secret(renewed)
    log.info("ks.renewed", note=f"new one is {renewed}")
    assert renewed not in out.getvalue()


def test_short_secret_is_redacted_only_as_a_whole_value() -> None:
    add_secret("pw9")
    assert redact_event({"note": "pw9", "text": "spw99 stays"}) == {"note": REDACTED, "text": "spw99 stays"}


def test_stdlib_records_take_the_same_road() -> None:
    out = io.StringIO()
    configure_logging(stream=out, secrets=[ADMIN_SECRET])
    logging.getLogger("botocore.test").warning("signing with %s", ADMIN_SECRET)
    logging.getLogger("botocore.test").info("below warning: dropped")
    [event] = json_events(out)
    assert event["event"] == f"signing with {REDACTED}"
    assert event["logger"] == "botocore.test"
    assert event["level"] == "warning"


def test_capture_logs_sees_event_dicts() -> None:
    configure_logging(stream=io.StringIO())
    with structlog.testing.capture_logs() as captured:
        get_logger("x").info("entry.replaced", entry_id="0_a", dry_run=True)
    assert captured == [{"event": "entry.replaced", "entry_id": "0_a", "dry_run": True, "log_level": "info"}]


def test_log_line_is_written_above_the_status_line() -> None:
    out = FakeTty()
    configure_logging(stream=out, fmt="json")
    set_status_line(out, lambda: "BAR 3/10")
    try:
        get_logger("x").info("entry.archived")
    finally:
        set_status_line(out, None)
    cleared, rest = out.getvalue().split("\r\x1b[K", 1)
    assert cleared == ""
    line, bar = rest.split("\n")
    assert json.loads(line)["event"] == "entry.archived"
    assert bar == "BAR 3/10"
