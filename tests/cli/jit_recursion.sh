# Function traces and recursion (docs/jit.md, "Recursion and function
# traces"): fib gives the interpreter's answer whichever call the function
# trace is recorded from (every threshold from 1 to 60 starts it at
# another depth and path, and so grows another tree of side traces), also
# when the trace cap flushes them again and again; fib itself compiles as
# a function trace and its recursion runs in machine code. An error after
# returns in traces has the interpreter's stack trace.
set -u
fail() { echo "jit_recursion: $*"; exit 1; }
here=$(cd "$(dirname "$0")/../.." && pwd)

cat > "$TMPDIR/fib.pv" <<'PV'
fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }
let s = 0;
for n in 0..14 { s += fib(n); }
print(s, fib(12));
PV
want=$("$PVM" -j off "$TMPDIR/fib.pv") || fail "fib -j off failed"
for hot in $(seq 1 60); do
    got=$("$PVM" -j hot=$hot "$TMPDIR/fib.pv") || fail "fib -j hot=$hot failed"
    [ "$got" = "$want" ] || fail "fib -j hot=$hot printed $got, not $want"
done
for cap in 1 2 3 5; do
    got=$("$PVM" -j maxtrace=$cap "$TMPDIR/fib.pv") || fail "fib -j maxtrace=$cap failed"
    [ "$got" = "$want" ] || fail "fib -j maxtrace=$cap printed $got, not $want"
    got=$("$PVM" -j maxtrace=$cap "$here/tests/programs/jit_recursion.pv") || fail "jit_recursion -j maxtrace=$cap failed"
    [ "$got" = "$(cat "$here/tests/programs/jit_recursion.out")" ] || fail "jit_recursion.pv -j maxtrace=$cap differs"
done

# An error after the trace returned from frames (their count is written
# at the exits): the whole stack trace is the interpreter's, so no frame
# already popped is listed and none live is missing, at every threshold.
prog="$here/tests/programs/err_jit_after_returns.pv"
"$PVM" -j off "$prog" > /dev/null 2> "$TMPDIR/want.err" && fail "err_jit_after_returns -j off did not fail"
for hot in 1 2 3 5 8 13 21 40; do
    "$PVM" -j hot=$hot "$prog" > /dev/null 2> "$TMPDIR/got.err" && fail "err_jit_after_returns -j hot=$hot did not fail"
    cmp -s "$TMPDIR/want.err" "$TMPDIR/got.err" ||
        fail "err_jit_after_returns -j hot=$hot: $(cat "$TMPDIR/got.err")"
done

"$PVM" -j v -j stats "$here/bench/fib.pv" 25 > "$TMPDIR/fib.out" 2> "$TMPDIR/fib.err" || fail "bench/fib.pv failed"
[ "$(cat "$TMPDIR/fib.out")" = 75025 ] || fail "bench/fib.pv printed $(cat "$TMPDIR/fib.out")"
grep -q '^\[jit\] trace 1 .*fib.pv:4: function, .*1 call inlined$' "$TMPDIR/fib.err" ||
    fail "fib did not compile as a function trace: $(cat "$TMPDIR/fib.err")"
# 242 785 calls, nearly all in machine code: few entries from the interpreter
entries=$(sed -n 's/.*trace entries \([0-9]*\),.*/\1/p' "$TMPDIR/fib.err")
[ -n "$entries" ] && [ "$entries" -lt 2000 ] || fail "fib entered machine code $entries times: $(cat "$TMPDIR/fib.err")"
exit 0
