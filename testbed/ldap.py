"""LDAP stand-in: Debian's slapd on ldap://127.0.0.1:<free port> and ldaps://127.0.0.1:<another> from a
temporary config, with seed users.

Run it by hand with `python -m testbed.ldap --port 0`: it prints one JSON line (`url`, `ldaps_url`, `ca_file`,
`base_dn`, `bind_dn`, `password`; the testbed-only admin password appears nowhere else) and serves until
SIGTERM or SIGINT.

LDAPS uses a certificate for 127.0.0.1 and localhost from a throw-away CA (`testbed.tls`), written into the
server's directory: clients verify it against `ca_file`, as they would a real directory's certificate.

Layout: base `dc=testbed,dc=example`, users under `ou=people` as `uid=<uid>,ou=people,dc=testbed,dc=example`
with object class inetOrgPerson (Debian's core, cosine and inetorgperson schemas, nothing custom). The account
status is `employeeType` (`active`, `inactive` or `locked`); `ou` is the user's org unit; `displayName` and
`employeeType` may be missing, as in real directories. The seed is `testbed/users.tsv` (tab-separated, header
`uid cn sn displayName ou employeeType`, an empty cell leaves the attribute out).

Everything slapd needs lives in one temporary directory (slapd.conf, an mdb database loaded with `slapadd`
before start, pid and args files, log), so it runs as root or not and touches neither /etc/ldap nor
/var/run (it only reads the schema files the slapd package ships). Reading needs a bind: anonymous users may
not search.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import ldap3
from ldap3.core.exceptions import LDAPException

from testbed.process import ServerProcess, StartError, serve_until_signal, spawn
from testbed.tls import TlsFiles, make_tls_files

BASE_DN: Final = "dc=testbed,dc=example"
PEOPLE_DN: Final = f"ou=people,{BASE_DN}"
BIND_DN: Final = f"cn=admin,{BASE_DN}"
ADMIN_USER: Final = "admin"  # the admin's RDN value: LDAP_USER in kaltura-archiver's bind DN template
BIND_DN_TEMPLATE: Final = f"cn={{user}},{BASE_DN}"
# the seed's account status: `employeeType` (inetOrgPerson has no status attribute of its own)
ACTIVE_FILTER: Final = "(employeeType=active)"
USERS_FILE: Final = Path(__file__).with_name("users.tsv")
HOST: Final = "127.0.0.1"

_SBIN_PATH: Final = "/usr/sbin:/usr/local/sbin:/sbin"
_SCHEMA_DIRS: Final = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
_MODULE_DIRS: Final = ("/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap", "/usr/libexec/openldap")
_SCHEMAS: Final = ("core", "cosine", "inetorgperson")
_INSTALL_HINT: Final = "install the Debian packages slapd and ldap-utils (apt-get install slapd ldap-utils)"
# RFC 2849 SAFE-STRING: anything else goes into the LDIF base64-encoded
_LDIF_SAFE: Final = re.compile(
    r"^[\x01-\x09\x0b-\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b-\x0c\x0e-\x7f]*$"
)


class SlapdNotInstalled(RuntimeError):
    """slapd, slapadd or the schema files are missing; the message says which packages to install."""


@dataclass(frozen=True)
class LdapUser:
    """One seed user; None means the attribute is absent from the entry."""

    uid: str
    cn: str
    sn: str
    display_name: str | None
    ou: str | None
    status: str | None

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE_DN}"


def load_users(path: Path = USERS_FILE) -> tuple[LdapUser, ...]:
    """Read a seed file in the `users.tsv` format."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return tuple(
        LdapUser(
            uid=row["uid"],
            cn=row["cn"],
            sn=row["sn"],
            display_name=row["displayName"] or None,
            ou=row["ou"] or None,
            status=row["employeeType"] or None,
        )
        for row in rows
    )


def _ldif_line(attribute: str, value: str) -> str:
    if _LDIF_SAFE.match(value) and not value.endswith(" "):
        return f"{attribute}: {value}"
    return f"{attribute}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def _ldif_entry(dn: str, attributes: Iterable[tuple[str, str | None]]) -> str:
    lines = [_ldif_line("dn", dn)]
    lines += [_ldif_line(name, value) for name, value in attributes if value is not None]
    return "\n".join(lines) + "\n"


def seed_ldif(users: Iterable[LdapUser]) -> str:
    """The LDIF of the base entry, ou=people and one inetOrgPerson per user."""
    entries = [
        _ldif_entry(
            BASE_DN,
            [
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("dc", "testbed"),
                ("o", "Testbed"),
            ],
        ),
        _ldif_entry(PEOPLE_DN, [("objectClass", "organizationalUnit"), ("ou", "people")]),
    ]
    for user in users:
        entries.append(
            _ldif_entry(
                user.dn,
                [
                    ("objectClass", "inetOrgPerson"),
                    ("uid", user.uid),
                    ("cn", user.cn),
                    ("sn", user.sn),
                    ("displayName", user.display_name),
                    ("ou", user.ou),
                    ("employeeType", user.status),
                ],
            )
        )
    return "\n".join(entries)


def _ssha(password: str) -> str:
    """slapd's salted SHA-1 password form, so the config file holds no clear text."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt, usedforsecurity=False).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _find_program(name: str, directory: Path | None) -> str:
    search = str(directory) if directory is not None else f"{os.environ.get('PATH', '')}:{_SBIN_PATH}"
    path = shutil.which(name, path=search)
    if path is None:
        raise SlapdNotInstalled(f"{name} not found in {search}: {_INSTALL_HINT}")
    return path


def _schema_dir() -> Path:
    for candidate in _SCHEMA_DIRS:
        if (Path(candidate) / "core.schema").is_file():
            return Path(candidate)
    raise SlapdNotInstalled(f"OpenLDAP schema files not found in {', '.join(_SCHEMA_DIRS)}: {_INSTALL_HINT}")


def _module_lines() -> list[str]:
    """Load back_mdb when this slapd has it as a module (Debian does); else assume it is built in."""
    for candidate in _MODULE_DIRS:
        if any(Path(candidate).glob("back_mdb.*")):
            return [f"modulepath {candidate}", "moduleload back_mdb"]
    return []


def slapd_conf(workdir: Path, password: str, tls: TlsFiles | None = None) -> str:
    """A slapd.conf whose every writable path is inside `workdir`; with `tls`, the certificate for LDAPS."""
    schemas = _schema_dir()
    tls_lines = (
        [
            f"TLSCACertificateFile {tls.ca_cert}",
            f"TLSCertificateFile {tls.server_cert}",
            f"TLSCertificateKeyFile {tls.server_key}",
        ]
        if tls is not None
        else []
    )
    return "\n".join(
        [
            *(f"include {schemas / name}.schema" for name in _SCHEMAS),
            f"pidfile {workdir / 'slapd.pid'}",
            f"argsfile {workdir / 'slapd.args'}",
            *tls_lines,
            *_module_lines(),
            "database mdb",
            "maxsize 67108864",
            f'suffix "{BASE_DN}"',
            f'rootdn "{BIND_DN}"',
            f"rootpw {_ssha(password)}",
            f"directory {workdir / 'db'}",
            "index objectClass eq",
            "index uid eq",
            # like a real directory: bound users read, anonymous ones may only bind
            "access to attrs=userPassword by anonymous auth by * none",
            "access to * by users read by * none",
            "",
        ]
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class LdapServer(ServerProcess):
    """slapd on 127.0.0.1 with seed users: a sync and async context manager (`with LdapServer() as ldap:`)."""

    name = "ldap"
    # slapd must bind a port we picked; if someone takes it meanwhile, pick another
    start_attempts = 3
    host: Final = HOST
    base_dn: Final = BASE_DN
    people_dn: Final = PEOPLE_DN
    bind_dn: Final = BIND_DN

    def __init__(
        self, *, port: int = 0, users: Sequence[LdapUser] | None = None, programs_dir: Path | None = None
    ) -> None:
        """`users` default to `testbed/users.tsv`; slapd and slapadd are looked up in `programs_dir`, by
        default on PATH and then in /usr/sbin, /usr/local/sbin and /sbin."""
        super().__init__()
        self._programs_dir = programs_dir
        self._requested_port = port
        self._port: int | None = None
        self._ldaps_port: int | None = None
        self._tls: TlsFiles | None = None
        self.users: Final = tuple(users) if users is not None else load_users()
        self.password: Final = secrets.token_urlsafe(18)
        self._slapd = ""

    def __repr__(self) -> str:  # never show the password
        return f"LdapServer(port={self._port}, users={len(self.users)})"

    @property
    def port(self) -> int:
        """The port slapd listens on."""
        if self._port is None:
            raise RuntimeError("ldap server is not started")
        return self._port

    @property
    def url(self) -> str:
        """`ldap://127.0.0.1:<port>`."""
        return f"ldap://{HOST}:{self.port}"

    @property
    def ldaps_port(self) -> int:
        """The port slapd serves LDAPS on (TLS from the first byte)."""
        if self._ldaps_port is None:
            raise RuntimeError("ldap server is not started")
        return self._ldaps_port

    @property
    def ldaps_url(self) -> str:
        """`ldaps://127.0.0.1:<ldaps_port>`."""
        return f"ldaps://{HOST}:{self.ldaps_port}"

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) that signed the LDAPS certificate: what clients trust."""
        if self._tls is None:
            raise RuntimeError("ldap server is not started")
        return self._tls.ca_cert

    def client_env(self) -> dict[str, str]:
        """The `LDAP_*` settings that point kaltura-archiver's `ldap_status` and `owners` at this server, over
        LDAPS with its CA (the admin binds through the bind DN template, as a uid would)."""
        return {
            "LDAP_SERVER": HOST,
            "LDAP_PORT": str(self.ldaps_port),
            "LDAP_TLS": "ldaps",
            "LDAP_CA_BUNDLE": str(self.ca_file),
            "LDAP_USER": ADMIN_USER,
            "LDAP_BIND_DN": BIND_DN_TEMPLATE,
            "LDAP_PWD": self.password,
            "LDAP_BASE_DN": BASE_DN,
            "LDAP_ACTIVE_FILTER": ACTIVE_FILTER,
        }

    def describe(self) -> dict[str, str]:
        """What `python -m testbed.ldap` prints (the only place the password is shown)."""
        return {
            "url": self.url,
            "ldaps_url": self.ldaps_url,
            "ca_file": str(self.ca_file),
            "base_dn": BASE_DN,
            "bind_dn": BIND_DN,
            "password": self.password,
        }

    def _prepare(self, workdir: Path) -> None:
        slapd = _find_program("slapd", self._programs_dir)
        slapadd = _find_program("slapadd", self._programs_dir)
        self._slapd = slapd
        (workdir / "db").mkdir(mode=0o700)
        conf = workdir / "slapd.conf"
        conf.touch(mode=0o600)
        self._tls = make_tls_files(workdir)
        conf.write_text(slapd_conf(workdir, self.password, self._tls), encoding="utf-8")
        seed = workdir / "seed.ldif"
        seed.write_text(seed_ldif(self.users), encoding="utf-8")
        result = subprocess.run(
            [slapadd, "-q", "-f", str(conf), "-l", str(seed)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode("utf-8", "replace")
            raise StartError(f"slapadd failed with code {result.returncode} loading the seed", output)

    def _spawn(self, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
        self._port = self._requested_port or _free_port()
        self._ldaps_port = _free_port()
        urls = f"{self.url}/ {self.ldaps_url}/"
        argv = [self._slapd, "-f", str(workdir / "slapd.conf"), "-h", urls, "-d", "0"]
        return spawn(argv, env=os.environ, log=log)

    def _retryable(self, tail: str) -> bool:
        # the LDAPS port is always one we picked, so a clash on it is worth another try too
        return "errno=98" in tail or "Address already in use" in tail

    def _probe(self) -> bool:
        # ldap3 leaks its socket when the connection is refused (a ResourceWarning, an error under
        # pytest), so wait for the port to accept before binding
        try:
            with socket.create_connection((HOST, self.port), timeout=1):
                pass
        except OSError:
            return False
        server = ldap3.Server(HOST, port=self.port, connect_timeout=1)
        connection = ldap3.Connection(server, user=BIND_DN, password=self.password, receive_timeout=2)
        try:
            return bool(connection.bind())
        except LDAPException:
            return False
        finally:
            connection.unbind()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.ldap", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    args = parser.parse_args(argv)
    server = LdapServer(port=args.port)
    return serve_until_signal(server, server.describe)


if __name__ == "__main__":
    sys.exit(main())
