"""bin/demo's life cycle runs on the embedded testbed as a new user would see it, and its closing table adds
up to what the steps reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testbed.demo import LIFE_CYCLE, Act, Step, command_line

ROOT = Path(__file__).resolve().parents[2]
SHOWN_ENV = (
    "KALTURA_SERVICE_URL", "KALTURA_PARTNERID", "KALTURA_SECRET", "KALTURA_USERID", "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_BUCKET", "PLACEHOLDER_VIDEO", "PLACEHOLDER_IMAGE",
    "LDAP_SERVER", "LDAP_PORT", "LDAP_USER", "LDAP_PWD", "LDAP_BASE_DN",
)  # fmt: skip


RESTORE_1 = "bring it back, run 1: ask Glacier for a readable copy"
RESTORE_2 = "bring it back, run 2: the original goes back into Kaltura"


def run_demo(*options: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", *options, "demo", "--entries", "120", "--seed", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return done.stdout


def summary(lines: list[str], outcome: str) -> int:
    """The count of `outcome` in a report's #SUMMARY lines (0 when absent)."""
    found = [line.split("\t") for line in lines if line.strip().startswith(f"#SUMMARY\t{outcome}\t")]
    assert len(found) <= 1, found
    return int(found[0][2]) if found else 0


def section(out: str, title: str) -> list[str]:
    """The lines the console demo printed for the step titled `title`."""
    return out.split(f"# {title}\n", 1)[1].split("\n$ ", 1)[0].split("\nclosing table", 1)[0].splitlines()


def rows(report: list[str], outcome: str) -> list[list[str]]:
    """The rows of an action report (entry_id action outcome bytes …) with that outcome."""
    table = (line.split("\t") for line in report)
    return [cells for cells in table if len(cells) > 3 and cells[2] == outcome]


def stats_figure(report: list[str], section_: str, key: str, metric: str) -> int:
    found = [c[3] for c in (line.split("\t") for line in report) if c[:3] == [section_, key, metric]]
    assert len(found) == 1, (section_, key, metric)
    return int(found[0])


@pytest.mark.slow
def test_demo_shows_the_environment_runs_every_step_and_closes_with_the_table() -> None:
    """Every built step succeeds after the environment to repeat it is shown; the not-built steps say so; the
    closing table's states agree with what s3copy, replace_video and restore_from_s3 reported."""
    out = run_demo()
    assert "catalog: 120 entries" in out
    assert "ldap:    ldap://127.0.0.1:" in out
    shown = out.split("$ kaltura-archiver", 1)[0]
    for name in SHOWN_ENV:
        assert f"\nexport {name}=" in shown, name
    assert "\nexport AWS_ACCESS_KEY_ID=testing\n" in shown
    steps = [step for step in LIFE_CYCLE if isinstance(step, Step)]
    for step in steps:
        assert f"\n$ {command_line(step)}    # {step.title}\n" in out, step.title
    assert "kaltura_credentials\tok" in out
    assert "#SHARD_BOUNDS\tARCHIVER_SHARD_BOUNDS=" in out
    assert "created_window=..1" in "\n".join(section(out, "count what the first of 4 tasks would see"))
    enriched = "\n".join(section(out, "add the owners' directory status to a report"))
    assert "\tcreator_id\t" in enriched
    assert "\tldap_status\tldap_name\torg_unit" in enriched
    again = section(out, "archive again: nothing left to do")
    assert summary(again, "unchanged") > 0
    assert summary(again, "archived") == 0
    owners = section(out, "who owns what would be archived, and who has left")
    assert "  owner\tentries\toriginal_bytes\ttotal_bytes\tstatus\tname\torg_unit" in owners
    assert summary(owners, "inactive") > 0
    archived = summary(section(out, "archive to S3"), "archived")
    replaced = summary(section(out, "swap in the placeholder"), "replaced")
    assert summary(section(out, "plan the repairs of what health finds wrong (dry run)"), "planned") == 1
    assert summary(section(out, "repair it, where the fix is safe"), "repaired") == 1  # the untagged entry
    assert summary(section(out, RESTORE_1), "waiting") == 1
    restored = summary(section(out, RESTORE_2), "restored")
    assert 0 < restored < replaced < archived
    table = dict(re.findall(r"^  (initial|archived|place_holder|other)\t(\d+)$", out, re.MULTILINE))
    assert int(table["place_holder"]) == replaced - restored
    assert int(table["archived"]) == archived - replaced + restored
    assert sum(map(int, table.values())) == 120
    glacier = re.findall(r"^  GLACIER\t(\d+)\t(\d+)\t", out, re.MULTILINE)
    assert [int(n) for n, _ in glacier] == [archived]
    assert out.endswith("\ndemo finished\n")


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.slow
def test_demo_in_json_gives_json_and_a_closing_table_exact_against_the_steps_reports() -> None:
    """With --log-format json every line is a JSON document (the steps' logs too), and the closing table is
    exact: S3 objects and bytes are the archived rows', the bytes freed in Kaltura the difference between
    what stats measured before and after, the states add up to the catalog and to the steps' rows."""
    events = _events(run_demo("--log-format", "json"))
    by_title = {e["title"]: e for e in events if e["event"] == "demo.step"}
    assert len(by_title) == len({s.title for s in LIFE_CYCLE if isinstance(s, Step)})
    for event in by_title.values():
        assert event["outcome"] == "ok", event
        assert all(isinstance(log, dict) for log in event["logs"]), event["logs"]
    env = next(e for e in events if e["event"] == "demo.environment")["env"]
    assert set(SHOWN_ENV) <= set(env)
    acts = [e for e in events if e["event"] == "demo.testbed_act"]
    assert [e["title"] for e in acts] == [s.title for s in LIFE_CYCLE if isinstance(s, Act)]
    archived = rows(by_title["archive to S3"]["report"], "archived")
    replaced = rows(by_title["swap in the placeholder"]["report"], "replaced")
    restored = rows(by_title[RESTORE_2]["report"], "restored")
    assert [r[0] for r in restored] == [r[0] for r in rows(by_title[RESTORE_1]["report"], "waiting")]
    stats_before = by_title["what the catalog holds and costs before"]["report"]
    stats = by_title["savings statistics after"]["report"]
    table = next(e for e in events if e["event"] == "demo.closing")
    catalog = next(e for e in events if e["event"] == "demo.catalog")["summary"]
    deleted = catalog["by_status"].get("3", 0)
    states = table["states"]
    assert sum(states.values()) == catalog["entries"] - deleted
    still_replaced = len(replaced) - len(restored)
    assert states["place_holder"] == still_replaced == stats_figure(stats, "state", "place_holder", "entries")
    still_archived = len(archived) - still_replaced
    assert states["archived"] == still_archived == stats_figure(stats, "state", "archived", "entries")
    assert table["s3"] == {"GLACIER": {"objects": len(archived), "bytes": sum(int(r[3]) for r in archived)}}
    kaltura = table["kaltura_bytes"]
    assert kaltura["before"] - kaltura["after"] == kaltura["freed"] > 0
    # stats counts a narrower selection (video entries); the others are untouched, so the change is the same
    held = [stats_figure(report, "kaltura", "all_flavors", "bytes") for report in (stats_before, stats)]
    assert kaltura["freed"] == held[0] - held[1]
    assert events[-1] == {"event": "demo.finished", "ok": True}
