# pvm's command line: --version, --help, unknown flags and missing files.
set -u
fail() { echo "$*"; exit 1; }
"$PVM" --version | grep -q '^pvm [0-9]' || fail "--version"
"$PVM" --help | grep -q 'usage: pvm' || fail "--help"
"$PVM" --bogus > /dev/null 2> "$TMPDIR/e"; s=$?
[ "$s" = 2 ] || fail "unknown flag: status $s"
[ "$(wc -l < "$TMPDIR/e")" = 1 ] || fail "unknown flag: not one line"
grep -q "unknown option '--bogus'" "$TMPDIR/e" || fail "unknown flag message"
"$PVM" no/such/file.pbc > /dev/null 2> "$TMPDIR/e"; s=$?
[ "$s" = 2 ] || fail "missing file: status $s"
grep -q "cannot open no/such/file.pbc: No such file or directory" "$TMPDIR/e" || fail "missing file message"
"$PVM" -j > /dev/null 2>&1; [ $? = 2 ] || fail "-j without mode"
"$PVM" -j sideways x.pbc > /dev/null 2>&1; [ $? = 2 ] || fail "bad -j mode"
"$PVM" -e > /dev/null 2>&1; [ $? = 2 ] || fail "-e without code"
for mode in hot= hot=-5 hot=1e3 hot=12x hot=99999999999999999999; do
    "$PVM" -j "$mode" -e 'print(1);' > /dev/null 2> "$TMPDIR/e"; s=$?
    [ "$s" = 2 ] || fail "-j $mode: status $s"
    grep -q "unknown JIT mode '$mode'" "$TMPDIR/e" || fail "-j $mode message"
done
[ "$("$PVM" -j hot=50 -e 'print(1);')" = 1 ] || fail "-j hot=50"
exit 0
