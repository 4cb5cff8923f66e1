"""`kaltura-archiver ldap_status` run as a user runs it: a report on stdin, slapd over LDAPS (testbed CA)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobs.cli import run
from testbed.ldap import LdapServer
from tests.integration.ldap_harness import ldap_env

CLI = [sys.executable, "-m", "jobs.cli", "--log-format", "json"]


def ldap_status(
    server: LdapServer, report: str | bytes, *argv: str, **env: str
) -> subprocess.CompletedProcess[bytes]:
    data = report.encode("utf-8") if isinstance(report, str) else report
    return subprocess.run([*CLI, "ldap_status", *argv], input=data, env=ldap_env(server, **env),
                          capture_output=True, timeout=120, check=False)  # fmt: skip


def finished(stderr: bytes) -> dict[str, Any]:
    events = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    (event,) = [e for e in events if e["event"] == "run.finished"]
    return event


def test_hostile_and_odd_creators_get_status_name_and_org_unit(ldap_server: LdapServer) -> None:
    """Filter injection finds nobody; odd people read as the directory has them; # lines and order kept."""
    rows = [
        "# a comment before the header",
        "entry_id\tcreator_id\tname",
        "0_a\tjdoe\tLecture 1",
        "0_b\t*)(uid=*\tinjection",
        "0_c\tadmin)(|(uid=*\tinjection",
        "0_d\tback\\slash\tbackslash",
        "0_e\tnul\x00byte\tNUL",
        f"0_f\t{'x' * 300}\tlong",
        "0_g\tzmuller\tnon-ASCII",
        "#SUMMARY\tin\tthe middle",
        "0_h\tfnguyen\tno displayName",
        "0_i\tiwalker\tno ou, no status",
        "0_j\tnobody\tunknown",
        "0_k\tJDoe@Princeton.EDU\tmixed case, a domain",
        "0_l\t\tno creator",
        "0_m\thli",  # a short row
    ]
    result = ldap_status(ldap_server, "\r\n".join(rows) + "\r\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").splitlines() == [
        "# a comment before the header",
        "entry_id\tcreator_id\tname\tstatus\tldap_name\torg_unit",
        "0_a\tjdoe\tLecture 1\tactive\tJohn Doe\tMedia Services",
        "0_b\t*)(uid=*\tinjection\tunknown\t\t",
        "0_c\tadmin)(|(uid=*\tinjection\tunknown\t\t",
        "0_d\tback\\slash\tbackslash\tunknown\t\t",
        "0_e\tnul\x00byte\tNUL\tunknown\t\t",
        f"0_f\t{'x' * 300}\tlong\tunknown\t\t",
        "0_g\tzmuller\tnon-ASCII\tactive\tZoë Müller-Ångström\tÉtudes Françaises",
        "#SUMMARY\tin\tthe middle",
        "0_h\tfnguyen\tno displayName\tactive\tFiona Nguyen\tLaw",
        "0_i\tiwalker\tno ou, no status\tinactive\tIan Walker\t",
        "0_j\tnobody\tunknown\tunknown\t\t",
        "0_k\tJDoe@Princeton.EDU\tmixed case, a domain\tactive\tJohn Doe\tMedia Services",
        "0_l\t\tno creator\tunknown\t\t",
        "0_m\thli\t\tinactive\t李华 (Li Hua)\tEast Asian Studies",
    ]
    event = finished(result.stderr)
    assert event["counts"] == {"active": 4, "inactive": 2, "unknown": 7}
    assert event["searches"] == 1


def test_1000_rows_take_at_most_10_searches(ldap_server: LdapServer) -> None:
    uids = [u.uid for u in ldap_server.users] + [f"gone{k:04d}" for k in range(990)]
    report = "creatorId\tentryId\n" + "".join(f"{uid}\t0_{k}\n" for k, uid in enumerate(uids))
    result = ldap_status(ldap_server, report)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.decode().splitlines()
    assert header == "creatorId\tentryId\tstatus\tname\torg_unit"
    assert len(rows) == 1000
    assert [row.split("\t")[0] for row in rows] == uids
    event = finished(result.stderr)
    assert event["searches"] == 10
    assert event["counts"]["unknown"] == 990


def test_repeated_owners_are_searched_once(ldap_server: LdapServer) -> None:
    report = "creator_id\n" + "jdoe\nasmith\n" * 1500
    result = ldap_status(ldap_server, report)
    assert result.returncode == 0, result.stderr
    assert finished(result.stderr)["searches"] == 1


def test_old_option_names_pick_the_columns_and_read_a_file(ldap_server: LdapServer, tmp_path: Path) -> None:
    report = tmp_path / "report.tsv"
    report.write_text("id\towner\n0_a\tasmith@example.edu\n", encoding="utf-8")
    result = ldap_status(ldap_server, "", "--tsv", str(report), "--creatorId", "owner", "-e", "id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[1] == "0_a\tasmith@example.edu\tactive\tAlice Smith\tHistory"


def run_in_process(server: LdapServer, *argv: str, **env: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stderr without its JSON log lines."""
    out, err = io.StringIO(), io.StringIO()
    code = run(["--log-format", "json", "ldap_status", *argv], env=ldap_env(server, **env), stdout=out,
               stderr=err)  # fmt: skip
    lines = [line for line in err.getvalue().splitlines(keepends=True) if not line.startswith("{")]
    return code, out.getvalue(), "".join(lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "the report has no creator_id or creatorId column (it has: entry_id, name): name the column"),
        (("--creatorId", "owner"), "--creatorId 'owner': the report has no such column (it has: entry_id, "),
        (("--entryId", "entryId"), "--entryId 'entryId': the report has no such column"),
    ],
)
def test_a_report_without_the_creator_column_exits_2_and_writes_nothing(
    ldap_server: LdapServer, tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    report = tmp_path / "report.tsv"
    report.write_text("# kept back\nentry_id\tname\n0_a\tx\n", encoding="utf-8")
    if argv[:1] == ("--entryId",):
        report.write_text("creator_id\tname\njdoe\tx\n", encoding="utf-8")
    code, out, err = run_in_process(ldap_server, "--tsv", str(report), *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"kaltura-archiver: {message}")
    assert len(err.splitlines()) == 1


def test_a_wrong_password_exits_3_and_never_shows_it(ldap_server: LdapServer, tmp_path: Path) -> None:
    password = "Wrong-Pass-" + ldap_server.password[:6]
    report = tmp_path / "report.tsv"
    report.write_text("creator_id\njdoe\n", encoding="utf-8")
    code, out, err = run_in_process(ldap_server, "--tsv", str(report), "-l", "DEBUG", LDAP_PWD=password)
    assert (code, out) == (3, "")
    assert "refused the bind as 'cn=admin,dc=testbed,dc=example' (invalidCredentials)" in err
    assert "check LDAP_USER, LDAP_BIND_DN and LDAP_PWD" in err
    assert password not in err


def test_an_untrusted_certificate_exits_2_naming_the_bundle(ldap_server: LdapServer, tmp_path: Path) -> None:
    report = tmp_path / "report.tsv"
    report.write_text("creator_id\njdoe\n", encoding="utf-8")
    env = ldap_env(ldap_server)
    del env["LDAP_CA_BUNDLE"]
    out, err = io.StringIO(), io.StringIO()
    code = run(["ldap_status", "--tsv", str(report)], env=env, stdout=out, stderr=err)
    assert (code, out.getvalue()) == (2, "")
    assert "self-signed certificate in certificate chain" in err.getvalue()
    assert "check LDAP_CA_BUNDLE" in err.getvalue()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LDAP_ACTIVE_FILTER", "(employeeType>=a)", "LDAP_ACTIVE_FILTER='(employeeType>=a)' uses >="),
        ("LDAP_ACTIVE_FILTER", "(|(a=1)", "LDAP_ACTIVE_FILTER='(|(a=1)' is not an LDAP filter"),
        ("LDAP_BIND_DN", "cn=admin,dc=x", "LDAP_BIND_DN='cn=admin,dc=x' lacks {user}"),
        ("LDAP_BASE_DN", "testbed.example", "LDAP_BASE_DN='testbed.example' is not a distinguished name"),
        ("LDAP_CA_BUNDLE", "/no/such/ca.pem", "LDAP_CA_BUNDLE='/no/such/ca.pem' names no file"),
        ("LDAP_SERVER", "ldaps://ldap.example", "LDAP_SERVER='ldaps://ldap.example' is not a host name"),
        ("LDAP_TLS", "ssl", "LDAP_TLS='ssl' is not a known value"),
        ("LDAP_PORT", "0", "LDAP_PORT='0' is out of range"),
        ("LDAP_PWD", " ", "LDAP_PWD (value hidden) is empty"),
        ("LDAP_SERVER", "", "LDAP_SERVER is not set"),
    ],
)
def test_bad_ldap_settings_exit_2_in_one_line(
    ldap_server: LdapServer, variable: str, value: str, message: str
) -> None:
    code, out, err = run_in_process(ldap_server, "--tsv", "/dev/null", **{variable: value})
    assert (code, out) == (2, "")
    assert err.startswith(f"kaltura-archiver: {message}")
    assert len(err.splitlines()) == 1


def test_a_server_lost_mid_run_keeps_the_rows_so_far_and_exits_3() -> None:
    with LdapServer() as server:
        env = ldap_env(server, ARCHIVER_LDAP_TIMEOUT="5")
        port = server.ldaps_port
        proc = subprocess.Popen([*CLI, "ldap_status"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(b"creator_id\n" + b"".join(f"gone{k}\n".encode() for k in range(100)))
        proc.stdin.flush()
        written = [proc.stdout.readline() for _ in range(101)]  # the first batch: 100 new uids, one search
    # slapd is gone: the next batch cannot be looked up
    proc.stdin.write(b"jdoe\nasmith\n")
    proc.stdin.close()
    rest = proc.stdout.read()
    code = proc.wait(60)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert code == 3
    assert written[0] == b"creator_id\tstatus\tname\torg_unit\n"
    assert written[1:] == [f"gone{k}\tunknown\t\t\n".encode() for k in range(100)]
    assert rest == b""
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    assert line.startswith(f"kaltura-archiver: ldaps://127.0.0.1:{port} does not answer (Connection refused)")
    assert line.endswith("check the service and run again (work done is kept)")
    assert finished(err.encode())["searches"] >= 2


def test_a_closed_stdin_exits_2_naming_the_fix(ldap_server: LdapServer) -> None:
    result = subprocess.run([*CLI, "ldap_status"], stdin=subprocess.DEVNULL, env=ldap_env(ldap_server),
                            capture_output=True, text=True, timeout=60, check=False,
                            preexec_fn=lambda: os.close(0))  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "kaltura-archiver: stdin is closed: give the report on stdin or with --tsv FILE\n"
