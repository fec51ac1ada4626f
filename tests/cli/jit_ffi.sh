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
grep -q 'abort .*NYI: call of strlen' "$TMPDIR/v" || fail "-j v: no abort for strlen: $(cat "$TMPDIR/v")"

got=$("$PVM" --no-ffi -j hot=1 -e 'for i in 0..100 { try { ffi.fn(ffi.open(nil), "abs", "int", ["int"]); } catch e { if i == 99 { print(e); } } }') ||
    fail "--no-ffi program failed"
[ "$got" = "ffi is disabled" ] || fail "--no-ffi printed $got"
exit 0
