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
exit 0
