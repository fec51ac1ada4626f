# Struct layout against the C compiler: tests/ffilib/layout_expect.c prints
# sizeof, _Alignof and offsetof for the declarations of layout.h as cc lays
# them out; tests/ffilib/layout.pv, given the same file through ffi.cdef,
# must answer every one of those queries identically.
set -u
fail() { echo "ffi_layout: $*"; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=$ROOT/tests/ffilib
cc -std=gnu11 -Wall -Wextra -Werror -I"$SRC" -o "$TMPDIR/layout" "$SRC/layout_expect.c" > "$TMPDIR/cc.log" 2>&1 ||
    fail "layout_expect.c does not build: $(head -n 5 "$TMPDIR/cc.log")"
"$TMPDIR/layout" > "$TMPDIR/c.out" || fail "layout_expect failed"
[ "$(wc -l < "$TMPDIR/c.out")" -gt 50 ] || fail "too few queries: $(wc -l < "$TMPDIR/c.out")"
"$PVM" "$SRC/layout.pv" "$SRC/layout.h" "$TMPDIR/c.out" > "$TMPDIR/pv.out" 2> "$TMPDIR/pv.err" ||
    fail "pvm: $(head -c 400 "$TMPDIR/pv.err")"
cmp -s "$TMPDIR/c.out" "$TMPDIR/pv.out" || fail "pvm and C differ: $(diff "$TMPDIR/c.out" "$TMPDIR/pv.out" | head -n 8)"
exit 0
