# os.args carries the arguments after the program; --trace prints each
# instruction with function, offset, line and the operand stack after it.
set -u
fail() { echo "$*"; exit 1; }
cat > "$TMPDIR/args.pva" <<'PVA'
.module main "args.pva" main=main
.func main params=0 locals=0
.line 1
    getname "print"
    getname "os"
    getfield "args"
    call 1
    pop
.line 2
    nil
    ret
.end
PVA
"$PVMC" "$TMPDIR/args.pva" -o "$TMPDIR/args.pbc" || fail "assemble"
out=$("$PVM" "$TMPDIR/args.pbc" one "two words" -x) || fail "run"
[ "$out" = '["one", "two words", "-x"]' ] || fail "os.args: $out"
out=$("$PVM" "$TMPDIR/args.pbc") || fail "run without args"
[ "$out" = '[]' ] || fail "empty os.args: $out"
"$PVM" --trace "$TMPDIR/args.pbc" a > "$TMPDIR/o" 2> "$TMPDIR/t" || fail "trace run"
grep -qF '<main>@0 line 1: getname   ' "$TMPDIR/t" || fail "trace first line: $(head -n 2 "$TMPDIR/t")"
grep -qF '[<fn print>, {' "$TMPDIR/t" || fail "trace stack after getname os: $(cat "$TMPDIR/t")"
grep -qF '[<fn print>, ["a"]]' "$TMPDIR/t" || fail "trace stack with quoted strings: $(cat "$TMPDIR/t")"
grep -qF '<main>@21 line 2: nil' "$TMPDIR/t" || fail "trace line numbers: $(cat "$TMPDIR/t")"
[ "$(wc -l < "$TMPDIR/t")" = 7 ] || fail "one line per instruction: $(cat "$TMPDIR/t")"
[ "$(cat "$TMPDIR/o")" = '["a"]' ] || fail "program output under trace"
grep -qF '<main>@10 line 1: getfield  "args" |' "$TMPDIR/t" || fail "trace shows constants by value: $(cat "$TMPDIR/t")"
# --trace=NAME keeps the instructions of the functions named NAME; globals
# and functions are shown by name.
"$PVMC" tests/asm/worked_example.pva -o "$TMPDIR/w.pbc" || fail "assemble worked_example"
"$PVM" --trace=fib "$TMPDIR/w.pbc" > /dev/null 2> "$TMPDIR/t" || fail "--trace=fib run"
[ -s "$TMPDIR/t" ] || fail "--trace=fib printed nothing"
others=$(grep -v '^fib@' "$TMPDIR/t" | head -n 3)
[ -z "$others" ] || fail "--trace=fib printed other functions: $others"
grep -qF 'fib@22 line 3: getglobal fib    |' "$TMPDIR/t" || fail "global by name: $(head -n 12 "$TMPDIR/t")"
"$PVM" --trace "$TMPDIR/w.pbc" 2>&1 > /dev/null | grep -qF '<main>@0 line 1: closure   fib    |' ||
    fail "function operand by name"
"$PVM" --trace=nosuch "$TMPDIR/w.pbc" > "$TMPDIR/o" 2> "$TMPDIR/t" || fail "--trace=nosuch run"
[ ! -s "$TMPDIR/t" ] || fail "--trace=nosuch printed: $(head -n 2 "$TMPDIR/t")"
[ "$(wc -l < "$TMPDIR/o")" = 10 ] || fail "--trace=nosuch changed the output"
exit 0
