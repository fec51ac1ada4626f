# Arrays of ints, floats and bools are stored unboxed (vm/runtime/array.h):
# a 10 M-element bool array needs about 10 MB, and a program that keeps
# making and dropping unboxed arrays (4 GB in all, 16 MB live) and boxing
# some of them runs in constant memory. Peak RSS from GNU time, if present.
set -u
fail() { echo "$*"; exit 1; }
[ -x /usr/bin/time ] || exit 0
[ "${SANITIZE:-0}" = 0 ] || exit 0   # the sanitizers own memory of their own
cat > "$TMPDIR/bools.pv" <<'PV'
let a = array.new(10_000_000, false);
a[9_999_999] = true;
print(a[9_999_999], len(a));
PV
cat > "$TMPDIR/churn.pv" <<'PV'
let keep = [];
for i in 0..500 {
    let a = array.new(1_000_000, i);  // 8 MB of ints
    if i % 50 == 0 { a[0] = "boxed"; }  // 16 MB once boxed
    if len(keep) == 2 { keep = []; }
    push(keep, a);
}
print(len(keep), keep[1][1]);
PV
out=$(/usr/bin/time -f '%M' -o "$TMPDIR/rss" "$PVM" -j off "$TMPDIR/bools.pv") || fail "bools: status $?"
[ "$out" = "true 10000000" ] || fail "bools: output '$out'"
rss=$(tail -n 1 "$TMPDIR/rss")
[ "$rss" -lt 40000 ] || fail "bools: peak RSS $rss KB for a 10 M-element bool array"
out=$(/usr/bin/time -f '%M' -o "$TMPDIR/rss" "$PVM" "$TMPDIR/churn.pv") || fail "churn: status $?"
[ "$out" = "2 499" ] || fail "churn: output '$out'"
rss=$(tail -n 1 "$TMPDIR/rss")
[ "$rss" -lt 150000 ] || fail "churn: peak RSS $rss KB with 16-32 MB live"
exit 0
