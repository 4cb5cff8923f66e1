"""ldap_status's pure parts: the header's creator column, the added columns' names, uids of creator ids."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from jobs.common.directory import owner_uid
from jobs.ldap_status import passes_through, read_header


def test_our_creator_column_comes_before_the_old_tools() -> None:
    header = read_header("creatorId\tcreator_id", None, None)
    assert header.creator == 1


def test_added_columns_the_report_already_has_get_ldap_before_them() -> None:
    header = read_header("\ufeffentry_id\tstatus\tname\tcreator_id", None, None)
    assert header.columns[0] == "entry_id"  # a spreadsheet's byte order mark is dropped
    assert header.added == ("ldap_status", "ldap_name", "org_unit")
    assert header.line() == "entry_id\tstatus\tname\tcreator_id\tldap_status\tldap_name\torg_unit"


def test_a_named_creator_column_must_exist() -> None:
    assert read_header("a\towner", "owner", None).creator == 1
    with pytest.raises(ConfigError, match="--creatorId 'creator_id': the report has no such column"):
        read_header("a\towner", "creator_id", None)


def test_a_long_header_is_shown_shortened() -> None:
    with pytest.raises(ConfigError, match=r"\(it has: c0, .*, c11, …\)"):
        read_header("\t".join(f"c{k}" for k in range(40)), None, None)


@pytest.mark.parametrize(
    ("line", "kept"), [("#SUMMARY\tx\t1", True), ("", True), ("  ", True), ("a\tb", False), (" #x", False)]
)
def test_comment_summary_and_blank_lines_pass_through(line: str, kept: bool) -> None:
    assert passes_through(line) is kept


@pytest.mark.parametrize(
    ("creator", "uid"),
    [("jdoe", "jdoe"), (" JDoe@Princeton.EDU ", "JDoe"), ("@example.edu", ""), (None, ""), ("a@b@c", "a")],
)
def test_a_creator_ids_uid_has_no_domain_and_no_blanks(creator: str | None, uid: str) -> None:
    assert owner_uid(creator) == uid
