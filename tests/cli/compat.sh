# Format versions (docs/bytecode.md): this pvm runs the version-1 files of
# tests/compat, and pvmc still writes version 1 for code that needs
# nothing newer; a file of a later version than pvm reads is rejected.
set -u
fail() { echo "$*"; exit 1; }
n=0
for f in tests/compat/*.pbc; do
    base=${f%.pbc}
    [ "$(od -An -tx1 -j4 -N4 "$f" | tr -d ' ')" = 01000000 ] || fail "$f is not a version-1 file"
    for mode in off on hot=1; do
        "$PVM" -j "$mode" "$f" > "$TMPDIR/out" 2> "$TMPDIR/err" || fail "$f (-j $mode): status $?: $(head -c 300 "$TMPDIR/err")"
        cmp -s "$TMPDIR/out" "$base.out" || fail "$f (-j $mode): output differs: $(diff "$base.out" "$TMPDIR/out" | head -5)"
    done
    "$PVMC" -d "$f" -o "$TMPDIR/c.pva" && "$PVMC" "$TMPDIR/c.pva" -o "$TMPDIR/c.pbc" || fail "$f: no round trip"
    cmp -s "$f" "$TMPDIR/c.pbc" || fail "$f: reassembled to different bytes (version or layout changed)"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no files in tests/compat"
# A version-2 opcode makes a version-2 file.
printf '.module main "v.pva"\n.func top\n    nil\n    istype nil\n    ret\n.end\n' > "$TMPDIR/v2.pva"
"$PVMC" "$TMPDIR/v2.pva" -o "$TMPDIR/v2.pbc" || fail "v2.pva does not assemble"
[ "$(od -An -tx1 -j4 -N4 "$TMPDIR/v2.pbc" | tr -d ' ')" = 02000000 ] || fail "istype did not make a version-2 file"
"$PVM" --version | grep -q "bytecode format 2" || fail "pvm --version: $("$PVM" --version)"
exit 0
