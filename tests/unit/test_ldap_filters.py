"""The LDAP adapter's pure parts: escaping of hostile uids, bind DN templates, DNs, the "active" filter."""

from __future__ import annotations

import pytest

from adapters.ldap import (
    ActiveFilter,
    FilterProblem,
    bind_dn,
    dn_problem,
    escape_dn_value,
    escape_filter_value,
    template_problem,
)
from adapters.ldap.filters import any_of
from jobs.common.settings import OLD_LDAP_ACTIVE_FILTER


@pytest.mark.parametrize(
    ("uid", "escaped"),
    [
        ("*)(uid=*", r"\2a\29\28uid=\2a"),
        ("admin)(|(uid=*", r"admin\29\28|\28uid=\2a"),
        ("back\\slash", r"back\5cslash"),
        ("nul\x00byte", r"nul\00byte"),
        ("Zoë", "Zoë"),
    ],
)
def test_filter_values_are_escaped_never_pasted(uid: str, escaped: str) -> None:
    assert escape_filter_value(uid) == escaped


def test_any_of_ors_escaped_uids_and_a_single_one_needs_no_or() -> None:
    assert any_of("uid", ["a*", "b"]) == r"(|(uid=a\2a)(uid=b))"
    assert any_of("uid", ["a"]) == "(uid=a)"


def test_dn_values_are_escaped_by_rfc_4514() -> None:
    assert escape_dn_value("a,b+c") == r"a\,b\+c"
    assert escape_dn_value(" #x ") == r"\ #x\ "
    assert escape_dn_value("#x") == r"\#x"


def test_bind_dn_places_the_escaped_user_in_the_template() -> None:
    assert bind_dn("uid={user},{base_dn}", "jdoe", "o=x,c=us") == "uid=jdoe,o=x,c=us"
    assert bind_dn("uid={user},ou=svc", "a,b", "o=x") == r"uid=a\,b,ou=svc"


def test_a_template_of_just_user_takes_the_user_as_the_whole_dn() -> None:
    assert bind_dn("{user}", "cn=admin,dc=x", "dc=y") == "cn=admin,dc=x"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("uid={user},{base_dn}", None),
        ("cn={user},ou=svc,dc=x", None),
        ("uid=admin,{base_dn}", "lacks {user}"),
        ("uid={user},{base}", "names {base}"),
        ("uid={user", "is not a template"),
        ("uid={0},{base_dn}", "names {0}"),
    ],
)
def test_bind_dn_templates_need_user_and_know_only_base_dn(template: str, problem: str | None) -> None:
    found = template_problem(template)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))


@pytest.mark.parametrize(
    ("dn", "ok"),
    [
        ("o=princeton university,c=us", True),
        ("dc=testbed,dc=example", True),
        (r"cn=a\,b,dc=x", True),
        ("cn=a+sn=b,dc=x", True),
        ("princeton", False),
        ("dc=x,", False),
        ("=x", False),
        ("d c=x", False),
    ],
)
def test_dn_problem_accepts_attribute_value_pairs_only(dn: str, ok: bool) -> None:
    assert (dn_problem(dn) is None) is ok


def test_the_old_tools_active_filter_reads_any_case_of_names_and_values() -> None:
    active = ActiveFilter.parse(OLD_LDAP_ACTIVE_FILTER)
    assert active.attributes == ("puresource",)
    assert active.matches({"puResource": ["x", "Authentication=Enabled"]})
    assert active.matches({"puresource": ["authentication=goingaway"]})
    assert not active.matches({"puresource": ["authentication=disabled"]})
    assert not active.matches({})


@pytest.mark.parametrize(
    ("attributes", "active"),
    [
        ({"employeeType": ["active"], "cn": ["A"], "ou": ["History"]}, True),
        ({"employeeType": ["Active  Staff"], "cn": ["A"]}, True),  # substring, case and spaces ignored
        ({"employeeType": ["active"], "cn": ["A"], "ou": ["Law"]}, False),  # the ! part
        ({"employeeType": ["active"]}, False),  # no cn: presence fails
        ({"employeeType": ["inactive"], "cn": ["A"]}, False),  # initial part must start the value
    ],
)
def test_and_not_presence_and_substrings_combine(attributes: dict[str, list[str]], active: bool) -> None:
    rule = ActiveFilter.parse("(&(employeeType=act*)(!(ou=law))(cn=*))")
    assert rule.matches(attributes) is active


def test_escaped_filter_values_are_compared_unescaped() -> None:
    assert ActiveFilter.parse(r"(status=a\2ab)").matches({"status": ["a*b"]})
    assert not ActiveFilter.parse(r"(status=a\2ab)").matches({"status": ["axb"]})


def test_outer_parentheses_are_optional() -> None:
    assert ActiveFilter.parse("employeeType=active").matches({"employeetype": ["ACTIVE"]})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty"),
        ("(((", "is not an LDAP filter"),
        ("(a=1)(b=2)", "is not one LDAP filter"),
        ("(a>=1)", "uses >="),
        ("(a~=x)", "uses ~="),
        ("(cn:dn:=x)", "uses :="),
        ("(&(a=1)", "is not an LDAP filter"),
        ("(a=b\\zz)", "has a backslash"),
        ("(=x)", "names no attribute"),
        ("(abc)", "has a part without '='"),
    ],
)
def test_filters_the_tool_cannot_judge_are_refused_in_one_line(text: str, problem: str) -> None:
    with pytest.raises(FilterProblem, match=f"^{problem}"):
        ActiveFilter.parse(text)
