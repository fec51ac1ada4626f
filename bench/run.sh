#!/usr/bin/env bash
# run.sh: the benchmark harness behind `make bench`, `make bench-quick` and
# `make bench-callgrind`. Compares pvm with Lua 5.4, LuaJIT (with and without
# its JIT), CPython and C on the programs in this folder.
#
#   bash bench/run.sh full        every benchmark at full size, 5 rounds
#   bash bench/run.sh quick       small sizes, 1 round: a smoke test
#   bash bench/run.sh callgrind   instruction counts of pvm at small sizes
#
# For each benchmark NAME there are NAME.pv (or NAME.pva, assembly as a
# foreign front end emits it), NAME.lua (valid for lua5.4 and
# luajit), NAME.py and NAME.c; each takes its size as first argument. The C
# version's output is the reference: every run of every implementation must
# print exactly the same bytes, or the harness stops with a diff.
#
# Timing: each run is one fork/exec measured by bench/measure.c (wall time
# and the child's own peak RSS from wait4). Implementations run interleaved
# (round, then benchmark, then implementation), so a slow minute on a shared
# machine hits every column alike; the table shows the median of the rounds.
#
# Environment: PVM, PVMC (default build/rel/pvm, build/rel/pvmc), CC,
# BENCH_ROUNDS (default 5 for full, 1 for quick), BENCH_ONLY (space-separated
# benchmark names to run, default all), BENCH_DIR (build/bench).
set -u
cd "$(dirname "$0")/.." || exit 1

MODE=${1:-full}
PVM=${PVM:-build/rel/pvm}
PVMC=${PVMC:-build/rel/pvmc}
CC=${CC:-cc}
OUT=${BENCH_DIR:-build/bench}
STARTUP_RUNS=51

# name, full size, quick size (well under a second in every language),
# callgrind size (about 10-100 million instructions in pvm)
BENCHMARKS="
fib          32        25      24
loop         90000000  3000000 500000
nbody        1000000   50000   2000
spectralnorm 1000      200     60
mandelbrot   1000      300     100
fannkuch     10        8       7
binarytrees  16        12      9
strings      1000000   200000  30000
hashmap      2000000   200000  50000
sieve        10000000  1000000 200000
objects      2000000   200000  20000
methods      10000000  1000000 100000
"

# implementation id, column title, command (the program path and size follow)
IMPLS=(pvm pvmjit lua54 ljoff luajit python c)
declare -A TITLE=([pvm]="pvm -j off" [pvmjit]="pvm -j on" [lua54]="lua5.4" [ljoff]="luajit -joff" [luajit]="luajit"
                  [python]="python3" [c]="C -O2")
declare -A PEER_CMD=([lua54]=lua5.4 [ljoff]=luajit [luajit]=luajit [python]=python3)
declare -A PEER_PKG=([lua5.4]=lua5.4 [luajit]=luajit [python3]=python3 [valgrind]=valgrind)
declare -A HAVE=()
PYTHON=python3
COMMIT=unknown

die() {
    echo "bench: $*" >&2
    exit 1
}

note() { echo "bench: $*" >&2; }

# Installs the Debian packages of missing commands when run as root; otherwise
# names them. Sets HAVE[cmd]=1 for the commands present afterwards.
ensure_commands() {
    local missing=() pkgs=() cmd
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        for cmd in "${missing[@]}"; do pkgs+=("${PEER_PKG[$cmd]}"); done
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            note "installing ${pkgs[*]}"
            apt-get update -qq >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null ||
                die "apt-get install ${pkgs[*]} failed"
        else
            note "missing ${missing[*]}; skipping it (install with: sudo apt-get install -y ${pkgs[*]})"
        fi
    fi
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 && HAVE[$cmd]=1
    done
    # A python3 on PATH may be a wrapper script (pyenv's shim costs 100 ms a
    # run); time the interpreter itself.
    if [ -n "${HAVE[python3]:-}" ]; then
        PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PYTHON=python3
    fi
}

# The benchmark names, filtered by BENCH_ONLY.
benchmark_names() {
    local name rest
    while read -r name rest; do
        [ -z "$name" ] && continue
        if [ -n "${BENCH_ONLY:-}" ] && [[ " $BENCH_ONLY " != *" $name "* ]]; then
            continue
        fi
        echo "$name"
    done <<<"$BENCHMARKS"
}

# size_of NAME COLUMN: COLUMN 1 = full, 2 = quick, 3 = callgrind.
size_of() {
    awk -v name="$1" -v col="$2" '$1 == name { print $(col + 1) }' <<<"$BENCHMARKS"
}

# Compiles the programs and snapshots pvm and pvmc into $OUT: others may rebuild
# build/rel/pvm while a long run is under way, and every round must time the
# same binary.
build() {
    mkdir -p "$OUT"
    if [ ! -x "$PVM" ] || [ ! -x "$PVMC" ]; then
        die "$PVM or $PVMC missing: run make first"
    fi
    cp "$PVM" "$OUT/pvm.new" && mv -f "$OUT/pvm.new" "$OUT/pvm" &&
        cp "$PVMC" "$OUT/pvmc.new" && mv -f "$OUT/pvmc.new" "$OUT/pvmc" || die "cannot copy $PVM and $PVMC"
    PVM=$OUT/pvm
    PVMC=$OUT/pvmc
    COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
    "$CC" -std=gnu11 -O2 -Wall -Wextra -o "$OUT/measure" bench/measure.c || die "cannot build measure"
    "$PVMC" examples/hello.pv -o "$OUT/hello.pbc" || die "cannot compile examples/hello.pv"
    local name
    for name in $(benchmark_names); do
        # objects and methods are written in assembly, as a foreign
        # front end would emit them
        local src=bench/$name.pv
        [ -f "$src" ] || src=bench/$name.pva
        "$PVMC" "$src" -o "$OUT/$name.pbc" || die "pvmc failed on $src"
        # -ffp-contract=off: no fused multiply-add, so floats round as in the
        # other languages on every host.
        "$CC" -std=gnu11 -O2 -ffp-contract=off -Wall -Wextra -o "$OUT/$name" "bench/$name.c" -lm ||
            die "cannot compile bench/$name.c"
    done
}

# command_of IMPL NAME: the command line that runs benchmark NAME (size to append).
command_of() {
    case $1 in
    pvm) echo "$PVM -j off $OUT/$2.pbc" ;;
    pvmjit) echo "$PVM -j on $OUT/$2.pbc" ;;
    lua54) echo "lua5.4 bench/$2.lua" ;;
    ljoff) echo "luajit -joff bench/$2.lua" ;;
    luajit) echo "luajit bench/$2.lua" ;;
    python) echo "$PYTHON bench/$2.py" ;;
    c) echo "$OUT/$2" ;;
    esac
}

available() {
    [ "$1" = pvm ] || [ "$1" = pvmjit ] || [ "$1" = c ] || [ -n "${HAVE[${PEER_CMD[$1]}]:-}" ]
}

# Writes the C output for NAME at SIZE to $OUT/NAME.expected.
reference_output() {
    "$OUT/$1" "$2" >"$OUT/$1.expected" || die "the C version of $1 failed"
}

# run_checked IMPL NAME SIZE TIMEOUT: one measured run; prints "WALL RSS_KB".
# Stops the harness if the run fails or prints anything but the reference.
run_checked() {
    local impl=$1 name=$2 size=$3 timeout=$4 result
    # shellcheck disable=SC2046
    result=$("$OUT/measure" -o "$OUT/$name.$impl.out" -t "$timeout" $(command_of "$impl" "$name") "$size") ||
        die "${TITLE[$impl]} failed on $name $size"
    if ! cmp -s "$OUT/$name.expected" "$OUT/$name.$impl.out"; then
        echo "bench: ${TITLE[$impl]} prints a different result for $name $size than C:" >&2
        diff "$OUT/$name.expected" "$OUT/$name.$impl.out" | head -20 >&2
        exit 1
    fi
    echo "$result"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { sort -g | tail -1; }

# Runs every implementation at the quick size once, so a wrong result fails
# in seconds instead of after the first long round.
precheck() {
    local name impl size
    for name in $(benchmark_names); do
        size=$(size_of "$name" 2)
        reference_output "$name" "$size"
        for impl in "${IMPLS[@]}"; do
            available "$impl" && run_checked "$impl" "$name" "$size" 60 >/dev/null
        done
    done
    note "all implementations agree at the quick sizes"
}

# measure_rounds COLUMN ROUNDS TIMEOUT: fills $OUT/samples/NAME.IMPL with
# "WALL RSS_KB" lines.
measure_rounds() {
    local col=$1 rounds=$2 timeout=$3 round name impl size result line
    rm -rf "$OUT/samples" && mkdir -p "$OUT/samples"
    for name in $(benchmark_names); do
        reference_output "$name" "$(size_of "$name" "$col")"
    done
    for round in $(seq 1 "$rounds"); do
        for name in $(benchmark_names); do
            size=$(size_of "$name" "$col")
            line="[$round/$rounds] $name $size:"
            for impl in "${IMPLS[@]}"; do
                available "$impl" || continue
                result=$(run_checked "$impl" "$name" "$size" "$timeout") || exit 1
                echo "$result" >>"$OUT/samples/$name.$impl"
                line+=" ${TITLE[$impl]} $(seconds "${result%% *}")"
            done
            note "$line"
        done
    done
}

# Median wall seconds (or "-") and peak RSS in MB of IMPL on NAME.
wall_of() { [ -f "$OUT/samples/$2.$1" ] && awk '{ print $1 }' "$OUT/samples/$2.$1" | median || echo -; }
rss_of() {
    [ -f "$OUT/samples/$2.$1" ] || { echo -; return; }
    awk '{ print $2 }' "$OUT/samples/$2.$1" | maximum | awk '{ printf "%.1f", $1 / 1024 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2f", a / b }'; }
seconds() { awk -v s="$1" 'BEGIN { if (s == "-") print "-"; else printf "%.3f", s }'; }

# geomean: the geometric mean of the numbers on stdin ("-" ignored).
geomean() { awk '$1 != "-" { s += log($1); n++ } END { if (n) printf "%.2f", exp(s / n); else print "-" }'; }

# startup_ms CMD...: median wall milliseconds of STARTUP_RUNS runs.
startup_ms() {
    "$OUT/measure" -n "$STARTUP_RUNS" "$@" | awk '{ printf "%.2f", $1 * 1000 }'
}

# Prints the results table (markdown) with the targets of issue 7 checked.
report() {
    local col=$1 rounds=$2 name impl header rule row t_pvm t_lua t_joff
    local lua_ratios="" joff_ratios="" worst=0 worst_name="" bt_pvm=- bt_lua=-
    header="| benchmark | size |"
    rule="|---|---:|"
    for impl in "${IMPLS[@]}"; do header+=" ${TITLE[$impl]} |"; rule+="---:|"; done
    header+=" pvm/lua5.4 | pvm/luajit -joff | JIT speed-up | pvm -j on/C | RSS pvm MB | RSS lua5.4 MB |"
    rule+="---:|---:|---:|---:|---:|---:|"
    echo "Median wall seconds of $rounds interleaved round(s); peak RSS is the largest of the rounds."
    echo
    echo "$header"
    echo "$rule"
    for name in $(benchmark_names); do
        row="| $name | $(size_of "$name" "$col") |"
        for impl in "${IMPLS[@]}"; do row+=" $(seconds "$(wall_of "$impl" "$name")") |"; done
        t_pvm=$(wall_of pvm "$name")
        t_lua=$(wall_of lua54 "$name")
        t_joff=$(wall_of ljoff "$name")
        local r_lua r_joff
        r_lua=$(ratio "$t_pvm" "$t_lua")
        r_joff=$(ratio "$t_pvm" "$t_joff")
        lua_ratios+="$r_lua"$'\n'
        joff_ratios+="$r_joff"$'\n'
        if [ "$r_lua" != - ] && awk -v a="$r_lua" -v b="$worst" 'BEGIN { exit !(a > b) }'; then
            worst=$r_lua
            worst_name=$name
        fi
        if [ "$name" = binarytrees ]; then
            bt_pvm=$(rss_of pvm "$name")
            bt_lua=$(rss_of lua54 "$name")
        fi
        local t_jit t_c
        t_jit=$(wall_of pvmjit "$name")
        t_c=$(wall_of c "$name")
        row+=" $r_lua | $r_joff | $(ratio "$t_pvm" "$t_jit") | $(ratio "$t_jit" "$t_c") |"
        row+=" $(rss_of pvm "$name") | $(rss_of lua54 "$name") |"
        echo "$row"
    done
    local gm_lua gm_joff start
    gm_lua=$(printf '%s' "$lua_ratios" | geomean)
    gm_joff=$(printf '%s' "$joff_ratios" | geomean)
    start=$(startup_ms "$PVM" -j off "$OUT/hello.pbc")
    echo
    echo "- geometric mean pvm/lua5.4: **$gm_lua** (target <= 0.80); pvm/luajit -joff: **$gm_joff**"
    echo "- JIT speed-up is pvm -j off / pvm -j on (targets: 5 or more on loop, nbody, spectralnorm,"
    echo "  mandelbrot, fannkuch and sieve; pvm -j on/C within 2 on loop, nbody, spectralnorm, mandelbrot)"
    echo "- slowest relative to lua5.4: $worst_name at $worst x (target: none above 1.20)"
    echo "- binary-trees peak RSS: pvm $bt_pvm MB, lua5.4 $bt_lua MB (target: pvm no higher)"
    echo "- pvm start-up (\`pvm -j off hello.pbc\`, median of $STARTUP_RUNS runs, fork+exec included): **$start ms** (target < 2 ms)"
    local baseline
    baseline="/bin/true $(startup_ms /bin/true) ms"
    [ -n "${HAVE[lua5.4]:-}" ] && baseline+=", \`lua5.4 -e ''\` $(startup_ms lua5.4 -e '') ms"
    echo "- start-up baselines measured the same way: $baseline"
    if [ "$col" != 1 ]; then
        echo "- quick sizes run in milliseconds, where start-up and one noisy round dominate:"
        echo "  a smoke test; the targets are judged on \`make bench\`"
    fi
}

machine_header() {
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- commit: $COMMIT (pvm built from it; \`-dirty\`: with uncommitted changes)"
    echo "- cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) ($(nproc) cores), $(uname -sm)"
    echo "- peers: $(lua5.4 -v 2>&1 | head -1 | cut -d' ' -f1-2); $(luajit -v 2>&1 | cut -d' ' -f1-2); $($PYTHON --version 2>&1); $($CC --version | head -1)"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

run_timing() {
    local col=$1 rounds=$2 timeout=$3
    ensure_commands lua5.4 luajit python3
    build
    local header
    header=$(machine_header)
    [ "$col" = 1 ] && precheck
    measure_rounds "$col" "$rounds" "$timeout"
    {
        echo "$header"
        echo
        report "$col" "$rounds"
    } | tee "$OUT/results-$MODE.md"
    note "table written to $OUT/results-$MODE.md"
}

# Instructions executed by pvm (callgrind's Ir) per benchmark at small sizes:
# unlike wall time, stable to a fraction of a percent on a busy machine.
run_callgrind() {
    ensure_commands valgrind
    [ -n "${HAVE[valgrind]:-}" ] || die "valgrind is needed for bench-callgrind"
    build
    local name size ir total=0 args
    echo "pvm $COMMIT, instructions counted by valgrind --tool=callgrind:"
    echo
    echo "| benchmark | size | pvm instructions (Ir) |"
    echo "|---|---:|---:|"
    for name in hello $(benchmark_names); do
        args=("$OUT/$name.pbc")
        size=""
        if [ "$name" != hello ]; then
            size=$(size_of "$name" 3)
            args+=("$size")
            reference_output "$name" "$size"
        fi
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$PVM" -j off "${args[@]}" >"$OUT/$name.cg.out" 2>"$OUT/$name.cg.log" ||
            die "pvm failed under callgrind on $name (see $OUT/$name.cg.log)"
        if [ "$name" != hello ] && ! cmp -s "$OUT/$name.expected" "$OUT/$name.cg.out"; then
            die "pvm prints a different result for $name $size than C"
        fi
        ir=$(awk '/Collected :/ { print $NF }' "$OUT/$name.cg.log")
        [ -n "$ir" ] || die "no instruction count in $OUT/$name.cg.log"
        [ "$name" != hello ] && total=$((total + ir))
        printf '| %s | %s | %s |\n' "$name" "${size:-}" "$ir"
    done
    printf '| total (without hello) | | %s |\n' "$total"
}

case $MODE in
full) run_timing 1 "${BENCH_ROUNDS:-5}" 600 ;;
quick) run_timing 2 "${BENCH_ROUNDS:-1}" 60 ;;
callgrind) run_callgrind ;;
*) die "unknown mode '$MODE' (full, quick or callgrind)" ;;
esac
