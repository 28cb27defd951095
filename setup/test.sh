#!/usr/bin/env bash
# Every test of the project, with a summary at the end. Exit code 0 only if everything passed.
#
# Suites, in order: lint (ruff, pylint-odoo), odoo (addon tests with pytest-odoo on a throwaway database),
# edge (edge agent, own virtualenv), cross-process (tests/, real processes).
# Settings: see setup/run.sh --help; in addition MFG_TEST_DB (default mfg_test) and
# MFG_TEST_HTTP_PORT (default 8169) so a running demo on 8069 is left alone, and
# MFG_TEST_SUITES (default lint,odoo,edge,cross-process) to run only some suites.
set -euo pipefail

# shellcheck source=setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESULTS_DIR="$RUN_DIR/test-results"
MFG_TEST_SUITES="${MFG_TEST_SUITES:-lint,odoo,edge,cross-process}"
SUITES=()
declare -A S_PASSED=() S_FAILED=() S_SKIPPED=() S_NOTE=()
EXIT_CODE=0

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

record_suite() {
    local name="$1" passed="$2" failed="$3" skipped="$4" note="${5:-}"
    SUITES+=("$name")
    S_PASSED[$name]="$passed"
    S_FAILED[$name]="$failed"
    S_SKIPPED[$name]="$skipped"
    S_NOTE[$name]="$note"
    ((failed == 0)) || EXIT_CODE=1
}

# Prints "tests failed skipped" from a pytest JUnit XML file (failed = failures + errors).
junit_counts() {
    python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests, failed, skipped)
PY
}

# run_pytest_suite NAME EMPTY_IS_FAILURE JUNIT_FILE COMMAND...
run_pytest_suite() {
    local name="$1" empty_fails="$2" junit="$3"
    shift 3
    rm -f "$junit"
    echo
    info "suite $name: $*"
    local rc=0
    "$@" || rc=$?
    local tests=0 failed=0 skipped=0 note=""
    if [[ -s "$junit" ]]; then
        read -r tests failed skipped < <(junit_counts "$junit")
    fi
    case "$rc" in
    0) ;;
    1) ((failed > 0)) || failed=1 ;;
    5)
        if ((empty_fails)); then
            note="collected no tests (counted as a failure: an empty suite is not green)"
            failed=$((failed + 1))
        else
            note="collected no tests"
        fi
        ;;
    *)
        note="pytest stopped with exit code $rc (see its output above)"
        failed=$((failed + 1))
        ;;
    esac
    record_suite "$name" "$((tests - skipped - (failed > tests ? tests : failed)))" "$failed" "$skipped" "$note"
}

suite_lint() {
    echo
    info "suite lint: ruff check . ; ruff format --check . ; pylint-odoo (OCA checks) on addons/"
    local passed=0 failed=0 note=()
    if (cd "$REPO_ROOT" && "$VENV/bin/ruff" check .); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        note+=("ruff check found problems")
    fi
    if (cd "$REPO_ROOT" && "$VENV/bin/ruff" format --check .); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        note+=("ruff format would reformat files (run .venv/bin/ruff format .)")
    fi
    # The OCA checks of pylint-odoo; which ones and why some are off: .pylintrc.
    if (cd "$REPO_ROOT" && "$VENV/bin/pylint" --rcfile=.pylintrc addons/); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        note+=("pylint-odoo found problems (settings in .pylintrc)")
    fi
    record_suite lint "$passed" "$failed" 0 "$(
        IFS=';'
        echo "${note[*]:-}"
    )"
}

template_db_name() {
    local hash
    hash="$(
        {
            cat "$ODOO_SRC/odoo/release.py"
            cat "$REQ_ODOO" "$REQ_PROJECT" "$CONSTRAINTS_ODOO"
            queue_job_pin
            echo "$MFG_BASE_MODULES"
            # The filestore lives in this checkout's run/data: one template per checkout.
            echo "$REPO_ROOT"
        } | sha256sum | cut -c1-12
    )"
    printf 'mfg_tpl_%s' "$hash"
}

# The template database: the standard modules our addons depend on, without demo data. Built
# once per Odoo source and requirements; each test run copies it instead of reinstalling mrp.
ensure_template_db() {
    local tpl="$1" build="${1}_build" log="$LOG_DIR/test-template.log" db
    if db_exists "$tpl"; then
        info "reusing template database $tpl"
        return 0
    fi
    # This checkout's template of an older Odoo source or older requirements is of no further
    # use (other checkouts' templates are theirs).
    local name_file="$RUN_DIR/test-template.name"
    db="$(cat "$name_file" 2>/dev/null || true)"
    if [[ -n "$db" && "$db" != "$tpl" ]] && db_exists "$db"; then
        info "dropping outdated template database $db"
        drop_db "$db"
    fi
    drop_db "$build"
    info "building template database $tpl ($MFG_BASE_MODULES, no demo); about 2 minutes, log: run/logs/test-template.log"
    local t0
    t0="$(now_s)"
    if ! "$VENV/bin/odoo" -c "$ODOO_TEST_CONF" -d "$build" -i "$MFG_BASE_MODULES" \
        --without-demo=all --stop-after-init --no-http --logfile="$log" </dev/null; then
        tail -n 40 "$log" >&2 || true
        return 1
    fi
    local states
    states="$(module_states "$build" queue_job)"
    if [[ "$states" != "queue_job installed" ]]; then
        tail -n 40 "$log" >&2 || true
        return 1
    fi
    psql -d postgres -q -c "alter database \"$build\" rename to \"$tpl\"" || return 1
    printf '%s\n' "$tpl" >"$name_file"
    if [[ -d "$DATA_DIR/filestore/$build" ]]; then
        rm -rf "${DATA_DIR:?}/filestore/$tpl"
        mv "$DATA_DIR/filestore/$build" "$DATA_DIR/filestore/$tpl"
    fi
    info "template database built in $(($(now_s) - t0)) s"
}

cleanup_test_db() {
    pg_env
    drop_db "$MFG_TEST_DB" >/dev/null 2>&1 || true
}

suite_odoo() {
    echo
    info "suite odoo: install $MFG_MODULES into a fresh $MFG_TEST_DB, then pytest-odoo"
    local tpl
    tpl="$(template_db_name)"
    if ! ensure_template_db "$tpl"; then
        record_suite odoo 0 1 0 "building the template database failed (run/logs/test-template.log)"
        return 0
    fi
    drop_db "$MFG_TEST_DB"
    createdb -T "$tpl" "$MFG_TEST_DB"
    if [[ -d "$DATA_DIR/filestore/$tpl" ]]; then
        mkdir -p "$DATA_DIR/filestore"
        cp -a "$DATA_DIR/filestore/$tpl" "$DATA_DIR/filestore/$MFG_TEST_DB"
    fi
    local log="$LOG_DIR/test-install.log" t0
    t0="$(now_s)"
    info "installing $MFG_MODULES into $MFG_TEST_DB (log: run/logs/test-install.log)"
    local ok=1
    "$VENV/bin/odoo" -c "$ODOO_TEST_CONF" -d "$MFG_TEST_DB" -i "$MFG_MODULES" \
        --without-demo=all --stop-after-init --no-http --logfile="$log" </dev/null || ok=0
    local installed wanted
    IFS=',' read -r -a wanted <<<"$MFG_MODULES"
    installed="$(module_states "$MFG_TEST_DB" "$MFG_MODULES" | awk '$2=="installed"' | wc -l)"
    ((installed == ${#wanted[@]})) || ok=0
    if ((!ok)); then
        echo "---- last lines of run/logs/test-install.log ----" >&2
        tail -n 40 "$log" >&2 || true
        record_suite odoo 0 1 0 "installing $MFG_MODULES failed (run/logs/test-install.log)"
        return 0
    fi
    info "addons installed in $(($(now_s) - t0)) s"
    local paths=()
    mapfile -t paths < <(module_dirs)
    info "(pytest-odoo prints an 'Importing test framework' error with a stack at start: harmless)"
    # pytest-odoo turns the variables HOST, PORT, USER and PASSWORD into database settings:
    # keep them from overriding the test configuration.
    run_pytest_suite odoo 1 "$RESULTS_DIR/odoo.xml" \
        env -u HOST -u PORT -u USER -u PASSWORD "$VENV/bin/pytest" -p no:cacheprovider --rootdir="$REPO_ROOT" \
        --odoo-database="$MFG_TEST_DB" --odoo-config="$ODOO_TEST_CONF" --odoo-http \
        --odoo-log-level=warn "${paths[@]}" --junitxml="$RESULTS_DIR/odoo.xml"
}

suite_edge() {
    local dirs=() d
    for d in edge_agent/tests tests/edge; do
        [[ -d "$REPO_ROOT/$d" ]] && dirs+=("$REPO_ROOT/$d")
    done
    if [[ ! -f "$EDGE_PYPROJECT" ]]; then
        echo
        info "suite edge: skipped: edge_agent not present"
        SUITES+=(edge)
        S_NOTE[edge]="skipped: edge_agent not present"
        return 0
    fi
    if ((${#dirs[@]} == 0)); then
        echo
        info "suite edge: no edge_agent/tests or tests/edge directory"
        SUITES+=(edge)
        S_NOTE[edge]="skipped: no edge_agent/tests or tests/edge directory"
        return 0
    fi
    # PYTHONPATH: this checkout's mfg_edge, even when the edge venv's editable install points at
    # another checkout (a git worktree sharing the venv)
    run_pytest_suite edge 0 "$RESULTS_DIR/edge.xml" \
        env PYTHONPATH="$REPO_ROOT/edge_agent${PYTHONPATH:+:$PYTHONPATH}" "$EDGE_VENV/bin/pytest" -p no:cacheprovider --rootdir="$REPO_ROOT" "${dirs[@]}" \
        --junitxml="$RESULTS_DIR/edge.xml"
}

suite_cross_process() {
    if [[ ! -d "$REPO_ROOT/tests" ]]; then
        record_suite cross-process 0 1 0 "no tests/ directory"
        return 0
    fi
    run_pytest_suite cross-process 1 "$RESULTS_DIR/cross-process.xml" \
        "$VENV/bin/pytest" -p no:cacheprovider -p no:odoo --rootdir="$REPO_ROOT" "$REPO_ROOT/tests" \
        --ignore="$REPO_ROOT/tests/edge" --ignore="$REPO_ROOT/tests/bench" \
        --junitxml="$RESULTS_DIR/cross-process.xml"
}

print_summary() {
    local name total_p=0 total_f=0 total_s=0 line
    echo
    echo "==================== test summary ===================="
    for name in "${SUITES[@]}"; do
        if [[ -z "${S_PASSED[$name]:-}" ]]; then
            printf '  %-14s %s\n' "$name" "${S_NOTE[$name]}"
            continue
        fi
        line="${S_PASSED[$name]} passed, ${S_FAILED[$name]} failed"
        ((S_SKIPPED[$name] == 0)) || line="$line, ${S_SKIPPED[$name]} skipped"
        [[ -z "${S_NOTE[$name]}" ]] || line="$line  (${S_NOTE[$name]})"
        printf '  %-14s %s\n' "$name" "$line"
        total_p=$((total_p + S_PASSED[$name]))
        total_f=$((total_f + S_FAILED[$name]))
        total_s=$((total_s + S_SKIPPED[$name]))
    done
    echo "  time           $(($(now_s) - START_TIME)) s"
    echo "======================================================"
    line="$total_p passed, $total_f failed"
    ((total_s == 0)) || line="$line, $total_s skipped"
    echo "$line"
}

main() {
    START_TIME="$(now_s)"
    check_environment
    check_port "$MFG_TEST_HTTP_PORT" odoo-test MFG_TEST_HTTP_PORT 20
    mkdir -p "$RUN_DIR" "$PID_DIR" "$LOG_DIR" "$DATA_DIR" "$RESULTS_DIR"
    exec 9>"$RUN_DIR/.run.lock"
    if ! flock -w 900 9; then
        die_env "Another setup/run.sh or setup/test.sh kept run/.run.lock for 15 minutes: wait for it or stop it."
    fi
    install_everything_for_tests
    write_odoo_conf "$ODOO_TEST_CONF" test
    exec 9>&-
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    export MFG_REPO="$REPO_ROOT" MFG_ODOO_CONF="$ODOO_TEST_CONF" MFG_TEST_DB ODOO_SRC
    export MFG_VENV="$VENV" MFG_EDGE_VENV="$EDGE_VENV" MFG_TEST_HTTP_PORT MFG_MQTT_PORT

    local suite
    for suite in ${MFG_TEST_SUITES//,/ }; do
        case "$suite" in
            lint) suite_lint ;;
            odoo) suite_odoo ;;
            edge) suite_edge ;;
            cross-process) suite_cross_process ;;
            *) die_env "Unknown suite '$suite' in MFG_TEST_SUITES: use lint, odoo, edge, cross-process." ;;
        esac
    done
    print_summary
    return "$EXIT_CODE"
}

install_everything_for_tests() {
    clone_odoo_src_if_needed
    install_python_envs
    ensure_postgres
    MOSQUITTO_WAS_RUNNING=0
    is_running mosquitto && MOSQUITTO_WAS_RUNNING=1
    ensure_mosquitto
    ensure_chromium
    ensure_promtool
}

# At exit: drop the test database; stop the broker if this run started it (a demo's stays up).
cleanup() {
    cleanup_test_db
    if [[ "${MOSQUITTO_WAS_RUNNING:-1}" == 0 ]] && is_running mosquitto; then
        stop_background mosquitto >/dev/null
    fi
}

main "$@"
