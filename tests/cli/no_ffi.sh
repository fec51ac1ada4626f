# pvm --no-ffi: the ffi module stays in scope, every function in it throws.
set -u
fail() { echo "$*"; exit 1; }
cat > "$TMPDIR/ffi.pv" <<'PV'
print(type(ffi.open));
try { ffi.open(nil); } catch e { print(e); }
try { ffi.alloc(8); } catch e { print(e); }
let abs = ffi.fn(ffi.open(nil), "abs", "int", ["int"]);
print(abs(-1));
PV
out=$("$PVM" --no-ffi "$TMPDIR/ffi.pv" 2> "$TMPDIR/e"); s=$?
[ "$s" = 1 ] || fail "--no-ffi: status $s"
[ "$out" = "$(printf 'function\nffi is disabled\nffi is disabled')" ] || fail "--no-ffi: output '$out'"
grep -q '^error: ffi is disabled' "$TMPDIR/e" || fail "--no-ffi: uncaught message"
out=$("$PVM" "$TMPDIR/ffi.pv") || fail "without --no-ffi: status $?"
[ "$(printf '%s\n' "$out" | tail -n 1)" = 1 ] || fail "without --no-ffi: output '$out'"
exit 0
