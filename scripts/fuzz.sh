#!/usr/bin/env bash
# Runs every Go fuzz target of the repository, one after the other, for a
# given time each, and reports which found a failure. The targets are the
# func FuzzXxx(f *testing.F) declarations in the *_test.go files, grouped
# by package. `go test` without -fuzz already runs their seed corpora.
#
#   bash scripts/fuzz.sh                     # 10s per target
#   bash scripts/fuzz.sh 30s                 # 30s per target
#   bash scripts/fuzz.sh 1m --only FuzzLoad  # one target
#   bash scripts/fuzz.sh --list              # print the targets and stop
#
# A failing input is written to <package>/testdata/fuzz/<FuzzXxx>/ as go
# test does. Commit it under a name that says what it is, so that go test
# keeps it as a regression seed once the fault is fixed.
#
# Environment: FUZZ_MINIMIZE_TIME (default 2s) bounds how long go test
# shrinks a new or failing input. Go's default of 60s stalls a short run
# on targets whose inputs take milliseconds each, such as FuzzLoad.
#
# Exit status: 0 when no target failed, 1 when one did, 2 on a usage error.
set -uo pipefail

readonly DEFAULT_FUZZ_TIME=10s
readonly MINIMIZE_TIME=${FUZZ_MINIMIZE_TIME:-2s}
# go test gets this much longer than the fuzz time to build the test
# binary and run the seed corpus, before the script stops it.
readonly BUILD_SECONDS=240

usage() {
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# to_seconds DURATION: seconds in a Go duration made of one number and
# the unit s, m or h, such as 30s or 2m.
to_seconds() {
  local value=${1%[smh]} unit=${1: -1}
  [[ "$value" =~ ^[0-9]+$ ]] || return 1
  case $unit in
    s) echo "$value" ;;
    m) echo $((value * 60)) ;;
    h) echo $((value * 3600)) ;;
    *) return 1 ;;
  esac
}

# list_targets: one "package FuzzName" line per fuzz target, sorted by
# package.
list_targets() {
  grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . \
    | sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|./\1 \2|' \
    | sort
}

# run_target PACKAGE NAME: fuzzes one target and prints its failing input.
run_target() {
  local package=$1 name=$2 log
  log=$(mktemp -t helpline-fuzz-XXXXXX)
  printf '==> %s %s (%s)\n' "$package" "$name" "$FUZZ_TIME"
  timeout --kill-after=20s "$((FUZZ_SECONDS + BUILD_SECONDS))" \
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZ_TIME" \
    -fuzzminimizetime "$MINIMIZE_TIME" "$package" >"$log" 2>&1
  local status=$?

  if [[ $status -eq 0 ]]; then
    grep -E '^fuzz: elapsed' "$log" | tail -n 1 | sed 's/^/    /'
    rm -f "$log"
    return 0
  fi
  grep -vE '^fuzz: elapsed' "$log" | head -n 40 | sed 's/^/    /'
  local input
  input=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]*).*/\1/p' "$log" | head -n 1)
  if [[ -n "$input" ]]; then
    FAILED_INPUTS+=("${package#./}/$input")
  fi
  rm -f "$log"
  return 1
}

main() {
  FUZZ_TIME=$DEFAULT_FUZZ_TIME
  local only="" list=0
  while [[ $# -gt 0 ]]; do
    case $1 in
      --only) [[ $# -ge 2 ]] || usage; only=$2; shift 2 ;;
      --list) list=1; shift ;;
      -h | --help) usage ;;
      -*) echo "unknown option $1" >&2; usage ;;
      *) FUZZ_TIME=$1; shift ;;
    esac
  done
  if ! FUZZ_SECONDS=$(to_seconds "$FUZZ_TIME"); then
    echo "invalid fuzz time $FUZZ_TIME: use a whole number with s, m or h, such as 30s" >&2
    exit 2
  fi

  cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
  local -a targets=()
  mapfile -t targets < <(list_targets)
  if [[ -n "$only" ]]; then
    mapfile -t targets < <(printf '%s\n' "${targets[@]}" | awk -v name="$only" '$2 == name')
    if [[ ${#targets[@]} -eq 0 ]]; then
      echo "no fuzz target named $only; list them with --list" >&2
      exit 2
    fi
  fi
  if ((list)); then
    printf '%s\n' "${targets[@]}"
    exit 0
  fi

  local entry package name start
  local -a results=() failed=()
  FAILED_INPUTS=()
  for entry in "${targets[@]}"; do
    read -r package name <<<"$entry"
    start=$SECONDS
    if run_target "$package" "$name"; then
      results+=("$(printf 'PASS %-26s %-10s %4ss' "$name" "$package" $((SECONDS - start)))")
    else
      results+=("$(printf 'FAIL %-26s %-10s %4ss' "$name" "$package" $((SECONDS - start)))")
      failed+=("$name")
    fi
  done

  echo
  echo "fuzz summary: ${#targets[@]} target(s), $FUZZ_TIME each, ${#failed[@]} failed"
  printf '  %s\n' "${results[@]}"
  if [[ ${#failed[@]} -eq 0 ]]; then
    return 0
  fi
  if [[ ${#FAILED_INPUTS[@]} -gt 0 ]]; then
    echo "failing inputs (fix the fault, then commit each as a regression seed under a name that says what it is):"
    printf '  %s\n' "${FAILED_INPUTS[@]}"
  fi
  return 1
}

main "$@"
exit $?
