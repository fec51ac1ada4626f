#!/usr/bin/env bash
# End-to-end tests: runs every program under tests/ through the real pvm and
# pvmc binaries and compares what they print with the expected files.
#
#   tests/asm/NAME.pva           assembled, round-tripped through -d, and run
#   tests/programs/NAME.pv       run from source and from its bundled .pbc
#   tests/bad/NAME.pbc           must be rejected: "pvm: invalid bytecode: " + NAME.err
#   tests/asm_errors/NAME.pva    pvmc must fail with NAME.err on stderr
#   tests/compile_errors/NAME.pv pvm must fail with NAME.err on stderr
#   tests/cli/NAME.sh            a script that exits 0 when the behaviour holds
#   examples/ffi/NAME.pv         run like a program; NAME.needs holds the shared
#                                library it loads and its Debian package, and
#                                when that library does not load the example is
#                                skipped with a message
# Beside a program: NAME.out (exact stdout), NAME.err (lines that must each
# appear in stderr), NAME.status (exit status; 1 when .err exists, else 0),
# NAME.args (arguments), NAME.in (stdin). E2E_SKIP_CLI=1 skips tests/cli.
# Every asm and program test also runs in each JIT mode of E2E_JIT_MODES
# (default: off, hot=1 and shareexits=1, i.e. the interpreter alone, every
# loop compiled at once, and exits sharing their code in every trace as they
# do by default only in long ones; the plain run is the default mode), with
# the same expectations.
set -u
PVM=${PVM:-build/rel/pvm}
PVMC=${PVMC:-build/rel/pvmc}
PVM=$(cd "$(dirname "$PVM")" && pwd)/$(basename "$PVM")
PVMC=$(cd "$(dirname "$PVMC")" && pwd)/$(basename "$PVMC")
export PVM PVMC
# The ffi test library (the Makefile builds it) and its declarations.
export PVM_FFI_TESTLIB=${PVM_FFI_TESTLIB:-$(pwd)/build/rel/tests/libpvmffitest.so}
export PVM_FFI_TESTSRC=$(pwd)/tests/ffilib
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TIMEOUT=${TEST_TIMEOUT:-60}
read -r -a JIT_MODES <<< "${E2E_JIT_MODES-off hot=1 shareexits=1}"
pass=0
fail=0
failed=()

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    failed+=("$1")
    echo "FAIL: $1: $2"
}

# expect NAME OUT_FILE ERR_FILE STATUS: checks $TMP/out, $TMP/err, $TMP/status
expect() {
    local name=$1 base=$2 want_status=0
    [ -f "$base.err" ] && want_status=1
    [ -f "$base.status" ] && want_status=$(cat "$base.status")
    local got_status
    got_status=$(cat "$TMP/status")
    if [ "$got_status" != "$want_status" ]; then
        bad "$name" "exit status $got_status, expected $want_status; stderr: $(head -c 400 "$TMP/err")"
        return 1
    fi
    if [ -f "$base.out" ] && ! cmp -s "$base.out" "$TMP/out"; then
        bad "$name" "stdout differs: $(diff "$base.out" "$TMP/out" | head -n 8)"
        return 1
    fi
    if [ -f "$base.err" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            [ -z "$line" ] && continue
            if ! grep -qF -- "$line" "$TMP/err"; then
                bad "$name" "stderr lacks '$line'; got: $(head -c 400 "$TMP/err")"
                return 1
            fi
        done < "$base.err"
    fi
    return 0
}

# run_pvm BASE ARGS...: runs pvm with BASE.args and BASE.in
run_pvm() {
    local base=$1; shift
    local args=()
    [ -f "$base.args" ] && read -r -a args < "$base.args"
    local input=/dev/null
    [ -f "$base.in" ] && input="$base.in"
    timeout "$TIMEOUT" "$PVM" "$@" "${args[@]}" < "$input" > "$TMP/out" 2> "$TMP/err"
    echo $? > "$TMP/status"
}

# run_modes NAME BASE FILE: runs FILE in the default mode, then in each of
# JIT_MODES, checking each run against BASE's expectations.
run_modes() {
    local name=$1 base=$2 file=$3 mode
    run_pvm "$base" "$file"
    expect "$name" "$base" || return 1
    for mode in "${JIT_MODES[@]}"; do
        run_pvm "$base" -j "$mode" "$file"
        expect "$name (-j $mode)" "$base" || return 1
    done
}

for src in tests/asm/*.pva; do
    [ -e "$src" ] || continue
    base=${src%.pva}
    name=$src
    if ! "$PVMC" "$src" -o "$TMP/a.pbc" 2> "$TMP/err"; then
        bad "$name" "does not assemble: $(head -c 400 "$TMP/err")"
        continue
    fi
    run_modes "$name" "$base" "$TMP/a.pbc" || continue
    "$PVMC" -d "$TMP/a.pbc" > "$TMP/b.pva" 2> "$TMP/err" &&
        "$PVMC" "$TMP/b.pva" -o "$TMP/b.pbc" 2>> "$TMP/err"
    if ! cmp -s "$TMP/a.pbc" "$TMP/b.pbc"; then
        bad "$name" "disassembly does not re-assemble to identical bytes"
        continue
    fi
    ok
done

for src in tests/programs/*.pv; do
    [ -e "$src" ] || continue
    base=${src%.pv}
    run_modes "$src" "$base" "$src" || continue
    if [ ! -f "$base.nobundle" ]; then
        if ! (cd "$(dirname "$src")" && "$PVMC" "$(basename "$src")" -o "$TMP/p.pbc") 2> "$TMP/err"; then
            bad "$src" "pvmc cannot bundle it: $(head -c 400 "$TMP/err")"
            continue
        fi
        (cd "$TMP" && run_pvm "$OLDPWD/$base" "$TMP/p.pbc")
        expect "$src (bundled .pbc)" "$base" || continue
    fi
    ok
done

skipped=0
for src in examples/ffi/*.pv; do
    [ -e "$src" ] || continue
    base=${src%.pv}
    if [ -f "$base.needs" ]; then
        read -r lib pkg < "$base.needs"
        if ! "$PVM" -e "ffi.open(\"$lib\");" > /dev/null 2>&1; then
            echo "skip: $src: $lib does not load (make, run as root, installs $pkg)"
            skipped=$((skipped + 1))
            continue
        fi
    fi
    run_modes "$src" "$base" "$src" && ok
done

for file in tests/bad/*.pbc; do
    [ -e "$file" ] || continue
    base=${file%.pbc}
    timeout "$TIMEOUT" "$PVM" "$file" > "$TMP/out" 2> "$TMP/err"
    status=$?
    want="pvm: invalid bytecode: $(cat "$base.err")"
    if [ "$status" != 1 ] || ! grep -qF -- "$want" "$TMP/err"; then
        bad "$file" "status $status, stderr: $(head -c 300 "$TMP/err") (wanted '$want')"
        continue
    fi
    ok
done

for src in tests/asm_errors/*.pva; do
    [ -e "$src" ] || continue
    base=${src%.pva}
    timeout "$TIMEOUT" "$PVMC" "$src" -o "$TMP/x.pbc" > "$TMP/out" 2> "$TMP/err"
    echo $? > "$TMP/status"
    rm -f "$base.out.tmp"
    expect "$src" "$base" && ok
done

for src in tests/compile_errors/*.pv; do
    [ -e "$src" ] || continue
    base=${src%.pv}
    run_pvm "$base" "$src"
    expect "$src" "$base" && ok
done

for script in tests/cli/*.sh; do
    [ -e "$script" ] || continue
    [ "${E2E_SKIP_CLI:-0}" = 1 ] && break
    if TMPDIR="$TMP" timeout "$TIMEOUT" bash "$script" > "$TMP/out" 2>&1; then
        ok
    else
        bad "$script" "$(tail -n 5 "$TMP/out")"
    fi
done

echo "e2e: $pass passed, $fail failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
[ "$fail" -eq 0 ]
