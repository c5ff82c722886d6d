#!/usr/bin/env bash
# test.sh: everything CI runs. Builds twice, a normal build (build/,
# RelWithDebInfo) and a sanitized one (build-asan/, ASan+UBSan), and runs the
# whole ctest suite (unit, integration) in each. Exits non-zero when any
# build or test fails and ends with one summary line.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/tools/setup.sh" || { echo "test: setup failed" >&2; exit 1; }

total_pass=0
total_fail=0
failed_stages=()

# run_stage NAME BUILD_DIR CMAKE_ARGS...: configure, build and ctest one tree.
run_stage() {
    local name="$1" dir="$2"
    shift 2
    echo "== $name: configure and build ($dir)"
    if ! cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
        cat "$dir/configure.log"
        failed_stages+=("$name:configure")
        return 1
    fi
    if ! cmake --build "$dir" -j2 >"$dir/build.log" 2>&1; then
        tail -n 100 "$dir/build.log"
        failed_stages+=("$name:build")
        return 1
    fi
    echo "== $name: ctest"
    local log="$dir/ctest.log" rc=0
    (cd "$dir" && ctest --output-on-failure -j2 --timeout 300) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # "N% tests passed, F tests failed out of T"
    local line pass fail
    line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
    if [ -n "$line" ]; then
        fail="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
        pass="$(( $(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line") - fail ))"
        total_pass=$((total_pass + pass))
        total_fail=$((total_fail + fail))
    fi
    if [ "$rc" -ne 0 ]; then
        failed_stages+=("$name:ctest")
        return 1
    fi
    return 0
}

# Build dirs may be moved (e.g. to keep a developer's own trees apart).
bdir="${LR_BUILD_DIR:-build}"
adir="${LR_ASAN_BUILD_DIR:-build-asan}"
mkdir -p "$bdir" "$adir"
run_stage default "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    run_stage asan "$adir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLR_SANITIZE=ON

# Short libFuzzer runs of the hand-written parsers (clang only; the fuzz
# targets compile just the parser sources, so this tree builds little).
fdir="${LR_FUZZ_BUILD_DIR:-build-fuzz}"
mkdir -p "$fdir"
echo "== fuzz: configure and build ($fdir)"
if CC=clang cmake -S . -B "$fdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLR_FUZZ=ON \
        >"$fdir/configure.log" 2>&1 &&
    cmake --build "$fdir" --target fuzz_http fuzz_ws -j2 >"$fdir/build.log" 2>&1; then
    echo "== fuzz: ctest"
    (cd "$fdir" && ctest --output-on-failure -j2 -R '^fuzz\.') 2>&1 | tee "$fdir/ctest.log"
    if [ "${PIPESTATUS[0]}" -ne 0 ]; then
        failed_stages+=("fuzz:ctest")
    fi
    line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$fdir/ctest.log" | tail -n 1)"
    if [ -n "$line" ]; then
        fail="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
        total_pass=$((total_pass + $(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line") - fail))
        total_fail=$((total_fail + fail))
    fi
else
    tail -n 50 "$fdir/configure.log" "$fdir/build.log" 2>/dev/null
    failed_stages+=("fuzz:build")
fi

if [ "${#failed_stages[@]}" -gt 0 ]; then
    echo "test: FAILED (${failed_stages[*]})"
    echo "summary: $total_pass passed, $total_fail failed"
    exit 1
fi
echo "summary: $total_pass passed, $total_fail failed"
