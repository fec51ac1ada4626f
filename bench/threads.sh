#!/usr/bin/env bash
# threads.sh: the harness behind `make bench-threads`: how the throughput of
# VMs in threads scales. bench/threads.c runs N threads, each with its own
# VM doing the same fixed work, and prints the wall and CPU seconds; the
# throughput ratio of N threads is N * t(1) / t(N), so 2.0 is perfect
# scaling on two cores.
#
#   c      the same measurement for a C loop without pvm: the ceiling the
#          machine allows at that moment (its cores are shared)
#   cpu    fib and an integer loop (no allocation)
#   alloc  binary trees and maps of small maps (the collector's work)
#   mixed  strings, str, join, split, a map, keys and a sort
#
# Timing: THREADS_ROUNDS (default 5) rounds, each running every workload at
# 1, 2 and 8 threads (THREADS_COUNTS) in turn, so that a burst of load from
# elsewhere hits all of them alike; the table has the medians of the rounds
# and, per row, the spread of the 2-thread ratio (lowest-highest). CPU
# per unit is the process's CPU time over the work per unit, relative to
# one thread: above 1.00 the threads cost each other work (locks, the
# collector stopping them), whatever the cores available. "Own cores" is
# the ratio computed from each run's time less the time its threads spent
# runnable but waiting for a core (/proc/thread-self/schedstat), i.e. what
# a machine with a free core per thread would give; the figure least
# moved by other processes' load, meaningful up to as many threads as
# cores. Threads blocked on a lock or stopped by the collector still
# count, since that time is not spent waiting for a core.
#
# Environment: LIB (default build/rel/libpvm.a), CC, THREADS_ROUNDS,
# THREADS_COUNTS, THREADS_SCALE (multiplies the work, default 1), BENCH_DIR
# (default build/bench-threads). The table also goes to
# BENCH_DIR/results.md.
set -u
cd "$(dirname "$0")/.." || exit 1

LIB=${LIB:-build/rel/libpvm.a}
CC=${CC:-cc}
OUT=${BENCH_DIR:-build/bench-threads}
ROUNDS=${THREADS_ROUNDS:-5}
COUNTS=${THREADS_COUNTS:-1 2 8}
SCALE=${THREADS_SCALE:-1}
CORES=$(nproc 2>/dev/null || echo 2)
WORKLOADS="c cpu alloc mixed"
# Units of work per thread: about 0.3 s for one thread on the build machine.
declare -A UNITS=([c]=800 [cpu]=2000 [alloc]=300 [mixed]=1200)

die() {
    echo "bench-threads: $*" >&2
    exit 1
}

note() { echo "bench-threads: $*" >&2; }

# Builds the host into $OUT from a snapshot of $LIB (others may rebuild it
# while the rounds run).
build() {
    mkdir -p "$OUT"
    [ -f "$LIB" ] || die "$LIB missing: run make first"
    cp "$LIB" "$OUT/libpvm.a" || die "cannot copy $LIB"
    "$CC" -std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Iinclude -o "$OUT/threads" \
        bench/threads.c "$OUT/libpvm.a" -Wl,-Bstatic -lgc -lffi -Wl,-Bdynamic -ldl -lm -lpthread ||
        die "cannot build bench/threads.c"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Fills $OUT/samples/W.N with "wall cpu" lines, one per round.
time_rounds() {
    local round w n units line
    rm -rf "$OUT/samples" && mkdir -p "$OUT/samples"
    for round in $(seq 1 "$ROUNDS"); do
        line="[$round/$ROUNDS]"
        for w in $WORKLOADS; do
            units=$((UNITS[$w] * SCALE))
            for n in $COUNTS; do
                "$OUT/threads" "$w" "$n" "$units" >>"$OUT/samples/$w.$n" || die "threads $w $n $units failed"
                line+=" $w/$n $(tail -n 1 "$OUT/samples/$w.$n" | cut -d' ' -f1)"
            done
        done
        note "$line"
    done
}

# The per-round throughput ratios N * t(1) / t(N) of workload [w], one a line.
ratios() {
    local w=$1 n=$2
    paste -d' ' "$OUT/samples/$w.1" "$OUT/samples/$w.$n" | awk -v n="$n" '{ printf "%.3f\n", n * $1 / $4 }'
}

# The same with each run's time less what its threads waited for a core:
# the ratio a machine with a free core per thread would give.
own_ratios() {
    local w=$1 n=$2
    paste -d' ' "$OUT/samples/$w.1" "$OUT/samples/$w.$n" | awk -v n="$n" '{ printf "%.3f\n", n * $3 / $6 }'
}

# CPU seconds per unit of N threads over those of one, per round.
cpu_ratios() {
    local w=$1 n=$2
    paste -d' ' "$OUT/samples/$w.1" "$OUT/samples/$w.$n" | awk -v n="$n" '{ printf "%.3f\n", $5 / (n * $2) }'
}

fmt() { awk '{ printf "%.2f", $1 }'; }

report() {
    local w n
    echo "Throughput of N threads, each with its own VM doing the same work, over one thread's"
    echo "(N x t1 / tN; medians of $ROUNDS interleaved rounds; 2.00 is perfect on 2 cores, and 8"
    echo "threads can at best match 2). Own cores: the same with each run's time less what its"
    echo "threads waited for a core (schedstat), the ratio with a free core per thread; shown up"
    echo "to $CORES threads. CPU/unit: CPU time per unit of work over one thread's."
    echo
    printf "| workload | t1 s |"
    for n in $COUNTS; do [ "$n" = 1 ] || printf " %s threads | own cores | CPU/unit |" "$n"; done
    echo " 2-thread spread |"
    printf "|---|---:|"
    for n in $COUNTS; do [ "$n" = 1 ] || printf -- "---:|---:|---:|"; done
    echo "---|"
    for w in $WORKLOADS; do
        printf "| %s | %s |" "$w" "$(cut -d' ' -f1 "$OUT/samples/$w.1" | median | fmt)"
        for n in $COUNTS; do
            [ "$n" = 1 ] && continue
            local own=-
            [ "$n" -le "$CORES" ] && own=$(own_ratios "$w" "$n" | median | fmt)
            printf " %s | %s | %s |" "$(ratios "$w" "$n" | median | fmt)" "$own" \
                "$(cpu_ratios "$w" "$n" | median | fmt)"
        done
        if [ -f "$OUT/samples/$w.2" ]; then
            printf " %s-%s |\n" "$(ratios "$w" 2 | sort -g | head -n 1 | fmt)" "$(ratios "$w" 2 | sort -g | tail -n 1 | fmt)"
        else
            echo " - |"
        fi
    done
}

build
time_rounds
report | tee "$OUT/results.md"
