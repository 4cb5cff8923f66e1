"""LDAP filters and DNs built from untrusted text (RFC 4515, RFC 4514), and the "active" filter judged here.

Creator ids come from reports and from Kaltura: any of them may hold `*`, `(`, `)`, `\\` or NUL, so every
value placed in a filter is escaped, never pasted (`*)(uid=*` finds nobody, not everybody). The account's
"active" filter is a setting; it is not sent to the server but evaluated against the attributes each search
returns, so one search per batch of uids tells both who exists and who is active. Equality, presence and
substrings are compared as directory strings are (case and runs of spaces ignored); `&`, `|` and `!` combine
them. Ordering, approximate and extensible matches are refused when the setting is read.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

_FILTER_SPECIALS: Final = {"\\": r"\5c", "*": r"\2a", "(": r"\28", ")": r"\29", "\x00": r"\00"}
_ESCAPED: Final = re.compile(rb"\\([0-9a-fA-F]{2})")
_BAD_ESCAPE: Final = re.compile(r"\\(?![0-9a-fA-F]{2})")
# an attribute description: a name or an OID, with options (`ou;lang-fr`)
_ATTRIBUTE: Final = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*")
_RDN_SPLIT: Final = re.compile(r"(?<!\\)[,+]")
# RFC 4514: escaped anywhere in an attribute value of a DN; leading space or '#' and a trailing space too
_DN_SPECIALS: Final = frozenset('"+,;<>\\=')
TEMPLATE_FIELDS: Final = frozenset({"user", "base_dn"})

Attributes = Mapping[str, Sequence[str]]


def escape_filter_value(value: str) -> str:
    """`value` as an assertion value in a filter: `\\`, `*`, `(`, `)` and NUL escaped as `\\XX`."""
    return "".join(_FILTER_SPECIALS.get(c, c) for c in value)


def any_of(attribute: str, values: Iterable[str]) -> str:
    """`(|(attribute=v1)(attribute=v2)…)` with every value escaped (a single value needs no `|`)."""
    terms = [f"({attribute}={escape_filter_value(v)})" for v in values]
    if not terms:
        raise ValueError("any_of needs at least one value")
    return terms[0] if len(terms) == 1 else f"(|{''.join(terms)})"


def escape_dn_value(value: str) -> str:
    """`value` as an attribute value inside a DN (RFC 4514 escaping)."""
    out = []
    for i, c in enumerate(value):
        if c in _DN_SPECIALS or (c == "#" and i == 0) or (c == " " and i in (0, len(value) - 1)):
            out.append("\\" + c)
        elif c == "\x00":
            out.append("\\00")
        else:
            out.append(c)
    return "".join(out)


def template_problem(template: str) -> str | None:
    """Why `template` is no bind DN template (it must hold `{user}`; `{base_dn}` is optional), or None."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return "is not a template: write braces as {user} and {base_dn} only (a literal brace as {{ or }})"
    unknown = sorted(set(fields) - TEMPLATE_FIELDS)
    if unknown:
        example = "uid={user},{base_dn}"
        return f"names {{{unknown[0]}}}: only {{user}} and {{base_dn}} are known, e.g. {example}"
    if "user" not in fields:
        return "lacks {user}: put it where the bind user goes, e.g. uid={user},{base_dn}"
    return None


def bind_dn(template: str, user: str, base_dn: str) -> str:
    """The DN to bind as: `user` (escaped) placed in `template`; a template of just `{user}` takes `user` as
    the whole DN."""
    if template.strip() == "{user}":
        return user
    return template.format(user=escape_dn_value(user), base_dn=base_dn)


def dn_problem(dn: str) -> str | None:
    """Why `dn` is not a distinguished name (attribute=value pairs joined by commas), or None."""
    for ava in _RDN_SPLIT.split(dn.replace("\\\\", "\\5c")):
        attribute, equals, value = ava.partition("=")
        if not equals or not _ATTRIBUTE.fullmatch(attribute.strip()) or not value.strip():
            return "is not a distinguished name: write attribute=value pairs, e.g. ou=people,dc=example"
    return None


# -- the "active" filter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One assertion: `kind` is `=` (equality), `=*` (presence) or `*` (substrings: `parts`, `None` where
    the filter had no initial or final part)."""

    kind: str
    attribute: str
    parts: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Combine:
    """`&`, `|` or `!` over `children`."""

    op: str
    children: tuple[Node, ...]


Node = Match | Combine

_REFUSED: Final = ("~", ">", "<", ":")  # before the "=": approximate, ordering, extensible matches
_PARENS_HINT: Final = "check its parentheses, e.g. (|(status=enabled)(status=goingaway))"


class FilterProblem(ValueError):
    """The text is no filter the active test can evaluate; the message completes "<SETTING>=<value> …"."""


def _unescape(text: str) -> str:
    raw = _ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
    return raw.decode("utf-8", "replace")


class _Parser:
    """RFC 4515's string filters, the matches this tool can judge (whitespace between parts is allowed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Node:
        node = self.filter()
        self.skip_spaces()
        if self.pos != len(self.text):
            raise FilterProblem(f"is not one LDAP filter: {_PARENS_HINT}")
        return node

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if self.pos >= len(self.text) or self.text[self.pos] != char:
            raise FilterProblem(f"is not an LDAP filter: {_PARENS_HINT}")
        self.pos += 1

    def filter(self) -> Node:
        self.expect("(")
        self.skip_spaces()
        op = self.text[self.pos : self.pos + 1]
        if op in ("&", "|", "!"):
            self.pos += 1
            children = [self.filter()]
            while op != "!" and self.peek() == "(":
                children.append(self.filter())
            node: Node = Combine(op, tuple(children))
        else:
            node = self.item()
        self.expect(")")
        return node

    def peek(self) -> str:
        self.skip_spaces()
        return self.text[self.pos : self.pos + 1]

    def item(self) -> Match:
        end = self.text.find(")", self.pos)
        if end < 0 or "(" in self.text[self.pos : end]:
            raise FilterProblem(f"is not an LDAP filter: {_PARENS_HINT}")
        attribute, equals, value = self.text[self.pos : end].partition("=")
        self.pos = end
        attribute = attribute.strip()
        if not equals:
            raise FilterProblem(f"has a part without '=': {_PARENS_HINT}")
        if attribute.endswith(_REFUSED):
            raise FilterProblem(
                f"uses {attribute[-1]}=, which this tool cannot judge: use =, =*, substrings, &, | and !"
            )
        if not _ATTRIBUTE.fullmatch(attribute):
            raise FilterProblem(f"names no attribute in {attribute!r}=: write e.g. (employeeType=active)")
        if _BAD_ESCAPE.search(value):
            raise FilterProblem("has a backslash not followed by two hex digits: escape it as \\5c")
        if value == "*":
            return Match("=*", attribute)
        if "*" in value:
            parts = value.split("*")
            return Match("*", attribute, tuple(_unescape(p) if p else None for p in parts))
        return Match("=", attribute, (_unescape(value),))


@dataclass(frozen=True)
class ActiveFilter:
    """The "active" test: an LDAP filter evaluated against an entry's attributes."""

    text: str
    root: Node

    @classmethod
    def parse(cls, text: str) -> ActiveFilter:
        """The filter in `text` (outer parentheses optional); FilterProblem if it is none we can judge."""
        body = text.strip()
        if not body:
            raise FilterProblem("is empty: set an LDAP filter, e.g. (employeeType=active)")
        if not body.startswith("("):
            body = f"({body})"
        return cls(body, _Parser(body).parse())

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes the filter reads (to request them with each search)."""
        found: dict[str, None] = {}

        def walk(node: Node) -> None:
            if isinstance(node, Match):
                found.setdefault(node.attribute, None)
            else:
                for child in node.children:
                    walk(child)

        walk(self.root)
        return tuple(found)

    def matches(self, attributes: Attributes) -> bool:
        """Whether an entry with `attributes` (any case of names) passes the filter."""
        folded = {name.split(";")[0].casefold(): values for name, values in attributes.items()}
        return _matches(self.root, folded)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _matches(node: Node, attributes: Attributes) -> bool:
    if isinstance(node, Combine):
        results = (_matches(child, attributes) for child in node.children)
        if node.op == "&":
            return all(results)
        if node.op == "|":
            return any(results)
        return not next(results)
    values = [_norm(v) for v in attributes.get(node.attribute.casefold(), ())]
    if node.kind == "=*":
        return bool(values)
    if node.kind == "=":
        wanted = _norm(node.parts[0] or "")
        return wanted in values
    pattern = _substring_pattern(node.parts)
    return any(pattern.fullmatch(v) for v in values)


def _substring_pattern(parts: tuple[str | None, ...]) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(_norm(part)) if part else "" for part in parts), re.DOTALL)
