#!/usr/bin/env bash
# Differential fuzzing of the JIT against the interpreter.
#
#   tests/fuzz/run.sh [START [N]]      seeds START..START+N-1 (default 1, 100)
#
# For each seed, fuzzgen prints a program; it runs under `pvm -j off` (the
# oracle), `pvm -j hot=1` (every loop compiled at once) and `pvm` (the default
# threshold), each with a timeout. Stdout, stderr and the exit status of the
# two JIT runs must equal the oracle's. A difference is kept under
# $FUZZ_OUT/fail-SEED/ (prog.pv and off/hot1/default .out/.err/.status) and
# its seed printed. The last line is `fuzz: N passed, M failed`; the exit
# status is 1 when any failed.
# Environment: PVM, FUZZGEN (the binaries), FUZZ_OUT (default build/fuzz),
# FUZZ_TIMEOUT (seconds per run, default 5), FUZZ_QUIET=1 (no progress lines),
# FUZZ_MODES (the JIT modes compared with off, default "hot=1 on share1"; the
# files of `hot=N` are named hotN, those of `on` default; shareN is hot=1
# with exits sharing their code in traces of N snapshots or more, as only
# long traces do by default: jit/assemble.c, gen_exits).
set -u
START=${1:-1}
N=${2:-100}
PVM=${PVM:-build/rel/pvm}
FUZZGEN=${FUZZGEN:-build/rel/fuzzgen}
OUT=${FUZZ_OUT:-build/fuzz}
TIMEOUT=${FUZZ_TIMEOUT:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
read -r -a JIT_MODES <<< "${FUZZ_MODES:-hot=1 on share1}"
MODES=(off)
for m in "${JIT_MODES[@]}"; do
    case $m in
        on) MODES+=(default) ;;
        *) MODES+=("${m//=/}") ;;
    esac
done

# run NAME: runs $TMP/prog.pv in the mode so named (off, default, hotN,
# traceN) into $TMP/NAME.{out,err,status}
run() {
    local mode=$1 flags=()
    case $mode in
        default) ;;
        hot*) flags=(-j "hot=${mode#hot}") ;;
        trace*) flags=(-j "trace=${mode#trace}") ;;
        share*) flags=(-j hot=1 -j "shareexits=${mode#share}") ;;
        *) flags=(-j "$mode") ;;
    esac
    timeout "$TIMEOUT" "$PVM" "${flags[@]}" "$TMP/prog.pv" \
        > "$TMP/$mode.out" 2> "$TMP/$mode.err" < /dev/null
    echo $? > "$TMP/$mode.status"
}

# same MODE: whether MODE's run matches the oracle's in every respect
same() {
    local f
    for f in out err status; do
        cmp -s "$TMP/off.$f" "$TMP/$1.$f" || return 1
    done
    # A timeout is never a pass, even when every mode timed out.
    [ "$(cat "$TMP/$1.status")" != 124 ]
}

keep() {
    local seed=$1 dir="$OUT/fail-$1" mode f
    mkdir -p "$dir"
    cp "$TMP/prog.pv" "$dir/prog.pv"
    for mode in "${MODES[@]}"; do
        for f in out err status; do cp "$TMP/$mode.$f" "$dir/$mode.$f"; done
    done
}

mkdir -p "$OUT"
pass=0
fail=0
for ((seed = START; seed < START + N; seed++)); do
    if ! "$FUZZGEN" "$seed" > "$TMP/prog.pv"; then
        echo "fuzz: fuzzgen failed on seed $seed" >&2
        fail=$((fail + 1))
        continue
    fi
    ok=1
    for mode in "${MODES[@]}"; do run "$mode"; done
    for mode in "${MODES[@]}"; do same "$mode" || ok=0; done
    if [ "$ok" = 1 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        keep "$seed"
        echo "FAIL: seed $seed (kept in $OUT/fail-$seed; reduce with tests/fuzz/reduce.sh $OUT/fail-$seed/prog.pv)"
    fi
    if [ "${FUZZ_QUIET:-0}" != 1 ] && [ $(((seed - START + 1) % 500)) = 0 ]; then
        echo "fuzz: $((seed - START + 1)) of $N run, $fail failed"
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
