# Format versions (docs/bytecode.md): this pvm runs the version-1 and
# version-2 files of tests/compat (NAME_vN.pbc), and pvmc still writes the
# lowest version that holds the code; a file of a later version than pvm
# reads is rejected.
set -u
fail() { echo "$*"; exit 1; }
n=0
for f in tests/compat/*.pbc; do
    base=${f%.pbc}
    version=${base##*_v}
    [ "$(od -An -tx1 -j4 -N4 "$f" | tr -d ' ')" = "0${version}000000" ] || fail "$f is not a version-$version file"
    for mode in off on hot=1; do
        "$PVM" -j "$mode" "$f" > "$TMPDIR/out" 2> "$TMPDIR/err"
        status=$?
        if [ -f "$base.err" ]; then
            # a program that ends with an uncaught error: status 1 and its report
            [ "$status" = 1 ] || fail "$f (-j $mode): status $status, expected 1"
            cmp -s "$TMPDIR/err" "$base.err" || fail "$f (-j $mode): report differs: $(diff "$base.err" "$TMPDIR/err" | head -5)"
        else
            [ "$status" = 0 ] || fail "$f (-j $mode): status $status: $(head -c 300 "$TMPDIR/err")"
        fi
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
# A version-3 opcode makes a version-3 file.
printf '.module main "v.pva"\n.func top\n    map 0\n    getmethod m\n    pop\n    ret\n.end\n' > "$TMPDIR/v3.pva"
"$PVMC" "$TMPDIR/v3.pva" -o "$TMPDIR/v3.pbc" || fail "v3.pva does not assemble"
[ "$(od -An -tx1 -j4 -N4 "$TMPDIR/v3.pbc" | tr -d ' ')" = 03000000 ] || fail "getmethod did not make a version-3 file"
"$PVM" --version | grep -q "bytecode format 3" || fail "pvm --version: $("$PVM" --version)"
exit 0
