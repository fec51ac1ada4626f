# pvmc's command line: help, version, usage errors, unreadable input.
set -u
fail() { echo "$*"; exit 1; }
"$PVMC" --version | grep -qx 'pvmc 0.1.0' || fail "--version"
"$PVMC" --help | grep -qi 'usage' || fail "--help"
"$PVMC" -x > /dev/null 2>&1; [ $? = 2 ] || fail "unknown flag"
"$PVMC" > /dev/null 2>&1; [ $? = 2 ] || fail "no input"
"$PVMC" -o > /dev/null 2>&1; [ $? = 2 ] || fail "-o without argument"
"$PVMC" "$TMPDIR/missing.pva" -o "$TMPDIR/x.pbc" > /dev/null 2> "$TMPDIR/e"; s=$?
[ "$s" = 1 ] || fail "missing input: status $s"
grep -q "cannot open" "$TMPDIR/e" || fail "missing input message: $(cat "$TMPDIR/e")"
[ ! -e "$TMPDIR/x.pbc" ] || fail "output written for a failed run"
"$PVMC" -d tests/bad/bad_magic.pbc > /dev/null 2> "$TMPDIR/e"; s=$?
[ "$s" = 1 ] || fail "-d on a bad file: status $s"
grep -q "pvmc: invalid bytecode: " "$TMPDIR/e" || fail "-d on a bad file: $(cat "$TMPDIR/e")"
# -o - is standard output: bytecode piped into pvm, assembly to a pipe,
# and a failed write to it reported.
out=$("$PVMC" tests/programs/closures.pv -o - | "$PVM" -) || fail "-o - piped into pvm -"
[ "$out" = "$("$PVM" tests/programs/closures.pv)" ] || fail "-o - bytecode differs: $out"
"$PVMC" -S examples/hello.pva -o - | grep -q '^\.func' || fail "-S -o - wrote no assembly"
[ ! -e ./- ] || fail "-o - created a file named -"
if [ -w /dev/full ]; then
    "$PVMC" tests/programs/closures.pv -o - > /dev/full 2> "$TMPDIR/e"; s=$?
    [ "$s" = 1 ] || fail "write to a full stdout: status $s"
    grep -q "cannot write standard output" "$TMPDIR/e" || fail "full stdout: $(cat "$TMPDIR/e")"
fi
exit 0
