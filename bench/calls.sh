#!/usr/bin/env bash
# calls.sh: the harness behind `make bench-calls`: what one call across the
# embedding boundary costs in pvm and in Lua 5.4, side by side. Two small C
# hosts make the same calls: bench/calls_pvm.c through include/pvm.h and
# libpvm.a, bench/calls_lua.c through Lua's C API (liblua5.4.a, also
# static, so neither pays for calls through a shared library's PLT).
#
#   host    host -> script: call identity(x) from C, the result not kept
#   result  the same, taking the result, reading it as an int, dropping it
#   native  script -> host: a script loop calls a C function returning its
#           argument; the same loop without the call is subtracted
#   callback  host -> script inside a script -> host call: a C loop calls a
#           PV callback (ffi.callback) returning its int argument; Lua: a C
#           function calling a Lua function with lua_call
#   compare the same with a qsort comparator's signature (two pointers;
#           Lua: two light userdata)
#
# Timing: CALLS_ROUNDS (default 7) rounds, each running the pvm host then
# the Lua host once; each host times every measurement as the best of 5
# runs of CALLS_N calls (default 1 000 000), and the table shows the
# median of the rounds. Instruction counts: each
# host under valgrind --tool=callgrind at 100 000 and 200 000 calls, the
# difference divided by 100 000 (start-up cancels out); skipped when
# valgrind is missing and CALLS_CALLGRIND=0 skips it anyway.
#
# As root it installs what is missing (liblua5.4-dev, valgrind), as
# bench/run.sh does for its peers. Environment: LIB (default
# build/rel/libpvm.a), CC, CALLS_ROUNDS, CALLS_N, CALLS_CALLGRIND, BENCH_DIR
# (default build/bench-calls). The table also goes to BENCH_DIR/results.md.
set -u
cd "$(dirname "$0")/.." || exit 1

LIB=${LIB:-build/rel/libpvm.a}
CC=${CC:-cc}
OUT=${BENCH_DIR:-build/bench-calls}
ROUNDS=${CALLS_ROUNDS:-7}
N=${CALLS_N:-1000000}
CG_N1=100000
CG_N2=200000
MEASURES="host result native callback compare"
declare -A WHAT=([host]="host → script, result not kept" [result]="host → script, result read"
                 [native]="script → host (loop subtracted)"
                 [callback]="C → script callback, int (int)"
                 [compare]="C → script callback, int (pointer, pointer)")

die() {
    echo "bench-calls: $*" >&2
    exit 1
}

note() { echo "bench-calls: $*" >&2; }

# Installs Debian package [pkg] when [test] fails and we are root.
ensure_pkg() {
    local pkg=$1 test=$2
    eval "$test" && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        note "installing $pkg"
        apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
            die "apt-get install $pkg failed"
    fi
    eval "$test"
}

lua_static() {
    local dir
    dir=$(pkg-config --variable=libdir lua5.4 2>/dev/null) || return 1
    [ -f "$dir/liblua5.4.a" ] && echo "$dir/liblua5.4.a"
}

# Builds both hosts into $OUT, from a snapshot of $LIB (others may rebuild it
# while the rounds run).
build() {
    mkdir -p "$OUT"
    [ -f "$LIB" ] || die "$LIB missing: run make first"
    ensure_pkg liblua5.4-dev "pkg-config --exists lua5.4 2>/dev/null" ||
        die "Lua 5.4's headers are needed (sudo apt-get install -y liblua5.4-dev)"
    cp "$LIB" "$OUT/libpvm.a" || die "cannot copy $LIB"
    local flags=(-std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter)
    # -rdynamic: the script binds the host's calls_pvm_callbacks with ffi.fn.
    "$CC" "${flags[@]}" -Iinclude -rdynamic -o "$OUT/calls_pvm" bench/calls_pvm.c "$OUT/libpvm.a" \
        -Wl,-Bstatic -lgc -lffi -Wl,-Bdynamic -ldl -lm -lpthread || die "cannot build calls_pvm"
    local lua
    lua=$(lua_static) || lua=$(pkg-config --libs lua5.4)
    # shellcheck disable=SC2046,SC2086
    "$CC" "${flags[@]}" $(pkg-config --cflags lua5.4) -o "$OUT/calls_lua" bench/calls_lua.c $lua -lm -ldl ||
        die "cannot build calls_lua"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2f", a / b }'; }

# Fills $OUT/samples/IMPL.MEASURE with one ns figure per round.
time_rounds() {
    local round impl line
    rm -rf "$OUT/samples" && mkdir -p "$OUT/samples"
    for round in $(seq 1 "$ROUNDS"); do
        line="[$round/$ROUNDS]"
        for impl in pvm lua; do
            "$OUT/calls_$impl" time "$N" >"$OUT/round.txt" || die "calls_$impl failed"
            while read -r name ns; do
                echo "$ns" >>"$OUT/samples/$impl.$name"
                line+=" $impl $name $ns"
            done <"$OUT/round.txt"
        done
        note "$line"
    done
}

ns_of() { [ -f "$OUT/samples/$1.$2" ] && median <"$OUT/samples/$1.$2" || echo -; }

# Instructions callgrind counts for `calls_IMPL MODE N`.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$OUT/calls_$1" "$2" "$3" 2>&1 |
        awk '/Collected/ { print $NF }'
}

# Instructions per call of MODE in IMPL: the difference between two sizes.
per_call() {
    local a b
    a=$(instructions "$1" "$2" "$CG_N1")
    b=$(instructions "$1" "$2" "$CG_N2")
    [ -n "$a" ] && [ -n "$b" ] || die "callgrind failed on calls_$1 $2"
    echo $(((b - a) / (CG_N2 - CG_N1)))
}

# Fills IR[IMPL.MEASURE]; native is net of the empty loop.
declare -A IR=()
count_instructions() {
    local impl m
    for impl in pvm lua; do
        for m in host result native empty callback compare; do IR[$impl.$m]=$(per_call "$impl" "$m"); done
        IR[$impl.native]=$((IR[$impl.native] - IR[$impl.empty]))
    done
}

report() {
    local m p l
    echo "Median ns per call of $ROUNDS interleaved round(s) (each the best of 5 runs of $N calls);"
    echo "instructions per call counted by callgrind (-: not counted)."
    echo
    echo "| call | pvm ns | Lua 5.4 ns | pvm/Lua | pvm instructions | Lua instructions | pvm/Lua |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for m in $MEASURES; do
        p=$(ns_of pvm "$m")
        l=$(ns_of lua "$m")
        echo "| ${WHAT[$m]} | $p | $l | $(ratio "$p" "$l") | ${IR[pvm.$m]:--} | ${IR[lua.$m]:--} |" \
             "$(ratio "${IR[pvm.$m]:--}" "${IR[lua.$m]:--}") |"
    done
}

build
time_rounds
if [ "${CALLS_CALLGRIND:-1}" != 0 ]; then
    if ensure_pkg valgrind "command -v valgrind >/dev/null 2>&1"; then
        count_instructions
    else
        note "valgrind missing: no instruction counts (sudo apt-get install -y valgrind)"
    fi
fi
report | tee "$OUT/results.md"
