# Structs by value against the C compiler: tests/ffilib/structs_expect.c,
# a C program calling the ffi test library, must print exactly what
# tests/programs/ffi_struct_abi.pv prints through ffi.cdef and the ffi
# (and what its .out file says, which the program tests check).
set -u
fail() { echo "ffi_struct_abi: $*"; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=$ROOT/tests/ffilib
cc -std=gnu11 -O2 -Wall -Wextra -fPIC -shared -o "$TMPDIR/libabi.so" "$SRC/structs.c" > "$TMPDIR/cc.log" 2>&1 ||
    fail "the library does not build: $(head -n 5 "$TMPDIR/cc.log")"
cc -std=gnu11 -O2 -Wall -Wextra -I"$SRC" -o "$TMPDIR/expect" "$SRC/structs_expect.c" "$TMPDIR/libabi.so" \
    -Wl,-rpath,"$TMPDIR" > "$TMPDIR/cc.log" 2>&1 || fail "structs_expect.c does not build: $(head -n 5 "$TMPDIR/cc.log")"
"$TMPDIR/expect" > "$TMPDIR/c.out" || fail "structs_expect failed"
PVM_FFI_TESTLIB="$TMPDIR/libabi.so" PVM_FFI_TESTSRC="$SRC" "$PVM" "$ROOT/tests/programs/ffi_struct_abi.pv" \
    > "$TMPDIR/pv.out" 2> "$TMPDIR/pv.err" || fail "pvm: $(head -c 400 "$TMPDIR/pv.err")"
cmp -s "$TMPDIR/c.out" "$TMPDIR/pv.out" || fail "pvm and C differ: $(diff "$TMPDIR/c.out" "$TMPDIR/pv.out" | head -n 8)"
cmp -s "$TMPDIR/c.out" "$ROOT/tests/programs/ffi_struct_abi.out" ||
    fail "ffi_struct_abi.out is not what C prints: $(diff "$TMPDIR/c.out" "$ROOT/tests/programs/ffi_struct_abi.out" | head -n 8)"
exit 0
