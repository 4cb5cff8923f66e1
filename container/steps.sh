# The runbooks' shared steps (archive.rc, restore.rc, health.rc source this; it is not run on its own).
#
# The old tool's environment, with its meaning:
#   N_YEARS  years the selections use (default 3, the tool's own default; the tool checks it)
#   DOIT     exactly `true` makes the mutating steps real; anything else, or unset, is a dry run
#   KALTURA_ARCHIVER  the command each step runs (default: kaltura-archiver on the PATH)
#
# Exit codes: a step's 0 goes on; its 1 (some entries failed or were unhealthy: the run itself completed) is
# remembered, the later steps still run and the script exits 1 at the end, as the old tool's runbooks went on
# past entries that failed; any other code (2 a setting to fix, 3 a fatal error) ends the script at once with
# that code. SIGTERM (SIGINT) is passed to the running step, which drains and ends; the script then exits 143
# (130) and skips the later steps.

set -e

N_YEARS="${N_YEARS:-3}"
KALTURA_ARCHIVER="${KALTURA_ARCHIVER:-kaltura-archiver}"
if [ "${DOIT:-}" = "true" ]; then
    EXECUTE=(--execute)
else
    # the tool reads DOIT too: make sure it sees the dry run the runbook announces (DOIT=TRUE, yes, ...)
    DOIT=false
    EXECUTE=()
fi
export N_YEARS DOIT

_runbook="$(basename "$0")"
_child=""
_signal=""
_passed=""
_status=0

_forward() {
    # remember the first signal (it decides the exit code) and pass every one on: a second one cancels
    [ -n "$_signal" ] || _signal="$1"
    _pass "$1"
}

_pass() {
    if [ -n "$_child" ]; then
        kill -s "$1" "$_child" 2>/dev/null || true
        _passed=1
    fi
}
trap '_forward TERM' TERM
trap '_forward INT' INT

_stop_if_signalled() {
    case "$_signal" in
        TERM) echo "# $_runbook: stopped by SIGTERM; later steps skipped" >&2; exit 143 ;;
        INT) echo "# $_runbook: interrupted (SIGINT); later steps skipped" >&2; exit 130 ;;
    esac
}

say() {
    # a comment line in the report, as the old runbooks printed between their steps
    echo "# $*"
}

step() {
    # step SUBCOMMAND [ARGS...]: run one kaltura-archiver command, in the background so that this shell
    # (PID 1 in a container without an init) can take signals and pass them on
    local code=0
    _stop_if_signalled
    echo "# $_runbook: $KALTURA_ARCHIVER $*" >&2
    _passed=""
    "$KALTURA_ARCHIVER" "$@" &
    _child=$!
    # a signal that came after the step started but before its pid was known is passed on now (once)
    if [ -n "$_signal" ] && [ -z "$_passed" ]; then
        _pass "$_signal"
    fi
    wait "$_child" || code=$?
    # a signal interrupts `wait`, not the step: wait again until the step has drained and ended
    while [ -n "$_signal" ] && kill -0 "$_child" 2>/dev/null; do
        code=0
        wait "$_child" || code=$?
    done
    _child=""
    _stop_if_signalled
    case "$code" in
        0) ;;
        1) _status=1 ;;
        *) echo "# $_runbook: '$1' exited $code; later steps skipped" >&2; exit "$code" ;;
    esac
}

finish() {
    # the script's exit code: 1 if a step reported entries that failed or were unhealthy, else 0
    exit "$_status"
}

no_arguments() {
    if [ "$#" -gt 0 ]; then
        echo "$_runbook takes no arguments: set N_YEARS and DOIT in its environment" >&2
        exit 2
    fi
}
