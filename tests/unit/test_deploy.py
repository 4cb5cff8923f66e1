"""deploy/ agrees with the tool: every file parses; the task and job definitions set only settings of the
README table, with values the tool accepts, and run a runbook of the image or a built subcommand; the
schedules start those tasks; the IAM policy grants exactly the S3 actions the README lists; the bucket
lifecycle moves objects to a storage class the tool knows and aborts forgotten multipart uploads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from jobs.cli import build_parser
from jobs.common.settings import SETTINGS, load_settings
from tests.fixtures.dockerfile import ROOT

DEPLOY = ROOT / "deploy"
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUNBOOKS = {"archive.rc", "restore.rc", "health.rc"}
TASKS = sorted(DEPLOY.glob("ecs-task-*.json"))
BY_ENV = {s.env: s for s in SETTINGS if s.env}
# the README's settings table: the environment variable of each row
TABLE_ENV = set(
    re.findall(r"^\| `([A-Z0-9_]+)`", README.split("<!-- settings table:", 1)[1].split("\n\n", 1)[0], re.M)
)
# what the README says the bucket policy needs
README_ACTIONS = set(re.findall(r"`(s3:[A-Za-z]+)`", README.split("policy needs", 1)[1].split(".\n")[0]))


def load(name: str | Path) -> Any:
    return json.loads((DEPLOY / name).read_text(encoding="utf-8"))


def container_of(path: Path) -> dict[str, Any]:
    doc = load(path)
    if "containerProperties" in doc:  # AWS Batch
        properties: dict[str, Any] = doc["containerProperties"]
        return properties
    (container,) = doc["containerDefinitions"]
    return dict(container)


def environment(container: dict[str, Any]) -> dict[str, str]:
    return {pair["name"]: pair["value"] for pair in container["environment"]}


DEFINITIONS = [
    *[pytest.param(path, id=path.name) for path in TASKS],
    pytest.param(DEPLOY / "batch-job-definition.json", id="batch-job-definition.json"),
]


def test_the_readme_lists_the_s3_actions_and_the_settings_the_tests_read() -> None:
    assert "s3:PutObject" in README_ACTIONS
    assert len(README_ACTIONS) >= 5
    assert {"N_YEARS", "DOIT", "AWS_BUCKET", "PLACEHOLDER_VIDEO"} <= TABLE_ENV


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.json")), ids=lambda p: p.name)
def test_every_deploy_file_parses(path: Path) -> None:
    assert isinstance(load(path), dict)


def test_there_is_a_task_definition_for_each_runbook() -> None:
    assert {container_of(path)["command"][0] for path in TASKS} == RUNBOOKS
    for path in TASKS:
        assert container_of(path)["command"] == [load(path)["family"].rsplit("-", 1)[1] + ".rc"]


@pytest.mark.parametrize("path", DEFINITIONS)
def test_a_definition_sets_only_settings_of_the_readme_table_with_values_the_tool_accepts(path: Path) -> None:
    container = container_of(path)
    env = environment(container)
    secrets = {pair["name"] for pair in container["secrets"]}
    assert set(env) | secrets <= TABLE_ENV
    assert all(BY_ENV[name].secret for name in secrets)  # a secret comes from Secrets Manager...
    assert not any(BY_ENV[name].secret for name in env)  # ...never in plain text
    load_settings({}, {**env, **dict.fromkeys(secrets, "from-secrets-manager")})


@pytest.mark.parametrize("path", [*TASKS, DEPLOY / "batch-job-definition.json"], ids=lambda p: p.name)
def test_a_definition_runs_a_runbook_or_a_built_subcommand_as_the_image_user(path: Path) -> None:
    container = container_of(path)
    command = container["command"]
    if command[0] not in RUNBOOKS:
        args = build_parser().parse_args(command)  # UsageError if the tool would refuse it
        assert args.job is not None, f"{command[0]} runs no command"
    assert container["user"] == "10001"  # the Dockerfile's USER


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_a_task_is_given_time_to_drain_before_it_is_killed(path: Path) -> None:
    container = container_of(path)
    drain = load_settings({}, environment(container)).drain_s
    assert drain < container["stopTimeout"] <= 120  # Fargate's limit


def test_the_schedules_start_the_three_task_definitions_one_task_each() -> None:
    families = {load(path)["family"] for path in TASKS}
    schedules = load("schedules.json")["Schedules"]
    started = {s["Target"]["EcsParameters"]["TaskDefinitionArn"].rsplit("/", 1)[1] for s in schedules}
    assert started == families
    for schedule in schedules:
        assert re.fullmatch(r"(cron\((\S+ ){5}\S+\)|rate\(\d+ \w+\))", schedule["ScheduleExpression"])
        assert schedule["Target"]["EcsParameters"]["TaskCount"] == 1


def test_the_iam_policy_grants_exactly_the_s3_actions_the_readme_lists_on_the_archive_bucket() -> None:
    statements = load("iam-task-policy.json")["Statement"]
    actions = [action for s in statements for action in s["Action"]]
    assert sorted(actions) == sorted(README_ACTIONS)  # each once, none more
    assert all(s["Effect"] == "Allow" and "NotAction" not in s for s in statements)
    assert not any("Delete" in action or "*" in action for action in actions)
    buckets = {environment(container_of(path))["AWS_BUCKET"] for path in TASKS}
    (bucket,) = buckets
    for statement in statements:
        object_level = statement["Resource"].endswith("/*")
        assert statement["Resource"] == f"arn:aws:s3:::{bucket}" + ("/*" if object_level else "")
        # bucket actions on the bucket, object actions on its objects
        assert all(a.startswith("s3:ListBucket") != object_level for a in statement["Action"])


def test_the_bucket_lifecycle_moves_to_a_known_storage_class_and_aborts_forgotten_uploads() -> None:
    rules = load("bucket-lifecycle.json")["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    (storage_class,) = [s for s in SETTINGS if s.name == "storage_class"]
    classes = [t["StorageClass"] for rule in rules for t in rule.get("Transitions", ())]
    assert classes
    assert all(storage_class.parse(c) == c for c in classes)
    aborts = [rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for rule in rules
              if "AbortIncompleteMultipartUpload" in rule]  # fmt: skip
    assert aborts
    assert all(days >= 1 for days in aborts)
