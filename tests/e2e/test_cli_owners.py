"""`kaltura-archiver owners` run as a user runs it: the simulator's catalog, slapd (LDAPS) seeded with some of
its owners, active, inactive or gone."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from testbed.ldap import LdapServer, LdapUser
from tests.integration.ldap_harness import ldap_env

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess

CLI = [sys.executable, "-m", "jobs.cli", "--log-format", "json"]
SELECTION = ("--unplayed_for", "3")


def catalog_people() -> list[LdapUser]:
    """The simulator's owners user0001-user0150 (every third inactive; odd ones without an ou); 0151 on are
    gone from the directory."""
    return [
        LdapUser(uid=f"user{k:04d}", cn=f"Person {k}", sn=str(k), display_name=None if k % 5 else f"P. {k}",
                 ou=None if k % 2 else f"Unit {k % 7}", status="inactive" if k % 3 == 0 else "active")
        for k in range(1, 151)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def owners_ldap() -> Iterator[LdapServer]:
    with LdapServer(users=catalog_people()) as server:
        yield server


def cli(sim: SimProcess, ldap: LdapServer, *argv: str) -> subprocess.CompletedProcess[str]:
    env = ldap_env(ldap, **sim.client_env(), ARCHIVER_KALTURA_RPS="200")
    return subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=180, check=False)


def expected_from_listings(sim: SimProcess, ldap: LdapServer) -> dict[str, dict[str, Any]]:
    """Per owner from `list` (video rows for owners and originals, flavor rows for every flavor's bytes)."""
    videos = cli(sim, ldap, "list", *SELECTION, "--format", "jsonl")
    flavors = cli(sim, ldap, "list", *SELECTION, "--mode", "flavor", "--format", "jsonl")
    assert (videos.returncode, flavors.returncode) == (0, 0)
    entry_bytes: Counter[str] = Counter()
    for row in map(json.loads, flavors.stdout.splitlines()):
        entry_bytes[row["entry_id"]] += row["size_bytes"] or row["size_KB"] * 1024
    owners: dict[str, dict[str, Any]] = defaultdict(lambda: {"entries": 0, "original_bytes": 0, "total": 0})
    for row in map(json.loads, videos.stdout.splitlines()):
        owner = owners[row["creator_id"]]
        owner["entries"] += 1
        owner["original_bytes"] += row["original_size_bytes"] or (row["orig_KB"] or 0) * 1024
        owner["total"] += entry_bytes[row["entry_id"]]
    return owners


def test_owners_tally_the_selection_with_each_owners_directory_status(
    kaltura_sim: SimProcess, owners_ldap: LdapServer
) -> None:
    result = cli(kaltura_sim, owners_ldap, "owners", *SELECTION, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = expected_from_listings(kaltura_sim, owners_ldap)
    assert {r["owner"]: (r["entries"], r["original_bytes"], r["total_bytes"]) for r in rows} == {
        owner: (e["entries"], e["original_bytes"], e["total"]) for owner, e in expected.items()
    }
    assert [r["total_bytes"] for r in rows] == sorted((r["total_bytes"] for r in rows), reverse=True)
    people = {u.uid: u for u in catalog_people()}
    for row in rows:
        person = people.get(row["owner"])
        if person is None:
            assert (row["status"], row["name"], row["org_unit"]) == ("unknown", None, None)
        else:
            assert row["status"] == person.status
            assert row["name"] == (person.display_name or person.cn)
            assert row["org_unit"] == person.ou
    assert {r["status"] for r in rows} == {"active", "inactive", "unknown"}
    (finished,) = [e for e in map(json.loads, result.stderr.splitlines()) if e["event"] == "run.finished"]
    assert finished["owners"] == len(rows)
    assert finished["searches"] == 2  # 200 owners, 100 a search


def test_owners_tsv_ends_with_a_summary_by_status(kaltura_sim: SimProcess, owners_ldap: LdapServer) -> None:
    result = cli(kaltura_sim, owners_ldap, "owners", "--unplayed-for", "3", "--max_entries", "50")
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header == "owner\tentries\toriginal_bytes\ttotal_bytes\tstatus\tname\torg_unit"
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    summary = [line.split("\t") for line in lines if line.startswith("#SUMMARY")]
    assert sum(int(r[1]) for r in rows) == 50
    by_status = Counter(r[4] for r in rows)
    assert summary == [["#SUMMARY", s, str(n)] for s, n in sorted(by_status.items())] + [
        ["#SUMMARY", "total", str(len(rows))]
    ]


def test_owners_with_a_wrong_ldap_password_exit_3_and_write_nothing(
    kaltura_sim: SimProcess, owners_ldap: LdapServer
) -> None:
    env = ldap_env(owners_ldap, **kaltura_sim.client_env(), LDAP_PWD="not-the-password")
    result = subprocess.run([*CLI, "owners", *SELECTION], env=env, capture_output=True, text=True, timeout=60,
                            check=False)  # fmt: skip
    assert (result.returncode, result.stdout) == (3, "")
    assert "not-the-password" not in result.stderr
    assert "(invalidCredentials): check LDAP_USER, LDAP_BIND_DN and LDAP_PWD" in result.stderr
