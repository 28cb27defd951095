#!/usr/bin/env bash
# The main job: install what is missing, start PostgreSQL, Mosquitto and Odoo with the demo database.
# Run ./setup/run.sh --help for the commands and settings.
set -euo pipefail

# shellcheck source=setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
Usage: setup/run.sh [start|install|stop|status|--help]

  start    (default) install what is missing, start PostgreSQL and Mosquitto, create or
           upgrade the database $MFG_DB with our addons and demo data, start Odoo and wait
           until it answers. Safe to run again: it reuses what is already there.
  install  only the installation part (Python environments, PostgreSQL, Mosquitto); no Odoo.
  stop     stop the processes this script started (pid files in run/pids/).
  status   show what is running.

Settings (environment variables):
  ODOO_SRC            Odoo 18.0 source tree (default /opt/odoo/18.0, else a shallow clone
                      from GitHub when reachable). When set, it must exist: no clone.
  MFG_DB              database name (default mfg_demo)
  MFG_HTTP_PORT       Odoo HTTP port (default 8069)
  MFG_PYTHON          Python 3.11 interpreter used for the virtualenvs (default python3.11)
  MFG_DB_HOST, MFG_DB_PORT
                      use an external PostgreSQL at this address (not started by this script);
                      unset, the local PostgreSQL is used over its unix socket and started if needed.
  MFG_DB_USER, MFG_DB_PASSWORD
                      PostgreSQL login (default: a role named after the current OS user)
  MFG_MQTT_PORT       local MQTT broker port (default 1883)
  MFG_OPCUA_PORT      the plant simulator's OPC-UA port (default 4840)
  MFG_EDGE_METRICS_PORT  the edge agent's /metrics and /healthz port (default 9464)
  MFG_SAP_EMULATOR_PORT  the SAP emulator's port (default 8078); MFG_SAP_EMULATOR=0: none
  MFG_MES_WEBHOOK_PORT   the simulated MES's webhook port (default 8075)
                      (the demo MES and SAP systems are pointed at these two ports while they
                      still point at 127.0.0.1)
  MFG_PARTNERS_PORT   the partner emulator's webhook port (default 8076): the demo's supplier
                      portal, CMMS, WMS and CRM (mfg-edge partners); MFG_PARTNERS=0: none (and
                      those systems stop receiving Odoo's events)
  MFG_HEALTH_TIMEOUT  seconds to wait for Odoo to answer (default 120)
  MFG_FORCE_UPGRADE=1 upgrade our addons even when their files did not change
  MFG_MODULES         modules to install and test (default: every addon in addons/)
  MFG_EXTRA_ADDONS_PATH
                      more addons directories, comma separated, appended to addons_path

Files: run/odoo.conf (Odoo config), run/logs/ (logs), run/pids/ (pid files), run/data/ (filestore).
Exit codes: 0 ok, 1 a step failed (see the log it names), 2 the environment needs fixing.
EOF
}

# Create the database with our addons and demo data, or upgrade our addons if their files changed.
prepare_database() {
    local log="$LOG_DIR/odoo-install.log" states to_install=() to_upgrade=() name state hash
    local hash_file="$RUN_DIR/addons.$MFG_DB.sha256"
    hash="$(addons_tree_hash)"
    if db_exists "$MFG_DB"; then
        states="$(module_states "$MFG_DB" "$MFG_MODULES")"
        local module
        IFS=',' read -r -a wanted <<<"$MFG_MODULES"
        for module in "${wanted[@]}"; do
            state="$(awk -v m="$module" '$1==m{print $2}' <<<"$states")"
            if [[ "$state" == installed || "$state" == "to upgrade" ]]; then
                to_upgrade+=("$module")
            else
                to_install+=("$module")
            fi
        done
        if ((${#to_install[@]} == 0)) && [[ -f "$hash_file" && "$(cat "$hash_file")" == "$hash" ]] &&
            [[ "${MFG_FORCE_UPGRADE:-0}" != 1 ]]; then
            info "database $MFG_DB is up to date (addons unchanged since the last upgrade)"
            return 0
        fi
        if [[ "$(psql -d "$MFG_DB" -tAc "select demo from ir_module_module where name = 'base'" 2>/dev/null)" != t ]]; then
            warn "database $MFG_DB was created without demo data; drop it (dropdb $MFG_DB) and run again to get the demo."
        fi
    else
        to_install=("${wanted_all[@]}")
        # a new database: the plant side's state of a dropped one is set aside by
        # retire_stale_plant_state once the new database has its uuid
        NEW_DATABASE=1
    fi
    local args=() t0
    t0="$(now_s)"
    if ((${#to_install[@]})); then
        args+=(-i "$(
            IFS=,
            echo "${to_install[*]}"
        )")
    fi
    if ((${#to_upgrade[@]})); then
        args+=(-u "$(
            IFS=,
            echo "${to_upgrade[*]}"
        )")
    fi
    if db_exists "$MFG_DB"; then
        info "updating database $MFG_DB (${args[*]}); log: run/logs/odoo-install.log"
    else
        info "creating database $MFG_DB with our addons and demo data; this takes a few minutes (log: run/logs/odoo-install.log)"
    fi
    rm -f "$hash_file"
    if ! "$VENV/bin/odoo" -c "$ODOO_CONF" -d "$MFG_DB" "${args[@]}" --stop-after-init \
        --workers=0 --max-cron-threads=0 --http-port="$MFG_HTTP_PORT" --no-http \
        --logfile="$log" </dev/null; then
        tail -n 40 "$log" >&2 || true
        die "Installing our addons into $MFG_DB failed; the lines above are the end of run/logs/odoo-install.log."
    fi
    if ! db_ok_after_install; then
        tail -n 40 "$log" >&2 || true
        die "Installing our addons into $MFG_DB failed; the lines above are the end of run/logs/odoo-install.log."
    fi
    printf '%s\n' "$hash" >"$hash_file"
    info "database $MFG_DB ready in $(($(now_s) - t0)) s"
}

# True if all our modules are installed in MFG_DB.
db_ok_after_install() {
    local states count
    states="$(module_states "$MFG_DB" "$MFG_MODULES")"
    count="$(awk '$2=="installed"' <<<"$states" | wc -l)"
    IFS=',' read -r -a wanted_all <<<"$MFG_MODULES"
    ((count == ${#wanted_all[@]}))
}

health_ok() {
    "$VENV/bin/python" - "http://127.0.0.1:$MFG_HTTP_PORT/web/health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
}

wait_for_health() {
    local url="http://127.0.0.1:$MFG_HTTP_PORT/web/health" deadline
    deadline=$(($(now_s) + MFG_HEALTH_TIMEOUT))
    while (($(now_s) < deadline)); do
        if ! is_running odoo; then
            tail -n 30 "$LOG_DIR/odoo.log" >&2 2>/dev/null || true
            die "Odoo stopped while starting; see run/logs/odoo.log (its last lines are above)."
        fi
        if health_ok; then
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$LOG_DIR/odoo.log" >&2 2>/dev/null || true
    die "Odoo did not answer on $url within ${MFG_HEALTH_TIMEOUT} s; see run/logs/odoo.log (its last lines are above)."
}

# The plant side's state (the edge agent's buffer, the simulated MES's orders) belongs to one
# database. When the demo database was dropped and created again, the state of the previous
# one is set aside (kept under run/edge/previous-<its uuid>/, not deleted), so that messages
# still buffered for the old database do not reach the new one as orders it never had.
retire_stale_plant_state() {
    local edge_dir="$RUN_DIR/edge" uuid recorded aside item
    uuid="$(psql -d "$MFG_DB" -tAc \
        "select value from ir_config_parameter where key = 'database.uuid'" 2>/dev/null)" || return 0
    [[ -n "$uuid" ]] || return 0
    mkdir -p "$edge_dir"
    chmod 700 "$edge_dir"
    recorded="$(cat "$edge_dir/database.uuid" 2>/dev/null || true)"
    # state without a recorded database (written before run.sh recorded it) belongs to the
    # dropped one when the database was just created
    if [[ -z "$recorded" && "${NEW_DATABASE:-0}" == 1 ]] &&
        [[ -e "$edge_dir/data" || -e "$edge_dir/mes_orders.json" ]]; then
        recorded="unknown-$(date +%Y%m%d%H%M%S)"
    fi
    if [[ -n "$recorded" && "$recorded" != "$uuid" ]]; then
        aside="$edge_dir/previous-${recorded:0:23}"
        info "$MFG_DB is a new database: the edge agent's buffer and the simulated MES's orders of the previous one are set aside in ${aside#"$REPO_ROOT"/}"
        stop_background edge-agent
        stop_background simulator
        mkdir -p "$aside"
        for item in data mes_orders.json; do
            if [[ -e "$edge_dir/$item" ]]; then
                rm -rf "${aside:?}/$item"
                mv "$edge_dir/$item" "$aside/"
            fi
        done
    fi
    printf '%s\n' "$uuid" >"$edge_dir/database.uuid"
}

# One call per background service; the edge agent and the plant simulator are added the same way.
start_odoo() {
    start_background odoo "$VENV/bin/odoo" -c "$ODOO_CONF" --pidfile="$PID_DIR/odoo.pid" ||
        die "Odoo did not start; see run/logs/odoo.log."
    printf '%s\n' "$MFG_HTTP_PORT" >"$PID_DIR/odoo.port"
    sha256sum <"$ODOO_CONF" >"$PID_DIR/odoo.conf.sha256"
}

# The plant simulator: OPC-UA machines, and a MES that receives the orders Odoo releases (its
# webhook on 127.0.0.1:$MFG_MES_WEBHOOK_PORT, signed with the demo MES system's secret) and runs
# them, reporting over MQTT. Started before Odoo, so the first releases find it listening; its
# lines wait for the edge agent, so nothing is published before the gateway subscribed.
MES_WEBHOOK_PORT="${MFG_MES_WEBHOOK_PORT:-8075}"
start_simulator() {
    if [[ ! -x "$EDGE_VENV/bin/mfg-edge" ]]; then
        return 0
    fi
    local edge_dir="$RUN_DIR/edge" secret_file="$RUN_DIR/edge/mes_webhook_secret" secret
    local before after mes_args=()
    mkdir -p "$edge_dir"
    chmod 700 "$edge_dir"
    secret="$(psql -d "$MFG_DB" -tAc \
        "select signing_secret from mfg_integration_system where code = 'plant1_mes'" 2>/dev/null || true)"
    before="$(sha256sum "$secret_file" 2>/dev/null || true)"
    if [[ -n "$secret" ]]; then
        (umask 077 && printf '%s\n' "$secret" >"$secret_file.new")
        mv "$secret_file.new" "$secret_file"
        mes_args=(--mes-secret-file "$secret_file" --mes-state "$edge_dir/mes_orders.json"
            --wait-for "http://127.0.0.1:$MFG_EDGE_METRICS_PORT/healthz")
    else
        warn "the demo MES system (plant1_mes) has no signing secret: the simulator runs without its MES."
        mes_args=(--mes-port -1)
    fi
    after="$(sha256sum "$secret_file" 2>/dev/null || true)"
    if [[ "$before" != "$after" ]] && is_running simulator; then
        info "restarting the plant simulator with the MES's new signing secret"
        stop_background simulator
    fi
    if is_running simulator; then
        return 0
    fi
    if port_busy "$MFG_OPCUA_PORT" simulator; then
        warn "port $MFG_OPCUA_PORT (OPC-UA simulator, MFG_OPCUA_PORT) is used by another program: no simulator."
        return 0
    fi
    if [[ "${mes_args[0]}" != --mes-port ]] && port_busy "$MES_WEBHOOK_PORT" simulator; then
        warn "port $MES_WEBHOOK_PORT (the simulator's MES webhook, MFG_MES_WEBHOOK_PORT) is used by another program: the simulator runs without its MES, and Odoo's releases wait in the outbox."
        mes_args=(--mes-port -1)
    fi
    if [[ "${mes_args[0]}" != --mes-port ]]; then
        mes_args+=(--mes-port "$MES_WEBHOOK_PORT")
        demo_endpoint_to_port plant1_mes outbound_url '/mes/events' "$MES_WEBHOOK_PORT"
    fi
    # from edge_agent/, so this checkout's simulator runs (python -m finds mfg_edge there first)
    (cd "$REPO_ROOT/edge_agent" && start_background simulator "$EDGE_VENV/bin/python" -m mfg_edge.cli \
        simulate --mqtt-host 127.0.0.1 --mqtt-port "$MFG_MQTT_PORT" --opcua-port "$MFG_OPCUA_PORT" \
        "${mes_args[@]}") || warn "the plant simulator did not start; see run/logs/simulator.log."
}

# The edge agent that relays the simulator's data to Odoo as the demo gateway (plant1_gw), so
# the demo shows live data arriving.
start_edge_agent() {
    if [[ ! -x "$EDGE_VENV/bin/mfg-edge" ]]; then
        warn "the edge agent is not installed in .venv-edge: the demo runs without live plant data."
        return 0
    fi
    local edge_dir="$RUN_DIR/edge" key_file="$RUN_DIR/edge/api_key" before after
    mkdir -p "$edge_dir"
    chmod 700 "$edge_dir"
    before="$(sha256sum "$key_file" 2>/dev/null || true)"
    if ! "$VENV/bin/python" "$REPO_ROOT/setup/edge_demo_key.py" \
        "http://127.0.0.1:$MFG_HTTP_PORT" "$MFG_DB" "$key_file"; then
        warn "no API key for the demo edge agent: the demo runs without live plant data."
        return 0
    fi
    after="$(sha256sum "$key_file")"
    # The agent's configuration: the shipped demo, with the key read from a 0600 file (never
    # from the command line or the environment, which other users can see).
    sed -e "s|^  api_key_env: .*|  api_key_file: $key_file|" \
        "$REPO_ROOT/edge_agent/examples/demo.yaml" >"$edge_dir/agent.yaml.new"
    mv "$edge_dir/agent.yaml.new" "$edge_dir/agent.yaml"
    export MFG_EDGE_DIR="$edge_dir" MFG_HTTP_PORT MFG_MQTT_PORT MFG_OPCUA_PORT MFG_EDGE_METRICS_PORT
    if [[ "$before" != "$after" ]] && is_running edge-agent; then
        info "restarting the edge agent with its new API key"
        stop_background edge-agent
    fi
    start_background edge-agent "$EDGE_VENV/bin/mfg-edge" run --config "$edge_dir/agent.yaml" ||
        warn "the edge agent did not start; see run/logs/edge-agent.log."
}

# The partner emulator (mfg-edge partners, edge_agent/mfg_edge/partners/): the demo's supplier
# portal, CMMS, WMS and CRM. Each gets an API key and a signing secret (run/partners/, mode
# 600) and Odoo's outbound events of its flow on 127.0.0.1:MFG_PARTNERS_PORT/<code>/events;
# it answers them and posts its own events every 20-60 s (seed 42). Started once Odoo answers
# (it configures the systems through Odoo). Run from edge_agent/ so this checkout's code runs.
PARTNERS_DIR="$RUN_DIR/partners"
MFG_PARTNERS_PORT="${MFG_PARTNERS_PORT:-8076}"
start_partners() {
    local base="http://127.0.0.1:$MFG_PARTNERS_PORT" odoo_url="http://127.0.0.1:$MFG_HTTP_PORT"
    if [[ "${MFG_PARTNERS:-1}" == 0 ]]; then
        info "MFG_PARTNERS=0: no partner emulator (supplier portal, CMMS, WMS, CRM)"
        stop_background partners
        "$VENV/bin/python" "$REPO_ROOT/setup/partners_demo_setup.py" "$odoo_url" "$MFG_DB" \
            "$PARTNERS_DIR" "$base" --off >/dev/null || true
        return 0
    fi
    if [[ ! -x "$EDGE_VENV/bin/python" ]]; then
        warn "the edge agent's virtualenv is missing: no partner emulator."
        return 0
    fi
    if port_busy "$MFG_PARTNERS_PORT" partners; then
        warn "port $MFG_PARTNERS_PORT (partner emulator, MFG_PARTNERS_PORT) is used by another program: no partner emulator, and the supplier portal, CMMS, WMS and CRM stay seeded only."
        "$VENV/bin/python" "$REPO_ROOT/setup/partners_demo_setup.py" "$odoo_url" "$MFG_DB" \
            "$PARTNERS_DIR" "$base" --off >/dev/null || true
        return 0
    fi
    mkdir -p "$PARTNERS_DIR"
    chmod 700 "$PARTNERS_DIR"
    if ! "$VENV/bin/python" "$REPO_ROOT/setup/partners_demo_setup.py" "$odoo_url" "$MFG_DB" \
        "$PARTNERS_DIR" "$base" >>"$LOG_DIR/partners-setup.log" 2>&1; then
        warn "the demo partner systems could not be connected (see run/logs/partners-setup.log): no partner emulator."
        return 0
    fi
    if ! (cd "$REPO_ROOT/edge_agent" && start_background partners "$EDGE_VENV/bin/python" -m mfg_edge.cli \
        partners --odoo-url "$odoo_url" --database "$MFG_DB" --keys-dir "$PARTNERS_DIR" \
        --port "$MFG_PARTNERS_PORT" --state "$PARTNERS_DIR/state.json" --seed 42); then
        warn "the partner emulator did not start; see run/logs/partners.log."
        return 0
    fi
    printf '%s\n' "$MFG_PARTNERS_PORT" >"$PID_DIR/partners.port"
}

install_everything() {
    mkdir -p "$RUN_DIR" "$PID_DIR" "$LOG_DIR" "$DATA_DIR"
    clone_odoo_src_if_needed
    install_python_envs
    ensure_postgres
    ensure_mosquitto
    ensure_chromium
}

cmd_start() {
    local t0 odoo_was_running=0
    t0="$(now_s)"
    check_environment
    check_port "$MFG_HTTP_PORT" odoo MFG_HTTP_PORT
    # The live-update (websocket) port only degrades the UI when taken: warn, do not stop.
    if port_busy "$((MFG_HTTP_PORT + 3))" odoo-gevent && ! is_running odoo; then
        warn "port $((MFG_HTTP_PORT + 3)) (Odoo's live updates, MFG_HTTP_PORT + 3) is used by another program: Odoo will run without live notifications."
    fi
    exec 9>"$RUN_DIR/.run.lock"
    flock -n 9 || die_env "Another setup/run.sh or setup/test.sh is running in this directory: wait for it to finish."
    install_everything
    write_odoo_conf "$ODOO_CONF" run
    IFS=',' read -r -a wanted_all <<<"$MFG_MODULES"
    local hash_file="$RUN_DIR/addons.$MFG_DB.sha256"
    if is_running odoo; then
        odoo_was_running=1
        if [[ "$(sha256sum <"$ODOO_CONF")" != "$(cat "$PID_DIR/odoo.conf.sha256" 2>/dev/null)" ]]; then
            info "stopping Odoo to restart it with the new settings"
            stop_background odoo
            odoo_was_running=0
        elif db_exists "$MFG_DB" && db_ok_after_install && [[ -f "$hash_file" &&
            "$(cat "$hash_file")" == "$(addons_tree_hash)" && "${MFG_FORCE_UPGRADE:-0}" != 1 ]]; then
            info "Odoo is already running and our addons are unchanged"
        else
            info "stopping Odoo to update the database"
            stop_background odoo
            odoo_was_running=0
        fi
    fi
    if ((!odoo_was_running)); then
        prepare_database
    fi
    retire_stale_plant_state
    start_simulator
    start_sap_emulator
    if ((!odoo_was_running)); then
        start_odoo
    fi
    wait_for_health
    start_edge_agent
    start_partners
    local host
    host="$(hostname -f 2>/dev/null || hostname)"
    echo
    info "Odoo is ready in $(($(now_s) - t0)) s: http://localhost:$MFG_HTTP_PORT  (from other machines: http://$host:$MFG_HTTP_PORT)"
    info "log in as admin / admin (demo database $MFG_DB)"
    info "live plant: Odoo releases orders to the simulator's MES (run/logs/simulator.log), which runs"
    info "  them and reports over MQTT; the edge agent relays to Odoo (run/logs/edge-agent.log,"
    info "  metrics http://127.0.0.1:$MFG_EDGE_METRICS_PORT/metrics); see Manufacturing Integration > Events"
    if is_running partners; then
        info "partner systems: the supplier portal confirms and ships the demo purchase orders, the"
        info "  CMMS runs work orders on Machine M1, the CRM places orders, the WMS ships released"
        info "  deliveries (run/logs/partners.log)"
    fi
    info "stop with: ./setup/run.sh stop    status: ./setup/run.sh status    log: run/logs/odoo.log"
}

cmd_install() {
    check_environment
    exec 9>"$RUN_DIR/.run.lock"
    flock -n 9 || die_env "Another setup/run.sh or setup/test.sh is running in this directory: wait for it to finish."
    install_everything
    write_odoo_conf "$ODOO_CONF" run
    info "installed; start Odoo with ./setup/run.sh"
}

cmd_stop() {
    if [[ -z "$(pid_names)" ]]; then
        info "nothing started by setup/run.sh is running"
        return 0
    fi
    stop_all
}

# conf_value KEY: a value from run/odoo.conf (the settings the running Odoo was started with).
conf_value() {
    [[ -f "$ODOO_CONF" ]] || return 0
    awk -F' *= *' -v k="$1" '$1==k{print $2; exit}' "$ODOO_CONF"
}

cmd_status() {
    info "processes started by setup/run.sh:"
    status_all
    if is_running odoo; then
        MFG_HTTP_PORT="$(conf_value http_port)"
        MFG_DB="$(conf_value db_name)"
        if health_ok; then
            info "Odoo answers on http://localhost:$MFG_HTTP_PORT (database $MFG_DB)"
        else
            info "Odoo runs but does not answer on port $MFG_HTTP_PORT yet"
        fi
    fi
}

main() {
    mkdir -p "$RUN_DIR"
    case "${1:-start}" in
    start) cmd_start ;;
    install) cmd_install ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
