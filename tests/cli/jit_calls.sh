# Calls inlined into traces (docs/jit.md, "Calls"): spectralnorm's inner
# loops compile with a(i, j) inlined and run in machine code; errors raised
# inside inlined calls print byte for byte what the interpreter alone
# prints; what is not inlined says why in -j v.
set -u
fail() { echo "jit_calls: $*"; exit 1; }
here=$(cd "$(dirname "$0")/../.." && pwd)

sn="$here/bench/spectralnorm.pv"
want=$("$PVM" -j off "$sn" 40) || fail "spectralnorm -j off failed"
got=$("$PVM" -j v -j stats "$sn" 40 2> "$TMPDIR/sn") || fail "spectralnorm -j v failed"
[ "$got" = "$want" ] || fail "spectralnorm printed $got, not $want"
grep -q '^\[jit\] trace 1 .*spectralnorm.pv:12: loop, .*, 1 call inlined$' "$TMPDIR/sn" ||
    fail "mul_av's inner loop did not compile with a() inlined: $(cat "$TMPDIR/sn")"
grep -q '^\[jit\] trace [0-9]* .*spectralnorm.pv:22: loop, .*, 1 call inlined$' "$TMPDIR/sn" ||
    fail "mul_atv's inner loop did not compile with a() inlined: $(cat "$TMPDIR/sn")"
grep -Eq '^\[jit\] trace 1 .*spectralnorm.pv:12: entered [0-9]+, [0-9]{3,} trips$' "$TMPDIR/sn" ||
    fail "the inner loop's trace did not run: $(cat "$TMPDIR/sn")"
! grep -q 'NYI: call' "$TMPDIR/sn" || fail "spectralnorm: a call was not inlined: $(cat "$TMPDIR/sn")"

# An uncaught error three calls deep inside a compiled loop, raised by a
# throw on a branch the recording did not take.
cat > "$TMPDIR/deep.pv" <<'PV'
fn leaf(x) {
    if x == 450 { throw "leaf " + str(x); }
    return x & 3;
}
fn mid(x) { return leaf(x) + 1; }
let top = fn (x) { return mid(x) * 2; };
let s = 0;
for i in 0..1000 { s += top(i); }
print(s);
PV
for prog in "$TMPDIR/deep.pv" "$here/tests/programs/jit_call_err_trace.pv" "$here/tests/programs/err_jit_throw.pv"; do
    "$PVM" -j off "$prog" > "$TMPDIR/off.out" 2> "$TMPDIR/off.err"
    off=$?
    [ "$off" = 1 ] || fail "$prog: -j off exited $off"
    for mode in hot=1 on; do
        "$PVM" -j "$mode" -j v "$prog" > "$TMPDIR/jit.out" 2> "$TMPDIR/jit.err"
        st=$?
        [ "$st" = "$off" ] || fail "$prog -j $mode: exit status $st, not $off"
        cmp -s "$TMPDIR/off.out" "$TMPDIR/jit.out" || fail "$prog -j $mode: stdout differs"
        grep -q 'calls inlined' "$TMPDIR/jit.err" || fail "$prog -j $mode: no trace with inlined calls: $(cat "$TMPDIR/jit.err")"
        grep -v '^\[jit\]' "$TMPDIR/jit.err" > "$TMPDIR/jit.err2"
        cmp -s "$TMPDIR/off.err" "$TMPDIR/jit.err2" ||
            fail "$prog -j $mode: stderr differs: $(diff "$TMPDIR/off.err" "$TMPDIR/jit.err2")"
    done
done

# What is not inlined aborts with its reason.
cat > "$TMPDIR/nyi.pv" <<'PV'
fn sum_to(n) { let a = 0; for k in 0..n { a += k; } return a; }
fn fib(k) { return k < 2 ? k : fib(k - 1) + fib(k - 2); }
fn rest(a, ...r) { return a + len(r); }
let s = 0;
for i in 0..100 { s += sum_to(3); }
for i in 0..100 { s += fib(6); }
for i in 0..100 { s += rest(i, 1, 2); }
print(s);
PV
got=$("$PVM" -j v -j hot=1 "$TMPDIR/nyi.pv" 2> "$TMPDIR/nyi") || fail "nyi.pv failed"
[ "$got" = "$("$PVM" -j off "$TMPDIR/nyi.pv")" ] || fail "nyi.pv printed $got"
# a callee's loop with a trace of its own: the caller's trace goes on in it
grep -q 'nyi.pv:5: loop, .*1 call inlined' "$TMPDIR/nyi" || fail "sum_to's loop not linked: $(cat "$TMPDIR/nyi")"
# one whose loop runs few trips is unrolled into the caller's trace
# (-j trace=2: the callee's loop, recorded first, gets none) ...
cat > "$TMPDIR/callee_loop.pv" <<'PV'
fn sum_to(n) { let a = 0; for k in 0..n { a += k; } return a; }
let s = 0;
for i in 0..100 { s += sum_to(3); }
print(s);
PV
got=$("$PVM" -j v -j hot=1 -j trace=2 "$TMPDIR/callee_loop.pv" 2> "$TMPDIR/callee_loop") || fail "callee_loop.pv failed"
[ "$got" = 300 ] || fail "callee_loop.pv printed $got"
grep -q 'callee_loop.pv:3: loop, .*1 call inlined, 3 back edges unrolled' "$TMPDIR/callee_loop" ||
    fail "sum_to(3)'s loop not unrolled: $(cat "$TMPDIR/callee_loop")"
# ... and one with more trips than a trace unrolls is not recorded
sed 's/sum_to(3)/sum_to(40)/' "$TMPDIR/callee_loop.pv" > "$TMPDIR/callee_long.pv"
got=$("$PVM" -j v -j hot=1 -j trace=2 "$TMPDIR/callee_long.pv" 2> "$TMPDIR/callee_long") || fail "callee_long.pv failed"
[ "$got" = 78000 ] || fail "callee_long.pv printed $got"
grep -q 'NYI: loop in an inlined call' "$TMPDIR/callee_long" || fail "no 'loop in an inlined call': $(cat "$TMPDIR/callee_long")"
# fib's recursion is a function trace of its own, which the loop's trace
# goes on in when the inlined fib calls fib (docs/jit.md, "Recursion")
grep -q 'nyi.pv:2: function' "$TMPDIR/nyi" || fail "no function trace for fib: $(cat "$TMPDIR/nyi")"
! grep -q 'NYI: call depth' "$TMPDIR/nyi" || fail "fib's recursion was inlined: $(cat "$TMPDIR/nyi")"
grep -q 'NYI: call of a variadic function' "$TMPDIR/nyi" || fail "no 'variadic': $(cat "$TMPDIR/nyi")"
exit 0
