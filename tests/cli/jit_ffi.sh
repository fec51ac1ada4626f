# C calls from traces (docs/jit.md, "C calls in traces"): a loop calling a
# binding of numbers compiles with the call in it (CALLC in -j dump, no
# abort) and runs in one trace entry; a binding taking a pointer or a
# string aborts the recording with its name; with the ffi off the call
# still throws. Each run prints what the interpreter alone prints.
set -u
fail() { echo "jit_ffi: $*"; exit 1; }
prog="$TMPDIR/abs.pv"
cat > "$prog" <<'PV'
let abs = ffi.fn(ffi.open(nil), "abs", "int", ["int"]);
let s = 0;
for i in 0..100000 { s += abs(-i); }
print(s);
PV
want=$("$PVM" -j off "$prog") || fail "-j off failed"
[ "$want" = 4999950000 ] || fail "-j off printed $want"
got=$("$PVM" -j dump "$prog" 2> "$TMPDIR/d") || fail "-j dump failed"
[ "$got" = "$want" ] || fail "-j dump printed $got"
grep -q ' CALLC ' "$TMPDIR/d" || fail "-j dump: no CALLC: $(head -40 "$TMPDIR/d")"
grep -q ' CARG ' "$TMPDIR/d" || fail "-j dump: no CARG"
got=$("$PVM" -j stats "$prog" 2> "$TMPDIR/s") || fail "-j stats failed"
[ "$got" = "$want" ] || fail "-j stats printed $got"
grep -q 'aborted 0,' "$TMPDIR/s" || fail "-j stats: an abort: $(cat "$TMPDIR/s")"
grep -q 'trace entries 1,' "$TMPDIR/s" || fail "-j stats: the trace left: $(cat "$TMPDIR/s")"

cat > "$TMPDIR/strlen.pv" <<'PV'
let strlen = ffi.fn(ffi.open(nil), "strlen", "size_t", ["string"]);
let n = 0;
for i in 0..1000 { n += strlen("abc"); }
print(n);
PV
got=$("$PVM" -j v -j hot=1 "$TMPDIR/strlen.pv" 2> "$TMPDIR/v") || fail "strlen program failed"
[ "$got" = 3000 ] || fail "strlen program printed $got"
# a binding of a string is not called by the trace: the trace stops
# before the call, the interpreter makes it, and a side trace of that exit
# goes on after it (stitching)
grep -q '^\[jit\] trace 2 .*side of trace 1 exit' "$TMPDIR/v" || fail "-j v: strlen not stitched: $(cat "$TMPDIR/v")"
if grep -q 'abort' "$TMPDIR/v"; then fail "-j v: strlen aborted: $(cat "$TMPDIR/v")"; fi
"$PVM" -j stats -j hot=1 "$TMPDIR/strlen.pv" > /dev/null 2> "$TMPDIR/s" || fail "strlen -j stats failed"
grep -Eq '^\[jit\] stitched calls 9[0-9]{2} ' "$TMPDIR/s" || fail "-j stats: strlen calls not stitched: $(cat "$TMPDIR/s")"

got=$("$PVM" --no-ffi -j hot=1 -e 'for i in 0..100 { try { ffi.fn(ffi.open(nil), "abs", "int", ["int"]); } catch e { if i == 99 { print(e); } } }') ||
    fail "--no-ffi program failed"
[ "$got" = "ffi is disabled" ] || fail "--no-ffi printed $got"
# errors raised at a C call a trace made, inside an inlined helper, and
# uncaught: the same message and stack trace as the interpreter's; a
# range error (the trace leaves before the call), and a callback's error
# (the trace leaves after it and jit.c raises it)
cat > "$TMPDIR/range.pv" <<'PV'
let small = ffi.fn(ffi.open(nil), "abs", "int", ["int8"]);
fn helper(x) { return small(x) + 1; }
let s = 0;
for i in 0..1000 { s += helper(i); }
print(s);
PV
lib=${PVM_FFI_TESTLIB:-}
progs="$TMPDIR/range.pv"
if [ -n "$lib" ] && [ -f "$lib" ]; then
    cat > "$TMPDIR/cb.pv" <<'PV'
let lib = ffi.open(os.getenv("PVM_FFI_TESTLIB"));
let set_hook = ffi.fn(lib, "calls_set_hook", "void", ["pointer"]);
let every = ffi.fn(lib, "calls_hook_every", "int", ["int", "int"]);
let cb = ffi.callback(fn (x) { if x > 500 { throw "too far: " + str(x); } return x; }, "int", ["int"]);
set_hook(cb);
fn helper(x) { return every(x, 20) * 2; }
let s = 0;
for i in 0..1000 { s += helper(i); }
print(s);
PV
    progs="$progs $TMPDIR/cb.pv"
fi
for p in $progs; do
    "$PVM" -j off "$p" > "$TMPDIR/off.out" 2> "$TMPDIR/off.err" && fail "$p: no error"
    grep -q 'at helper' "$TMPDIR/off.err" || fail "$p: no stack trace: $(cat "$TMPDIR/off.err")"
    for m in hot=1 on; do
        "$PVM" -j $m "$p" > "$TMPDIR/m.out" 2> "$TMPDIR/m.err" && fail "$p -j $m: no error"
        cmp -s "$TMPDIR/off.out" "$TMPDIR/m.out" || fail "$p -j $m: stdout differs"
        cmp -s "$TMPDIR/off.err" "$TMPDIR/m.err" ||
            fail "$p -j $m: stderr differs: $(diff "$TMPDIR/off.err" "$TMPDIR/m.err")"
    done
    "$PVM" -j stats "$p" 2>&1 >/dev/null | grep -Eq '^\[jit\] traces [1-9]' || fail "$p: no trace"
done
exit 0
