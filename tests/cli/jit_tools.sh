# The JIT's tools (docs/jit.md, "Tools"): -j v names every trace and why a
# recording stopped, side traces included; -j stats counts entries; -j dump
# shows IR, snapshots and machine code; -j trace=N compiles only the Nth
# recording; -j perf writes the perf map; -j maxtrace/maxmcode flush;
# -j shareexits=N chooses the traces whose exits share code; -j off
# compiles nothing. Each run prints what the interpreter alone prints.
set -u
fail() { echo "jit_tools: $*"; exit 1; }
here=$(cd "$(dirname "$0")/../.." && pwd)
prog="$TMPDIR/branchy.pv"
cat > "$prog" <<'PV'
let a = 0;
let b = 0;
for i in 0..3000 {
    if i % 3 == 0 { a += i; } else { b += 1; }
}
let t = 0;
for k in 0..500 { t += k * 2; }
print(a, b, t);
PV
want=$("$PVM" -j off "$prog") || fail "-j off failed"
[ "$want" = "1498500 2000 249500" ] || fail "-j off printed $want"

got=$("$PVM" -j v "$prog" 2> "$TMPDIR/v") || fail "-j v failed"
[ "$got" = "$want" ] || fail "-j v printed $got"
grep -q '^\[jit\] trace 1 .*branchy.pv:3: loop' "$TMPDIR/v" || fail "-j v: no loop trace: $(cat "$TMPDIR/v")"
grep -q 'side of trace 1 exit' "$TMPDIR/v" || fail "-j v: no side trace: $(cat "$TMPDIR/v")"

# a closure of an enclosing closure's upvalue is not recorded
printf 'fn outer(n) {\n    let g = fn () { let s = 0; for i in 0..100 { s += (fn () { return n + i; })(); } return s; };\n    return g();\n}\nprint(outer(1));\n' > "$TMPDIR/abort.pv"
got=$("$PVM" -j v -j hot=1 "$TMPDIR/abort.pv" 2> "$TMPDIR/a") || fail "abort program failed"
[ "$got" = 5050 ] || fail "abort program printed $got"
grep -q '^\[jit\] abort .*NYI' "$TMPDIR/a" || fail "-j v: no abort reason: $(cat "$TMPDIR/a")"
grep -q 'blacklisted' "$TMPDIR/a" || fail "-j v: loop not blacklisted: $(cat "$TMPDIR/a")"
"$PVM" -j stats -j hot=1 "$TMPDIR/abort.pv" > /dev/null 2> "$TMPDIR/as" || fail "abort program -j stats failed"
grep -Eq '^\[jit\] aborted [1-9][0-9]* x NYI: ' "$TMPDIR/as" || fail "-j stats: no aborts by reason: $(cat "$TMPDIR/as")"

got=$("$PVM" -j stats "$prog" 2> "$TMPDIR/s") || fail "-j stats failed"
[ "$got" = "$want" ] || fail "-j stats printed $got"
grep -Eq '^\[jit\] traces [1-9]' "$TMPDIR/s" || fail "-j stats: no traces: $(cat "$TMPDIR/s")"
grep -Eq 'trace entries [1-9]' "$TMPDIR/s" || fail "-j stats: no entries"

got=$("$PVM" -j dump "$prog" 2> "$TMPDIR/d") || fail "-j dump failed"
[ "$got" = "$want" ] || fail "-j dump printed $got"
grep -q -- '---- trace 1 IR' "$TMPDIR/d" || fail "-j dump: no IR"
grep -q 'SLOAD' "$TMPDIR/d" || fail "-j dump: no SLOAD"
grep -q -- '---- trace 1 snapshots' "$TMPDIR/d" || fail "-j dump: no snapshots"
grep -q -- '---- trace 1 mcode' "$TMPDIR/d" || fail "-j dump: no machine code"

got=$("$PVM" -j v -j trace=2 "$prog" 2> "$TMPDIR/t") || fail "-j trace=2 failed"
[ "$got" = "$want" ] || fail "-j trace=2 printed $got"
[ "$(grep -c '^\[jit\] trace' "$TMPDIR/t")" = 1 ] || fail "-j trace=2 compiled other than one: $(cat "$TMPDIR/t")"

"$PVM" -j perf "$prog" > /dev/null &
pid=$!
wait "$pid" || fail "-j perf failed"
[ -s "/tmp/perf-$pid.map" ] || fail "-j perf: no /tmp/perf-$pid.map"
grep -q 'pvm-trace-1 ' "/tmp/perf-$pid.map" || fail "-j perf: trace 1 not in the map"
rm -f "/tmp/perf-$pid.map"

# the caps on traces and machine code: reaching one flushes every trace,
# and the loops compile again; a trace too big for the code cap is not made
# (its loop is recorded again without unrolling) and flushes nothing
cat > "$TMPDIR/many.pv" <<'PV'
let t = 0;
for r in 0..30 {
    for i in 0..200 { t += i; }
    for i in 0..200 { t -= i % 3; }
    for i in 0..200 { t += i % 5; }
    for i in 0..200 { t += i * 2; }
}
print(t);
PV
want_many=$("$PVM" -j off "$TMPDIR/many.pv") || fail "many.pv -j off failed"
got=$("$PVM" -j maxtrace=2 -j v -j stats "$TMPDIR/many.pv" 2> "$TMPDIR/f") || fail "-j maxtrace=2 failed"
[ "$got" = "$want_many" ] || fail "-j maxtrace=2 printed $got, not $want_many"
grep -q '^\[jit\] flush: 2 traces' "$TMPDIR/f" || fail "-j maxtrace=2: no flush: $(cat "$TMPDIR/f")"
grep -Eq '^\[jit\] flushed [1-9][0-9]* times' "$TMPDIR/f" || fail "-j stats: no flush count: $(cat "$TMPDIR/f")"
# nbody's step loop is more machine code than a 64 KB cap (88 KB with its
# exits' stores shared, 160 KB with them in line).
got=$("$PVM" -j maxmcode=64 -j shareexits=100000 -j v "$here/bench/nbody.pv" 2000 2> "$TMPDIR/m") ||
    fail "-j maxmcode=64 failed"
[ "$got" = "$("$PVM" -j off "$here/bench/nbody.pv" 2000)" ] || fail "-j maxmcode=64: nbody printed $got"
# The step loop's trace, too big for the cap, flushes nothing; advance()'s
# function trace, called from the loop left to the interpreter, may then
# fill the cap and flush the rest (a flush is then followed by that trace).
awk '/more machine code than the limit/ { big = 1; next }
     big && /flush/ { flushed = 1; next }
     flushed { exit ($0 ~ /: function,/) ? 0 : 1 }
     big { exit 0 }' "$TMPDIR/m" ||
    fail "-j maxmcode=64: a trace too big for the cap flushed: $(cat "$TMPDIR/m")"
grep -q 'nbody.pv:107: more machine code than the limit' "$TMPDIR/m" ||
    fail "-j maxmcode=64: no trace too big: $(cat "$TMPDIR/m")"
grep -q 'nbody.pv:107: loop' "$TMPDIR/m" || fail "-j maxmcode=64: the step loop did not compile: $(cat "$TMPDIR/m")"
"$PVM" -j maxtrace=x "$prog" > /dev/null 2>&1 && fail "-j maxtrace=x accepted"

# Exits share their stores in long traces (jit/assemble.c, gen_exits):
# nbody's step loop, 437 snapshots, was 224 896 bytes of machine code with
# every exit's stores in line, and is 105 432 with them shared.
step_bytes() {
    "$PVM" "$@" -j v "$here/bench/nbody.pv" 2000 2>&1 >/dev/null |
        sed -n 's/.*nbody.pv:107: loop, .* snapshots, \([0-9]*\) bytes.*/\1/p' | head -n 1
}
shared=$(step_bytes)
in_line=$(step_bytes -j shareexits=100000)
[ -n "$shared" ] && [ -n "$in_line" ] || fail "shareexits: no step-loop trace ($shared, $in_line)"
[ "$shared" -lt 128000 ] || fail "shareexits: the step loop is $shared bytes of machine code"
[ "$in_line" -gt $((shared * 3 / 2)) ] || fail "shareexits=100000: the step loop is only $in_line bytes (shared: $shared)"
got=$("$PVM" -j shareexits=100000 "$here/bench/nbody.pv" 2000) || fail "-j shareexits=100000 failed"
[ "$got" = "$("$PVM" -j off "$here/bench/nbody.pv" 2000)" ] || fail "-j shareexits=100000: nbody printed $got"

"$PVM" -j stats -j off "$prog" > /dev/null 2> "$TMPDIR/o" || fail "-j stats -j off failed"
! grep -q 'trace 1' "$TMPDIR/o" || fail "-j off compiled: $(cat "$TMPDIR/o")"
exit 0
