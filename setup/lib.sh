# shellcheck shell=bash
# shellcheck disable=SC2034  # settings used by the scripts that source this file
# Shared functions for setup/run.sh and setup/test.sh. Source it; do not run it.
#
# Everything the scripts create lives under run/ (config, pid files, logs, data) and in the two
# virtualenvs .venv (Odoo) and .venv-edge (edge agent), so removing those resets the machine.

# ---------------------------------------------------------------------------------------------
# Paths and settings (override with environment variables; see setup/run.sh --help)
# ---------------------------------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$REPO_ROOT/run"
PID_DIR="$RUN_DIR/pids"
LOG_DIR="$RUN_DIR/logs"
DATA_DIR="$RUN_DIR/data"
VENV="$REPO_ROOT/.venv"
EDGE_VENV="$REPO_ROOT/.venv-edge"
ODOO_CONF="$RUN_DIR/odoo.conf"
ODOO_TEST_CONF="$RUN_DIR/odoo-test.conf"
ADMIN_PASSWD_FILE="$RUN_DIR/admin_passwd"
INSTALL_STAMP="$RUN_DIR/install.stamp"
REQ_ODOO="$REPO_ROOT/setup/requirements-odoo.txt"
REQ_PROJECT="$REPO_ROOT/setup/requirements-project.txt"
CONSTRAINTS_ODOO="$REPO_ROOT/setup/constraints-odoo.txt"
EDGE_PYPROJECT="$REPO_ROOT/edge_agent/pyproject.toml"
EDGE_CONSTRAINTS="$REPO_ROOT/edge_agent/constraints.txt"
DEFAULT_ODOO_SRC="/opt/odoo/18.0"
ODOO_GIT_URL="https://github.com/odoo/odoo"

MFG_DB="${MFG_DB:-mfg_demo}"
MFG_HTTP_PORT="${MFG_HTTP_PORT:-8069}"
MFG_TEST_HTTP_PORT="${MFG_TEST_HTTP_PORT:-8169}"
MFG_TEST_DB="${MFG_TEST_DB:-mfg_test}"
MFG_PYTHON="${MFG_PYTHON:-python3.11}"
MFG_HEALTH_TIMEOUT="${MFG_HEALTH_TIMEOUT:-120}"
MFG_STOP_TIMEOUT="${MFG_STOP_TIMEOUT:-20}"
MFG_MQTT_PORT="${MFG_MQTT_PORT:-1883}"
MFG_OPCUA_PORT="${MFG_OPCUA_PORT:-4840}"
MFG_EDGE_METRICS_PORT="${MFG_EDGE_METRICS_PORT:-9464}"
# Our addons: every folder of addons/ with a manifest, the base first (Odoo orders the rest by
# their dependencies; this order is only the order of the test folders).
mfg_modules_default() {
    local manifest names=(mfg_integration_base) name
    for manifest in "$REPO_ROOT"/addons/*/__manifest__.py; do
        [[ -f "$manifest" ]] || continue
        name="$(basename "$(dirname "$manifest")")"
        [[ "$name" == mfg_integration_base ]] || names+=("$name")
    done
    local IFS=,
    printf '%s' "${names[*]}"
}
MFG_MODULES_DEFAULT="$(mfg_modules_default)"
MFG_MODULES="${MFG_MODULES:-$MFG_MODULES_DEFAULT}"
# The standard modules our addons depend on (preinstalled in the test template database).
MFG_BASE_MODULES="base,mail,mrp,purchase,maintenance,stock,sale_stock,queue_job"
# Extra addons directories (comma separated) appended to addons_path, e.g. for a local probe.
MFG_EXTRA_ADDONS_PATH="${MFG_EXTRA_ADDONS_PATH:-}"

# PostgreSQL: unset MFG_DB_HOST and MFG_DB_PORT mean "the local cluster, over the unix socket,
# started by us if needed"; setting either means "an external server we only check".
if [[ -n "${MFG_DB_HOST:-}" || -n "${MFG_DB_PORT:-}" ]]; then
    PG_EXTERNAL=1
    MFG_DB_HOST="${MFG_DB_HOST:-127.0.0.1}"
    MFG_DB_PORT="${MFG_DB_PORT:-5432}"
else
    PG_EXTERNAL=0
    MFG_DB_HOST=""
    MFG_DB_PORT=""
fi
MFG_DB_USER="${MFG_DB_USER:-$(id -un)}"

# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------
if [[ -t 1 ]]; then _BOLD=$'\e[1m'; _RED=$'\e[31m'; _RESET=$'\e[0m'; else _BOLD=""; _RED=""; _RESET=""; fi

info() { printf '%s==>%s %s\n' "$_BOLD" "$_RESET" "$*"; }
warn() { printf '%sWARNING:%s %s\n' "$_RED" "$_RESET" "$*" >&2; }

# die_env SENTENCE: a problem with this machine's environment that the user must fix. Exit code 2.
die_env() {
    printf '%sERROR:%s %s\n' "$_RED" "$_RESET" "$*" >&2
    exit 2
}

# die SENTENCE: something failed while doing the work (see the log named in the sentence). Exit 1.
die() {
    printf '%sERROR:%s %s\n' "$_RED" "$_RESET" "$*" >&2
    exit 1
}

now_s() { date +%s; }

# ---------------------------------------------------------------------------------------------
# Background processes, one pid file each under run/pids/
#
#   start_background NAME CMD [ARGS...]   start CMD detached, log to run/logs/NAME.log
#   stop_background NAME                  SIGTERM, then SIGKILL after MFG_STOP_TIMEOUT seconds
#   is_running NAME                       true if the pid file names a live process with our CMD
#   status_all                            one line per pid file
#
# Next to NAME.pid we keep NAME.args (the arguments we started it with): a pid is only ours if
# /proc/<pid>/cmdline still ends with those arguments, so a reused pid is never killed.
# ---------------------------------------------------------------------------------------------
_pid_of() {
    local pidfile="$PID_DIR/$1.pid"
    [[ -s "$pidfile" ]] || return 1
    local pid
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" ]] || return 1
    printf '%s' "$pid"
}

# True if PID's command line ends with the arguments recorded in run/pids/NAME.args.
_cmdline_matches() {
    local name="$1" pid="$2" argsfile="$PID_DIR/$1.args" actual expected
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    [[ -f "$argsfile" ]] || return 1
    actual="$(tr '\0' '\n' <"/proc/$pid/cmdline")"
    expected="$(cat "$argsfile")"
    [[ -n "$actual" && -n "$expected" ]] || return 1
    # An interpreter running a console script adds itself in front; the rest must match exactly.
    [[ "$actual" == "$expected" || "$actual" == *$'\n'"$expected" ]]
}

is_running() {
    local name="$1" pid
    pid="$(_pid_of "$name")" || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    _cmdline_matches "$name" "$pid"
}

start_background() {
    local name="$1"
    shift
    mkdir -p "$PID_DIR" "$LOG_DIR"
    if is_running "$name"; then
        info "$name is already running (pid $(_pid_of "$name"))."
        return 0
    fi
    rm -f "$PID_DIR/$name".{pid,args,port,conf.sha256}
    # Give the program as an absolute path: the kernel keeps it in the command line even when an
    # interpreter runs it (a console script), so the whole command is a suffix of /proc/pid/cmdline.
    printf '%s\n' "$@" >"$PID_DIR/$name.args"
    # fd 9 is the setup lock (see run.sh): a long-running child must not keep holding it.
    nohup "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
    local pid=$!
    printf '%s\n' "$pid" >"$PID_DIR/$name.pid"
    sleep 0.5
    if ! kill -0 "$pid" 2>/dev/null; then
        warn "$name stopped right after it started; last lines of $LOG_DIR/$name.log:"
        tail -n 20 "$LOG_DIR/$name.log" >&2 || true
        rm -f "$PID_DIR/$name".{pid,args,port,conf.sha256}
        return 1
    fi
    info "started $name (pid $pid, log run/logs/$name.log)"
}

stop_background() {
    local name="$1" pid waited=0
    if ! pid="$(_pid_of "$name")"; then
        rm -f "$PID_DIR/$name".{args,port,conf.sha256}
        return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        info "$name was not running (stale pid file removed)."
        rm -f "$PID_DIR/$name".{pid,args,port,conf.sha256}
        return 0
    fi
    if ! _cmdline_matches "$name" "$pid"; then
        warn "pid $pid in run/pids/$name.pid is not the $name we started; leaving it alone and removing the stale pid file."
        rm -f "$PID_DIR/$name".{pid,args,port,conf.sha256}
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < MFG_STOP_TIMEOUT * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name (pid $pid) did not stop within ${MFG_STOP_TIMEOUT}s; killing it."
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$PID_DIR/$name".{pid,args,port,conf.sha256}
    info "stopped $name (pid $pid)"
}

# Names of all processes with a pid file, Odoo first, then alphabetical.
pid_names() {
    local f names=()
    [[ -d "$PID_DIR" ]] || return 0
    for f in "$PID_DIR"/*.pid; do
        [[ -e "$f" ]] || continue
        names+=("$(basename "$f" .pid)")
    done
    ((${#names[@]})) || return 0
    printf '%s\n' "${names[@]}" | grep -x odoo || true
    printf '%s\n' "${names[@]}" | grep -vx odoo | sort || true
}

status_all() {
    local name pid any=0
    while IFS= read -r name; do
        [[ -n "$name" ]] || continue
        any=1
        if is_running "$name"; then
            pid="$(_pid_of "$name")"
            printf '  %-16s running   pid %-8s log run/logs/%s.log\n' "$name" "$pid" "$name"
        else
            printf '  %-16s stopped   (stale pid file)\n' "$name"
        fi
    done < <(pid_names)
    ((any)) || printf '  nothing started by setup/run.sh is running\n'
}

stop_all() {
    local name names=()
    while IFS= read -r name; do [[ -n "$name" ]] && names+=("$name"); done < <(pid_names)
    # Stop Odoo last: the edge agent and the simulator send to it until they are gone.
    local n
    for n in "${names[@]}"; do [[ "$n" == odoo ]] || stop_background "$n"; done
    for n in "${names[@]}"; do [[ "$n" == odoo ]] && stop_background "$n"; done
    return 0
}

# ---------------------------------------------------------------------------------------------
# Environment checks: cheap, no installs, no side effects on running processes. Exit 2 on failure.
# ---------------------------------------------------------------------------------------------
check_db_name() {
    local db="$1" what="${2:-MFG_DB}"
    if ! [[ "$db" =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ ]]; then
        die_env "The database name '$db' (from $what) is not valid: use letters, digits, '_', '.' or '-', starting with a letter or digit."
    fi
}

# Sets PYTHON_BIN to a Python 3.11 interpreter.
check_python() {
    local out version
    if ! PYTHON_BIN="$(command -v "$MFG_PYTHON" 2>/dev/null)"; then
        die_env "Python 3.11 was not found as '$MFG_PYTHON': install python3.11 (with its venv module) or set MFG_PYTHON to a Python 3.11 interpreter."
    fi
    out="$("$PYTHON_BIN" --version 2>&1 || true)"
    version="$(printf '%s' "$out" | grep -oE '[0-9]+\.[0-9]+' | head -n 1 || true)"
    if [[ "$version" != "3.11" ]]; then
        die_env "Python 3.11 is required but '$MFG_PYTHON' is version ${version:-unknown}: install python3.11 or set MFG_PYTHON to a Python 3.11 interpreter."
    fi
}

_is_odoo18_tree() {
    [[ -f "$1/odoo/release.py" && -d "$1/addons" ]] &&
        grep -qE '^version_info = \(18, 0,' "$1/odoo/release.py"
}

# Sets ODOO_SRC. An explicit ODOO_SRC must be valid: we never clone in its place.
check_odoo_src() {
    if [[ -n "${ODOO_SRC:-}" ]]; then
        if ! _is_odoo18_tree "$ODOO_SRC"; then
            die_env "No Odoo 18.0 source tree at ODOO_SRC=$ODOO_SRC: point ODOO_SRC at a checkout of the odoo 18.0 branch (it must contain odoo/release.py and addons/)."
        fi
        ODOO_SRC="$(cd "$ODOO_SRC" && pwd)"
        ODOO_SRC_NEEDS_CLONE=0
        return 0
    fi
    if _is_odoo18_tree "$DEFAULT_ODOO_SRC"; then
        ODOO_SRC="$DEFAULT_ODOO_SRC"
        ODOO_SRC_NEEDS_CLONE=0
        return 0
    fi
    local clone_dir="$RUN_DIR/odoo-src"
    if _is_odoo18_tree "$clone_dir"; then
        ODOO_SRC="$clone_dir"
        ODOO_SRC_NEEDS_CLONE=0
        return 0
    fi
    if ! command -v git >/dev/null 2>&1 ||
        ! timeout 10 git ls-remote --heads "$ODOO_GIT_URL" 18.0 >/dev/null 2>&1; then
        die_env "No Odoo 18.0 source found at $DEFAULT_ODOO_SRC and $ODOO_GIT_URL is not reachable: put a checkout of the odoo 18.0 branch there or set ODOO_SRC to its path."
    fi
    ODOO_SRC="$clone_dir"
    ODOO_SRC_NEEDS_CLONE=1
}

clone_odoo_src_if_needed() {
    [[ "${ODOO_SRC_NEEDS_CLONE:-0}" == 1 ]] || return 0
    info "cloning Odoo 18.0 (shallow) into run/odoo-src; this takes a few minutes"
    rm -rf "$ODOO_SRC.partial"
    git clone --quiet --depth 1 -b 18.0 "$ODOO_GIT_URL" "$ODOO_SRC.partial" ||
        die "Cloning Odoo 18.0 from $ODOO_GIT_URL failed; set ODOO_SRC to an existing checkout instead."
    mv "$ODOO_SRC.partial" "$ODOO_SRC"
    ODOO_SRC_NEEDS_CLONE=0
}

# True if something other than our own process NAME holds TCP PORT on this machine.
# NAME's port is recorded in run/pids/NAME.port when it is started (see start_odoo in run.sh).
port_busy() {
    local port="$1" name="$2"
    if is_running "$name" && [[ "$(cat "$PID_DIR/$name.port" 2>/dev/null)" == "$port" ]]; then
        return 1
    fi
    # Odoo listens on all interfaces: try the same bind it will do.
    ! "${PYTHON_BIN:-python3}" - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# check_port PORT NAME VARIABLE [WAIT_SECONDS]: WAIT_SECONDS lets a process that is just exiting
# (e.g. a server of the previous test run) free the port before we give up.
check_port() {
    local port="$1" name="$2" var="$3" wait="${4:-0}" waited=0
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        die_env "The port '$port' (from $var) is not a valid TCP port number."
    fi
    while port_busy "$port" "$name" && ((waited < wait)); do
        sleep 1
        waited=$((waited + 1))
    done
    if port_busy "$port" "$name"; then
        die_env "Port $port is already in use by another program: stop that program or choose another port with $var=<port>."
    fi
}

# External PostgreSQL (MFG_DB_HOST/MFG_DB_PORT set): check it answers. Local: nothing to check yet.
check_postgres_reachable() {
    ((PG_EXTERNAL)) || return 0
    local ok=0
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$MFG_DB_HOST" -p "$MFG_DB_PORT" -t 3 && ok=1
    else
        timeout 3 bash -c "exec 3<>/dev/tcp/$MFG_DB_HOST/$MFG_DB_PORT" 2>/dev/null && ok=1
    fi
    if ((!ok)); then
        die_env "PostgreSQL is not reachable at $MFG_DB_HOST:$MFG_DB_PORT: start it, fix MFG_DB_HOST/MFG_DB_PORT, or unset both to use the local PostgreSQL."
    fi
}

# All checks that must pass before we install or start anything.
check_environment() {
    check_db_name "$MFG_DB" MFG_DB
    check_db_name "$MFG_TEST_DB" MFG_TEST_DB
    check_python
    check_odoo_src
    check_postgres_reachable
}

# ---------------------------------------------------------------------------------------------
# System packages and services
# ---------------------------------------------------------------------------------------------
_apt_updated=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        die_env "The package(s) $* are missing and this machine has no apt-get: install them with your system's package manager."
    fi
    if [[ "$(id -u)" != 0 ]]; then
        die_env "The package(s) $* are missing: install them (sudo apt-get install -y $*) or run this script as root."
    fi
    info "installing Debian package(s): $*"
    if ((!_apt_updated)); then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 ||
            die "apt-get update failed; see run/logs/apt.log."
        _apt_updated=1
    fi
    # 9>&-: a package's install script may start its server (PostgreSQL, Mosquitto); it must
    # not inherit run/.run.lock's descriptor (see ensure_postgres).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$LOG_DIR/apt.log" 2>&1 9>&- ||
        die "Installing $* with apt-get failed; see run/logs/apt.log."
}

# Export libpq variables so psql/createdb/dropdb reach the same server as Odoo.
pg_env() {
    export PGUSER="$MFG_DB_USER"
    if ((PG_EXTERNAL)); then
        export PGHOST="$MFG_DB_HOST" PGPORT="$MFG_DB_PORT"
        [[ -n "${MFG_DB_PASSWORD:-}" ]] && export PGPASSWORD="$MFG_DB_PASSWORD"
    else
        unset PGHOST PGPORT
    fi
    return 0
}

_as_postgres() {
    # Our PGUSER (this OS user) must not leak into commands run as the postgres superuser.
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- env -u PGUSER -u PGPASSWORD "$@"
    else
        sudo -n -u postgres env -u PGUSER -u PGPASSWORD "$@"
    fi
}

ensure_postgres() {
    pg_env
    if ((PG_EXTERNAL)); then
        psql -d postgres -tAc 'select 1' >/dev/null 2>&1 ||
            die_env "PostgreSQL at $MFG_DB_HOST:$MFG_DB_PORT refuses user '$MFG_DB_USER': create that role with CREATEDB or set MFG_DB_USER/MFG_DB_PASSWORD."
        return 0
    fi
    if ! command -v pg_lsclusters >/dev/null 2>&1; then
        apt_install postgresql postgresql-client
    fi
    local version cluster status
    if [[ -z "$(pg_lsclusters -h 2>/dev/null)" ]]; then
        die_env "PostgreSQL is installed but has no cluster: create one with pg_createcluster --start <version> main."
    fi
    # Start every local cluster that is down (normally just one: <version> main).
    while read -r version cluster _ status _; do
        if [[ "$status" != online* ]]; then
            info "starting PostgreSQL $version/$cluster"
            # 9>&-: the server must not inherit run/.run.lock's descriptor, or it would hold
            # the lock for as long as it runs and every later run.sh / test.sh would wait.
            pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start 9>&- ||
                die "PostgreSQL $version/$cluster did not start; see /var/log/postgresql/postgresql-$version-$cluster.log."
        fi
    done < <(pg_lsclusters -h)
    local tries=0
    until pg_isready -q -t 2; do
        ((tries++ < 15)) || die "The local PostgreSQL does not accept connections; see /var/log/postgresql/."
        sleep 1
    done
    # Odoo refuses to run as 'postgres': use a role named after this OS user, allowed to create databases.
    if ! psql -d postgres -tAc 'select 1' >/dev/null 2>&1; then
        info "creating the PostgreSQL role '$MFG_DB_USER' (may create databases)"
        _as_postgres createuser --createdb "$MFG_DB_USER" ||
            die_env "Could not create the PostgreSQL role '$MFG_DB_USER': ask an administrator to run: sudo -u postgres createuser --createdb $MFG_DB_USER"
    fi
}

# Mosquitto on 127.0.0.1:$MFG_MQTT_PORT: reuse whatever already listens there, else start ours.
ensure_mosquitto() {
    if is_running mosquitto; then
        return 0
    fi
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MFG_MQTT_PORT" 2>/dev/null; then
        info "an MQTT broker already listens on 127.0.0.1:$MFG_MQTT_PORT; using it"
        return 0
    fi
    if ! command -v mosquitto >/dev/null 2>&1 && [[ ! -x /usr/sbin/mosquitto ]]; then
        apt_install mosquitto
    fi
    local bin conf="$RUN_DIR/mosquitto.conf" store="$RUN_DIR/mosquitto"
    bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
    mkdir -p "$store"
    # QoS 1 messages queued for the edge agent's persistent session must survive a broker
    # restart (persistence) and must never be dropped while the agent is away: Mosquitto's
    # default max_queued_messages (1000) drops the rest silently.
    cat >"$conf" <<EOF
# Written by setup/run.sh: a local broker for the edge agent and the tests.
listener $MFG_MQTT_PORT 127.0.0.1
allow_anonymous true
user $(id -un)
persistence true
persistence_location $store/
autosave_interval 30
max_queued_messages 0
max_inflight_messages 20
log_dest stderr
log_type error
log_type warning
log_type notice
EOF
    start_background mosquitto "$bin" -c "$conf" || die "Mosquitto did not start; see run/logs/mosquitto.log."
    local tries=0
    until timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MFG_MQTT_PORT" 2>/dev/null; do
        ((tries++ < 50)) || die "Mosquitto does not listen on 127.0.0.1:$MFG_MQTT_PORT; see run/logs/mosquitto.log."
        sleep 0.1
    done
}

# Headless Chromium: Odoo's browser tests (the exception queue tour) and the README
# screenshots drive it. Installed once with apt-get when no Chrome/Chromium is on the PATH.
ensure_chromium() {
    local bin
    for bin in chromium chromium-browser google-chrome google-chrome-stable; do
        command -v "$bin" >/dev/null 2>&1 && return 0
    done
    apt_install chromium
}

# promtool checks the operator kit's alert rules (docs/operator/alerts.yml) in the test suite.
ensure_promtool() {
    # Only the promtool binary (a static Go program), taken out of Debian's prometheus package
    # into run/tools/bin: installing the package would also enable a Prometheus server.
    local dir="$RUN_DIR/tools" deb
    [[ -x "$dir/bin/promtool" ]] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        warn "no apt-get: the alert rules' promtool tests will be skipped (install promtool to run them)."
        return 0
    fi
    info "fetching promtool (from Debian's prometheus package, not installed) into run/tools/bin"
    rm -rf "$dir/deb" && mkdir -p "$dir/deb" "$dir/bin"
    if ((!_apt_updated)) && [[ "$(id -u)" == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$LOG_DIR/apt.log" 2>&1 || true
        _apt_updated=1
    fi
    if ! (cd "$dir/deb" && apt-get download prometheus >>"$LOG_DIR/apt.log" 2>&1); then
        warn "could not download Debian's prometheus package (see run/logs/apt.log): the promtool tests will be skipped."
        return 0
    fi
    deb="$(ls "$dir"/deb/prometheus_*.deb | head -n 1)"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/deb" ./usr/bin/promtool &&
        mv "$dir/deb/usr/bin/promtool" "$dir/bin/promtool" ||
        warn "promtool could not be extracted from $deb: the promtool tests will be skipped."
    rm -rf "$dir/deb"
}

# ---------------------------------------------------------------------------------------------
# Python environments
# ---------------------------------------------------------------------------------------------

# queue_job releases from 18.0.1.7.1 on need @api.private, which older 18.0 sources lack.
queue_job_pin() {
    if grep -q "def private" "$ODOO_SRC/odoo/api.py"; then
        grep -E '^odoo-addon-queue_job==' "$REQ_PROJECT" | head -n 1
    else
        echo "odoo-addon-queue_job==18.0.1.7.0.1"
    fi
}

install_fingerprint() {
    {
        echo "python=$("$PYTHON_BIN" --version 2>&1)"
        echo "odoo_src=$ODOO_SRC"
        echo "queue_job=$(queue_job_pin)"
        sha256sum "$REQ_ODOO" "$REQ_PROJECT" "$CONSTRAINTS_ODOO"
        if [[ -f "$EDGE_PYPROJECT" ]]; then sha256sum "$EDGE_PYPROJECT" "$EDGE_CONSTRAINTS"; else echo "edge=absent"; fi
    } | sha256sum | cut -d' ' -f1
}

_pip() {
    local venv="$1"
    shift
    "$venv/bin/pip" --disable-pip-version-check --no-input "$@" >>"$LOG_DIR/pip.log" 2>&1 ||
        die "pip install failed ($*); see run/logs/pip.log."
}

install_python_envs() {
    local fp
    fp="$(install_fingerprint)"
    EDGE_PRESENT=0
    [[ -f "$EDGE_PYPROJECT" ]] && EDGE_PRESENT=1
    if [[ -f "$INSTALL_STAMP" && "$(cat "$INSTALL_STAMP")" == "$fp" && -x "$VENV/bin/odoo" ]] &&
        { ((!EDGE_PRESENT)) || [[ -x "$EDGE_VENV/bin/python" ]]; }; then
        info "Python environments are up to date (nothing to install)"
        return 0
    fi
    local t0
    t0="$(now_s)"
    rm -f "$INSTALL_STAMP"
    info "installing Odoo and the project's Python packages into .venv (log: run/logs/pip.log)"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON_BIN" -m venv "$VENV" ||
        die_env "Could not create a virtualenv with $PYTHON_BIN: install the python3.11-venv package."
    _pip "$VENV" install -U pip setuptools wheel
    # The exact versions of the whole set (setup/constraints-odoo.txt), the set the tests run on;
    # it leaves out odoo itself and queue_job, whose release queue_job_pin chooses.
    _pip "$VENV" install -r "$REQ_ODOO" -c "$CONSTRAINTS_ODOO"
    _pip "$VENV" install --no-deps --no-build-isolation -e "$ODOO_SRC" --config-settings editable_mode=compat
    # The project requirements come after Odoo: queue_job's wheel requires odoo==18.0.*.
    local req="$RUN_DIR/requirements-project.effective.txt"
    sed -E "s/^odoo-addon-queue_job==.*/$(queue_job_pin)/" "$REQ_PROJECT" >"$req"
    _pip "$VENV" install -r "$req" -c "$CONSTRAINTS_ODOO"
    if ((EDGE_PRESENT)); then
        info "installing the edge agent into .venv-edge"
        [[ -x "$EDGE_VENV/bin/python" ]] || "$PYTHON_BIN" -m venv "$EDGE_VENV" ||
            die_env "Could not create a virtualenv with $PYTHON_BIN: install the python3.11-venv package."
        _pip "$EDGE_VENV" install -U pip setuptools wheel
        # The gateway's exact versions (edge_agent/constraints.txt): the tests run on them.
        _pip "$EDGE_VENV" install -e "$REPO_ROOT/edge_agent[test]" -c "$EDGE_CONSTRAINTS"
    else
        info "skipped: edge_agent not present (no edge_agent/pyproject.toml), no .venv-edge"
    fi
    printf '%s\n' "$fp" >"$INSTALL_STAMP"
    info "Python environments ready in $(($(now_s) - t0)) s"
}

# ---------------------------------------------------------------------------------------------
# Odoo configuration
# ---------------------------------------------------------------------------------------------
ensure_admin_passwd() {
    if [[ ! -s "$ADMIN_PASSWD_FILE" ]]; then
        (
            umask 077
            python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$ADMIN_PASSWD_FILE"
        )
    fi
    chmod 600 "$ADMIN_PASSWD_FILE"
}

addons_path() {
    local path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons"
    # Odoo refuses an addons_path entry that does not exist.
    [[ -d "$REPO_ROOT/addons" ]] && path="$path,$REPO_ROOT/addons"
    [[ -n "$MFG_EXTRA_ADDONS_PATH" ]] && path="$path,$MFG_EXTRA_ADDONS_PATH"
    printf '%s' "$path"
}

# write_odoo_conf FILE MODE: MODE is "run" (the demo server) or "test" (pytest-odoo, test database).
write_odoo_conf() {
    local file="$1" mode="$2" tmp
    ensure_admin_passwd
    tmp="$(mktemp "$RUN_DIR/.conf.XXXXXX")"
    chmod 600 "$tmp"
    {
        echo "; Written by setup/run.sh; edits are overwritten on the next run."
        echo "[options]"
        echo "addons_path = $(addons_path)"
        echo "data_dir = $DATA_DIR"
        echo "admin_passwd = $(cat "$ADMIN_PASSWD_FILE")"
        echo "db_host = ${MFG_DB_HOST:-False}"
        echo "db_port = ${MFG_DB_PORT:-False}"
        echo "db_user = $MFG_DB_USER"
        echo "db_password = ${MFG_DB_PASSWORD:-False}"
        echo "list_db = False"
        echo "server_wide_modules = base,web,queue_job"
        if [[ "$mode" == run ]]; then
            echo "db_name = $MFG_DB"
            echo "dbfilter = ^$MFG_DB\$"
            echo "http_port = $MFG_HTTP_PORT"
            echo "gevent_port = $((MFG_HTTP_PORT + 3))"
            echo "workers = 2"
            echo "max_cron_threads = 1"
            echo "logfile = $LOG_DIR/odoo.log"
            echo "without_demo = False"
        else
            echo "http_port = $MFG_TEST_HTTP_PORT"
            echo "gevent_port = $((MFG_TEST_HTTP_PORT + 3))"
            echo "workers = 0"
            echo "max_cron_threads = 0"
            echo "without_demo = all"
        fi
        echo
        echo "[queue_job]"
        echo "channels = root:2"
    } >"$tmp"
    mv "$tmp" "$file"
}

# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------
db_exists() {
    [[ "$(psql -d postgres -tAc "select 1 from pg_database where datname = '$1'")" == 1 ]]
}

# Prints "name state" for each of the given comma-separated modules present in DB.
module_states() {
    local db="$1" modules="$2" list
    list="'${modules//,/\',\'}'"
    psql -d "$db" -tA -F ' ' -c "select name, state from ir_module_module where name in ($list)" 2>/dev/null
}

drop_db() {
    local db="$1"
    db_exists "$db" || return 0
    psql -d postgres -q -c "select pg_terminate_backend(pid) from pg_stat_activity where datname = '$db' and pid <> pg_backend_pid()" >/dev/null 2>&1 || true
    dropdb --if-exists "$db" || die "Could not drop the database $db."
    rm -rf "${DATA_DIR:?}/filestore/$db"
}

# Directories of the modules under test, found on the addons path.
module_dirs() {
    local module dir found
    IFS=',' read -r -a modules <<<"$MFG_MODULES"
    IFS=',' read -r -a dirs <<<"$(addons_path)"
    for module in "${modules[@]}"; do
        found=""
        for dir in "${dirs[@]}"; do
            if [[ -f "$dir/$module/__manifest__.py" ]]; then
                found="$dir/$module"
                break
            fi
        done
        [[ -n "$found" ]] && printf '%s\n' "$found"
    done
    return 0
}

# Hash of the files of the modules we install (what -u would change), to skip needless upgrades.
addons_tree_hash() {
    local dirs=()
    mapfile -t dirs < <(module_dirs)
    {
        echo "$MFG_MODULES"
        ((${#dirs[@]} == 0)) ||
            find "${dirs[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
            sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------------------------------------
# The SAP emulator (sap_emulator/ at the repository root): the demo's SAP S/4HANA when no real
# SAP is configured. On 127.0.0.1:MFG_SAP_EMULATOR_PORT (default 8078), sap-client 100, Basic
# user MFG_COMM_USER with a random password made once in run/sap/emulator_password (mode 600);
# its data in run/sap/emulator.sqlite, kept across restarts (delete the file to start afresh).
# MFG_SAP_EMULATOR=0 starts none; so does a demo SAP system (sap_s4) pointing elsewhere.
# ---------------------------------------------------------------------------------------------
SAP_DIR="$RUN_DIR/sap"
# A demo system that still points at a local emulator on another port (the demo data's default)
# is pointed at the port this run uses: demo_endpoint_to_port SYSTEM_CODE COLUMN PATH PORT.
# A system an admin pointed anywhere else is left alone.
demo_endpoint_to_port() {
    local code="$1" column="$2" path="$3" port="$4" current wanted
    current="$(psql -d "$MFG_DB" -tAc \
        "select $column from mfg_integration_system where code = '$code'" 2>/dev/null || true)"
    wanted="http://127.0.0.1:$port$path"
    if [[ "$current" =~ ^http://127\.0\.0\.1:[0-9]+(/.*)?$ && "${BASH_REMATCH[1]}" == "$path" &&
        "$current" != "$wanted" ]]; then
        psql -d "$MFG_DB" -qc \
            "update mfg_integration_system set $column = '$wanted' where code = '$code'" >/dev/null &&
            info "the demo system $code now points at $wanted"
    fi
}

start_sap_emulator() {
    local port="${MFG_SAP_EMULATOR_PORT:-8078}" root
    if [[ "${MFG_SAP_EMULATOR:-1}" == 0 ]]; then
        info "MFG_SAP_EMULATOR=0: no SAP emulator"
        return 0
    fi
    demo_endpoint_to_port sap_s4 sap_service_root /sap/opu/odata/sap/ "$port"
    root="$(psql -d "$MFG_DB" -tAc \
        "select sap_service_root from mfg_integration_system where code = 'sap_s4'" 2>/dev/null || true)"
    if [[ -n "$root" && "$root" != "http://127.0.0.1:$port/"* ]]; then
        info "the demo SAP system (sap_s4) points at $root: no SAP emulator"
        return 0
    fi
    if is_running sap-emulator; then
        return 0
    fi
    if port_busy "$port" sap-emulator; then
        warn "port $port (SAP emulator, MFG_SAP_EMULATOR_PORT) is used by another program: no SAP emulator."
        return 0
    fi
    mkdir -p "$SAP_DIR"
    chmod 700 "$SAP_DIR"
    if [[ ! -s "$SAP_DIR/emulator_password" ]]; then
        (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' \
            >"$SAP_DIR/emulator_password.new")
        mv "$SAP_DIR/emulator_password.new" "$SAP_DIR/emulator_password"
    fi
    chmod 600 "$SAP_DIR/emulator_password"
    # from the repository root, where python -m finds sap_emulator/
    if ! (cd "$REPO_ROOT" && start_background sap-emulator "$VENV/bin/python" -m sap_emulator \
        --host 127.0.0.1 --port "$port" --seed 42 --state "$SAP_DIR/emulator.sqlite" \
        --sap-client 100 --user MFG_COMM_USER --password-file "$SAP_DIR/emulator_password"); then
        warn "the SAP emulator did not start; see run/logs/sap-emulator.log."
        return 0
    fi
    printf '%s\n' "$port" >"$PID_DIR/sap-emulator.port"
}
