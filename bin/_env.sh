# Shared set-up for bin/test, bin/demo and bin/bench: sourced, not run.
# Creates .venv when missing, installs the project (with extras) when pyproject.toml or the lock changed
# (runtime dependencies pinned by container/requirements.lock), and makes sure
# Debian's slapd is present for the LDAP testbed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    local extras="$1" py stamp want
    if [ ! -x "$VENV/bin/python" ]; then
        py="$(find_python)" || { echo "kaltura-archiver needs Python 3.11 or newer: install python3 (>= 3.11) and retry" >&2; exit 2; }
        echo "creating $VENV with $py" >&2
        "$py" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    fi
    stamp="$VENV/.installed-$extras"
    # the runtime dependencies at the container image's pinned versions: the tests run what the image ships
    lock="$ROOT/container/requirements.lock"
    want="$(cat "$ROOT/pyproject.toml" "$lock" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing kaltura-archiver[$extras] into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$lock" -e "$ROOT[$extras]" >&2
        echo "$want" > "$stamp"
    fi
}

ensure_slapd() {
    if [ -x /usr/sbin/slapd ] && command -v ldapsearch >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's slapd and ldap-utils for the LDAP testbed" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends slapd ldap-utils >&2
        return 0
    fi
    echo "the LDAP testbed needs Debian's slapd: run 'sudo apt-get install slapd ldap-utils' and retry" >&2
    exit 2
}
