# io.print_err / io.write_err: standard error only, and in order with the
# output when both streams go to one file (the output is flushed first).
set -u
fail() { echo "$*"; exit 1; }
"$PVM" -e 'print("a"); io.write("b"); io.print_err("c"); print("d"); io.write_err("e\n");' > "$TMPDIR/both" 2>&1 ||
    fail "status $?"
[ "$(cat "$TMPDIR/both")" = "$(printf 'a\nbc\nd\ne')" ] || fail "order: $(cat "$TMPDIR/both")"
out=$("$PVM" -e 'io.print_err("x", 1);' 2> /dev/null) || fail "status $?"
[ -z "$out" ] || fail "stdout got '$out'"
err=$("$PVM" -e 'io.print_err("x", 1);' 2>&1 > /dev/null)
[ "$err" = "x 1" ] || fail "stderr got '$err'"
exit 0
