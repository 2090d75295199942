#!/usr/bin/env bash
# Runs every check of the repository: installs the end-to-end tools that are
# missing (Debian 12, as root or with sudo), then go vet, staticcheck, a
# short run of every fuzz target and go test -race over all packages, and
# prints a summary. The installs start
# no service: the tests run their own Redis, PostgreSQL and Kamailio
# processes on free loopback ports.
#
#   bash scripts/test.sh              # from anywhere inside the checkout
#   CI=true bash scripts/test.sh      # a tool that cannot be installed fails
#
# Exit status: 0 when every step passed, 1 otherwise.
set -uo pipefail

# The steps after the installs must finish within this many seconds.
readonly CHECK_BUDGET_SECONDS=1020
# Upper bounds per step, in seconds, within the budget.
readonly INSTALL_TIMEOUT=900
readonly VET_TIMEOUT=300
readonly STATICCHECK_TIMEOUT=420
readonly FUZZ_TIMEOUT=300
# Fuzzing time per target in the fuzz step: short, so that every target
# gets a look at new inputs on each run without taking go test's time.
readonly FUZZ_TIME=3s
# go test gets the rest of the budget, less this margin so that its own
# -timeout fires (and prints the stuck goroutines) before the hard stop.
readonly GO_TEST_MARGIN=60
readonly KILL_AFTER=20s
# Tests that may run at once within a package. The end-to-end tests spend
# most of their time waiting for prompts and timers, so several of them
# share the two cores of a CI machine well.
readonly TEST_PARALLEL=4

# staticcheck 2026.2.2 (v0.8.2) runs with Go 1.26.
readonly STATICCHECK="honnef.co/go/tools/cmd/staticcheck@v0.8.2"

# Commands installed for the tests, and the Debian package that provides
# each. redis-server also runs the sentinels (redis-server --sentinel), so
# the separate redis-sentinel package is not needed. PostgreSQL's initdb
# is not on PATH in Debian, so it is looked for in its own folder.
# chromium runs the browser tests of the web pages. korean-font is not a
# command but a font with Hangul, found with fc-list. Without it Chromium
# draws Korean text as empty boxes, so the layout checks measure the wrong
# widths.
readonly TOOLS=(
  "sipp:sip-tester"
  "baresip:baresip"
  "tshark:tshark"
  "redis-server:redis-server"
  "kamailio:kamailio"
  "initdb:postgresql"
  "chromium:chromium"
  "korean-font:fonts-noto-cjk"
)

# Where Debian's postgresql package puts initdb and postgres.
readonly POSTGRES_BIN_GLOB="/usr/lib/postgresql/*/bin"

# Debian's invoke-rc.d asks this program whether a package may start its
# service; exit status 101 means "no".
readonly POLICY_RC_D=/usr/sbin/policy-rc.d

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
readonly LOG_DIR="$(mktemp -d -t helpline-test-XXXXXX)"
trap 'rm -rf "$LOG_DIR"' EXIT

declare -a SUMMARY=()
FAILED=0

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }

# record NAME STATUS SECONDS [DETAIL]: one summary line per step.
record() {
  local line
  line=$(printf '%-13s %-5s %4ss' "$1" "$2" "$3")
  [[ -n "${4:-}" ]] && line+="  $4"
  SUMMARY+=("$line")
  [[ "$2" == FAIL ]] && FAILED=1
  return 0
}

is_ci() { [[ "${CI:-}" == "true" ]]; }

# as_root CMD...: runs CMD as root, through sudo when needed.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  else
    sudo -n "$@"
  fi
}

can_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [[ $EUID -eq 0 ]] && return 0
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}

find_go() {
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  command -v go >/dev/null 2>&1
}

# has_tool COMMAND: whether COMMAND is on PATH, in an sbin folder (where
# Debian puts daemons such as kamailio; the end-to-end tests look there
# too), or for initdb in PostgreSQL's own folder. korean-font queries
# fontconfig for a font that covers Korean.
has_tool() {
  if [[ "$1" == korean-font ]]; then
    [[ -n "$(fc-list :lang=ko 2>/dev/null)" ]]
    return
  fi
  command -v "$1" >/dev/null 2>&1 && return 0
  local dir
  for dir in /usr/local/sbin /usr/sbin /sbin; do
    [[ -x "$dir/$1" ]] && return 0
  done
  [[ "$1" == initdb ]] || return 1
  compgen -G "$POSTGRES_BIN_GLOB/initdb" >/dev/null
}

# apt_install PACKAGE...: installs the packages without starting their
# services (redis-server, postgresql and kamailio would otherwise start
# one on the default ports). A policy-rc.d that the system already has
# is left alone.
apt_install() {
  local own_policy=0
  if [[ ! -e "$POLICY_RC_D" ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY_RC_D && chmod 755 $POLICY_RC_D" && own_policy=1
  fi

  as_root env DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" apt-get update -q \
    && as_root env DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" \
      apt-get install -y -q --no-install-recommends "$@"
  local status=$?

  ((own_policy)) && as_root rm -f "$POLICY_RC_D"
  return "$status"
}

install_tools() {
  local start=$SECONDS entry command package
  local -a missing=()
  for entry in "${TOOLS[@]}"; do
    command=${entry%%:*}
    package=${entry#*:}
    has_tool "$command" || missing+=("$package")
  done

  if [[ ${#missing[@]} -eq 0 ]]; then
    record install PASS $((SECONDS - start)) "all tools present"
    return
  fi

  say "installing ${missing[*]}"
  if can_install; then
    apt_install "${missing[@]}"
  else
    warn "cannot install ${missing[*]}: run as root, or with sudo that needs no password"
  fi

  local -a still=()
  for entry in "${TOOLS[@]}"; do
    command=${entry%%:*}
    has_tool "$command" || still+=("$command")
  done

  if [[ ${#still[@]} -eq 0 ]]; then
    record install PASS $((SECONDS - start)) "installed ${missing[*]}"
    return
  fi

  TOOLS_MISSING=1
  if is_ci; then
    record install FAIL $((SECONDS - start)) "missing under CI=true: ${still[*]}"
  else
    record install WARN $((SECONDS - start)) "missing: ${still[*]}; tests that need them are skipped"
  fi
}

# remaining: seconds left of the check budget.
remaining() {
  echo $((CHECK_BUDGET_SECONDS - (SECONDS - CHECKS_START)))
}

# step_timeout CAP: the smaller of CAP and the budget left.
step_timeout() {
  local left
  left=$(remaining)
  if ((left < $1)); then echo "$left"; else echo "$1"; fi
}

# run_step NAME CAP CMD...: runs CMD with the smaller of CAP and the budget
# left as its time limit, and records the result.
run_step() {
  local name=$1 cap=$2 start=$SECONDS limit
  shift 2
  limit=$(step_timeout "$cap")
  if ((limit <= 0)); then
    record "$name" FAIL 0 "no time left in the ${CHECK_BUDGET_SECONDS}s budget"
    return
  fi

  say "$*"
  if timeout --kill-after="$KILL_AFTER" "$limit" "$@"; then
    record "$name" PASS $((SECONDS - start))
  else
    record "$name" FAIL $((SECONDS - start)) "exit $?"
  fi
}

# run_fuzz: fuzzes every target for FUZZ_TIME with scripts/fuzz.sh and
# records its summary line.
run_fuzz() {
  local start=$SECONDS limit log="$LOG_DIR/fuzz.log"
  limit=$(step_timeout "$FUZZ_TIMEOUT")
  if ((limit <= 0)); then
    record fuzz FAIL 0 "no time left in the ${CHECK_BUDGET_SECONDS}s budget"
    return
  fi

  say "bash scripts/fuzz.sh $FUZZ_TIME"
  timeout --kill-after="$KILL_AFTER" "$limit" bash scripts/fuzz.sh "$FUZZ_TIME" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]} detail
  detail=$(sed -n 's/^fuzz summary: //p' "$log")

  if [[ $status -eq 0 ]]; then
    record fuzz PASS $((SECONDS - start)) "$detail"
  else
    record fuzz FAIL $((SECONDS - start)) "exit $status; ${detail:-stopped after ${limit}s}"
  fi
}

run_tests() {
  local start=$SECONDS budget go_timeout log="$LOG_DIR/go-test.log"
  budget=$(remaining)
  go_timeout=$((budget - GO_TEST_MARGIN))
  if ((go_timeout < GO_TEST_MARGIN)); then
    record "go test" FAIL 0 "no time left in the ${CHECK_BUDGET_SECONDS}s budget"
    return
  fi

  say "go test -race -count=1 -parallel $TEST_PARALLEL -timeout ${go_timeout}s ./..."
  timeout --kill-after="$KILL_AFTER" "$budget" \
    go test -race -count=1 -v -parallel "$TEST_PARALLEL" -timeout "${go_timeout}s" ./... 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}

  local passed failed skipped
  passed=$(grep -cE '^\s*--- PASS: ' "$log")
  # A package that does not build fails without any "--- FAIL" line.
  failed=$(($(grep -cE '^\s*--- FAIL: ' "$log") + $(grep -cE '^FAIL\s+\S+\s+\[(build|setup) failed\]' "$log")))
  skipped=$(grep -cE '^\s*--- SKIP: ' "$log")
  TEST_COUNTS="$passed passed, $failed failed, $skipped skipped"

  if [[ $status -eq 0 ]]; then
    record "go test" PASS $((SECONDS - start)) "$TEST_COUNTS"
  else
    record "go test" FAIL $((SECONDS - start)) "exit $status; $TEST_COUNTS"
    grep -E '^(--- FAIL|FAIL|panic:)' "$log" | sed 's/^/    /' | head -40
  fi
}

main() {
  install_tools

  if ! find_go; then
    record go FAIL 0 "go not found on PATH or in /usr/local/go/bin"
  else
    say "$(go version)"
    # Every tool is required from here on: the end-to-end tests fail
    # instead of skipping when one is missing. Without CI and without the
    # tools, they skip.
    if is_ci || [[ $TOOLS_MISSING -eq 0 ]]; then
      export HELPLINE_E2E=1
    fi

    CHECKS_START=$SECONDS
    run_step "go vet" "$VET_TIMEOUT" go vet ./...
    run_step staticcheck "$STATICCHECK_TIMEOUT" go run "$STATICCHECK" ./...
    run_fuzz
    run_tests
  fi

  echo
  echo "summary:"
  printf '  %s\n' "${SUMMARY[@]}"
  if [[ $FAILED -ne 0 ]]; then
    echo "result: FAIL"
  else
    echo "result: PASS"
  fi
  [[ -n "${TEST_COUNTS:-}" ]] && echo "tests: $TEST_COUNTS"
  return "$FAILED"
}

TEST_COUNTS=""
TOOLS_MISSING=0
CHECKS_START=$SECONDS
main
exit $?
